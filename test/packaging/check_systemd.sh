#!/usr/bin/env bash
# The systemd unit: `systemd-analyze verify` must be clean, and `systemd-analyze security`
# (offline, on the unit file alone) must rate its exposure at 2.0 or better.
# Usage: check_systemd.sh BINARY UNIT. Exit 77 (skipped) when systemd-analyze can't run here.
set -uo pipefail
binary=$1 unit=$2
if ! command -v systemd-analyze >/dev/null; then
  echo "skipped: systemd-analyze is not installed (Debian package systemd)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# verify checks that ExecStart= names an executable: point it at the build's binary.
name=$(basename "$unit")
sed "s|/usr/bin/aws-spiffe-workload-helper|$binary|" "$unit" >"$work/$name"
if ! out=$(systemd-analyze verify "$work/$name" 2>&1); then
  echo "systemd-analyze verify failed:"; echo "$out"; exit 1
fi
if [[ -n $out ]]; then
  echo "systemd-analyze verify is not clean:"; echo "$out"; exit 1
fi
echo "systemd-analyze verify: clean"
# --offline=true (systemd >= 250) reads the unit file only; --threshold=20 fails above 2.0.
sec=$(systemd-analyze security --offline=true --threshold=20 --no-pager "$work/$name" 2>&1)
rc=$?
echo "$sec" | grep "Overall exposure level"
if [[ $rc -ne 0 ]]; then
  echo "exposure above 2.0 (or systemd-analyze security failed):"; echo "$sec" | grep -v '✓'
  exit 1
fi
