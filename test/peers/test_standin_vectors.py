#!/usr/bin/env python3
"""Self-test of rolesanywhere_standin.py (plain python, exit status 0 = pass).

1. Replays every case in test/data/rolesanywhere-vectors/ through verify_request() with the
   clock at the vectors' time; the rebuilt canonical request and string to sign must equal the
   vectors' files byte for byte, and tampering with the body or signature must fail.
2. Runs the server (TLS and plain HTTP) and talks to it with a tiny signer written here.
"""

import base64
import datetime as dt
import hashlib
import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
VECTORS = os.path.join(REPO, "test", "data", "rolesanywhere-vectors")
sys.path.insert(0, HERE)
import rolesanywhere_standin as standin  # noqa: E402

VECTOR_TIME = dt.datetime(2025, 1, 15, 9, 30, 0, tzinfo=dt.timezone.utc)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}", file=sys.stderr)


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def parse_http(raw: bytes):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    method, target, _version = lines[0].split(" ")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name, value.lstrip()))
    return method, target, headers, body


def replace_header(headers, name, fn):
    return [(n, fn(v) if n.lower() == name else v) for n, v in headers]


def other_ca():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "RA Test Root CA")])
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(dt.datetime(2024, 1, 1)).not_valid_after(dt.datetime(2044, 1, 1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))


def replay_vectors():
    root = standin.load_pem_certs(os.path.join(VECTORS, "root-cert.pem"))
    intermediate = standin.load_pem_certs(os.path.join(VECTORS, "intermediate-cert.pem"))
    vectors = json.loads(read(os.path.join(VECTORS, "vectors.json")))
    summary = {c["case"]: c for c in vectors["cases"]}
    cases = sorted(d for d in os.listdir(VECTORS) if os.path.isdir(os.path.join(VECTORS, d)))
    check(len(cases) == 4, f"expected 4 vector cases, found {cases}")
    for case in cases:
        d = os.path.join(VECTORS, case)
        method, target, headers, body = parse_http(read(os.path.join(d, "request.http"), "rb"))
        has_chain = any(n.lower() == "x-amz-x509-chain" for n, _ in headers)
        # Without X-Amz-X509-Chain the leaf (issued by the intermediate) only verifies when the
        # intermediate is itself a trust anchor, as a Roles Anywhere trust anchor can be.
        anchors = root if has_chain else root + intermediate
        cfg = standin.Config(trust_anchors=anchors, region="us-east-1", vectors_mode=True)

        def run(h=headers, b=body, now=VECTOR_TIME, c=cfg, t=target):
            return standin.verify_request(method, t, h, b, now=now, config=c)

        ok, err, info = run()
        check(ok, f"{case}: verify failed: {err} {info['detail']}")
        check(info["canonical_request"] == read(os.path.join(d, "canonical_request.txt")),
              f"{case}: canonical request differs")
        check(info["string_to_sign"] == read(os.path.join(d, "string_to_sign.txt")),
              f"{case}: string to sign differs")
        check(info["serial"] == summary[case]["serial_decimal"], f"{case}: serial")
        check(info["algorithm"] == summary[case]["algorithm"], f"{case}: algorithm")
        check(info["has_chain"] == has_chain and info["chain_len"] == int(has_chain),
              f"{case}: chain info")

        # Strict mode: the helper-style cases are complete requests; the doc-style one has no query.
        ok, err, _ = run(c=standin.Config(trust_anchors=anchors, region="us-east-1"))
        if case == "rsa-doc-style-body-params":
            check(not ok and err == "Invalid query", f"{case}: strict mode gave {err}")
        else:
            check(ok, f"{case}: strict mode failed: {err}")

        # Tampering.
        flipped = bytes([body[0] ^ 0x01]) + body[1:]
        ok, err, _ = run(b=flipped)
        check(not ok and err == "Invalid signature", f"{case}: flipped body gave {err}")

        def flip_sig(v):
            i = v.index("Signature=") + len("Signature=") + 10
            return v[:i] + ("0" if v[i] != "0" else "1") + v[i + 1:]
        ok, err, _ = run(h=replace_header(headers, "authorization", flip_sig))
        check(not ok and err == "Invalid signature", f"{case}: flipped signature gave {err}")

        ok, err, _ = run(h=replace_header(headers, "x-amz-date", lambda v: "20250115T093001Z"))
        check(not ok and err == "Invalid signature", f"{case}: changed date gave {err}")
        ok, err, _ = run(h=replace_header(headers, "authorization",
                                          lambda v: v.replace("Credential=", "Credential=1")))
        check(not ok and err == "Credential serial mismatch", f"{case}: serial gave {err}")
        ok, err, _ = run(now=VECTOR_TIME + dt.timedelta(seconds=301))
        check(not ok and err == "Request date out of range", f"{case}: skew gave {err}")
        ok, err, _ = run(c=standin.Config(trust_anchors=anchors, region="eu-west-1",
                                          vectors_mode=True))
        check(not ok and err == "Region mismatch", f"{case}: region gave {err}")
        ok, err, _ = run(c=standin.Config(trust_anchors=[other_ca()], vectors_mode=True))
        check(not ok and err == "Untrusted certificate", f"{case}: other CA gave {err}")
        ok, err, _ = run(c=standin.Config(trust_anchors=root, vectors_mode=True))
        check(ok == has_chain, f"{case}: root-only anchor gave {err}")
        leaf = x509.load_der_x509_certificate(base64.b64decode(info["headers"]["x-amz-x509"]))
        try:  # validity periods: the vectors' PKI expires 2044-01-01
            standin.verify_chain(leaf, [], anchors, dt.datetime(2044, 1, 2, tzinfo=dt.timezone.utc))
            check(False, f"{case}: expired chain accepted")
        except standin.VerifyError as e:
            check(e.message == "Untrusted certificate", f"{case}: expired gave {e.message}")
        ok, err, _ = run(h=[(n, v) for n, v in headers if n.lower() != "x-amz-x509"])
        check(not ok and err == "Missing header X-Amz-X509", f"{case}: no x509 gave {err}")
        ok, err, _ = run(t="/session" + target[len("/sessions"):])
        check(not ok and err == "Not found", f"{case}: wrong path gave {err}")
        if case == "rsa-helper-style":
            ok, err, _ = run(c=standin.Config(trust_anchors=anchors, role_arn="arn:aws:iam::"
                                              "123456789012:role/Other"))
            check(not ok and err == "ARN mismatch", f"{case}: expected role gave {err}")


# ---------------------------------------------------------------------------------------------
# Live server checks, with a minimal independent signer (fixed header set).
# ---------------------------------------------------------------------------------------------

ARNS = {
    "profileArn": "arn:aws:rolesanywhere:us-east-1:123456789012:profile/p-1",
    "roleArn": "arn:aws:iam::123456789012:role/path/Example+Role=Test",
    "trustAnchorArn": "arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/ta-1",
}


def signed_request(host, body=b'{"durationSeconds":900}'):
    key = serialization.load_pem_private_key(read(os.path.join(VECTORS, "ec-leaf-key.pem"), "rb"),
                                             None)
    leaf = x509.load_pem_x509_certificate(read(os.path.join(VECTORS, "ec-leaf-cert.pem"), "rb"))
    inter = x509.load_pem_x509_certificate(read(os.path.join(VECTORS, "intermediate-cert.pem"),
                                                "rb"))
    der = serialization.Encoding.DER
    amz_date = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    query = "&".join(f"{k}={urllib.parse.quote(v, safe='')}" for k, v in sorted(ARNS.items()))
    headers = {
        "content-type": "application/json", "host": host, "x-amz-date": amz_date,
        "x-amz-x509": base64.b64encode(leaf.public_bytes(der)).decode(),
        "x-amz-x509-chain": base64.b64encode(inter.public_bytes(der)).decode(),
    }
    signed = ";".join(sorted(headers))
    canonical = "POST\n/sessions\n" + query + "\n" + \
        "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)) + "\n" + signed + "\n" + \
        hashlib.sha256(body).hexdigest()
    scope = f"{amz_date[:8]}/us-east-1/rolesanywhere/aws4_request"
    sts = "\n".join(["AWS4-X509-ECDSA-SHA256", amz_date, scope,
                     hashlib.sha256(canonical.encode()).hexdigest()])
    sig = key.sign(sts.encode(), ec.ECDSA(hashes.SHA256())).hex()
    headers["authorization"] = (f"AWS4-X509-ECDSA-SHA256 Credential={leaf.serial_number}/{scope}, "
                                f"SignedHeaders={signed}, Signature={sig}")
    return "/sessions?" + query, headers, body


def start(tmp, *extra):
    cmd = [sys.executable, os.path.join(HERE, "rolesanywhere_standin.py"),
           "--trust-anchor", os.path.join(VECTORS, "root-cert.pem"),
           "--record", os.path.join(tmp, "record.jsonl"), *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    check(line.startswith("PORT "), f"server printed {line!r}")
    return proc, int(line.split()[1])


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = "timeout"
    check(rc == 0, f"server exit status after SIGTERM: {rc}")


def live_checks():
    with tempfile.TemporaryDirectory() as tmp:
        tls = os.path.join(tmp, "tls")
        proc, port = start(tmp, "--tls-dir", tls, "--fail", "503,429", "--lifetime", "1800")
        try:
            check(oct(os.stat(os.path.join(tls, "server-key.pem")).st_mode & 0o777) == "0o600",
                  "server-key.pem mode")
            ctx = ssl.create_default_context(cafile=os.path.join(tls, "ca.pem"))
            conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
            statuses = []
            for _ in range(3):  # one keep-alive connection: 503, 429, then 201
                path, headers, body = signed_request(f"localhost:{port}")
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                statuses.append((resp.status, resp.getheader("X-Amzn-ErrorType"),
                                 json.loads(resp.read())))
            check([s[0] for s in statuses] == [503, 429, 201], f"statuses {statuses}")
            check(statuses[1][1] == "ThrottlingException", "429 error type")
            creds = statuses[2][2]["credentialSet"][0]["credentials"]
            check(creds["accessKeyId"].startswith("ASIA") and len(creds["accessKeyId"]) == 20,
                  "access key id")
            exp = dt.datetime.strptime(creds["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=dt.timezone.utc)
            left = (exp - dt.datetime.now(dt.timezone.utc)).total_seconds()
            check(1700 < left <= 1800, f"--lifetime 1800 gave {left}s")
            conn.request("POST", "/sessions", body=b"{}", headers={"Content-Type":
                                                                   "application/json"})
            resp = conn.getresponse()
            check(resp.status == 403 and json.loads(resp.read()) ==
                  {"message": "Missing header Authorization"}, "unsigned request")
            conn.close()
            recs = [json.loads(l) for l in read(os.path.join(tmp, "record.jsonl")).splitlines()]
            check([(r["ok"], r["status"]) for r in recs] ==
                  [(True, 503), (True, 429), (True, 201), (False, 403)], f"records {recs}")
            check(recs[2]["credentials"] == creds and recs[2]["chain_len"] == 1 and
                  recs[2]["algorithm"] == "AWS4-X509-ECDSA-SHA256" and
                  recs[2]["serial"] == "18364758544493064720" and
                  recs[2]["query"]["roleArn"] == ARNS["roleArn"], "record content")
        finally:
            stop(proc)

        proc, port = start(tmp, "--plain-http", "--mode", "deny")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            path, headers, body = signed_request(f"127.0.0.1:{port}")
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            check(resp.status == 403 and resp.getheader("X-Amzn-ErrorType") ==
                  "AccessDeniedException" and json.loads(resp.read()) ==
                  {"message": "Unable to assume role"}, "deny mode")
        finally:
            stop(proc)


if __name__ == "__main__":
    replay_vectors()
    live_checks()
    print("FAILED" if failures else "OK", f"({len(failures)} failures)")
    sys.exit(1 if failures else 0)
