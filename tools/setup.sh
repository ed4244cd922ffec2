#!/usr/bin/env bash
# Installs every build, test and run dependency from Debian 12's packages; quiet when all is present.
set -euo pipefail

packages=(
  g++ cmake make lld pkg-config git
  libboost1.81-dev libboost-json1.81-dev
  libpaho-mqttpp-dev libpaho-mqtt-dev libssl-dev
  libsqlite3-dev sqlite3
  libgpiod-dev gpiod
  catch2
  mosquitto mosquitto-clients
  clang libclang-rt-14-dev
  openssl ca-certificates curl procps iproute2 tzdata
)

if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  echo "usage: tools/setup.sh"
  echo "Installs with apt-get whatever of these Debian packages is missing:"
  printf '  %s\n' "${packages[@]}"
  exit 0
fi
[[ $# -eq 0 ]] || { echo "setup: unknown argument '$1'; see tools/setup.sh --help" >&2; exit 2; }

# Installed for this machine's architecture (or for all): on a multiarch machine the :arm64 copy
# of a -dev package (boards/cross-check.sh) does not stand in for the native one.
arch=$(dpkg --print-architecture)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status} ${Architecture}\n' "$p" 2>/dev/null | grep -Eq "^install ok installed ($arch|all)$"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "setup: installing ${missing[*]}"
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packaged broker must not hold port 1883 behind our back; we start our own brokers.
if command -v systemctl >/dev/null && systemctl is-active --quiet mosquitto 2>/dev/null; then
  "${sudo[@]}" systemctl disable --now mosquitto >/dev/null 2>&1 || true
fi
echo "setup: done"
