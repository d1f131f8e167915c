"""What the Flickr stand-in answers on the wire: JSON replies, ``stat: fail``, injected faults.

The server's method handlers raise :class:`ApiFailure` or return a :class:`Reply`; the faults
(HTTP 5xx/429, truncated bodies, reset connections) are replies too, so the HTTP handler writes
every outcome the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class ApiFailure(Exception):
    """A Flickr ``stat: fail`` answer, raised by a method handler."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Reply:
    """What the HTTP handler writes; ``declared_length`` longer than the body cuts the transfer."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    declared_length: int | None = None
    reset: bool = False


def json_reply(answer: Any, params: Mapping[str, str]) -> Reply:
    """Flickr's JSON; without ``nojsoncallback=1`` it comes wrapped in ``jsonFlickrApi(...)``."""
    text = json.dumps(answer, separators=(",", ":"))  # ASCII only: a cut body stays valid UTF-8
    if params.get("nojsoncallback") != "1":
        text = f"jsonFlickrApi({text})"
    return Reply(body=text.encode("ascii"), content_type="application/json; charset=utf-8")


def fail_answer(code: int, message: str) -> dict[str, Any]:
    return {"stat": "fail", "code": code, "message": message}


def plain_reply(status: int, text: str, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return Reply(status=status, body=text.encode(), content_type="text/plain; charset=utf-8", headers=headers)


FAULT_REPLIES = {
    "http500": plain_reply(500, "Internal Server Error"),
    "http503": plain_reply(503, "Service Unavailable"),
    "http429": plain_reply(429, "Too Many Requests", (("Retry-After", "1"),)),
    "reset": Reply(reset=True),
}


def truncated(reply: Reply, *, api: bool) -> Reply:
    """API answers are cut in half (invalid JSON, consistent length); files are cut mid-transfer."""
    half = reply.body[: len(reply.body) // 2]
    if api:
        return Reply(reply.status, half, reply.content_type, reply.headers)
    return Reply(reply.status, half, reply.content_type, reply.headers, declared_length=len(reply.body))
