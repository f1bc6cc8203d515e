"""A loopback proxy in front of an emulator that injects the faults real AWS produces.

The product is pointed at the proxy with ``AWS_ENDPOINT_URL`` and cannot tell it from
AWS: faults are answered in each service's own wire protocol (query XML for IAM and
STS, JSON for the JSON services, REST XML for S3), with the error codes and status
codes AWS documents. Which service a request is for comes from its SigV4 credential
scope, as AWS itself routes it.

Faults are chosen per request by ``Fault`` rules; randomness is seeded so a run is
reproducible.
"""

from __future__ import annotations

import gzip
import http.client
import json
import random
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
QUERY_SERVICES = {"iam", "sts"}
REST_XML_SERVICES = {"s3"}


@dataclass
class Request:
    """What a fault rule sees of a request."""

    service: str
    method: str
    path: str
    operation: str  # X-Amz-Target's operation, the query Action, or "" for S3
    body: bytes

    def param(self, name: str) -> str | None:
        """A form parameter (query protocol) or a top-level JSON member."""
        if self.service in QUERY_SERVICES:
            values = parse_qs(self.body.decode("utf-8", "replace")).get(name)
            return values[0] if values else None
        try:
            value = json.loads(self.body or b"{}").get(name)
        except (ValueError, AttributeError):
            return None
        return value if isinstance(value, str) else None


@dataclass
class Reply:
    status: int
    code: str
    message: str


# A fault rule: given a request (and the proxy's random source), an error to answer with, or None to forward.
Fault = Callable[[Request, random.Random], Reply | None]
# A body rewrite: given a request and the emulator's response body, the body to return instead.
Rewrite = Callable[[Request, bytes], bytes | None]


def throttle(rate: float) -> Fault:
    """Throttle a share of every service's calls, as AWS does under load (S3: 503 SlowDown)."""

    def fault(request: Request, rng: random.Random) -> Reply | None:
        if rng.random() >= rate:
            return None
        if request.service in REST_XML_SERVICES:
            return Reply(503, "SlowDown", "Please reduce your request rate.")
        if request.service in QUERY_SERVICES:
            return Reply(400, "Throttling", "Rate exceeded")
        return Reply(400, "ThrottlingException", "Rate exceeded")

    return fault


def server_errors(rate: float) -> Fault:
    """HTTP 500 and 503 on a share of calls."""

    def fault(request: Request, rng: random.Random) -> Reply | None:
        if rng.random() >= rate:
            return None
        if rng.random() < 0.5:
            return Reply(
                500,
                "InternalFailure" if request.service not in REST_XML_SERVICES else "InternalError",
                "We encountered an internal error. Please try again.",
            )
        return Reply(503, "ServiceUnavailable", "Service is unable to handle request.")

    return fault


def deny_member_role(account_id: str) -> Fault:
    """The member account whose role cannot be assumed (its trust policy lacks the auditor)."""

    def fault(request: Request, _rng: random.Random) -> Reply | None:
        if request.service == "sts" and request.operation == "AssumeRole":
            role = request.param("RoleArn") or ""
            if f":{account_id}:" in role:
                return Reply(
                    403, "AccessDenied", f"User is not authorized to perform: sts:AssumeRole on resource: {role}"
                )
        return None

    return fault


def expire_first_page_token() -> Fault:
    """Every paginated JSON listing's first continuation is refused once as expired."""
    seen: set[str] = set()
    lock = threading.Lock()

    def fault(request: Request, _rng: random.Random) -> Reply | None:
        token = request.param("NextToken") or request.param("nextToken")
        if not token or request.service in QUERY_SERVICES | REST_XML_SERVICES:
            return None
        with lock:
            if token in seen:
                return None
            seen.add(token)
        return Reply(400, "ValidationException", "The pagination token has expired.")

    return fault


def truncate_objects(keys: Callable[[str], bool]) -> Rewrite:
    """Cut the S3 objects whose key matches in half, as an interrupted delivery would."""

    def rewrite(request: Request, body: bytes) -> bytes | None:
        if request.service == "s3" and request.method == "GET" and keys(request.path):
            return body[: len(body) // 2]
        return None

    return rewrite


def corrupt_objects(keys: Callable[[str], bool]) -> Rewrite:
    """Replace matching S3 objects by valid gzip that holds no JSON."""

    def rewrite(request: Request, body: bytes) -> bytes | None:
        if request.service == "s3" and request.method == "GET" and keys(request.path):
            return gzip.compress(b"this is not a CloudTrail log")
        return None

    return rewrite


@dataclass
class FaultProxy:
    """Forwards to ``upstream``; serves on 127.0.0.1 at ``endpoint`` while started."""

    upstream: str
    faults: list[Fault] = field(default_factory=list)
    rewrites: list[Rewrite] = field(default_factory=list)
    seed: int = 1
    injected: Counter = field(default_factory=Counter)  # (service, code) -> times answered with a fault
    forwarded: Counter = field(default_factory=Counter)  # service -> requests passed through

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "the proxy is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        proxy = self
        target = urlsplit(self.upstream)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = proxy._describe(self.command, self.path, self.headers, body)
                reply = proxy._fault_for(request)
                if reply is not None:
                    self._send(reply.status, *proxy._error_body(request, reply))
                    return
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
                connection.request(self.command, self.path, body=body or None, headers=headers)
                response = connection.getresponse()
                data = response.read()
                connection.close()
                with proxy._lock:
                    proxy.forwarded[request.service] += 1
                for rewrite in proxy.rewrites:
                    changed = rewrite(request, data) if response.status == 200 else None
                    if changed is not None:
                        data = changed
                skip = {"content-length", "transfer-encoding", "connection", "content-encoding"}
                extra = [(k, v) for k, v in response.getheaders() if k.lower() not in skip]
                self._send(response.status, data, extra)

            def _send(self, status: int, data: bytes, headers: list[tuple[str, str]]) -> None:
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _describe(self, method: str, path: str, headers, body: bytes) -> Request:
        scope = _SCOPE.search(headers.get("Authorization") or "")
        service = scope.group(1) if scope else ""
        target = headers.get("X-Amz-Target") or ""
        operation = target.rsplit(".", 1)[-1] if target else ""
        if not operation and service in QUERY_SERVICES:
            operation = (parse_qs(body.decode("utf-8", "replace")).get("Action") or [""])[0]
        return Request(service=service, method=method, path=urlsplit(path).path, operation=operation, body=body)

    def _fault_for(self, request: Request) -> Reply | None:
        with self._lock:
            for fault in self.faults:
                reply = fault(request, self._rng)
                if reply is not None:
                    self.injected[(request.service, reply.code)] += 1
                    return reply
        return None

    @staticmethod
    def _error_body(request: Request, reply: Reply) -> tuple[bytes, list[tuple[str, str]]]:
        request_id = str(uuid.uuid4())
        if request.service in REST_XML_SERVICES:
            xml = (
                f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{reply.code}</Code>"
                f"<Message>{reply.message}</Message><RequestId>{request_id}</RequestId></Error>"
            )
            return xml.encode(), [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
        if request.service in QUERY_SERVICES:
            kind = "Receiver" if reply.status >= 500 else "Sender"
            xml = (
                f"<ErrorResponse><Error><Type>{kind}</Type><Code>{reply.code}</Code>"
                f"<Message>{reply.message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
            )
            return xml.encode(), [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
        payload = json.dumps({"__type": reply.code, "message": reply.message}).encode()
        return payload, [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", reply.code),
        ]
