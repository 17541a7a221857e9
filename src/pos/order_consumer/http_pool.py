"""A small HTTP/1.1 client for one host: a pool of keep-alive connections, one request at a
time on each, responses parsed by httptools (the parser uvicorn uses).

Why not aiohttp or httpx: delivering to the third party is this service's hot path, and
the client's CPU per call decides how many calls one process can keep in flight. Measured
on this machine against the simulated third party (50 ms, 256 concurrent calls, 20,000
calls): httpx under 200 calls/s (its pool serialises at this concurrency), aiohttp about
4,100 calls/s at 120-130 µs of CPU per call, this client the same calls at 39 µs. It does
only what the third party needs: POST with a body, Content-Length or chunked responses,
keep-alive, TLS when the URL says https.

A connection that timed out or failed is closed, never reused: a late answer must not be
read as the answer to the next request.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import urlsplit

import httptools

from pos import tracing
from pos.order_consumer import spans


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased
    body: bytes = b""


class ProtocolError(ConnectionError):
    """The server closed the connection mid-answer or sent something that is not HTTP."""


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[Response] | None = None
        self._response = Response(0)
        self._body: list[bytes] = []
        self.open = False
        self.keep_alive = True

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, hence a cast, not a check.
        self._transport = cast(asyncio.Transport, transport)
        self.open = True

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ProtocolError(f"malformed HTTP response: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self._fail(ProtocolError(f"connection closed by the server ({exc or 'EOF'})"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._response.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._response.status = self._parser.get_status_code()
        self._response.body = b"".join(self._body)
        self.keep_alive = bool(self._parser.should_keep_alive())
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(self._response)
        self._waiter = None

    # the pool's side
    def request(self, raw: bytes) -> asyncio.Future[Response]:
        assert self._transport is not None
        assert self._waiter is None
        self._response, self._body = Response(0), []
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(raw)
        return self._waiter

    def close(self) -> None:
        self.open = False
        if self._transport is not None:
            self._transport.close()

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        self._waiter = None


class HttpPool:
    """Keep-alive connections to one base URL, one request at a time on each: it opens as
    many as there are concurrent callers (the caller bounds those) and keeps them."""

    def __init__(self, base_url: str, *, timeout: float) -> None:
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._host = url.hostname
        self._port = url.port or (443 if url.scheme == "https" else 80)
        self._ssl = ssl.create_default_context() if url.scheme == "https" else None
        self._prefix = url.path.rstrip("/")
        host_header = url.netloc.rsplit("@", 1)[-1]
        self._origin = f"{url.scheme}://{host_header}"  # for spans: no credentials
        self._head = f"HTTP/1.1\r\nHost: {host_header}\r\n".encode()
        self._timeout = timeout
        self._idle: deque[_Connection] = deque()

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        *,
        route: str | None = None,
    ) -> Response:
        """Raises TimeoutError past the timeout (connecting included) and OSError
        (ConnectionError, ProtocolError) when the connection fails.

        With traces on, the request is a span (named by ``route``, the path's template)
        and carries that span's ``traceparent``."""
        if not tracing.enabled():
            return await self._request(method, path, body, headers)
        url = f"{self._origin}{self._prefix}{path}"
        with spans.client_call(method, route or path, url, self._host, self._port) as span:
            response = await self._request(
                method, path, body, spans.with_traceparent(headers, span)
            )
            spans.answered(span, response.status)
            return response

    async def _request(
        self, method: str, path: str, body: bytes, headers: dict[str, str] | None
    ) -> Response:
        lines = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        raw = b"".join(
            (
                f"{method} {self._prefix}{path} ".encode(),
                self._head,
                f"{lines}Content-Length: {len(body)}\r\n\r\n".encode("latin-1"),
                body,
            )
        )
        connection = self._take_idle()
        try:
            async with asyncio.timeout(self._timeout):
                if connection is None:
                    connection = await self._connect()
                response = await connection.request(raw)
        except BaseException:
            if connection is not None:
                connection.close()
            raise
        if connection.keep_alive and connection.open:
            self._idle.append(connection)
        else:
            connection.close()
        return response

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()

    def _take_idle(self) -> _Connection | None:
        # Most recently used first: the warmest connection, least likely closed by the
        # server's idle timeout meanwhile.
        while self._idle:
            connection = self._idle.pop()
            if connection.open:
                return connection
        return None

    async def _connect(self) -> _Connection:
        _transport, connection = await asyncio.get_running_loop().create_connection(
            _Connection,
            self._host,
            self._port,
            ssl=self._ssl,
            server_hostname=self._host if self._ssl else None,
        )
        return connection
