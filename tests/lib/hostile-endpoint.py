#!/usr/bin/python3
"""A hostile HTTPS endpoint for the fault tests (stdlib only).

Serves HTTPS on 127.0.0.1 with the given certificate; whatever the
credential:
  /ok          200, a short body
  /big         200 with a 50 MB body (Content-Length), written as fast as
               the client reads
  /chunked     200 with an endless chunked body
  /headers     a status line, then header lines without end
  /slowloris   a status line and headers, one byte per second, never done
Every request is logged to --log as one JSON line (time, path, and for the
endless answers how many bytes went out before the client hung up).
--port 0 picks a free port, written to --port-file once listening. Ends by
itself after --lifetime seconds; each answer stops after --answer-max
seconds."""
import argparse, json, os, ssl, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--port-file")
ap.add_argument("--log")
ap.add_argument("--lifetime", type=float, default=300)
ap.add_argument("--answer-max", type=float, default=60)
a = ap.parse_args()
lock = threading.Lock()
BIG = 50 * 1000 * 1000
BLOCK = b"x" * 65536


def log(**kw):
    if a.log:
        with lock, open(a.log, "a") as f:
            f.write(json.dumps(dict(kw, time=time.time())) + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def raw(self, data):
        self.wfile.write(data)
        self.wfile.flush()

    def handle_any(self):
        path = self.path.split("?")[0]
        start = time.monotonic()
        sent = 0
        try:
            if path == "/big":
                self.raw(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n" % BIG)
                while sent < BIG and time.monotonic() - start < a.answer_max:
                    n = min(len(BLOCK), BIG - sent)
                    self.raw(BLOCK[:n])
                    sent += n
            elif path == "/chunked":
                self.raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
                while time.monotonic() - start < a.answer_max:
                    self.raw(b"%x\r\n%s\r\n" % (len(BLOCK), BLOCK))
                    sent += len(BLOCK)
            elif path == "/headers":
                self.raw(b"HTTP/1.1 200 OK\r\n")
                i = 0
                while time.monotonic() - start < a.answer_max:
                    line = b"X-Filler-%d: %s\r\n" % (i, b"h" * 200)
                    self.raw(line)
                    sent += len(line)
                    i += 1
            elif path == "/slowloris":
                answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Slow: " + b"s" * 4096
                for ch in answer:
                    if time.monotonic() - start >= a.answer_max:
                        break
                    self.raw(bytes([ch]))
                    sent += 1
                    time.sleep(1)
            elif path == "/ok":
                body = b"score reports available\n"
                self.raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                sent = len(body)
            else:
                self.raw(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        except (OSError, ssl.SSLError):
            pass
        log(path=path, sent=sent, seconds=round(time.monotonic() - start, 3))
        self.close_connection = True

    do_GET = do_HEAD = do_POST = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


srv = Server(("127.0.0.1", a.port), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(a.cert, a.key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
if a.port_file:
    with open(a.port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(a.port_file + ".tmp", a.port_file)
threading.Timer(a.lifetime, srv.shutdown).start()
try:
    srv.serve_forever()
except KeyboardInterrupt:
    pass
