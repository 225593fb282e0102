"""A counting, fault-injecting HTTP proxy between an AWS SDK client (envctl) and the emulator.

What it is for: the benchmark (`scripts/bench`) counts the AWS API calls envctl makes through
it, and fault-injection tests make the "cloud" throttle, fail or slow down without touching
envctl or the emulator. Point the client at the proxy with `AWS_ENDPOINT_URL` (or
`--endpoint-url`); the proxy forwards every request to the upstream emulator unchanged (only
`Host` is rewritten to the upstream's) and relays the answer back. Python 3.11 stdlib only.

usage: aws_proxy.py --upstream http://127.0.0.1:PORT [--listen-port 0] [--fault-rate 0.0]
                    [--faults throttle,503] [--latency-ms 0] [--seed N] [--verbose]

Once listening on 127.0.0.1 it prints exactly one line, `ready <port>`, on stdout (port 0 picks
a free port), then runs until killed. Nothing else is ever written to stdout; `--verbose` logs
one line per request on stderr.

Counting: every request is counted by its AWS action: the `Action=` parameter of a
form-encoded body or of the query string (EC2 and RDS use the query protocol), else the
operation of an `X-Amz-Target` header (JSON protocols), else `METHOD /path` (S3, REST).
Requests under `/moto-api/` (the emulator's own API, e.g. `POST /moto-api/reset`) are forwarded
but never counted, delayed nor faulted; `/__proxy/` is the proxy's own control API.

Faults: with probability `fault_rate` (a seeded RNG, `--seed`) a request is not forwarded and
is answered with an error instead, of a kind drawn uniformly from `--faults`:
- `throttle`: what the service answers when throttling. EC2 (credential scope service `ec2`,
  or `Version=2016-11-15`): HTTP 503 `RequestLimitExceeded` in EC2's `<Response><Errors>` shape.
  RDS (scope `rds`): HTTP 400 `Throttling` in the query protocol's `<ErrorResponse>` shape.
  Anything else: HTTP 503 `SlowDown` (S3's shape).
- `503`: HTTP 503 with the plain-text body `Service Unavailable`.
The service is read from the `Authorization` header's credential scope
(`Credential=AKID/20261128/us-east-1/ec2/aws4_request`).

Latency: `latency_ms` is slept before each counted request is forwarded (or faulted).

Control API (never counted, delayed nor faulted):
- `GET  /__proxy/stats`  -> `{"total": n, "forwarded": n, "faulted": n, "upstream_errors": n,
  "by_action": {"DescribeVpcs": 3, ...}, "faulted_by_action": {...}, "first_request_at": t,
  "last_response_at": t}`. `total` counts every request the proxy answered except control and
  `/moto-api/` ones, `faulted` the injected faults among them, `forwarded` the rest,
  `upstream_errors` those the upstream could not answer (the client got HTTP 502; they count
  as forwarded), `by_action` every counted
  request (forwarded or faulted) by action, `faulted_by_action` only the faulted ones;
  the two times (Unix seconds, null before the first request) are when the first counted
  request arrived and the last one was answered, so a client's wall time can be split into
  its own work before, during and after its calls.
- `POST /__proxy/reset`  -> zeroes the counters (the settings stay).
- `GET  /__proxy/config` -> the current settings.
- `POST /__proxy/config` with a JSON object of any of `fault_rate` (0..1), `latency_ms` (>= 0),
  `faults` (list or comma-separated string of `throttle`, `503`), `seed` (re-seeds the RNG)
  -> the new settings; HTTP 400 with `{"error": ...}` on a bad value.
"""
import argparse
import http.client
import json
import random
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULT_KINDS = ("throttle", "503")
EC2_API_VERSION = "2016-11-15"
# Headers that describe one connection, not the message: never relayed either way.
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "trailers", "transfer-encoding", "upgrade",
}


class State:
    """The proxy's settings and counters, shared by every handler thread."""

    def __init__(self, upstream, fault_rate, faults, latency_ms, seed, verbose):
        self.upstream = upstream
        self.fault_rate = fault_rate
        self.faults = faults
        self.latency_ms = latency_ms
        self.seed = seed
        self.verbose = verbose
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.total = 0
            self.faulted = 0
            self.upstream_errors = 0
            self.by_action = {}
            self.faulted_by_action = {}
            self.first_request_at = None
            self.last_response_at = None

    def stats(self):
        with self.lock:
            return {
                "total": self.total,
                "forwarded": self.total - self.faulted,
                "faulted": self.faulted,
                "upstream_errors": self.upstream_errors,
                "by_action": dict(sorted(self.by_action.items())),
                "faulted_by_action": dict(sorted(self.faulted_by_action.items())),
                "first_request_at": self.first_request_at,
                "last_response_at": self.last_response_at,
            }

    def config(self):
        with self.lock:
            return {"upstream": self.upstream, "fault_rate": self.fault_rate,
                    "faults": list(self.faults), "latency_ms": self.latency_ms,
                    "seed": self.seed}

    def configure(self, changes):
        """Validates every change first, then applies them all at once."""
        if not isinstance(changes, dict):
            raise ValueError("expected a JSON object")
        unknown = set(changes) - {"fault_rate", "latency_ms", "faults", "seed"}
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        new = {}
        if "fault_rate" in changes:
            new["fault_rate"] = parse_rate(changes["fault_rate"])
        if "latency_ms" in changes:
            new["latency_ms"] = parse_latency(changes["latency_ms"])
        if "faults" in changes:
            new["faults"] = parse_faults(changes["faults"])
        if "seed" in changes:
            if changes["seed"] is not None and not isinstance(changes["seed"], int):
                raise ValueError("seed must be an integer or null")
            new["seed"] = changes["seed"]
        with self.lock:
            for key, value in new.items():
                setattr(self, key, value)
            if "seed" in new:
                self.rng = random.Random(new["seed"])
        return self.config()

    def decide(self, action):
        """Counts one request; returns the fault kind to inject, or None to forward it."""
        with self.lock:
            if self.first_request_at is None:
                self.first_request_at = time.time()
            self.total += 1
            self.by_action[action] = self.by_action.get(action, 0) + 1
            fault = None
            if self.fault_rate > 0 and self.rng.random() < self.fault_rate:
                fault = self.faults[self.rng.randrange(len(self.faults))]
                self.faulted += 1
                self.faulted_by_action[action] = self.faulted_by_action.get(action, 0) + 1
            return fault, self.latency_ms

    def answered(self):
        """Notes the time a counted request was answered."""
        with self.lock:
            self.last_response_at = time.time()

    def upstream_failed(self):
        with self.lock:
            self.upstream_errors += 1


def parse_rate(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError("fault_rate must be a number from 0 to 1")
    return float(value)


def parse_latency(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError("latency_ms must be a number >= 0")
    return float(value)


def parse_faults(value):
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError("faults must be a list or a comma-separated string")
    kinds = [str(k).strip() for k in items if str(k).strip()]
    bad = [k for k in kinds if k not in FAULT_KINDS]
    if bad or not kinds:
        raise ValueError(f"faults must be some of {list(FAULT_KINDS)}, got {items!r}")
    return kinds


def credential_service(authorization):
    """The service of a SigV4 credential scope (`Credential=AKID/date/region/SERVICE/...`)."""
    marker = "Credential="
    start = (authorization or "").find(marker)
    if start < 0:
        return None
    scope = authorization[start + len(marker):].split(",", 1)[0].strip().split("/")
    return scope[3].lower() if len(scope) >= 5 else None


def form_params(content_type, body, query):
    """The query-protocol parameters of a request: its query string plus a form body."""
    params = urllib.parse.parse_qs(query, keep_blank_values=True)
    if body and "application/x-www-form-urlencoded" in (content_type or "").lower():
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        for key, values in urllib.parse.parse_qs(text, keep_blank_values=True).items():
            params.setdefault(key, []).extend(values)
    return params


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries a Content-Length
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm holds the
    # body back until the client's delayed ACK of the headers, about 40 ms per answer.
    disable_nagle_algorithm = True
    server_version = "aws-proxy"
    sys_version = ""

    # One keep-alive connection to the upstream per handler thread (= per client connection).
    _local = threading.local()

    @property
    def state(self):
        return self.server.state

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.state.verbose:
            sys.stderr.write("aws_proxy: %s\n" % (fmt % args))

    def do_GET(self):
        self.handle_any()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    def handle_any(self):
        try:
            target = self.path
            if target.startswith(("http://", "https://")):  # absolute-form request target
                parts = urllib.parse.urlsplit(target)
                target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
            path, _, query = target.partition("?")
            body = self.read_body()
            if path.startswith("/__proxy/"):
                self.control(path, body)
                return
            if path.startswith("/moto-api/"):
                self.forward(target, body)
                return
            params = form_params(self.headers.get("Content-Type"), body, query)
            action = self.action_of(params, path)
            fault, latency_ms = self.state.decide(action)
            if latency_ms:
                time.sleep(latency_ms / 1000.0)
            if fault:
                self.inject(fault, params)
            else:
                self.forward(target, body)
            self.state.answered()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def action_of(self, params, path):
        action = params.get("Action")
        if action and action[0]:
            return action[0]
        target = self.headers.get("X-Amz-Target")
        if target:
            return target.rsplit(".", 1)[-1]
        return f"{self.command} {path}"

    def reply(self, status, body, content_type, extra_headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def reply_json(self, status, document):
        self.reply(status, json.dumps(document).encode(), "application/json")

    def control(self, path, body):
        if path == "/__proxy/stats" and self.command == "GET":
            self.reply_json(200, self.state.stats())
        elif path == "/__proxy/reset" and self.command == "POST":
            self.state.reset()
            self.reply_json(200, self.state.stats())
        elif path == "/__proxy/config" and self.command == "GET":
            self.reply_json(200, self.state.config())
        elif path == "/__proxy/config" and self.command == "POST":
            try:
                self.reply_json(200, self.state.configure(json.loads(body or b"{}")))
            except ValueError as error:  # json.JSONDecodeError is a ValueError
                self.reply_json(400, {"error": str(error)})
        else:
            self.reply_json(404, {"error": f"no control endpoint {self.command} {path}"})

    def inject(self, fault, params):
        request_id = str(uuid.uuid4())
        if fault == "503":
            self.reply(503, b"Service Unavailable", "text/plain")
            return
        service = credential_service(self.headers.get("Authorization"))
        if service == "ec2" or (service is None and params.get("Version") == [EC2_API_VERSION]):
            body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
                    "<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
                    f"</Error></Errors><RequestID>{request_id}</RequestID></Response>")
            self.reply(503, body.encode(), "text/xml;charset=UTF-8")
        elif service == "rds":
            body = ("<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error>"
                    "<Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
                    f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>")
            self.reply(400, body.encode(), "text/xml", [("x-amzn-RequestId", request_id)])
        else:
            body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>"
                    "<Message>Please reduce your request rate.</Message>"
                    f"<RequestId>{request_id}</RequestId></Error>")
            self.reply(503, body.encode(), "application/xml",
                       [("x-amz-request-id", request_id)])

    def upstream_connection(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            url = urllib.parse.urlsplit(self.state.upstream)
            conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=300)
            self._local.conn = conn
        return conn

    def forward(self, target, body):
        url = urllib.parse.urlsplit(self.state.upstream)
        headers = [(k, v) for k, v in self.headers.items()
                   if k.lower() not in HOP_BY_HOP
                   and k.lower() not in ("host", "content-length", "expect")]
        headers.append(("Host", url.netloc))
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers.append(("Content-Length", str(len(body))))
        response = None
        for attempt in range(2):
            conn = self.upstream_connection()
            try:
                conn.putrequest(self.command, target, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    conn.putheader(name, value)
                conn.endheaders(body or None)
                response = conn.getresponse()
                payload = response.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
                    http.client.CannotSendRequest, http.client.ResponseNotReady):
                # A kept-alive upstream connection went stale: retry once on a fresh one.
                conn.close()
                self._local.conn = None
                if attempt == 1:
                    return self.upstream_error("the upstream closed the connection")
            except (OSError, http.client.HTTPException) as error:
                conn.close()
                self._local.conn = None
                return self.upstream_error(str(error))
        self.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        no_body = self.command == "HEAD" or response.status in (204, 304) or response.status < 200
        if self.command == "HEAD":
            length = response.getheader("Content-Length")
            if length is not None:
                self.send_header("Content-Length", length)
        elif not no_body:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if not no_body:
            self.wfile.write(payload)
        if response.will_close:
            conn.close()
            self._local.conn = None

    def finish(self):
        super().finish()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def upstream_error(self, message):
        self.state.upstream_failed()
        self.reply(502, f"aws_proxy: upstream {self.state.upstream}: {message}".encode(),
                   "text/plain")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="the emulator, http://127.0.0.1:PORT")
    parser.add_argument("--listen-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--faults", default="throttle,503",
                        help="comma-separated fault kinds: throttle, 503")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--verbose", action="store_true", help="log each request on stderr")
    args = parser.parse_args(argv)
    try:
        state = State(args.upstream.rstrip("/"), parse_rate(args.fault_rate),
                      parse_faults(args.faults), parse_latency(args.latency_ms), args.seed,
                      args.verbose)
    except ValueError as error:
        parser.error(str(error))
    if urllib.parse.urlsplit(state.upstream).scheme != "http":
        parser.error("--upstream must be an http:// URL")
    server = Server(("127.0.0.1", args.listen_port), Handler)
    server.state = state
    print(f"ready {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
