#!/usr/bin/env python3
"""The completion scripts (`completion bash|zsh|fish`) against the binary's own --help.

bash: the script is sourced in a real bash and its function is called with COMP_WORDS as bash
would set them; every command of `--help` must be offered, and for each command every flag its
`<command> --help` lists, plus value completion for a choice flag and a file flag.
fish: `fish -n`, then fish's own `complete -C` must offer every command and every flag.
zsh: `zsh -n` and every flag present in the script (completing needs a terminal).
zsh and fish are skipped (exit 77) when the shell is not installed.

Usage: check_completion.py BINARY bash|zsh|fish
"""
import re
import shutil
import subprocess
import sys
import tempfile

binary, shell = sys.argv[1], sys.argv[2]
PROGRAM = "aws-spiffe-workload-helper"


def run(*args):
    return subprocess.run([binary, *args], check=True, capture_output=True, text=True).stdout


def commands():
    """The commands `--help` lists (CLI11: the lines under "Subcommands:")."""
    out, section = [], False
    for line in run("--help").splitlines():
        if line.startswith("Subcommands:"):
            section = True
            continue
        if section:
            m = re.match(r"^  ([^\s,]+)", line)  # "name, alias": the name
            if m:
                out.append(m.group(1))
            elif line and not line.startswith(" "):
                break
    assert out, "no commands in --help"
    return out


def flags(command):
    """The long flags `<command> --help` lists."""
    found = re.findall(r"^\s+(?:-\w,)?(--[a-z0-9][a-z0-9-]*)", run(command, "--help"), re.M)
    assert found, f"no flags in {command} --help"
    return found


def bash(script_path):
    # One bash process: each line of output is the completion of one COMP_WORDS.
    cases = [[PROGRAM, ""]]
    cmds = commands()
    for c in cmds:
        cases.append([PROGRAM, c, ""])
    cases += [
        [PROGRAM, "x509-serve", "--log-level", ""],
        [PROGRAM, "--debug", "x509-credential-file", "--aws-credentials-path", "/etc/host"],
        [PROGRAM, "--log-level", "debug", "x509-credential-process", "--trust"],
        [PROGRAM, "completion", ""],
        [PROGRAM, "help", "jwt-credential-f"],
    ]
    lines = [f"source {script_path}",
             'comp() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); '
             '_aws_spiffe_workload_helper; echo "${COMPREPLY[*]}"; }',
             f"complete -p {PROGRAM} >/dev/null || echo NOT-REGISTERED"]
    for case in cases:
        lines.append("comp " + " ".join(f"'{w}'" for w in case))
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", "\n".join(lines)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stderr, r.stderr
    out = r.stdout.splitlines()
    assert out[0] != "NOT-REGISTERED", "complete -F was not registered"
    results = [set(line.split()) for line in out]
    failures = []
    top = results[0]
    for c in cmds:
        if c not in top:
            failures.append(f"command {c} not offered")
    for i, c in enumerate(cmds, start=1):
        for f in flags(c):
            if f not in results[i]:
                failures.append(f"{c}: flag {f} not offered")
    extra = results[len(cmds) + 1:]
    if extra[0] != {"debug", "info", "warn", "error"}:
        failures.append(f"--log-level values: {sorted(extra[0])}")
    if "/etc/hosts" not in extra[1]:
        failures.append(f"--aws-credentials-path did not complete file names: {sorted(extra[1])}")
    if extra[2] != {"--trust-anchor-arn"}:
        failures.append(f"after leading logging flags: {sorted(extra[2])}")
    if not {"bash", "zsh", "fish"} <= extra[3]:
        failures.append(f"completion SHELL: {sorted(extra[3])}")
    if extra[4] != {"jwt-credential-file", "jwt-credential-file-oneshot"}:
        failures.append(f"help COMMAND: {sorted(extra[4])}")
    return failures


def syntax(shell_binary, script_path, text):
    r = subprocess.run([shell_binary, "-n", script_path], capture_output=True, text=True,
                       timeout=60)
    failures = [] if r.returncode == 0 and not r.stderr else [f"{shell_binary} -n: {r.stderr}"]
    for c in commands():
        if c not in text:
            failures.append(f"command {c} missing")
        for f in flags(c):
            needle = f if shell == "zsh" else "-l " + f[2:]
            if needle not in text:
                failures.append(f"{c}: flag {f} missing")
    if shell == "fish":
        failures += fish_completes(script_path)
    return failures


def fish_completes(script_path):
    cmds = commands()
    lines = [f"source {script_path}", f"complete -C '{PROGRAM} '", "echo ==="]
    for c in cmds:
        lines += [f"complete -C '{PROGRAM} {c} --'", "echo ==="]
    r = subprocess.run(["fish", "--no-config", "-c", "\n".join(lines)], capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0 or r.stderr:
        return [f"fish complete -C: {r.stderr}"]
    blocks = [{line.split("\t")[0] for line in b.strip().splitlines()}
              for b in r.stdout.split("===")]
    failures = [f"fish: command {c} not offered" for c in cmds if c not in blocks[0]]
    for i, c in enumerate(cmds, start=1):
        failures += [f"fish: {c}: flag {f} not offered" for f in flags(c) if f not in blocks[i]]
    return failures


def main():
    if shell != "bash" and shutil.which(shell) is None:
        print(f"skipped: {shell} is not installed (Debian package {shell})")
        return 77
    text = run("completion", shell)
    with tempfile.NamedTemporaryFile("w", suffix="." + shell, delete=False) as f:
        f.write(text)
        path = f.name
    failures = bash(path) if shell == "bash" else syntax(shell, path, text)
    for line in failures:
        print("FAIL:", line)
    if not failures:
        print(f"{shell} completion: every command and flag of --help is completed")
    return 1 if failures else 0


sys.exit(main())
