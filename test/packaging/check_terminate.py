#!/usr/bin/env python3
"""The helper's std::terminate handler (src/util/terminate.cpp), linked like the helper with
-static-libstdc++: one line naming the exception's type and message, then SIGABRT; and the
helper itself carries no C++ demangler (the reason for that handler).
usage: check_terminate.py TERMINATE-PROGRAM HELPER"""
import signal
import subprocess
import sys

program, helper = sys.argv[1], sys.argv[2]
run = subprocess.run([program], capture_output=True, text=True)
failures = []
if run.returncode != -signal.SIGABRT:
    failures.append(f"exit status {run.returncode}, not SIGABRT")
expected = ("aws-spiffe-workload-helper: internal error: terminate called after an uncaught "
            "exception of type St13runtime_error: the message of the uncaught exception\n")
if run.stderr != expected:
    failures.append(f"stderr {run.stderr!r}, not {expected!r}")
symbols = subprocess.run(["nm", helper], capture_output=True, text=True, check=True).stdout
for name in ("__cxa_demangle", "_ZN9__gnu_cxx27__verbose_terminate_handlerEv"):
    if f" {name}\n" in symbols:
        failures.append(f"the helper still links {name}")
if failures:
    print("\n".join(failures))
    sys.exit(1)
print("terminate handler: one line and SIGABRT; no demangler in the helper")
