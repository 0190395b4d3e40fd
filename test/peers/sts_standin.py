#!/usr/bin/env python3
"""A loopback stand-in for STS AssumeRoleWithWebIdentity, for tests of the JWT-SVID path.

It checks each request on its own (no code shared with the client): POST, a form-encoded body
with Action=AssumeRoleWithWebIdentity, Version=2011-06-15, a WebIdentityToken that looks like a
JWT, DurationSeconds within 900..43200; and that the token is NOT in the request line (URLs
end up in proxy logs). It answers STS's XML, or STS's ErrorResponse.

Prints "PORT <n>" on stdout once listening. One JSON line per request goes to --record:
{"time", "path", "token_in_url", "form": {...}, "status", "credentials"}.
--control FILE + SIGUSR1: 'fail <status>,<status>...' fails the next valid requests.
"""
import argparse
import datetime as dt
import http.server
import json
import os
import secrets
import signal
import string
import sys
import threading
import time
import urllib.parse

LOG = sys.stderr


def log(msg: str) -> None:
    print(f"[sts-standin] {msg}", file=LOG, flush=True)


def error_xml(code: str, message: str) -> bytes:
    return (f'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{secrets.token_hex(8)}</RequestId></ErrorResponse>").encode()


def success_xml(creds: dict, role_arn: str, session: str, subject: str) -> bytes:
    return f"""<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>{subject}</SubjectFromWebIdentityToken>
    <AssumedRoleUser>
      <Arn>{role_arn}/{session}</Arn>
      <AssumedRoleId>AROA{secrets.token_hex(8).upper()}:{session}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>{creds["AccessKeyId"]}</AccessKeyId>
      <SecretAccessKey>{creds["SecretAccessKey"]}</SecretAccessKey>
      <SessionToken>{creds["SessionToken"]}</SessionToken>
      <Expiration>{creds["Expiration"]}</Expiration>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>{secrets.token_hex(8)}</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
""".encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        log(f"{self.client_address[0]} {fmt % args}")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        srv = self.server
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace")
        form = {k: v[0] for k, v in urllib.parse.parse_qs(raw, keep_blank_values=True).items()}
        token = form.get("WebIdentityToken", "")
        entry = {"time": time.time(), "path": self.path, "token_in_url": bool(token) and token in self.path,
                 "content_type": self.headers.get("Content-Type"), "form": form, "status": 0,
                 "credentials": None}

        problem = None
        if entry["token_in_url"] or "WebIdentityToken" in self.path:
            problem = "the token is in the request line"
        elif not (entry["content_type"] or "").startswith("application/x-www-form-urlencoded"):
            problem = f"Content-Type is {entry['content_type']!r}"
        elif form.get("Action") != "AssumeRoleWithWebIdentity" or form.get("Version") != "2011-06-15":
            problem = "Action/Version missing or wrong"
        elif token.count(".") != 2:
            problem = "WebIdentityToken is not a JWT"
        elif not form.get("DurationSeconds", "").isdigit() or not 900 <= int(form["DurationSeconds"]) <= 43200:
            problem = "DurationSeconds missing or out of range"
        if problem:
            log(f"rejected: {problem}")
            entry["status"] = 400
            srv.record(entry)
            self._send(400, error_xml("ValidationError", problem))
            return

        with srv.lock:
            code = srv.fail_codes.pop(0) if srv.fail_codes else None
        if code is not None:
            entry["status"] = code
            srv.record(entry)
            err = "Throttling" if code in (400, 429) else "ServiceUnavailable"
            self._send(code, error_xml(err, "injected failure"))
            return
        if srv.args.mode == "deny":
            entry["status"] = 403
            srv.record(entry)
            self._send(403, error_xml("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"))
            return

        seconds = srv.args.lifetime or int(form["DurationSeconds"])
        expiration = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)
        alnum = string.ascii_uppercase + string.digits
        creds = {
            "AccessKeyId": "ASIA" + "".join(secrets.choice(alnum) for _ in range(16)),
            "SecretAccessKey": secrets.token_urlsafe(30)[:40],
            "SessionToken": secrets.token_urlsafe(120),
            "Expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        entry["status"] = 200
        entry["credentials"] = creds
        srv.record(entry)
        self._send(200, success_xml(creds, form.get("RoleArn", "arn:aws:iam::123456789012:role/none"),
                                    form.get("RoleSessionName", "none"), "subject"))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, args):
        super().__init__(("127.0.0.1", 0), Handler)
        self.args = args
        self.lock = threading.Lock()
        self.fail_codes = [int(c) for c in args.fail.split(",") if c]
        self.record_file = open(args.record, "a", encoding="utf-8") if args.record else None

    def record(self, entry: dict) -> None:
        if self.record_file:
            with self.lock:
                self.record_file.write(json.dumps(entry) + "\n")
                self.record_file.flush()


def apply_control(server: Server, path: str) -> None:
    try:
        with open(path, encoding="utf-8") as f:
            for line in f.read().splitlines():
                words = line.split()
                if len(words) == 2 and words[0] == "fail":
                    with server.lock:
                        server.fail_codes.extend(int(c) for c in words[1].split(",") if c)
                    log(f"control: {line}")
    except OSError as e:
        log(f"cannot read --control {path}: {e}")


def main() -> int:
    global LOG
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--record")
    p.add_argument("--log")
    p.add_argument("--control")
    p.add_argument("--lifetime", type=int, default=0, help="credential lifetime (default: DurationSeconds)")
    p.add_argument("--fail", default="", help="comma list of statuses for the first valid requests")
    p.add_argument("--mode", choices=["ok", "deny"], default="ok")
    args = p.parse_args()
    if args.log:
        LOG = open(args.log, "a", encoding="utf-8")
    server = Server(args)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.control:
        signal.signal(signal.SIGUSR1, lambda *_: apply_control(server, args.control))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    print(f"PORT {server.server_address[1]}", flush=True)
    log(f"listening on http://127.0.0.1:{server.server_address[1]} mode={args.mode}")
    while not stop.wait(0.2):
        pass
    server.shutdown()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
