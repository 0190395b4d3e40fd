#!/usr/bin/env python3
"""The cross-built arm64 helper, run under qemu-user, against the local peers: botocore runs it as
its credential_process (x509-credential-process) and calls STS (moto) with what it printed.

usage: qemu_check.py ARM64_HELPER NATIVE_FAKE_WORKLOAD_API

The Workload API peer is the native build's: only the helper is emulated. qemu-aarch64-static
finds the arm64 loader and libraries where Debian multiarch installs them (libc6:arm64 and the
:arm64 library packages). Prints one line; exits 1 on failure.
"""
import subprocess
import sys

from peers import CheckFailed, Peers, credential_process_identity


def main() -> int:
    helper, fake_wapi = sys.argv[1:3]
    header = subprocess.run(["readelf", "-h", helper], capture_output=True, text=True, check=True).stdout
    if "AArch64" not in header:
        print(f"qemu check: FAILED: {helper} is not an AArch64 binary", file=sys.stderr)
        return 1
    peers = Peers(fake_wapi)
    try:
        command = ["qemu-aarch64-static", helper, "x509-credential-process"] + peers.helper_args()
        arn = credential_process_identity(peers.sts, command, peers.dir)
        if len(peers.issued()) != 1:
            raise CheckFailed(f"the stand-in issued {len(peers.issued())} credential sets, expected 1")
    except CheckFailed as e:
        print(f"qemu check: FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        peers.close()
    print(f"qemu check: arm64 x509-credential-process under qemu; botocore's credential_process "
          f"accepted it; STS (moto) GetCallerIdentity: {arn}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
