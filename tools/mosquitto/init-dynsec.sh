#!/bin/sh
# Creates a venue broker's dynamic-security file with the hub's admin client and a broker config.
set -eu

prog=init-dynsec.sh
here=$(cd "$(dirname "$0")" && pwd)

usage() {
  cat <<'USAGE'
Usage: init-dynsec.sh --dir D [--user hub] [--port 1883] [--bind 127.0.0.1] [--force]

Creates in D (mode 0700; owned by the mosquitto user when run as root):
  dynamic-security.json  the plugin's state with one client, the hub's admin (0600, mosquitto's)
  hub.password           that client's generated password, 24 random bytes base64url (0600)
  mosquitto.conf         a broker config loading the plugin, anonymous access off
Start the broker with `mosquitto -c D/mosquitto.conf`, and the hub with
`kiosk-hub --dynsec --username <user> --password-file D/hub.password`; the hub creates its site
roles and every device's and manager's client itself.
Exit codes: 0 ok, 1 failed, 2 usage.
USAGE
}

die() { echo "$prog: $1" >&2; exit 1; }
usage_error() { echo "$prog: $1; see '$prog --help'" >&2; exit 2; }

dir= user=hub port=1883 bind=127.0.0.1 force=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --dir) [ $# -ge 2 ] || usage_error "--dir needs a value"; dir=$2; shift 2 ;;
    --user) [ $# -ge 2 ] || usage_error "--user needs a value"; user=$2; shift 2 ;;
    --port) [ $# -ge 2 ] || usage_error "--port needs a value"; port=$2; shift 2 ;;
    --bind) [ $# -ge 2 ] || usage_error "--bind needs a value"; bind=$2; shift 2 ;;
    --force) force=1; shift ;;
    *) usage_error "unknown option '$1'" ;;
  esac
done
[ -n "$dir" ] || usage_error "--dir D is required"
printf '%s' "$port" | grep -Eq '^[0-9]{1,5}$' || usage_error "--port must be a number"
command -v mosquitto_ctrl >/dev/null 2>&1 || die "mosquitto_ctrl not found; install the mosquitto package (apt-get install mosquitto)"
plugin=$("$here/dynsec-plugin.sh" || true)
[ -n "$plugin" ] || die "mosquitto's dynamic-security plugin (/usr/lib/<arch>/mosquitto_dynamic_security.so) not found; install the mosquitto package"

umask 077
mkdir -p "$dir"
if [ -e "$dir/dynamic-security.json" ]; then
  [ "$force" -eq 1 ] || die "$dir/dynamic-security.json exists; use --force to start over (every device must then be provisioned again)"
  rm -f "$dir/dynamic-security.json"
fi

# mosquitto_ctrl takes the password on its command line only (else it prompts); it runs locally for
# a moment, and the secret is kept in a 0600 file, never printed.
password=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
rm -f "$dir/hub.password"
printf '%s\n' "$password" > "$dir/hub.password"
chmod 600 "$dir/hub.password"

mosquitto_ctrl dynsec init "$dir/dynamic-security.json" "$user" "$password" >/dev/null \
  || die "mosquitto_ctrl dynsec init failed"
chmod 600 "$dir/dynamic-security.json"

# Started as root, mosquitto switches to the "mosquitto" user before it loads the plugin: that
# user must own the plugin's file (it rewrites it on every change) and the persistence folder.
if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then
  chown mosquitto: "$dir" "$dir/dynamic-security.json"
fi

abs=$(cd "$dir" && pwd)
sed -e "s|@DATA_DIR@|$abs|g" -e "s|@PORT@|$port|g" -e "s|@BIND@|$bind|g" -e "s|@PLUGIN@|$plugin|g" \
  "$here/mosquitto-dynsec.conf.in" > "$dir/mosquitto.conf"
echo "created $dir/dynamic-security.json, $dir/hub.password and $dir/mosquitto.conf (admin client '$user')"
