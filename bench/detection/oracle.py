#!/usr/bin/env python3
"""Oracle bound on detection: what a detector could find in these presses if it knew each location's
usual press rate and bad share minute by minute - the simulator's own numbers (`kiosk-sim --rates`),
day-to-day factors included - instead of learning them.

Usage: oracle.py DIR...   (each DIR holds presses.csv, truth.csv and rates.csv of one kiosk-sim run)

The oracle is a Poisson CUSUM per location over every press, bad and good: the usual (rate r, bad
share b) of that minute against an incident at the middle of the simulator's realistic model (2.25x
the presses, 70% bad). It is the optimal test for a change between two known Poisson streams; the
real detector must learn r and b from history and guard against their error. An alarm opens an alert
that stays open 30 minutes (later alarms meanwhile join it). Scored like `kiosk-replay --evaluate`:
detected = an alarm at the location between start and end + 10 min; false = an alert overlapping no
incident (+ 10 min) at its location; per location-week. One row per threshold (log likelihood ratio).
"""
import bisect
import collections
import datetime
import math
import os
import sys

RATE_FACTOR = 2.25  # the realistic model's incidents: 1.5..3x the presses
SHARE = 0.7  # and 50..90% bad
GRACE_S = 600.0
ALERT_S = 1800.0
THRESHOLDS = (5.0, 6.0, 6.5, 7.0, 7.5, 8.0, 9.0, 10.0)


def seconds(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def rows(path, columns):
    with open(path) as f:
        header = f.readline().strip().split(",")
        if header[: len(columns)] != columns:
            sys.exit(f"error oracle: {path}: header {header} is not {columns}")
        for line in f:
            yield line.rstrip("\n").split(",")


def load(folder):
    for name in ("presses.csv", "truth.csv", "rates.csv"):
        if not os.path.exists(os.path.join(folder, name)):
            sys.exit(f"error oracle: {folder}/{name} is missing (kiosk-sim --out/--truth/--rates)")
    usual = collections.defaultdict(dict)  # location -> minute -> (presses per minute, bad share)
    for t, location, rate, share in rows(os.path.join(folder, "rates.csv"),
                                         ["time", "location", "presses_per_minute", "bad_share"]):
        usual[location][int(seconds(t) // 60)] = (float(rate), float(share))
    presses = collections.defaultdict(list)
    for t, location, _, rating, scale in rows(os.path.join(folder, "presses.csv"),
                                              ["time", "location", "device", "rating", "scale"]):
        presses[location].append((seconds(t), int(rating) <= int(scale) // 2))
    truth = [(location, seconds(start), seconds(end))
             for location, start, end, _ in rows(os.path.join(folder, "truth.csv"),
                                                 ["location", "start", "end", "bad_share"])]
    return usual, presses, truth


def alarms_at(usual, presses):
    """threshold -> location -> alarm times."""
    out = {h: collections.defaultdict(list) for h in THRESHOLDS}
    for location, by_minute in usual.items():
        minutes = sorted(by_minute)
        # Expected usual presses before each listed minute: the CUSUM's drift between presses.
        before = [0.0]
        for m in minutes:
            before.append(before[-1] + by_minute[m][0])

        def expected_until(t):
            m = int(t // 60)
            i = bisect.bisect_left(minutes, m)
            inside = by_minute[m][0] * (t / 60 - m) if i < len(minutes) and minutes[i] == m else 0.0
            return before[i] + inside

        s = dict.fromkeys(THRESHOLDS, 0.0)
        open_until = dict.fromkeys(THRESHOLDS, -math.inf)
        last = None
        for t, bad in sorted(presses[location]):
            now = expected_until(t)
            drift = (RATE_FACTOR - 1) * (now - last) if last is not None else 0.0
            last = now
            m = int(t // 60)
            if m not in by_minute:
                sys.exit(f"error oracle: a press at {location} in a minute rates.csv gives no traffic")
            b = by_minute[m][1]
            llr = math.log(RATE_FACTOR * SHARE / b) if bad else math.log(RATE_FACTOR * (1 - SHARE) / (1 - b))
            for h in THRESHOLDS:
                v = max(0.0, max(0.0, s[h] - drift) + llr)
                if v >= h and bad:
                    if t > open_until[h]:
                        out[h][location].append(t)
                    open_until[h] = t + ALERT_S
                    v = 0.0
                s[h] = v
    return out


def median(v):
    v = sorted(v)
    n = len(v)
    return 0 if not n else (v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2)


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(sys.argv) > 1 else 2
    totals = {h: {"detected": 0, "false": 0, "bad": [], "s": []} for h in THRESHOLDS}
    incidents = 0
    location_weeks = 0.0
    for folder in sys.argv[1:]:
        usual, presses, truth = load(folder)
        incidents += len(truth)
        first = min(p[0][0] for p in presses.values() if p)
        last = max(p[-1][0] for p in presses.values() if p)
        location_weeks += len(usual) * (last - first) / 86400 / 7
        for h, by_location in alarms_at(usual, presses).items():
            tot = totals[h]
            for location, start, end in truth:
                hits = [a for a in by_location[location] if start <= a <= end + GRACE_S]
                if not hits:
                    continue
                tot["detected"] += 1
                tot["bad"].append(sum(1 for t, bad in presses[location] if bad and start <= t <= hits[0]))
                tot["s"].append(hits[0] - start)
            for location, alarms in by_location.items():
                for a in alarms:
                    if not any(l == location and a <= end + GRACE_S and a + ALERT_S >= start
                               for l, start, end in truth):
                        tot["false"] += 1
    print(f"oracle (knows the usual rate and bad share of every minute) on {len(sys.argv) - 1} run(s), "
          f"{incidents} incidents, {location_weeks:.1f} location-weeks")
    print("threshold   detected        false/loc-wk  delay(bad)  delay(s)")
    best = None
    for h in THRESHOLDS:
        t = totals[h]
        fa = t["false"] / location_weeks
        print(f"{h:9.1f}   {t['detected']:4d} ({100 * t['detected'] / incidents:5.1f}%)   {fa:12.3f}  "
              f"{median(t['bad']):10.1f}  {median(t['s']):8.0f}")
        if fa < 0.5 and (best is None or t["detected"] > best[1]["detected"]):
            best = (h, t, fa)
    if best:
        h, t, fa = best
        print(f"most found at under 0.5 false alerts per location-week: {t['detected']}/{incidents} "
              f"({100 * t['detected'] / incidents:.1f}%) at {fa:.3f}, median delay {median(t['bad']):.1f} bad "
              f"presses, {median(t['s']):.0f} s (threshold {h})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
