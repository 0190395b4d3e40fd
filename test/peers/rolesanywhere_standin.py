#!/usr/bin/env python3
"""Loopback stand-in for IAM Roles Anywhere CreateSession, used by the integration tests.

It verifies every request independently of the client's code: the canonical request, the
string to sign and the SigV4-X509 signature are rebuilt here from the received bytes (AWS docs
"Signing process for IAM Roles Anywhere"), the certificate chain is verified up
to the configured trust anchors, and the query and body are checked against the CreateSession
API reference. Only the standard library and `cryptography` are used.

stdout carries exactly one line, `PORT <n>`, once the socket is bound; diagnostics go to
stderr. `verify_request()` is importable for tests that replay recorded requests.
"""

import argparse
import base64
import datetime as dt
import hashlib
import http.server
import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import socketserver
import ssl
import string
import sys
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Optional

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MAX_BODY = 64 * 1024          # request bodies above this get 400 (they are ~60 bytes)
MAX_CHAIN = 5                 # X-Amz-X509-Chain holds at most 5 intermediates
HUGE_PADDING = 8 * 1024 * 1024
HANG_SECONDS = 120            # an injected "hang" holds the request this long (or until stop)
FAULT_WORDS = ("hang", "close", "malformed")  # --fail / control faults besides HTTP statuses
SERVICE = "rolesanywhere"

# SigV4-X509 algorithm name -> the leaf key type it requires.
ALGORITHMS = {
    "AWS4-X509-RSA-SHA256": rsa.RSAPublicKey,
    "AWS4-X509-ECDSA-SHA256": ec.EllipticCurvePublicKey,
}
REQUIRED_SIGNED = ("content-type", "host", "x-amz-date", "x-amz-x509")
QUERY_KEYS = ("profileArn", "roleArn", "trustAnchorArn")
UNRESERVED = frozenset(string.ascii_letters + string.digits + "-_.~")  # RFC 3986 §2.3

_PARTITION = r"aws(?:-cn|-us-gov)?"
TRUST_ANCHOR_ARN_RE = re.compile(
    rf"arn:{_PARTITION}:rolesanywhere:([a-z0-9-]+):(\d{{12}}):trust-anchor/[A-Za-z0-9-]{{1,128}}")
PROFILE_ARN_RE = re.compile(
    rf"arn:{_PARTITION}:rolesanywhere:([a-z0-9-]+):(\d{{12}}):profile/[A-Za-z0-9-]{{1,128}}")
ROLE_ARN_RE = re.compile(  # IAM: path is /-separated [\w+=,.@-] segments, name up to 64
    rf"arn:{_PARTITION}:iam::(\d{{12}}):role/(?:[A-Za-z0-9_+=,.@-]+/)*([A-Za-z0-9_+=,.@-]{{1,64}})")
# "<alg> Credential=<scope>, SignedHeaders=<h;h>, Signature=<hex>" as AWS's helper sends it.
AUTH_RE = re.compile(r"(\S+) Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=(\S+)")
AMZ_DATE_RE = re.compile(r"\d{8}T\d{6}Z")
SESSION_NAME_RE = re.compile(r"[A-Za-z0-9+=,.@_-]{2,64}")


LOG_FILE = sys.stderr  # --log FILE redirects it, so test runs keep their output readable


def log(msg: str) -> None:
    print(f"[rolesanywhere-standin] {msg}", file=LOG_FILE, flush=True)


@dataclass
class Config:
    trust_anchors: list                       # x509.Certificate objects
    region: str = "us-east-1"
    trust_anchor_arn: Optional[str] = None    # expected values; None = any well-formed ARN
    profile_arn: Optional[str] = None
    role_arn: Optional[str] = None
    max_skew: int = 300
    vectors_mode: bool = False                # skip query/body shape checks (test vectors)


class VerifyError(Exception):
    """`message` is the stable text sent to the client; `detail` only goes to logs/records."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.message = message
        self.detail = detail


# ---------------------------------------------------------------------------------------------
# Canonicalisation (SigV4, as used by Roles Anywhere)
# ---------------------------------------------------------------------------------------------

def uri_encode(text: str) -> str:
    """Percent-encode everything but the RFC 3986 unreserved set, UTF-8, uppercase hex."""
    return "".join(ch if ch in UNRESERVED else "".join(f"%{b:02X}" for b in ch.encode("utf-8"))
                   for ch in text)


def parse_query(raw: str) -> list:
    """Raw query string -> decoded (key, value) pairs. `+` is a literal plus, not a space
    (SigV4 treats the query as RFC 3986, not as a form)."""
    pairs = []
    for part in raw.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((urllib.parse.unquote(key, errors="strict"),
                      urllib.parse.unquote(value, errors="strict")))
    return pairs


def canonical_query(pairs: list) -> str:
    # Sort by encoded key, then encoded value; join k=v with '&'.
    encoded = sorted((uri_encode(k), uri_encode(v)) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_header_value(values: list) -> str:
    # Trim each value and collapse runs of spaces/tabs; repeated headers join with ','.
    return ",".join(re.sub(r"[ \t]+", " ", v.strip()) for v in values)


def normalize_headers(headers) -> dict:
    """Mapping or (name, value) pairs (http.server's message keeps duplicates in .items())
    -> {lowercase name: [values]}."""
    out: dict = {}
    for name, value in (headers.items() if hasattr(headers, "items") else headers):
        values = value if isinstance(value, (list, tuple)) else [value]
        out.setdefault(name.lower(), []).extend(str(v) for v in values)
    return out


def base_info(method: str, raw_path: str, headers: dict, body: bytes) -> dict:
    """The request as recorded, filled in further as verification proceeds."""
    path, _, raw_query = raw_path.partition("?")
    try:
        query = dict(parse_query(raw_query))
    except UnicodeDecodeError:
        query = {"<raw>": raw_query}
    try:
        parsed_body = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        parsed_body = body.decode("utf-8", "replace")
    return {
        "method": method, "path": path, "query": query,
        "headers": {k: ",".join(v) for k, v in headers.items()},
        "body": parsed_body, "serial": None, "algorithm": None, "signed_headers": None,
        "has_chain": "x-amz-x509-chain" in headers, "chain_len": 0,
        "detail": None, "canonical_request": None, "string_to_sign": None,
        "subject": None, "role_arn": query.get("roleArn"), "duration": None, "session_name": None,
    }


# ---------------------------------------------------------------------------------------------
# Certificates
# ---------------------------------------------------------------------------------------------

def load_pem_certs(path: str) -> list:
    with open(path, "rb") as f:
        certs = x509.load_pem_x509_certificates(f.read())
    if not certs:
        raise ValueError(f"no certificate in {path}")
    return certs


def _decode_cert(b64: str, header: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(base64.b64decode(b64.strip(), validate=True))
    except (ValueError, TypeError) as e:
        raise VerifyError(f"Invalid header {header}", str(e)) from None


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def verify_chain(leaf, intermediates: list, anchors: list, now: dt.datetime) -> None:
    """Walk leaf -> intermediates (any order, matched by issuer name) -> an anchor, checking
    every signature and validity period. Raises VerifyError("Untrusted certificate")."""

    def untrusted(detail):
        return VerifyError("Untrusted certificate", detail)

    def check_validity(cert, what):
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise untrusted(f"{what} {cert.subject.rfc4514_string()} not valid at "
                            f"{now:%Y-%m-%dT%H:%M:%SZ}")

    def issued_by(child, parent):
        if child.issuer != parent.subject:
            return False
        try:
            child.verify_directly_issued_by(parent)
            return True
        except (InvalidSignature, ValueError, TypeError):
            return False

    check_validity(leaf, "leaf")
    pool, current = list(intermediates), leaf
    for _ in range(len(intermediates) + 1):
        for anchor in anchors:
            if issued_by(current, anchor):
                check_validity(anchor, "trust anchor")
                return
        for i, cand in enumerate(pool):
            if issued_by(current, cand):
                if not _is_ca(cand):
                    raise untrusted(f"intermediate {cand.subject.rfc4514_string()} is not a CA")
                check_validity(cand, "intermediate")
                current = pool.pop(i)
                break
        else:
            raise untrusted(f"no trusted issuer for {current.subject.rfc4514_string()} "
                            f"(issuer {current.issuer.rfc4514_string()})")
    raise untrusted("chain does not reach a trust anchor")


# ---------------------------------------------------------------------------------------------
# Request verification
# ---------------------------------------------------------------------------------------------

def verify_request(method, raw_path, headers, body, now=None, config=None):
    """Verify one CreateSession request from its received bytes.

    Returns (ok, error, info): error is the short message a client sees (None when ok); info
    holds what was parsed (serial, algorithm, canonical request, ...) even on failure."""
    now = now or dt.datetime.now(dt.timezone.utc)
    hdrs = normalize_headers(headers)
    info = base_info(method, raw_path, hdrs, body)
    try:
        _verify(method, raw_path, hdrs, body, now, config, info)
        return True, None, info
    except VerifyError as e:
        info["detail"] = e.detail or None
        return False, e.message, info


def _verify(method, raw_path, hdrs, body, now, config, info):
    def header(name):
        values = hdrs.get(name.lower())
        if not values:
            raise VerifyError(f"Missing header {name}")
        return ",".join(values).strip()

    # 1. Only POST /sessions exists.
    path, _, raw_query = raw_path.partition("?")
    if method != "POST" or path != "/sessions":
        raise VerifyError("Not found", f"{method} {path}")
    try:
        pairs = parse_query(raw_query)
    except UnicodeDecodeError:
        raise VerifyError("Invalid query", "query is not UTF-8") from None

    # 2. Authorization: <alg> Credential=<serial>/<date>/<region>/rolesanywhere/aws4_request, ...
    auth = header("Authorization")
    amz_date, leaf_b64 = header("X-Amz-Date"), header("X-Amz-X509")
    content_type = header("Content-Type")
    header("Host")
    m = AUTH_RE.fullmatch(auth)
    if not m:
        raise VerifyError("Invalid Authorization header", auth[:200])
    alg, credential, signed_headers, signature_hex = m.groups()
    info["algorithm"], info["signed_headers"] = alg, signed_headers
    if alg not in ALGORITHMS:
        raise VerifyError("Unsupported algorithm", alg)
    scope = credential.split("/")
    if len(scope) != 5 or scope[3] != SERVICE or scope[4] != "aws4_request" \
            or not scope[0].isdigit():
        raise VerifyError("Invalid credential scope", credential)
    cred_serial, scope_date, scope_region = scope[:3]
    info["serial"] = cred_serial
    if not re.fullmatch(r"(?:[0-9a-f]{2})+", signature_hex):
        raise VerifyError("Invalid Authorization header", "Signature must be lowercase hex")

    # 4. Certificates: X-Amz-X509 = base64 DER leaf, X-Amz-X509-Chain = comma-joined
    #    base64 DER intermediates (leaf excluded, at most 5).
    leaf = _decode_cert(leaf_b64, "X-Amz-X509")
    intermediates = []
    if "x-amz-x509-chain" in hdrs:
        parts = header("X-Amz-X509-Chain").split(",")
        if not 1 <= len(parts) <= MAX_CHAIN:
            raise VerifyError("Invalid header X-Amz-X509-Chain", f"{len(parts)} certificates")
        intermediates = [_decode_cert(p, "X-Amz-X509-Chain") for p in parts]
    info["chain_len"] = len(intermediates)
    info["serial"] = str(leaf.serial_number)
    info["subject"] = leaf.subject.rfc4514_string()
    public_key = leaf.public_key()
    if not isinstance(public_key, ALGORITHMS[alg]):
        raise VerifyError("Algorithm mismatch", f"{alg} with a {type(public_key).__name__}")

    # 5. The scope names the leaf by its serial in DECIMAL, and the date/region of the request.
    if cred_serial != str(leaf.serial_number):
        raise VerifyError("Credential serial mismatch",
                          f"Credential={cred_serial}, leaf serial {leaf.serial_number}")
    if not AMZ_DATE_RE.fullmatch(amz_date):
        raise VerifyError("Invalid X-Amz-Date", amz_date)
    try:
        request_time = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=dt.timezone.utc)
    except ValueError:
        raise VerifyError("Invalid X-Amz-Date", amz_date) from None
    if scope_date != amz_date[:8]:
        raise VerifyError("Credential date mismatch", f"{scope_date} vs {amz_date}")
    skew = abs((now - request_time).total_seconds())
    if skew > config.max_skew:
        raise VerifyError("Request date out of range", f"{amz_date} is {skew:.0f}s from now")
    if scope_region != config.region:
        raise VerifyError("Region mismatch", f"scope {scope_region}, expected {config.region}")

    # 3. SignedHeaders: lowercase, sorted, unique, all present; must cover what AWS requires.
    names = signed_headers.split(";")
    if any(not n or n != n.lower() for n in names) or names != sorted(set(names)):
        raise VerifyError("Invalid SignedHeaders", f"not lowercase/sorted/unique: {signed_headers}")
    required = REQUIRED_SIGNED + (("x-amz-x509-chain",) if intermediates else ())
    missing = [r for r in required if r not in names]
    absent = [n for n in names if n not in hdrs]
    if missing or absent:
        raise VerifyError("Invalid SignedHeaders",
                          f"unsigned: {missing}, signed but absent: {absent}")

    # Canonical request: method, URI, query, header lines (each ending '\n'), a blank line
    # (from the join), signed header names, hex SHA-256 of the body bytes.
    canonical = "\n".join([
        "POST", path, canonical_query(pairs),
        "".join(f"{n}:{canonical_header_value(hdrs[n])}\n" for n in names),
        signed_headers, hashlib.sha256(body).hexdigest()])
    string_to_sign = "\n".join([
        alg, amz_date, f"{scope_date}/{scope_region}/{SERVICE}/aws4_request",
        hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    info["canonical_request"], info["string_to_sign"] = canonical, string_to_sign

    # The signature primitive hashes the string to sign once (no HMAC key derivation).
    signature = bytes.fromhex(signature_hex)
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, string_to_sign.encode(), padding.PKCS1v15(),
                              hashes.SHA256())
        else:
            public_key.verify(signature, string_to_sign.encode(), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise VerifyError("Invalid signature", "canonical request was:\n" + canonical) from None

    verify_chain(leaf, intermediates, config.trust_anchors, now)

    if content_type.split(";")[0].strip().lower() != "application/json":
        raise VerifyError("Invalid Content-Type", content_type)
    if config.vectors_mode:
        return

    # 6. Query: exactly the three ARNs.
    keys = [k for k, _ in pairs]
    if sorted(keys) != sorted(QUERY_KEYS):
        raise VerifyError("Invalid query", f"parameters {keys}, expected {list(QUERY_KEYS)}")
    query = dict(pairs)
    for key, regex, expected in (
            ("trustAnchorArn", TRUST_ANCHOR_ARN_RE, config.trust_anchor_arn),
            ("profileArn", PROFILE_ARN_RE, config.profile_arn),
            ("roleArn", ROLE_ARN_RE, config.role_arn)):
        arn = query[key]
        m = regex.fullmatch(arn)
        if not m:
            raise VerifyError("Invalid ARN", f"{key}={arn}")
        if expected is not None and arn != expected:
            raise VerifyError("ARN mismatch", f"{key}={arn}, expected {expected}")
        if key != "roleArn" and m.group(1) != config.region:
            raise VerifyError("Region mismatch", f"{key}={arn}, expected region {config.region}")

    # 7. Body: {"durationSeconds": 900..43200[, "roleSessionName": "..."]}, nothing else.
    doc = info["body"]
    if not isinstance(doc, dict) or not set(doc) <= {"durationSeconds", "roleSessionName"}:
        raise VerifyError("Invalid body", "expected a JSON object with durationSeconds"
                          "[, roleSessionName]")
    duration = doc.get("durationSeconds")
    if type(duration) is not int or not 900 <= duration <= 43200:
        raise VerifyError("Invalid body", f"durationSeconds={duration!r}")
    session_name = doc.get("roleSessionName")
    if session_name is not None and (not isinstance(session_name, str)
                                     or not SESSION_NAME_RE.fullmatch(session_name)):
        raise VerifyError("Invalid body", f"roleSessionName={session_name!r}")
    info["duration"], info["session_name"] = duration, session_name


# ---------------------------------------------------------------------------------------------
# Responses
# ---------------------------------------------------------------------------------------------

def aws_time(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _random(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def issue_credentials(expiration: dt.datetime) -> dict:
    upper_alnum = string.ascii_uppercase + string.digits
    return {
        "accessKeyId": "ASIA" + _random(upper_alnum, 16),
        "expiration": aws_time(expiration),
        "secretAccessKey": base64.b64encode(secrets.token_bytes(30)).decode(),   # 40 chars
        "sessionToken": base64.b64encode(secrets.token_bytes(150)).decode(),     # 200 chars
    }


def session_document(info: dict, region: str, credentials: dict) -> dict:
    """The CreateSession response shape (API reference, CreateSession "Response Syntax")."""
    role_arn = info.get("role_arn") or "arn:aws:iam::123456789012:role/unknown"
    m = ROLE_ARN_RE.fullmatch(role_arn)
    account, role_name = (m.group(1), m.group(2)) if m else ("123456789012", "unknown")
    session = info.get("session_name") or info.get("serial") or "session"
    return {
        "credentialSet": [{
            "assumedRoleUser": {
                "arn": f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}",
                "assumedRoleId": "AROA" + _random(string.ascii_uppercase + string.digits, 17)
                                 + f":{session}",
            },
            "credentials": credentials,
            "packedPolicySize": 0,
            "roleArn": role_arn,
            "sourceIdentity": info.get("subject") or "",
        }],
        "subjectArn": f"arn:aws:rolesanywhere:{region}:{account}:subject/{uuid.uuid4()}",
    }


def _json(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


# ---------------------------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------------------------

class StandInServer(http.server.ThreadingHTTPServer):
    daemon_threads = True      # a hung handler must not keep the process alive
    block_on_close = False

    def __init__(self, address, args, config, ssl_ctx):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)
        self.args, self.config, self.ssl_ctx = args, config, ssl_ctx
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.fail_codes = list(args.fail)
        self.drops_left = args.drop_connections
        self.record_file = open(args.record, "a", encoding="utf-8") if args.record else None

    def server_bind(self):
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn); not needed on loopback.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def finish_request(self, request, client_address):
        # Runs in the per-connection thread, so a slow TLS handshake blocks nobody else.
        # A response is two writes (headers, then body): without TCP_NODELAY, Nagle holds the
        # second until the client's delayed ACK (~40 ms), which would distort latency figures.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.lock:
            drop = self.drops_left > 0
            self.drops_left -= drop
        if drop:
            # A load balancer or restart dropping the connection before the TLS handshake.
            log(f"dropping connection from {client_address[0]} (--drop-connections)")
            request.close()
            return
        if self.ssl_ctx is not None:
            request.settimeout(10)
            try:
                request = self.ssl_ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                log(f"TLS handshake with {client_address[0]} failed: {e}")
                return
        try:
            Handler(request, client_address, self)
        finally:
            if self.ssl_ctx is not None:
                request.close()

    def next_failure(self) -> Optional[int]:
        with self.lock:
            return self.fail_codes.pop(0) if self.fail_codes else None

    def record(self, entry: dict) -> None:
        if self.record_file is None:
            return
        with self.lock:
            self.record_file.write(json.dumps(entry) + "\n")
            self.record_file.flush()  # readers (scripts/soak) look up what was issued
            self.record_file.flush()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"          # keep-alive
    server_version = "RolesAnywhereStandIn/1.0"
    sys_version = ""
    timeout = 120                          # idle keep-alive connections are dropped

    def log_message(self, fmt, *args):
        log(f"{self.client_address[0]} {fmt % args}")

    def send_error(self, code, message=None, explain=None):
        # Errors raised by http.server itself (bad request line, ...) also answer in JSON.
        text = message or self.responses.get(code, ("Error",))[0]
        self._send(code, _json({"message": text}), close=True)

    def _send(self, status, payload, error_type=None, close=False):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if error_type:
            self.send_header("X-Amzn-ErrorType", error_type)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if getattr(self, "command", None) == "HEAD":
            return
        try:
            self.wfile.write(payload)
            self.wfile.flush()
        except (OSError, ssl.SSLError) as e:  # client gave up (e.g. on the huge body)
            log(f"write to {self.client_address[0]} failed: {e}")
            self.close_connection = True

    def version_string(self):
        return self.server_version

    def handle_expect_100(self):
        # Refuse an oversized body before inviting the client to send it.
        length = self.headers.get("Content-Length", "")
        if length.strip().isdigit() and int(length) > MAX_BODY:
            self._reject(400, "Request body too large")
            return False
        return super().handle_expect_100()

    def _reject(self, status, message, unread=0):
        """Answer without verification and drop the connection. Up to 1 MiB of an unread body
        is drained first: closing with unread input makes the kernel send a RST, which can
        destroy our response before the client reads it."""
        info = base_info(self.command, self.path, normalize_headers(self.headers), b"")
        self._finish(info, False, message, status, _json({"message": message}), None, None,
                     close=True)
        try:
            self.connection.settimeout(1)
            remaining = min(unread, 1 << 20)
            while remaining > 0:
                chunk = self.rfile.read1(min(remaining, 65536))
                if not chunk:
                    break
                remaining -= len(chunk)
        except (OSError, ssl.SSLError):
            pass

    def _read_body(self) -> Optional[bytes]:
        if "Transfer-Encoding" in self.headers:
            self._reject(400, "Content-Length required")
            return None
        length = self.headers.get("Content-Length")
        if length is None:
            if self.command == "POST":
                self._reject(400, "Content-Length required")
                return None
            return b""
        if not length.strip().isdigit():
            self._reject(400, "Invalid Content-Length")
            return None
        n = int(length)
        if n > MAX_BODY:
            self._reject(400, "Request body too large", unread=n)
            return None
        body = self.rfile.read(n)
        if len(body) != n:
            self.close_connection = True
            return None
        return body

    def _handle(self):
        srv = self.server
        body = self._read_body()
        if body is None:
            return
        now = dt.datetime.now(dt.timezone.utc)
        ok, error, info = verify_request(self.command, self.path, self.headers, body,
                                         now=now, config=srv.config)
        if not ok:
            log(f"rejected: {error}" + (f" ({info['detail']})" if info["detail"] else ""))
            status = 404 if error == "Not found" else 403
            self._finish(info, False, error, status, _json({"message": error}),
                         None if status == 404 else "AccessDeniedException", None)
            return

        code = srv.next_failure()
        if code == "hang":  # a peer that accepts the request and never answers
            srv.record(self._record_entry(info, True, None, 0, None))
            log("injected fault: holding the request open")
            srv.stopping.wait(HANG_SECONDS)
            self.close_connection = True
            return
        if code == "close":  # a peer that closes the connection without an answer
            srv.record(self._record_entry(info, True, None, 0, None))
            log("injected fault: closing the connection without an answer")
            self.close_connection = True
            return
        if code == "malformed":  # a 201 whose JSON is cut short
            self._finish(info, True, None, 201, b'{"credentialSet": [', None, None)
            return
        if code is not None:  # --fail: injected failures for the first valid requests
            if code == 429:
                error_type, message = "ThrottlingException", "Rate exceeded"
            elif code >= 500:
                error_type, message = "ServiceUnavailableException", "Service unavailable"
            else:
                error_type, message = "ValidationException", "Injected failure"
            self._finish(info, True, None, code, _json({"message": message}), error_type, None)
            return

        mode = srv.args.mode
        if mode == "deny":
            self._finish(info, True, None, 403, _json({"message": "Unable to assume role"}),
                         "AccessDeniedException", None)
            return
        if mode == "hang":
            srv.record(self._record_entry(info, True, None, 0, None))
            log("hang mode: holding the request open")
            srv.stopping.wait()
            self.close_connection = True
            return
        if mode == "malformed":
            self._finish(info, True, None, 201, b'{"credentialSet": [', None, None)
            return

        seconds = srv.args.lifetime if srv.args.lifetime is not None else info["duration"] or 3600
        credentials = issue_credentials(now + dt.timedelta(seconds=seconds))
        if srv.args.expiration is not None:
            credentials["expiration"] = srv.args.expiration
        if mode == "missing-fields":
            del credentials["sessionToken"]
        doc = session_document(info, srv.config.region, credentials)
        if mode == "huge":
            doc["padding"] = "A" * HUGE_PADDING
        self._finish(info, True, None, 201, _json(doc), None, credentials)

    do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = _handle

    def _record_entry(self, info, ok, error, status, credentials):
        keys = ("method", "path", "query", "headers", "body", "serial", "algorithm",
                "signed_headers", "has_chain", "chain_len")
        entry = {"ok": ok, "error": error, "status": status, "time": time.time()}
        entry.update({k: info[k] for k in keys})
        entry["credentials"] = credentials
        entry["detail"] = info.get("detail")
        return entry

    def _finish(self, info, ok, error, status, payload, error_type, credentials, close=False):
        self.server.record(self._record_entry(info, ok, error, status, credentials))
        self._send(status, payload, error_type, close=close)


# ---------------------------------------------------------------------------------------------
# TLS material and main
# ---------------------------------------------------------------------------------------------

def _write(path: str, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), mode)
        f.write(data)


def write_tls_material(directory: str, server_name: str = "localhost") -> None:
    """A throw-away CA and a server certificate, generated at every start. The certificate
    names `server_name`; for the default, localhost, it also names 127.0.0.1 and ::1 (tests of
    host-name verification pass another name)."""
    os.makedirs(directory, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    not_before, not_after = now - dt.timedelta(hours=1), now + dt.timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Stand-in Test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (x509.CertificateBuilder()
          .subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(not_before).not_valid_after(not_after)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                         critical=True)   # keyCertSign, cRLSign
          .add_extension(ca_ski, critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server_name)]))
              .issuer_name(ca_name).public_key(key.public_key())
              .serial_number(x509.random_serial_number())
              .not_valid_before(not_before).not_valid_after(not_after)
              .add_extension(x509.SubjectAlternativeName(
                  [x509.DNSName(server_name)] +
                  ([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1"))]
                   if server_name == "localhost" else [])), critical=False)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                           False), critical=True)   # digitalSignature
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                             critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                  ca_ski), critical=False)
              .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    _write(os.path.join(directory, "ca.pem"), ca.public_bytes(pem), 0o644)
    _write(os.path.join(directory, "server.pem"), server.public_bytes(pem), 0o644)
    _write(os.path.join(directory, "server-key.pem"),
           key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()), 0o600)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="IAM Roles Anywhere CreateSession stand-in")
    p.add_argument("--trust-anchor", required=True, help="PEM file of trusted CA certificates")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--trust-anchor-arn")
    p.add_argument("--profile-arn")
    p.add_argument("--role-arn")
    p.add_argument("--tls-dir", help="where ca.pem, server.pem, server-key.pem are written "
                                     "(required unless --plain-http)")
    p.add_argument("--plain-http", action="store_true")
    p.add_argument("--drop-connections", type=int, default=0,
                   help="close the first N connections at once, before any TLS handshake")
    p.add_argument("--server-name", default="localhost",
                   help="the name in the server certificate (default localhost, plus 127.0.0.1 and ::1)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--lifetime", type=int, default=None,
                   help="credential lifetime in seconds (default: the requested duration)")
    p.add_argument("--expiration", default=None,
                   help="answer this Expiration text verbatim (e.g. an unparseable one)")
    p.add_argument("--max-skew", type=int, default=300)
    p.add_argument("--fail", default="",
                   help="comma list of faults for the first valid requests: an HTTP status "
                   "(400..599), 'hang' (no answer), 'close' (closed without an answer) or "
                   "'malformed' (a 201 with truncated JSON)")
    p.add_argument("--mode", default="ok",
                   choices=["ok", "deny", "malformed", "hang", "missing-fields", "huge"])
    p.add_argument("--record", help="append one JSON line per request to this file")
    p.add_argument("--log", help="write the log to this file instead of stderr")
    p.add_argument("--control", help="on SIGUSR1, read commands from this file: "
                   "'fail <fault>,<fault>...' makes the next valid requests fail (faults as "
                   "for --fail); 'anchors <pem file>' replaces the trust anchors")
    args = p.parse_args(argv)
    if not args.plain_http and not args.tls_dir:
        p.error("--tls-dir is required unless --plain-http")
    try:
        args.fail = parse_faults(args.fail)
    except ValueError as e:
        p.error(f"--fail: {e}")
    return args


def parse_faults(text: str) -> list:
    """'503,hang,429' -> [503, 'hang', 429]; ValueError naming a bad item."""
    faults = []
    for item in (c.strip() for c in text.split(",")):
        if not item:
            continue
        if item in FAULT_WORDS:
            faults.append(item)
        elif item.isdigit() and 400 <= int(item) <= 599:
            faults.append(int(item))
        else:
            raise ValueError(f"not a status 400..599 or one of {', '.join(FAULT_WORDS)}: {item!r}")
    return faults


def apply_control(server, path: str) -> None:
    """Test control while running (--control): e.g. 'fail 503,503,503' fails the next three
    valid requests, as a brief outage would."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        log(f"cannot read --control {path}: {e}")
        return
    for line in lines:
        words = line.split()
        if len(words) == 2 and words[0] == "fail":
            try:
                codes = parse_faults(words[1])
            except ValueError as e:
                log(f"control: {e}")
                continue
            with server.lock:
                server.fail_codes.extend(codes)
            log(f"control: failing the next {len(codes)} request(s) with {codes}")
        elif len(words) == 2 and words[0] == "anchors":
            try:
                anchors = load_pem_certs(words[1])
            except (OSError, ValueError) as e:
                log(f"control: cannot load trust anchors: {e}")
                continue
            server.config.trust_anchors = anchors
            log(f"control: {len(anchors)} trust anchor(s) from {words[1]}")
        elif words:
            log(f"control: unknown command {line!r}")


def main(argv=None) -> int:
    global LOG_FILE
    args = parse_args(argv)
    if args.log:
        LOG_FILE = open(args.log, "a", encoding="utf-8")
    try:
        anchors = load_pem_certs(args.trust_anchor)
    except (OSError, ValueError) as e:
        log(f"cannot load --trust-anchor: {e}")
        return 2
    config = Config(trust_anchors=anchors, region=args.region,
                    trust_anchor_arn=args.trust_anchor_arn, profile_arn=args.profile_arn,
                    role_arn=args.role_arn, max_skew=args.max_skew)
    ssl_ctx = None
    if args.tls_dir:
        write_tls_material(args.tls_dir, args.server_name)
    if not args.plain_http:
        ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ssl_ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ssl_ctx.load_cert_chain(os.path.join(args.tls_dir, "server.pem"),
                                os.path.join(args.tls_dir, "server-key.pem"))

    server = StandInServer((args.host, args.port), args, config, ssl_ctx)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.control:
        signal.signal(signal.SIGUSR1, lambda *_: apply_control(server, args.control))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                     daemon=True).start()
    print(f"PORT {server.server_address[1]}", flush=True)
    log(f"listening on {'http' if ssl_ctx is None else 'https'}://{args.host}:"
        f"{server.server_address[1]} mode={args.mode} fail={args.fail}")

    while not stop.wait(0.2):
        pass
    log("stopping")
    server.stopping.set()          # releases hung handlers
    server.shutdown()
    server.server_close()
    if server.record_file:
        server.record_file.close()
    sys.stdout.flush()
    sys.stderr.flush()
    # Daemon threads may still sit in socket reads; skip interpreter teardown so they can't
    # trip over finalisation (e.g. a write to stderr) and turn a clean stop into a crash.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
