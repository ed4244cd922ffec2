#!/usr/bin/env python3
"""Pools `kiosk-replay --evaluate --json` outputs of several seeds into one table row per rule.

Usage: pool.py LABEL FILE.json...   (each file: one JSON object per rule, the first rule is the reference)
Medians are over the pooled per-incident delays; the paired medians compare the first rule with each
other rule on the incidents both detected.
"""
import json
import statistics
import sys


def median(v):
    return statistics.median(v) if v else 0.0


def main():
    if len(sys.argv) < 3 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help") else 2
    label = sys.argv[1]
    rules = {}
    order = []
    for path in sys.argv[2:]:
        with open(path) as f:
            for line in f:
                if not line.strip():
                    continue
                r = json.loads(line)
                if r["rule"] not in rules:
                    order.append(r["rule"])
                    rules[r["rule"]] = {"inc": 0, "det": 0, "dable": 0, "ddable": 0, "ev": 0, "dev": 0,
                                        "alerts": 0, "false": 0, "lw": 0.0, "delays": []}
                p = rules[r["rule"]]
                p["inc"] += r["incidents"]; p["det"] += r["detected"]
                p["dable"] += r["detectable"]; p["ddable"] += r["detected_detectable"]
                p["ev"] += r["evident"]; p["dev"] += r["detected_evident"]
                p["alerts"] += r["alerts"]; p["false"] += r["false_alerts"]; p["lw"] += r["location_weeks"]
                p["delays"] += r["delays"]
    print(f"{label}")
    print("%-10s %9s %15s %11s %9s %10s %8s %6s %6s %12s" % ("rule", "incidents", "detected", "detectable",
          "evident", "delay(bad)", "delay(s)", "alerts", "false", "false/loc-wk"))
    for name in order:
        p = rules[name]
        d = [x for x in p["delays"] if x]
        print("%-10s %9d %15s %11s %9s %10.1f %8.0f %6d %6d %12.3f" % (
            name, p["inc"], "%d (%.1f%%)" % (p["det"], 100.0 * p["det"] / max(1, p["inc"])),
            "%d/%d" % (p["ddable"], p["dable"]), "%d/%d" % (p["dev"], p["ev"]),
            median([x[0] for x in d]), median([x[1] for x in d]), p["alerts"], p["false"],
            p["false"] / p["lw"] if p["lw"] else 0))
    first = rules[order[0]]["delays"]
    for name in order[1:]:
        pairs = [(a, b) for a, b in zip(first, rules[name]["delays"]) if a and b]
        print("  paired %s vs %s on %d incidents: %.1f vs %.1f bad presses, %.0f s vs %.0f s" % (
            order[0], name, len(pairs), median([a[0] for a, _ in pairs]), median([b[0] for _, b in pairs]),
            median([a[1] for a, _ in pairs]), median([b[1] for _, b in pairs])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
