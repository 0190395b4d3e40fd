"""Load and hostile clients for the local credential endpoint (x509-serve / jwt-serve).

  serve_load.py concurrent PORT TOKEN N        N connections at once, each one GET; prints JSON
                                               {"ok": n, "statuses": {...}, "errors": n}
  serve_load.py slowloris PORT TOKEN SLOW      SLOW connections that send a header a byte at a
                                               time, while a normal client keeps asking; prints
                                               JSON {"normal_ok", "normal_max_ms", "slow_cut"}
  serve_load.py hammer PORT TOKEN SECONDS      keeps 20 clients asking for SECONDS; prints JSON
                                               {"ok", "other"} (a stop mid-way ends it early)
Independent of the server's code: plain sockets and the HTTP/1.1 text.
"""
import json
import resource
import socket
import sys
import threading
import time


def raise_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def request(token):
    return (f"GET /v1/credentials HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {token}\r\n"
            "Connection: close\r\n\r\n").encode()


def read_status(sock):
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    if not data.startswith(b"HTTP/1.1 "):
        return None, data
    head, _, body = data.partition(b"\r\n\r\n")
    return int(data[9:12]), body


def concurrent(port, token, n):
    raise_limit()
    socks = []
    errors = 0
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=20)
        socks.append(s)
    for s in socks:  # every request is in flight before any answer is read
        s.sendall(request(token))
    statuses = {}
    ok = 0
    for s in socks:
        try:
            status, body = read_status(s)
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            if status == 200 and json.loads(body)["AccessKeyId"]:
                ok += 1
        except (OSError, ValueError, KeyError):
            errors += 1
        finally:
            s.close()
    print(json.dumps({"ok": ok, "statuses": statuses, "errors": errors}))


def slowloris(port, token, slow):
    raise_limit()
    stop = threading.Event()
    cut = [0]

    def drip():
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        try:
            for b in b"GET /v1/credentials HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"x" * 200:
                if stop.is_set():
                    return
                s.send(bytes([b]))
                time.sleep(0.2)
        except OSError:
            cut[0] += 1  # the server closed it: the read timeout held
        finally:
            s.close()

    threads = [threading.Thread(target=drip) for _ in range(slow)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    normal_ok = 0
    worst = 0.0
    end = time.time() + 7  # past the server's 5 s read timeout
    while time.time() < end:
        start = time.time()
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(request(token))
        status, _ = read_status(s)
        s.close()
        worst = max(worst, time.time() - start)
        if status == 200:
            normal_ok += 1
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join()
    print(json.dumps({"normal_ok": normal_ok, "normal_max_ms": int(worst * 1000), "slow_cut": cut[0]}))


def hammer(port, token, seconds):
    counts = {"ok": 0, "other": 0}
    lock = threading.Lock()
    end = time.time() + seconds

    def worker():
        while time.time() < end:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(request(token))
                status, body = read_status(s)
                s.close()
                good = status == 200 and json.loads(body)["AccessKeyId"]
            except (OSError, ValueError, KeyError):
                good = False
                time.sleep(0.01)
            with lock:
                counts["ok" if good else "other"] += 1

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps(counts))


if __name__ == "__main__":
    mode, port, token, arg = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    {"concurrent": concurrent, "slowloris": slowloris, "hammer": hammer}[mode](port, token, arg)
