"""Local peers for the release checks (test/release/*.py): the fake SPIFFE Workload API (the C++
test peer, built natively), the IAM Roles Anywhere stand-in (test/peers/rolesanywhere_standin.py,
which verifies every SigV4-X509 signature) and moto_server (a real STS we did not write), each
on loopback or a unix socket in one temporary directory. And botocore, which decides whether
the credentials the helper produced are accepted.

Nothing talks to AWS; all credentials are fake. Every wait is bounded.
"""
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRUST_ANCHOR_ARN = ("arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/"
                    "6c1e9d3b-2f4a-4b7e-8a9c-5d0e1f2a3b4c")
PROFILE_ARN = "arn:aws:rolesanywhere:us-east-1:123456789012:profile/0f2bd9a0-5a59-4e4c-9b8a-2a3d8f7c1e01"
ROLE_ARN = "arn:aws:iam::123456789012:role/release-check"


class CheckFailed(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, predicate, seconds: float, proc=None, log=None):
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise CheckFailed(f"{what} exited ({proc.returncode}) before it was ready{tail(log)}")
        if time.monotonic() > deadline:
            raise CheckFailed(f"{what}: not ready after {seconds:g} s{tail(log)}")
        time.sleep(0.1)


def tail(path, lines=15) -> str:
    if not path or not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read().splitlines()[-lines:]
    return f"\n--- last lines of {os.path.basename(path)} ---\n" + "\n".join(text)


class Peers:
    """Starts the peers in `workdir`; the Workload API socket is in workdir/agent (mode 0755, the
    socket 0777, so that another uid can connect), the stand-in's TLS CA in workdir/agent/ca.pem."""

    def __init__(self, fake_workload_api: str, lifetime: int = None):
        self.dir = tempfile.mkdtemp(prefix="awh-release.")
        os.chmod(self.dir, 0o755)
        self.agent_dir = os.path.join(self.dir, "agent")
        os.mkdir(self.agent_dir, 0o755)
        self.socket = os.path.join(self.agent_dir, "api.sock")
        self.procs = []
        try:
            self._start(fake_workload_api, lifetime)
        except BaseException:
            self.close()
            raise

    def _spawn(self, name, argv):
        log = os.path.join(self.dir, name + ".log")
        out = os.path.join(self.dir, name + ".out")
        proc = subprocess.Popen(argv, stdout=open(out, "w"), stderr=open(log, "w"),
                                stdin=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc, out, log

    def _start(self, fake_workload_api, lifetime):
        bundle = os.path.join(self.dir, "bundle.pem")
        proc, out, log = self._spawn("fake-workload-api", [
            fake_workload_api, "--socket", self.socket, "--trust-anchor-out", bundle,
            "--key", "p256", "--intermediate", "--spiffe-id", "spiffe://example.org/release"])
        wait_for("fake-workload-api", lambda: "READY" in open(out).read(), 20, proc, log)
        os.chmod(self.socket, 0o777)

        self.record = os.path.join(self.dir, "requests.jsonl")
        argv = [sys.executable, os.path.join(SOURCE_ROOT, "test/peers/rolesanywhere_standin.py"),
                "--trust-anchor", bundle, "--tls-dir", os.path.join(self.dir, "tls"),
                "--record", self.record]
        if lifetime is not None:
            argv += ["--lifetime", str(lifetime)]
        proc, out, log = self._spawn("standin", argv)

        def port():
            for line in open(out).read().splitlines():
                if line.startswith("PORT "):
                    return int(line.split()[1])
            return None
        self.standin_port = wait_for("rolesanywhere_standin", port, 20, proc, log)
        self.ca = os.path.join(self.agent_dir, "ca.pem")
        shutil.copyfile(os.path.join(self.dir, "tls", "ca.pem"), self.ca)
        os.chmod(self.ca, 0o644)

        moto_port = free_port()
        proc, _, log = self._spawn("moto", ["moto_server", "-H", "127.0.0.1", "-p", str(moto_port)])

        def accepts():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", moto_port)) == 0
        wait_for("moto_server", accepts, 30, proc, log)
        self.sts = f"http://127.0.0.1:{moto_port}"

    def helper_args(self, socket_path=None, ca=None):
        """The exchange flags, with the socket and CA at the paths the helper sees (ca="": no
        --ca-bundle, the system's CA certificates)."""
        args = ["--trust-anchor-arn", TRUST_ANCHOR_ARN, "--profile-arn", PROFILE_ARN,
                "--role-arn", ROLE_ARN,
                "--workload-api-addr", "unix://" + (socket_path or self.socket),
                "--endpoint", f"https://127.0.0.1:{self.standin_port}"]
        if ca != "":
            args += ["--ca-bundle", ca or self.ca]
        return args

    def issued(self):
        """The credential sets the stand-in issued, in order: [(key, secret, token)]."""
        if not os.path.exists(self.record):
            return []
        sets = []
        for line in open(self.record, encoding="utf-8"):
            c = json.loads(line).get("credentials")
            if c:
                sets.append((c["accessKeyId"], c["secretAccessKey"], c["sessionToken"]))
        return sets

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def sdk_env(extra: dict) -> dict:
    """An environment with no credential source but `extra`, so botocore must use the one given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"})
    env.update(extra)
    return env


# Resolve credentials with botocore's own provider chain, check which provider answered, then
# call STS GetCallerIdentity (moto) with them.
_CALLER = """
import sys, botocore.session
s = botocore.session.Session(profile=sys.argv[3] or None)
c = s.get_credentials()
assert c is not None, "botocore found no credentials"
assert c.method == sys.argv[2], c.method
print(s.create_client("sts", endpoint_url=sys.argv[1]).get_caller_identity()["Arn"])
"""


def botocore_identity(sts: str, method: str, env: dict, profile: str = "", timeout: float = 60) -> str:
    r = subprocess.run([sys.executable, "-c", _CALLER, sts, method, profile], env=sdk_env(env),
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise CheckFailed(f"botocore ({method}) failed: {r.stderr.strip().splitlines()[-1:]}")
    return r.stdout.strip()


def credential_process_identity(sts: str, command: list, workdir: str) -> str:
    """botocore runs `command` as its credential_process and calls STS with what it printed."""
    config = os.path.join(workdir, "aws-config")
    with open(config, "w") as f:
        f.write(f"[profile release]\ncredential_process = {shlex.join(command)}\n")
    return botocore_identity(sts, "custom-process", {"AWS_CONFIG_FILE": config}, "release",
                             timeout=180)
