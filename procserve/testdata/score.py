"""A scoring server for loopml's process runtime tests, standard library only.

It speaks MLflow's scoring protocol: GET /ping and /health answer 200,
POST /invocations takes dataframe_split, dataframe_records, instances or
inputs (a list of rows or records) and answers {"predictions": [...]}, one
prediction per row: 2*x + 3*y + 1 over the columns x and y (a list row is
[x, y]). A row with a negative x is a 400 error, as a model rejecting bad
input would answer. Every request sleeps SCORE_DELAY_MS (default 1) to
model the fixed cost of a real model call (SCORE_COST=cpu: a busy loop
holding the GIL instead).

It listens on LOOPML_SOCKET (a Unix socket) when set, else on HOST:PORT
(--port overrides PORT).
"""

import json
import os
import socket
import socketserver
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DELAY = float(os.environ.get("SCORE_DELAY_MS", "1")) / 1000.0
BUSY = os.environ.get("SCORE_COST", "sleep") == "cpu"


def pay(seconds):
    """The fixed cost of one model call: a sleep (I/O-like, threads overlap)
    or, with SCORE_COST=cpu, a busy loop holding the GIL (like building a
    pandas DataFrame: requests are served one at a time)."""
    if not BUSY:
        time.sleep(seconds)
        return
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


class BadInput(Exception):
    pass


def rows_of(body):
    keys = [k for k in ("dataframe_split", "dataframe_records", "instances", "inputs") if k in body]
    if len(keys) != 1:
        raise BadInput("the body must have exactly one of dataframe_split, dataframe_records, instances, inputs")
    data = body[keys[0]]
    if keys[0] == "dataframe_split":
        cols = data.get("columns", ["x", "y"])
        return [dict(zip(cols, row)) for row in data["data"]]
    if not isinstance(data, list):
        raise BadInput("expected a list of rows")
    out = []
    for row in data:
        if isinstance(row, dict):
            out.append(row)
        elif isinstance(row, list):
            out.append(dict(zip(["x", "y"], row)))
        else:
            raise BadInput("a row must be an object or a list")
    return out


def predict(row):
    try:
        x, y = float(row["x"]), float(row["y"])
    except KeyError as e:
        raise BadInput("missing column %s" % e)
    except (TypeError, ValueError):
        raise BadInput("x and y must be numbers")
    if x < 0:
        raise BadInput("x must not be negative, got %g" % x)
    return 2 * x + 3 * y + 1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in two writes

    def log_message(self, *args):
        pass

    def reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path in ("/ping", "/health"):
            self.reply(200, {})
        else:
            self.reply(404, {"error_code": "NOT_FOUND", "message": self.path})

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        if self.path != "/invocations":
            self.reply(404, {"error_code": "NOT_FOUND", "message": self.path})
            return
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise BadInput("the body must be a JSON object")
            preds = [predict(r) for r in rows_of(body)]
        except (BadInput, ValueError) as e:
            self.reply(400, {"error_code": "BAD_REQUEST", "message": str(e)})
            return
        if DELAY > 0:
            pay(DELAY)
        self.reply(200, {"predictions": preds})


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    request_queue_size = 128


class TCPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


class UnixHandler(Handler):
    disable_nagle_algorithm = False  # not a TCP socket
    def address_string(self):
        return "unix"

    def setup(self):
        self.client_address = ("unix", 0)
        super().setup()


def main():
    sock = os.environ.get("LOOPML_SOCKET")
    if sock:
        srv = UnixServer(sock, UnixHandler)
    else:
        port = int(os.environ.get("PORT", "8080"))
        if "--port" in sys.argv:
            port = int(sys.argv[sys.argv.index("--port") + 1])
        srv = TCPServer((os.environ.get("HOST", "127.0.0.1"), port), Handler)
    print("score.py listening", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
