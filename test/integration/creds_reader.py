#!/usr/bin/env python3
"""Reads an AWS credentials file in a tight loop the way botocore does, while a daemon rewrites it.

usage: creds_reader.py CREDENTIALS_FILE PROFILE STOP_FILE RESULT_JSON

Each read goes through botocore's own SharedCredentialProvider (configparser plus its checks for
a complete key set). Runs until STOP_FILE exists, then writes RESULT_JSON:
  {"reads": N, "failures": N, "first_failures": [...], "seen": [[key, secret, token], ...]}
where "seen" lists each distinct credential set in the order first read. The sets are test
credentials from the stand-in, so they may be written to a test file.
"""
import json
import os
import sys

from botocore.credentials import SharedCredentialProvider


def main() -> int:
    path, profile, stop_file, result = sys.argv[1:5]
    reads = failures = 0
    first_failures = []
    seen = []
    while not os.path.exists(stop_file):
        reads += 1
        try:
            creds = SharedCredentialProvider(creds_filename=path, profile_name=profile).load()
            if creds is None:
                raise RuntimeError("no credentials in the file (missing file or profile)")
            current = [creds.access_key, creds.secret_key, creds.token]
            if not all(current):
                raise RuntimeError("an empty credential value")
            if not seen or seen[-1] != current:
                seen.append(current)
        except Exception as e:  # any failure to read is what the test looks for
            failures += 1
            if len(first_failures) < 5:
                first_failures.append(f"{type(e).__name__}: {e}")
    with open(result, "w", encoding="utf-8") as f:
        json.dump({"reads": reads, "failures": failures, "first_failures": first_failures, "seen": seen}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
