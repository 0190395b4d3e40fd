#!/usr/bin/env python3
"""Checks that src/symbol-order.txt still describes the binary: at least 90% of the functions it
lists must still exist in the helper (matched by name, as lld matches them), and the helper must
have been linked by lld with it. Below that, the ordering has gone stale after code changes and
no longer packs the code that runs: run scripts/symbol-order.

usage: check_symbol_order.py BINARY ORDER_FILE
Exit 77 (skipped) when the binary was not linked by lld (no lld-15 here, or -Dlld=false)."""
import subprocess
import sys

binary, order_file = sys.argv[1], sys.argv[2]
comment = subprocess.run(["readelf", "-p", ".comment", binary], capture_output=True, text=True).stdout
if "LLD" not in comment:
    print("skipped: the helper was not linked by lld, so src/symbol-order.txt is not used")
    sys.exit(77)
names = [line.strip() for line in open(order_file) if line.strip() and not line.startswith("#")]
symbols = set()
for line in subprocess.run(["nm", binary], capture_output=True, text=True, check=True).stdout.splitlines():
    parts = line.split()
    if len(parts) == 3:
        symbols.add(parts[2])
found = sum(1 for n in names if n in symbols)
share = found / len(names) if names else 0.0
print(f"{found} of {len(names)} ordered functions are in the binary ({share:.1%})")
if share < 0.9:
    print("src/symbol-order.txt is stale: run scripts/symbol-order", file=sys.stderr)
    sys.exit(1)
