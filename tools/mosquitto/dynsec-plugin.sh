#!/bin/sh
# Prints the path of mosquitto's dynamic-security plugin: in this machine's multiarch library
# folder (gcc knows its name: x86_64-linux-gnu, aarch64-linux-gnu, ...) first, then in any.
# Prints nothing and exits 1 when there is none (the mosquitto package is not installed).
arch=$(gcc -print-multiarch 2>/dev/null || true)
for f in ${arch:+/usr/lib/$arch/mosquitto_dynamic_security.so} /usr/lib/*/mosquitto_dynamic_security.so; do
  [ -f "$f" ] && { echo "$f"; exit 0; }
done
exit 1
