#!/usr/bin/env bash
# `cmake --install` into a scratch root (prefix /usr, as the units expect) and checks that the
# installed pieces fit: every unit's program, user, board folder and documentation is installed,
# sysusers.d makes that user with the GPIO group, the board files are there, and systemd-analyze finds nothing wrong in the units.
# Usage: install_check.sh BUILD_DIR
set -euo pipefail
build=$1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

DESTDIR="$scratch/dest" cmake --install "$build" --prefix /usr >"$scratch/install.log" \
  || { cat "$scratch/install.log"; fail "cmake --install failed"; }
d="$scratch/dest"
units="$d/usr/lib/systemd/system"
sysusers="$d/usr/lib/sysusers.d/kiosk.conf"
[[ -f $sysusers ]] || fail "no sysusers.d file installed"

for unit in kiosk-firmware@.service kiosk-hub.service; do
  f="$units/$unit"
  [[ -f $f ]] || fail "$unit not installed"
  exec_line=$(sed -n 's/^ExecStart=//p' "$f")
  program=${exec_line%% *}
  [[ -x "$d$program" ]] || fail "$unit runs $program, which is not installed"
  user=$(sed -n 's/^User=//p' "$f")
  grep -Eq "^u $user " "$sysusers" || fail "$unit runs as $user, which $sysusers does not create"
  for group in $(sed -n 's/^SupplementaryGroups=//p' "$f"); do
    grep -Eq "^m $user $group\$" "$sysusers" || fail "$unit needs group $group for $user, which sysusers.d does not give"
  done
  doc=$(sed -n 's|^Documentation=file://||p' "$f")
  [[ -f "$d$doc" ]] || fail "$unit documents itself with $doc, which is not installed"
  echo "ok: $unit: $program as $user, documentation $doc"
done

boards=$(sed -n 's/.*--boards-dir \([^ ]*\).*/\1/p' "$units/kiosk-firmware@.service")
[[ -n $boards ]] || fail "kiosk-firmware@.service names no --boards-dir"
src=$(cd "$(dirname "$0")/../../boards" && pwd)
for board in "$src"/*.json; do
  cmp -s "$board" "$d$boards/$(basename "$board")" || fail "board file $(basename "$board") not installed in $boards"
done
echo "ok: every board file is installed in $boards"

if command -v systemd-sysusers >/dev/null; then
  mkdir -p "$scratch/root/etc"
  systemd-sysusers --root="$scratch/root" "$sysusers" >/dev/null 2>&1 || fail "systemd-sysusers refused $sysusers"
  grep -q '^kiosk:' "$scratch/root/etc/passwd" || fail "systemd-sysusers made no user kiosk"
  grep -Eq '^gpio:[^:]*:[0-9]+:(.*,)?kiosk(,|$)' "$scratch/root/etc/group" || fail "systemd-sysusers did not put kiosk in group gpio"
  echo "ok: systemd-sysusers makes kiosk in group gpio"
fi
if command -v systemd-analyze >/dev/null; then
  # Verified where they are installed; the programs are checked above under the scratch root, so
  # only systemd's complaint that /usr/bin/... is missing on this machine is expected.
  problems=$(cd "$units" && systemd-analyze verify --man=no ./kiosk-hub.service ./kiosk-firmware@.service 2>&1 \
    | grep -Ev 'Command /usr/bin/kiosk-(hub|firmware) is not executable' || true)
  [[ -z $problems ]] || fail "systemd-analyze verify: $problems"
  echo "ok: systemd-analyze verify"
fi
