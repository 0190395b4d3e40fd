#!/usr/bin/env python3
"""The OCI image in a real OCI runtime (runc), against the local peers.

usage: container_test.py HELPER NATIVE_FAKE_WORKLOAD_API

Builds an amd64 image from HELPER with scripts/image (the release's image code), unpacks it with
umoci into a runtime bundle and runs it with runc as the image says (user 65532, the entrypoint)
and as Kubernetes would run it hardened: read-only root filesystem, no capabilities, no new
privileges. The Workload API socket's directory is bind-mounted read-only from the host (as the
SPIFFE CSI driver mounts it), a host directory owned by 65532 is the shared volume, and the
container stays in the host's network namespace, so loopback is shared with the host's peers
and clients.

  a. x509-credential-process: botocore runs the container as its credential_process and calls
     STS (moto) with what it printed. The stand-in's TLS CA is mounted over the image's CA
     bundle and no --ca-bundle is given: the image's default CA path works.
  b. x509-credential-file into the shared volume, with 3-second credentials: botocore reads the
     file on the host in a loop while renewals happen; never a failed read, only issued sets.
  c. x509-serve on loopback: botocore's container provider (AWS_CONTAINER_CREDENTIALS_FULL_URI
     and the token file from the shared volume) gets credentials and calls STS.
  d. In b and c: the container's process runs as uid/gid 65532 on a read-only root (read from
     /proc), and `runc kill ID TERM` stops it with exit status 0.

Prints "skipped: <reason>" and exits 77 when the runtime cannot run a container here (not root,
runc or umoci missing, or runc fails on a trivial static binary); exits 1 on any failure.
"""
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

from peers import SOURCE_ROOT, CheckFailed, Peers, botocore_identity, credential_process_identity, wait_for

SKIP = 77
CONTAINER_SOCKET_DIR = "/run/spire/sockets"
CONTAINER_VOLUME = "/run/aws"
ids = []


def runc(*args, check=True, timeout=30):
    r = subprocess.run(["runc", *args], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise CheckFailed(f"runc {' '.join(args)}: {r.stderr.strip()}")
    return r


def make_bundle(base_config: dict, rootfs: str, path: str, args: list, mounts: list) -> str:
    config = json.loads(json.dumps(base_config))
    config["root"] = {"path": rootfs, "readonly": True}
    process = config["process"]
    process["terminal"] = False
    process["args"] = args
    process["capabilities"] = {k: [] for k in ("bounding", "effective", "inheritable", "permitted", "ambient")}
    process["noNewPrivileges"] = True
    # The host's network namespace: the peers and the clients are on the host's loopback.
    config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"] if n["type"] != "network"]
    config["mounts"] += [{"destination": dst, "type": "bind", "source": src,
                          "options": ["rbind", "nosuid", "nodev", "noexec", mode]}
                         for src, dst, mode in mounts]
    os.makedirs(path)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f)
    return path


def runtime_usable(work: str):
    """None when runc can run a container here, else the reason it can't."""
    if os.geteuid() != 0:
        return "runc runs containers as root here, and this is not root"
    for tool in ("runc", "umoci"):
        if shutil.which(tool) is None:
            return f"'{tool}' is not installed (scripts/install-deps)"
    # A trivial container: Debian's statically linked ldconfig alone in a rootfs.
    rootfs = os.path.join(work, "smoke-rootfs")
    os.makedirs(rootfs)
    shutil.copy("/sbin/ldconfig", os.path.join(rootfs, "ldconfig"))
    spec = runc("spec", "--bundle", work, check=False)
    if spec.returncode != 0:
        return f"runc spec failed: {spec.stderr.strip()}"
    config = json.load(open(os.path.join(work, "config.json")))
    os.remove(os.path.join(work, "config.json"))
    bundle = make_bundle(config, rootfs, os.path.join(work, "smoke"), ["/ldconfig", "--version"], [])
    cid = f"awh-smoke-{os.getpid()}"
    r = subprocess.run(["runc", "run", "--bundle", bundle, cid], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=30)
    runc("delete", "--force", cid, check=False)
    if r.returncode != 0:
        return f"runc cannot start a container on this machine: {r.stderr.strip()[-300:]}"
    return None


class Container:
    def __init__(self, bundle: str, name: str):
        self.id = f"awh-test-{os.getpid()}-{name}"
        ids.append(self.id)
        self.log = os.path.join(os.path.dirname(bundle), name + ".log")
        self.proc = subprocess.Popen(["runc", "run", "--bundle", bundle, self.id],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=open(self.log, "w"))
        self.pending = b""

    def read_line(self, seconds: float) -> str:
        """One line of the container's stdout (unbuffered reads: select() sees only the pipe)."""
        deadline = time.monotonic() + seconds
        while b"\n" not in self.pending:
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0, deadline - time.monotonic()))
            if not ready:
                raise CheckFailed(f"container {self.id}: no output in {seconds:g} s: "
                                  f"{open(self.log).read().strip()[-500:]}")
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                raise CheckFailed(f"container {self.id} exited ({self.proc.wait()}): "
                                  f"{open(self.log).read().strip()[-500:]}")
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return line.decode()

    def check_confined(self):
        """(d) uid/gid 65532 and a read-only root, read from the host's /proc."""
        pid = json.loads(runc("state", self.id).stdout)["pid"]
        status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
        uids, gids = status["Uid"].split(), status["Gid"].split()
        if set(uids) != {"65532"} or set(gids) != {"65532"}:
            raise CheckFailed(f"container process runs as uid {uids} gid {gids}, expected 65532")
        root = next(line.split() for line in open(f"/proc/{pid}/mountinfo") if line.split()[4] == "/")
        if "ro" not in root[5].split(","):
            raise CheckFailed(f"the container's root is mounted {root[5]}, expected read-only")
        if "CapEff" in status and int(status["CapEff"], 16) != 0:
            raise CheckFailed(f"the container process has capabilities {status['CapEff'].strip()}")

    def stop(self):
        """(d) SIGTERM through the runtime: exit status 0 within a few seconds."""
        started = time.monotonic()
        runc("kill", self.id, "TERM")
        try:
            code = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            raise CheckFailed(f"container {self.id} still running 10 s after SIGTERM")
        if code != 0:
            raise CheckFailed(f"container {self.id} exited {code} on SIGTERM: "
                              f"{open(self.log).read().strip()[-500:]}")
        return time.monotonic() - started


def main() -> int:
    helper, fake_wapi = sys.argv[1:3]
    work = tempfile.mkdtemp(prefix="awh-container.")
    peers = None
    try:
        reason = runtime_usable(work)
        if reason:
            print(f"container test: skipped: {reason}")
            return SKIP

        started = time.monotonic()
        stripped = os.path.join(work, "aws-spiffe-workload-helper")
        subprocess.run(["strip", "-o", stripped, helper], check=True)
        layout = os.path.join(work, "oci")
        subprocess.run([os.path.join(SOURCE_ROOT, "scripts/image"), "--layout", layout,
                        "--version", "test", f"amd64={stripped}"], check=True,
                       capture_output=True)
        image_dir = os.path.join(work, "image")
        subprocess.run(["umoci", "unpack", "--image", f"{layout}:test-amd64", image_dir],
                       check=True, capture_output=True)
        base = json.load(open(os.path.join(image_dir, "config.json")))
        rootfs = os.path.join(image_dir, "rootfs")
        if base["process"]["user"].get("uid") != 65532 or base["process"]["args"] != [
                "/usr/bin/aws-spiffe-workload-helper"]:
            raise CheckFailed(f"the image's user/entrypoint became {base['process']['user']} "
                              f"{base['process']['args']}")
        image_s = time.monotonic() - started
        entry = base["process"]["args"]

        peers = Peers(fake_wapi)
        volume = os.path.join(peers.dir, "volume")
        os.mkdir(volume, 0o700)
        os.chown(volume, 65532, 65532)
        mounts = [(peers.agent_dir, CONTAINER_SOCKET_DIR, "ro"), (volume, CONTAINER_VOLUME, "rw")]
        exchange = peers.helper_args(socket_path=f"{CONTAINER_SOCKET_DIR}/api.sock",
                                     ca=f"{CONTAINER_SOCKET_DIR}/ca.pem")

        # a. credential_process: botocore runs the container. Without --ca-bundle and without
        # SSL_CERT_FILE, with the stand-in's CA mounted over the image's CA bundle: the helper
        # finds the image's CA certificates where OpenSSL looks by default.
        no_ca = peers.helper_args(socket_path=f"{CONTAINER_SOCKET_DIR}/api.sock", ca="")
        bundle = make_bundle(base, rootfs, os.path.join(work, "a"),
                             entry + ["x509-credential-process"] + no_ca,
                             mounts + [(peers.ca, "/etc/ssl/certs/ca-certificates.crt", "ro")])
        config_path = os.path.join(bundle, "config.json")
        config = json.load(open(config_path))
        config["process"]["env"] = [e for e in config["process"]["env"] if not e.startswith("SSL_CERT_FILE=")]
        json.dump(config, open(config_path, "w"))
        cid = f"awh-test-{os.getpid()}-a"
        ids.append(cid)
        arn = credential_process_identity(peers.sts, ["runc", "run", "--bundle", bundle, cid], work)
        print(f"a. x509-credential-process in the container (the image's default CA path): "
              f"botocore accepted it, STS: {arn}")

        # c. x509-serve on the shared loopback.
        bundle = make_bundle(base, rootfs, os.path.join(work, "c"), entry + [
            "x509-serve", "--token-file", f"{CONTAINER_VOLUME}/token", "--bind", "127.0.0.1:0"]
            + exchange, mounts)
        served = Container(bundle, "serve")
        env = dict(served.read_line(20).split("=", 1) for _ in range(2))
        token_file = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "")
        if token_file != f"{CONTAINER_VOLUME}/token":
            raise CheckFailed(f"x509-serve printed {env}")
        arn = botocore_identity(peers.sts, "container-role", {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": env["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": os.path.join(volume, "token")})
        served.check_confined()
        stop_s = served.stop()
        print(f"c. x509-serve in the container: botocore's container provider got credentials, "
              f"STS: {arn}; uid 65532, read-only root; SIGTERM -> exit 0 in {stop_s:.1f} s")
        peers.close()
        peers = None

        # b. x509-credential-file with 3-second credentials, read on the host while it renews.
        peers = Peers(fake_wapi, lifetime=3)
        volume = os.path.join(peers.dir, "volume")
        os.mkdir(volume, 0o700)
        os.chown(volume, 65532, 65532)
        mounts = [(peers.agent_dir, CONTAINER_SOCKET_DIR, "ro"), (volume, CONTAINER_VOLUME, "rw")]
        exchange = peers.helper_args(socket_path=f"{CONTAINER_SOCKET_DIR}/api.sock",
                                     ca=f"{CONTAINER_SOCKET_DIR}/ca.pem")
        bundle = make_bundle(base, rootfs, os.path.join(work, "b"), entry + [
            "x509-credential-file", "--aws-credentials-path", f"{CONTAINER_VOLUME}/credentials"]
            + exchange, mounts)
        daemon = Container(bundle, "file")
        creds = os.path.join(volume, "credentials")
        wait_for("the first credentials file", lambda: peers.issued() and os.path.exists(creds) and
                 peers.issued()[0][0] in open(creds).read(), 60, daemon.proc, daemon.log)
        stop_file, result = os.path.join(work, "stop-reader"), os.path.join(work, "reader.json")
        reader = subprocess.Popen([sys.executable, os.path.join(SOURCE_ROOT, "test/integration/creds_reader.py"),
                                   creds, "default", stop_file, result])
        first = len(peers.issued())
        wait_for("four renewals under the reader", lambda: len(peers.issued()) >= first + 4, 60,
                 daemon.proc, daemon.log)
        open(stop_file, "w").close()
        if reader.wait(30) != 0:
            raise CheckFailed("the botocore reader failed")
        daemon.check_confined()
        arn = botocore_identity(peers.sts, "shared-credentials-file",
                                {"AWS_SHARED_CREDENTIALS_FILE": creds})
        stop_s = daemon.stop()
        report = json.load(open(result))
        issued = peers.issued()
        seen = [tuple(s) for s in report["seen"]]
        if report["failures"] or report["reads"] < 50 or len(seen) < 3:
            raise CheckFailed(f"reader: {report['reads']} reads, {report['failures']} failed "
                              f"{report['first_failures']}, {len(seen)} credential sets seen")
        positions = [issued.index(s) if s in issued else -1 for s in seen]
        if -1 in positions or positions != sorted(positions):
            raise CheckFailed("the reader saw credentials that were not issued, or out of order")
        print(f"b. x509-credential-file in the container: {len(issued)} sets issued, botocore read "
              f"the shared file {report['reads']} times without a failure and saw {len(seen)} of "
              f"them in order; STS: {arn}; uid 65532, read-only root; SIGTERM -> exit 0 in {stop_s:.1f} s")
        print(f"container test: passed (image built in {image_s:.1f} s, "
              f"{time.monotonic() - started:.1f} s in all)")
        return 0
    except (CheckFailed, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        detail = getattr(e, "stderr", None)
        print(f"container test: FAILED: {e}{(': ' + detail.strip()) if isinstance(detail, str) else ''}",
              file=sys.stderr)
        return 1
    finally:
        for cid in ids:
            subprocess.run(["runc", "delete", "--force", cid], capture_output=True)
        if peers:
            peers.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
