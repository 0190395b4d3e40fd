#!/usr/bin/env python3
"""The man page (`aws-spiffe-workload-helper man`): groff and man report no warning, and every
command and every flag that `--help` lists appears in the page, each flag in its command's
section; plus the ENVIRONMENT, EXIT STATUS and FILES sections.

Usage: check_man.py BINARY
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

binary = sys.argv[1]


def run(*args):
    return subprocess.run([binary, *args], check=True, capture_output=True, text=True).stdout


def main():
    for tool in ("groff", "man"):
        if shutil.which(tool) is None:
            print(f"skipped: {tool} is not installed (Debian packages groff-base, man-db)")
            return 77
    failures = []
    roff = run("man")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "aws-spiffe-workload-helper.1")
        with open(path, "w") as f:
            f.write(roff)
        r = subprocess.run(["groff", "-man", "-ww", "-z", path], capture_output=True, text=True)
        if r.returncode != 0 or r.stderr:
            failures.append(f"groff -man -ww -z: {r.stderr.strip()}")
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
        r = subprocess.run(["man", "--warnings", "-l", path], capture_output=True, text=True,
                           env=env)
        if r.returncode != 0 or r.stderr:
            failures.append(f"man --warnings -l: {r.stderr.strip()}")
        text = r.stdout
    # The rendered page, with hyphenation undone, cut into its command sections.
    text = re.sub(r"\u2010\n\s*", "", text)
    sections = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"^   (\S+)$", line)  # .SS headings are indented by three spaces
        if m:
            current = m.group(1)
            sections[current] = []
        elif re.match(r"^\S", line):
            current = None
        elif current:
            sections[current].append(line)
    commands = re.findall(r"^  ([^\s,]+)[\s,]", run("--help").split("Subcommands:", 1)[1], re.M)
    for c in commands:
        if c not in sections:
            failures.append(f"no section for command {c}")
            continue
        body = "\n".join(sections[c])
        for flag in re.findall(r"^\s+(?:-\w,)?(--[a-z0-9][a-z0-9-]*)", run(c, "--help"), re.M):
            if not re.search(r"^\s+(-\w, )?" + re.escape(flag) + r"\b", body, re.M):
                failures.append(f"{c}: flag {flag} missing")
    for heading in ("ENVIRONMENT", "EXIT STATUS", "FILES", "SIGNALS"):
        if not re.search(rf"^{heading}$", text, re.M):
            failures.append(f"no {heading} section")
    # Every environment variable the sources read (getenv("NAME") or a quoted AWS_*/proxy name
    # handed to the injected getenv) must be in the page.
    names = {"SPIFFE_ENDPOINT_SOCKET", "AWS_CA_BUNDLE", "NOTIFY_SOCKET", "WATCHDOG_USEC"}
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src")
    for top, _, files in os.walk(src):
        for name in files:
            if name.endswith((".cpp", ".hpp")) and name != "docs.cpp":
                source = open(os.path.join(top, name)).read()
                names |= set(re.findall(r'getenv\("([A-Za-z_]+)"\)', source))
                names |= set(re.findall(r'"((?:AWS_|https_|HTTPS_|no_|NO_)[A-Za-z_]*)"', source))
    for needle in sorted(names):
        if needle not in text:
            failures.append(f"{needle} not documented")
    for line in failures:
        print("FAIL:", line)
    if not failures:
        print(f"man page: {len(commands)} commands, every flag of --help, no warning")
    return 1 if failures else 0


sys.exit(main())
