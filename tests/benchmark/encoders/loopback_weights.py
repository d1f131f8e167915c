"""A loopback file host for weight downloads from published checkpoint URLs.

(Hub model repositories are served by :class:`flickrexif.testing.hub.HubStandin` itself.)

:class:`FileHost` serves published checkpoint URLs with byte ranges, and can drop a download after
some bytes (an interrupted transfer) or ignore ranges (a server that always sends the whole file).
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from flickrexif.testing.hub import byte_range


class _Server:
    """A threaded loopback HTTP server around ``handle(handler)``; records ``(method, path, Range)``."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str | None]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                owner.requests.append(("GET", self.path, self.headers.get("Range")))
                owner.handle(self)

            def do_HEAD(self) -> None:  # noqa: N802
                owner.requests.append(("HEAD", self.path, self.headers.get("Range")))
                owner.handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    headers: dict[str, str] | None = None,
    *,
    ranges: bool = True,
    cut_after: int | None = None,
) -> None:
    """Answer with ``body`` (the part a ``Range`` asks for when ``ranges``, as the Hub stand-in does); ``cut_after``
    drops the connection once that many body bytes are sent."""
    headers = dict(headers or {})
    if status == 200 and ranges:
        status, body, range_headers = byte_range(handler.headers.get("Range"), body)
        headers.update(range_headers)
    handler.send_response(status)
    for name, value in {"Content-Length": str(len(body)), "Accept-Ranges": "bytes", **headers}.items():
        handler.send_header(name, value)
    handler.end_headers()
    if handler.command == "HEAD":
        return
    if cut_after is None:
        handler.wfile.write(body)
        return
    handler.wfile.write(body[:cut_after])
    handler.wfile.flush()
    handler.close_connection = True
    handler.connection.shutdown(socket.SHUT_RDWR)


class FileHost(_Server):
    """Serves ``files`` (URL path → bytes). ``cut_after``: the next GET ends after that many bytes;
    ``ranges=False``: ``Range`` is ignored and the whole file sent."""

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.files: dict[str, bytes] = dict(files or {})
        self.cut_after: int | None = None
        self.ranges = True
        super().__init__()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        content = self.files.get(urlsplit(handler.path).path)
        if content is None:
            return send(handler, 404, b"not found")
        cut, self.cut_after = (self.cut_after, None) if handler.command == "GET" else (None, self.cut_after)
        send(handler, 200, content, {"Content-Type": "application/octet-stream"}, ranges=self.ranges, cut_after=cut)
