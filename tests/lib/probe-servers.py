#!/usr/bin/python3
"""The servers the probe engine's integration tests talk to, in one process,
all on 127.0.0.1 with ports chosen by the kernel (stdlib only).

HTTPS listeners, one per certificate from mkpki.sh: good (leaf + CA),
expired, wronghost, soon (10 days), chain (intermediate expiring in 5 days).
Each serves:
  /ok                 200
  /basic              200 with the right HTTP basic credential, else 401
  /bearer             200 with "Authorization: Bearer <secret>", else 401
  /header             200 with "X-TOMS-Key: <secret>", else 401
  /token              POST, OAuth2 client credentials (basic auth, form body
                      grant_type=client_credentials): a new bearer token;
                      ?expires_in=N, ?mode=garbage|big|invalid_client
  /resource           200 with a bearer token /token issued and not revoked
  /status/NNN         NNN
  /slow?s=N           answers after N seconds
  /redirect?to=PATH   302 to PATH on the same listener
  /redirect-away      302 to another host
  /big                1 MiB body
Any query string is allowed (tests tag requests with ?link=NAME).
Other listeners: silent (accepts, never speaks: TLS handshake timeout),
blackhole (accept queue kept full: connect timeout), closed (a port nothing
listens on), control (plain HTTP: GET /stats, POST /reset, POST /revoke).

The server counts, per listener, TCP connections open at once (the maximum
is kept) and, over all listeners, requests being answered at once, also per
path. --ports FILE receives the ports as JSON once everything listens. The
process ends by itself after --lifetime seconds."""
import argparse, base64, json, os, secrets, socket, ssl, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

ap = argparse.ArgumentParser()
ap.add_argument("--pki", required=True)
ap.add_argument("--ports", required=True)
ap.add_argument("--user", default="sisvendor")
ap.add_argument("--secret", default="s3cret")
ap.add_argument("--lifetime", type=float, default=300)
a = ap.parse_args()

GOOD_BASIC = "Basic " + base64.b64encode(f"{a.user}:{a.secret}".encode()).decode()
lock = threading.Lock()
state = {}
tokens = set()


def reset():
    """Forgets the maxima and the request log; what is open stays counted."""
    with lock:
        conns = dict(state.get("conns", {}))
        active = state.get("active", 0)
        by_path = dict(state.get("active_by_path", {}))
        state.clear()
        state.update(conns=conns, max_conns=dict(conns), accepted={}, active=active, max_active=active,
                     active_by_path=by_path, max_active_by_path=dict(by_path), requests=[], tokens_issued=0)


reset()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    listener = "?"
    disable_nagle_algorithm = True   # no 40 ms delayed-ACK stall between header and body

    def log_message(self, fmt, *args):
        pass

    def send(self, code, body=b"", extra=(), ctype="text/plain"):
        # no longer active once the answer starts: the client may start its
        # next request the moment it has read this one, before this thread
        # runs again
        self.finished()
        self.send_response(code)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(n, 65536)) if n > 0 else b""

    def handle_one(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        path = u.path
        auth = self.headers.get("Authorization", "")
        if path == "/ok":
            return self.send(200, b"ok\n")
        if path == "/basic":
            if auth == GOOD_BASIC:
                return self.send(200, b"authorized\n")
            return self.send(401, b"unauthorized\n", [("WWW-Authenticate", 'Basic realm="toms"')])
        if path == "/bearer":
            if auth == "Bearer " + a.secret:
                return self.send(200, b"authorized\n")
            return self.send(401, b"unauthorized\n", [("WWW-Authenticate", "Bearer")])
        if path == "/header":
            if self.headers.get("X-TOMS-Key") == a.secret:
                return self.send(200, b"authorized\n")
            return self.send(401, b"unauthorized\n")
        if path == "/token":
            form = parse_qs(self.body().decode(errors="replace"))
            mode = q.get("mode", [""])[0]
            if (self.command != "POST" or auth != GOOD_BASIC or form.get("grant_type") != ["client_credentials"]
                    or not self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")
                    or mode == "invalid_client"):
                return self.send(400 if mode == "invalid_client" else 401,
                                 json.dumps({"error": "invalid_client",
                                             "error_description": "bad client " + a.secret}).encode(),
                                 ctype="application/json")
            if mode == "garbage":
                return self.send(200, b"<html>not json</html>", ctype="text/html")
            if mode == "big":
                return self.send(200, b"{\"access_token\":\"" + b"x" * 100000 + b"\"}", ctype="application/json")
            tok = "tomslinktoken-" + secrets.token_hex(16)
            with lock:
                tokens.add(tok)
                state["tokens_issued"] += 1
            doc = {"access_token": tok, "token_type": "Bearer", "expires_in": int(q.get("expires_in", ["3600"])[0])}
            return self.send(200, json.dumps(doc).encode(), ctype="application/json")
        if path == "/resource":
            with lock:
                ok = auth.startswith("Bearer ") and auth[7:] in tokens
            if ok:
                return self.send(200, b"authorized\n")
            return self.send(401, b"unauthorized\n", [("WWW-Authenticate", 'Bearer error="invalid_token"')])
        if path.startswith("/status/"):
            return self.send(int(path[8:]), b"status\n")
        if path == "/slow":
            time.sleep(min(float(q.get("s", ["30"])[0]), 120))
            return self.send(200, b"slow\n")
        if path == "/redirect":
            return self.send(302, b"", [("Location", q.get("to", ["/ok"])[0])])
        if path == "/redirect-away":
            return self.send(302, b"", [("Location", "https://elsewhere.invalid/collect")])
        if path == "/big":
            return self.send(200, b"x" * (1 << 20))
        return self.send(404, b"not found\n")

    def finished(self):
        with lock:
            if self.active:
                self.active = False
                state["active"] -= 1
                state["active_by_path"][self.path] = state["active_by_path"].get(self.path, 1) - 1
                self.rec["end"] = time.time()

    def dispatch(self):
        rec = {"listener": self.listener, "method": self.command, "path": self.path,
               "headers": dict(self.headers), "start": time.time()}
        self.rec = rec
        self.active = True
        with lock:
            state["active"] += 1
            state["max_active"] = max(state["max_active"], state["active"])
            ap_ = state["active_by_path"]
            ap_[self.path] = ap_.get(self.path, 0) + 1
            state["max_active_by_path"][self.path] = max(state["max_active_by_path"].get(self.path, 0), ap_[self.path])
            state["requests"].append(rec)
        try:
            self.handle_one()
        finally:
            self.finished()

    do_GET = do_HEAD = do_POST = dispatch


class TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass   # failed handshakes and dropped clients are what the tests do

    def process_request_thread(self, request, client_address):
        name = self.name
        with lock:
            c = state["conns"]
            c[name] = c.get(name, 0) + 1
            state["max_conns"][name] = max(state["max_conns"].get(name, 0), c[name])
            state["accepted"][name] = state["accepted"].get(name, 0) + 1
        try:
            request.settimeout(30)
            super().process_request_thread(request, client_address)
        finally:
            with lock:
                state["conns"][name] = state["conns"].get(name, 1) - 1


def tls_listener(name, cert, key):
    handler = type("H_" + name, (Handler,), {"listener": name})
    srv = TLSServer(("127.0.0.1", 0), handler)
    srv.name = name
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(a.pki, cert), os.path.join(a.pki, key))
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv.server_address[1]


class Control(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, doc):
        body = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock:
            doc = json.loads(json.dumps(state))
        self.reply(doc)

    def do_POST(self):
        if self.path == "/reset":
            reset()
        elif self.path == "/revoke":
            with lock:
                tokens.clear()
        self.reply({})


ports = {}
for name, cert, key in (("good", "server-chain.crt", "server.key"), ("expired", "expired.crt", "expired.key"),
                        ("wronghost", "wronghost.crt", "wronghost.key"), ("soon", "soon.crt", "soon.key"),
                        ("chain", "chain.crt", "chain.key")):
    ports[name] = tls_listener(name, cert, key)

# accepts and never speaks
silent = socket.socket()
silent.bind(("127.0.0.1", 0))
silent.listen(16)
held = []


def hold():
    while True:
        held.append(silent.accept()[0])


threading.Thread(target=hold, daemon=True).start()
ports["silent"] = silent.getsockname()[1]

# backlog 0 and the accept queue filled by connections never accepted:
# further SYNs are dropped and a client waits until its connect timeout
blackhole = socket.socket()
blackhole.bind(("127.0.0.1", 0))
blackhole.listen(0)
ports["blackhole"] = blackhole.getsockname()[1]
fillers = []
for _ in range(3):
    f = socket.socket()
    f.setblocking(False)
    try:
        f.connect(("127.0.0.1", ports["blackhole"]))
    except BlockingIOError:
        pass
    fillers.append(f)

# a port nothing listens on
s = socket.socket()
s.bind(("127.0.0.1", 0))
ports["closed"] = s.getsockname()[1]
s.close()

ctl = ThreadingHTTPServer(("127.0.0.1", 0), Control)
ctl.daemon_threads = True
threading.Thread(target=ctl.serve_forever, daemon=True).start()
ports["control"] = ctl.server_address[1]

with open(a.ports + ".tmp", "w") as f:
    json.dump(ports, f)
os.rename(a.ports + ".tmp", a.ports)
print("probe-servers: " + json.dumps(ports), file=sys.stderr, flush=True)
time.sleep(a.lifetime)
os._exit(0)
