"""Loopback servers for weight downloads: a Hub's model-file endpoint and a plain file host.

:class:`ModelFiles` answers what ``hf_hub_download`` asks of a model repository (``HEAD``/``GET
/ORG/REPO/resolve/REVISION/PATH`` with the ``ETag`` and ``X-Repo-Commit`` headers, byte ranges,
the ``X-Error-Code`` answers for a missing repository, revision or file, and ``GatedRepo`` without
the right token). The repositories are those pushed with ``HfApi`` to a
:class:`flickrexif.testing.hub.HubStandin`, which serves no model-repository downloads itself.

:class:`FileHost` serves published checkpoint URLs with byte ranges, and can drop a download after
some bytes (an interrupted transfer) or ignore ranges (a server that always sends the whole file).
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from flickrexif.testing.hub import HubStandin

_RESOLVE = re.compile(r"^/([^/]+)/([^/]+)/resolve/([^/]+)/(.+)$")


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
    """Answer with ``body`` (the part a ``Range: bytes=N-`` asks for when ``ranges``); ``cut_after``
    drops the connection once that many body bytes are sent."""
    headers = dict(headers or {})
    asked = re.match(r"bytes=(\d+)-$", handler.headers.get("Range") or "")
    if status == 200 and ranges and asked:
        start = int(asked[1])
        if start >= len(body):
            headers["Content-Range"] = f"bytes */{len(body)}"
            status, body = 416, b""
        else:
            headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
            status, body = 206, body[start:]
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


class ModelFiles(_Server):
    """``with HubStandin() as hub, ModelFiles(hub) as files:`` set ``HF_ENDPOINT=files.url``.

    ``gated``: repositories whose files need ``Authorization: Bearer <token>``.
    """

    def __init__(self, hub: HubStandin, token: str = "hf_test") -> None:
        self.hub = hub
        self.token = token
        self.gated: set[str] = set()
        super().__init__()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        match = _RESOLVE.match(urlsplit(handler.path).path)
        if match is None:
            return send(handler, 404, b"{}", {"X-Error-Code": "RepoNotFound"})
        org, name, revision, path = match.groups()
        repo_id = f"{org}/{name}"
        repo = self.hub.repos.get(repo_id)
        if repo is None or repo.repo_type != "model":
            return send(
                handler, 401, b"{}", {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"}
            )
        if repo_id in self.gated and handler.headers.get("Authorization") != f"Bearer {self.token}":
            message = f"Access to model {repo_id} is restricted. You must have access to it and be authenticated."
            return send(handler, 401, b"{}", {"X-Error-Code": "GatedRepo", "X-Error-Message": message})
        commit = repo.resolve(unquote(revision))
        if commit is None:
            return send(handler, 404, b"{}", {"X-Error-Code": "RevisionNotFound"})
        content = commit.files.get(unquote(path))
        if content is None:
            return send(handler, 404, b"{}", {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit.oid})
        etag = hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()
        send(handler, 200, content, {"ETag": f'"{etag}"', "X-Repo-Commit": commit.oid})


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
