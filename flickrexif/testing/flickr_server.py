"""A loopback stand-in for the Flickr REST API and its photo file server.

The crawler's tests, the crawl benchmark and the offline demo need a Flickr that answers in the
real wire format (driven through the real ``flickrapi`` client), that is fast and deterministic,
and that misbehaves on purpose: the 4,000-result cap, owners who hide Exif, photos without a
downloadable original, transient HTTP and Flickr errors, truncated answers, reset connections and
latency.  :class:`FlickrStandin` is that server (a threaded HTTP server on 127.0.0.1), serving
:class:`~flickrexif.testing.photos.StandinPhoto` objects such as those
:func:`~flickrexif.testing.photos.generate_photos` makes.

Choices where Flickr's behaviour is not pinned down by its documentation:

* ``min_*_date`` and ``max_*_date`` are both **inclusive**, as Flickr's ``photos.search`` docs say
  ("greater than or equal to" / "less than or equal to"): a photo taken exactly on a window's
  edge is in both windows, so a crawler slicing by date must de-duplicate by photo id.
* Pages past the reachable range (past ``max_results``, or past the last page) repeat the last
  reachable page, so a crawler that pages blindly sees duplicates and misses photos.
* Only JSON is spoken (``format=json``, with or without ``nojsoncallback``; no format means
  JSON too); any other format is answered with Flickr's error 111.
* A search without any limiting parameter (text, tags, dates, user, license) fails with code 3,
  as on Flickr; Flickr's "last 12 hours only" rule for such searches is not modelled.

Hostile answers (a getExif answer without ``photo``, a search row without ``id``, a 400-digit
ISO, a call that never returns, a gzip bomb for a photo file) are served through
:meth:`FlickrStandin.tamper`; a :class:`WireReply` also trickles its bytes or lies in Content-Length.
"""

from __future__ import annotations

import calendar
import io
import logging
import math
import random
import re
import socket
import socketserver
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from PIL import Image

from flickrexif.testing.getexif import camera_name
from flickrexif.testing.photos import StandinPhoto, _id_number
from flickrexif.testing.render import _pixels
from flickrexif.testing.replies import FAULT_REPLIES, ApiFailure, Reply, fail_answer, json_reply, plain_reply, truncated
from flickrexif.testing.search import (
    _LIMITING_PARAMS,
    _comma_list,
    _Indexed,
    _naive_utc,
    _page_window,
    _parse_int,
    _SearchQuery,
)

__all__ = ["FAULT_KINDS", "FlickrStandin", "WireReply"]


LOG = logging.getLogger(__name__)

FAULT_KINDS = ("http500", "http503", "http429", "code105", "truncated", "reset")
_API_ONLY_FAULTS = frozenset({"code105"})

MAX_PER_PAGE = 500
DEFAULT_PER_PAGE = 100
LARGE_MAX_SIDE = 1024  # Flickr's "Large" size (suffix _b, extra url_l)
LARGE_QUALITY = 80


@dataclass(frozen=True)
class WireReply(Reply):
    """A reply that misbehaves on the wire: ``trickle_s`` between bytes (status line and headers too),
    ``content_length`` sent as given (the connection then closes after the body)."""

    trickle_s: float = 0.0
    content_length: str | None = None


def _unix(value: datetime) -> int:
    return calendar.timegm(_naive_utc(value).timetuple())


def _large_size(width: int, height: int) -> tuple[int, int]:
    """The Large size's dimensions: longest side at most 1024, never upscaled."""
    scale = min(1.0, LARGE_MAX_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _extras_table(standin: FlickrStandin) -> dict[str, Callable[[StandinPhoto], dict[str, Any]]]:
    """Search ``extras`` name → the fields it adds, with Flickr's field names and types."""

    def original_only(fields: Callable[[StandinPhoto], dict[str, Any]]) -> Callable[[StandinPhoto], dict[str, Any]]:
        return lambda photo: fields(photo) if photo.original is not None else {}

    def large(photo: StandinPhoto) -> dict[str, Any]:
        width, height = _large_size(photo.width, photo.height)
        return {"url_l": standin.large_url(photo), "height_l": height, "width_l": width}

    return {
        "owner_name": lambda photo: {"ownername": photo.ownername},
        "license": lambda photo: {"license": str(photo.license)},
        "date_taken": lambda photo: {
            "datetaken": photo.date_taken.strftime("%Y-%m-%d %H:%M:%S"),
            "datetakengranularity": 0,
            "datetakenunknown": "0",
        },
        "date_upload": lambda photo: {"dateupload": str(_unix(photo.date_upload))},
        "description": lambda photo: {"description": {"_content": photo.description}},
        "o_dims": original_only(lambda photo: {"o_width": str(photo.width), "o_height": str(photo.height)}),
        "original_format": original_only(
            lambda photo: {"originalsecret": photo.secret[::-1], "originalformat": photo.original_format}
        ),
        "url_o": original_only(
            lambda photo: {"url_o": standin.original_url(photo), "height_o": photo.height, "width_o": photo.width}
        ),
        "url_l": large,
        "tags": lambda photo: {"tags": " ".join(photo.tags)},
        "media": lambda photo: {"media": photo.media, "media_status": "ready"},
    }


_API_PATHS = frozenset({"/services/rest", "/services/rest/"})
_FILE_PATH = re.compile(r"^/photos/([^/_]+)_(o|b)\.([A-Za-z0-9]+)$")
_CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "heic": "image/heic",
    "heif": "image/heif",
    "tif": "image/tiff",
    "tiff": "image/tiff",
}
_CONSUMER_KEY = re.compile(r'oauth_consumer_key="([^"]*)"')


class FlickrStandin:
    """A Flickr REST API and photo file server on 127.0.0.1, for tests, benchmarks and demos.

    Starts serving in a background thread as soon as it is built; use it as a context manager
    or call :meth:`close`.  Every request waits ``latency_s`` (in its own thread, so concurrent
    requests overlap) and then, with probability ``fault_rate``, gets one of ``fault_kinds``
    instead of its answer.  ``calls`` counts requests per API method (``"download"`` for photo
    files) and ``faults`` the faults injected, both including faulted requests.
    """

    def __init__(
        self,
        photos: Iterable[StandinPhoto] = (),
        *,
        api_keys: Iterable[str] = frozenset({"test-key"}),
        latency_s: float = 0.0,
        fault_rate: float = 0.0,
        fault_kinds: Iterable[str] = FAULT_KINDS,
        seed: int = 0,
        max_results: int = 4000,
        port: int = 0,
        retry_after: str = "1",
    ) -> None:
        if latency_s < 0:
            raise ValueError("latency_s must be >= 0")
        if max_results < 1:
            raise ValueError("max_results must be >= 1")
        self.api_keys = frozenset(api_keys)
        self.latency_s = latency_s
        self.max_results = max_results
        self.retry_after = retry_after  # the Retry-After of injected 429 faults
        self.calls: Counter[str] = Counter()
        self.exif_requests: Counter[str] = Counter()  # getExif requests per photo id, faulted ones too
        self.faults: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._fault_rate, self._fault_kinds = 0.0, FAULT_KINDS
        self.set_faults(fault_rate, fault_kinds)
        self._photos: dict[str, StandinPhoto] = {}
        self._index: list[_Indexed] = []  # replaced, never mutated: readers need no lock
        self._owners: frozenset[str] = frozenset()
        self._large_cache: dict[str, bytes] = {}
        self._methods: dict[str, Callable[[Mapping[str, str]], dict[str, Any]]] = {
            "flickr.photos.search": self._search,
            "flickr.photos.getExif": self._get_exif,
            "flickr.photos.getSizes": self._get_sizes,
            "flickr.test.echo": self._echo,
        }
        self._extras = _extras_table(self)
        self._tampers: dict[str, Callable[[Mapping[str, str], dict[str, Any]], Any]] = {}
        self.add_photos(photos)
        self._server = _Server(("127.0.0.1", port), self)
        host, bound_port = self._server.server_address[:2]
        self.base_url = f"http://{host}:{bound_port}"
        self.api_url = f"{self.base_url}/services/rest/"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="flickr-standin", daemon=True
        )
        self._thread.start()
        self._closed = False

    # --- lifecycle and configuration ---

    def __enter__(self) -> FlickrStandin:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving and drop open keep-alive connections (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.drop_connections()
        self._server.server_close()
        self._thread.join(timeout=5)

    def set_faults(self, rate: float, kinds: Iterable[str] | None = None) -> None:
        """Change the fault probability (and optionally the kinds) while serving."""
        kinds = self._fault_kinds if kinds is None else tuple(kinds)
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(FAULT_KINDS)}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError("fault rate must be between 0 and 1")
        if rate > 0 and not kinds:
            raise ValueError("a positive fault rate needs at least one fault kind")
        with self._lock:
            self._fault_rate, self._fault_kinds = rate, kinds

    def tamper(self, method: str, edit: Callable[[Mapping[str, str], dict[str, Any]], Any] | None) -> None:
        """Answer ``method`` with ``edit(params, answer)`` instead of its answer; ``None`` stops.

        ``edit`` gets the request's parameters and the well-formed answer (failures such as code 1
        are served as usual) and returns what to send: any JSON value (a ``fail_answer`` too), the
        answer itself to leave a request alone, or a :class:`Reply` for bytes JSON cannot write.
        It runs in the request's own thread, so it may block to hold a call in flight.  ``method``
        ``"download"`` edits photo files: ``params`` has ``photo_id`` and ``size``, the answer is a Reply.
        """
        with self._lock:
            if edit is None:
                self._tampers.pop(method, None)
            else:
                self._tampers[method] = edit

    def add_photos(self, photos: Iterable[StandinPhoto]) -> None:
        """Add photos, or replace those with the same id."""
        photos = list(photos)
        with self._lock:
            merged = dict(self._photos)
            for photo in photos:
                merged[photo.id] = photo
                self._large_cache.pop(photo.id, None)
            self._photos = merged
            self._index = [_Indexed.of(photo) for photo in merged.values()]
            self._owners = frozenset(photo.owner for photo in merged.values())

    @property
    def photos(self) -> dict[str, StandinPhoto]:
        """The photos served, by id (a copy)."""
        return dict(self._photos)

    def original_url(self, photo: StandinPhoto) -> str:
        return f"{self.base_url}/photos/{photo.id}_o.{photo.original_format}"

    def large_url(self, photo: StandinPhoto) -> str:
        return f"{self.base_url}/photos/{photo.id}_b.jpg"

    # --- one request ---

    def _respond(self, path: str, params: Mapping[str, str], authorization: str = "") -> Reply:
        """Answer one request (called by the HTTP handler, in the request's own thread)."""
        match = _FILE_PATH.match(path)
        is_api = path in _API_PATHS
        name = params.get("method", "") if is_api else "download" if match else "other"
        with self._lock:
            self.calls[name] += 1
            if name == "flickr.photos.getExif":
                self.exif_requests[params.get("photo_id", "")] += 1
        if self.latency_s:
            time.sleep(self.latency_s)
        fault = self._draw_fault(api=is_api)
        if fault == "http429":
            return replace(FAULT_REPLIES[fault], headers=(("Retry-After", self.retry_after),))
        if fault in FAULT_REPLIES:
            return FAULT_REPLIES[fault]
        if fault == "code105":
            return json_reply(fail_answer(105, "Service currently unavailable"), params)
        if is_api:
            reply = self._api(params, authorization)
        elif match:
            reply = self._file(*match.groups())
            edit = self._tampers.get("download")
            reply = edit({"photo_id": match[1], "size": match[2]}, reply) if edit else reply
        else:
            reply = plain_reply(404, "Not Found")
        return truncated(reply, api=is_api) if fault == "truncated" else reply

    def _draw_fault(self, *, api: bool) -> str | None:
        with self._lock:
            if not self._fault_rate or self._random.random() >= self._fault_rate:
                return None
            kinds = [kind for kind in self._fault_kinds if api or kind not in _API_ONLY_FAULTS]
            if not kinds:
                return None
            kind = self._random.choice(kinds)
            self.faults[kind] += 1
            return kind

    def _api(self, params: Mapping[str, str], authorization: str) -> Reply:
        try:
            answer_format = params.get("format", "json")
            if answer_format != "json":
                raise ApiFailure(111, f'Format "{answer_format}" not found')
            if self._api_key(params, authorization) not in self.api_keys:
                raise ApiFailure(100, "Invalid API Key (Key has invalid format)")
            method = params.get("method", "")
            handler = self._methods.get(method)
            if handler is None:
                raise ApiFailure(112, f'Method "{method}" not found')
            answer = handler(params)
            edit = self._tampers.get(method)
            if edit is not None:
                answer = edit(params, answer)
                if isinstance(answer, Reply):
                    return answer
        except ApiFailure as failure:
            answer = fail_answer(failure.code, failure.message)
        return json_reply(answer, params)

    @staticmethod
    def _api_key(params: Mapping[str, str], authorization: str) -> str | None:
        """The key from the OAuth header (how flickrapi sends it) or an ``api_key`` parameter."""
        found = _CONSUMER_KEY.search(authorization or "")
        return unquote(found.group(1)) if found else params.get("api_key")

    # --- API methods ---

    def _search(self, params: Mapping[str, str]) -> dict[str, Any]:
        """``flickr.photos.search`` with the 4,000-result cap (``max_results``)."""
        if not any(params.get(name) for name in _LIMITING_PARAMS):
            raise ApiFailure(
                3, "Parameterless searches have been disabled. Please use flickr.photos.getRecent instead."
            )
        query = _SearchQuery.parse(params)
        if query.user_id is not None and query.user_id not in self._owners:
            raise ApiFailure(2, "Unknown user")
        key, descending = query.sort
        found = [entry for entry in self._index if query.matches(entry)]
        found.sort(key=lambda entry: (getattr(entry, key), entry.order), reverse=descending)
        per_page = _parse_int(params.get("per_page"), DEFAULT_PER_PAGE)
        per_page = DEFAULT_PER_PAGE if per_page < 1 else min(per_page, MAX_PER_PAGE)
        page = max(1, _parse_int(params.get("page"), 1))
        start, stop = _page_window(len(found), page, per_page, self.max_results)
        extras = [self._extras[name] for name in _comma_list(params.get("extras")) if name in self._extras]
        return {
            "photos": {
                "page": page,
                "pages": math.ceil(len(found) / per_page),
                "perpage": per_page,
                "total": len(found),
                "photo": [self._summary(entry.photo, extras) for entry in found[start:stop]],
            },
            "stat": "ok",
        }

    def _summary(self, photo: StandinPhoto, extras: list[Callable[[StandinPhoto], dict[str, Any]]]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": photo.id,
            "owner": photo.owner,
            "secret": photo.secret,
            "server": photo.server,
            "farm": 66,
            "title": photo.title,
            "ispublic": 1,
            "isfriend": 0,
            "isfamily": 0,
        }
        for extra in extras:
            out.update(extra(photo))
        return out

    def _photo(self, params: Mapping[str, str]) -> StandinPhoto:
        photo = self._photos.get(str(params.get("photo_id", "")))
        if photo is None:
            raise ApiFailure(1, "Photo not found")
        return photo

    def _get_exif(self, params: Mapping[str, str]) -> dict[str, Any]:
        """``flickr.photos.getExif``: the items, or code 1 (not found) / 2 (owner hides Exif)."""
        photo = self._photo(params)
        if photo.exif_error == 2:
            raise ApiFailure(2, "Permission denied")
        if photo.exif_error == 1 or photo.exif_items is None:
            raise ApiFailure(1, "Photo not found")
        return {
            "photo": {
                "id": photo.id,
                "secret": photo.secret,
                "server": photo.server,
                "farm": 66,
                "camera": camera_name(photo.exif_items),
                "exif": photo.exif_items,
            },
            "stat": "ok",
        }

    def _get_sizes(self, params: Mapping[str, str]) -> dict[str, Any]:
        """``flickr.photos.getSizes``: Large always, Original only when the owner offers it."""
        photo = self._photo(params)
        page = f"{self.base_url}/photos/{photo.owner}/{photo.id}"
        width, height = _large_size(photo.width, photo.height)
        sizes = [
            {
                "label": "Large",
                "width": width,
                "height": height,
                "source": self.large_url(photo),
                "url": f"{page}/sizes/l/",
                "media": photo.media,
            }
        ]
        if photo.original is not None:
            sizes.append(
                {
                    "label": "Original",
                    "width": photo.width,
                    "height": photo.height,
                    "source": self.original_url(photo),
                    "url": f"{page}/sizes/o/",
                    "media": photo.media,
                }
            )
        offered = int(photo.original is not None)
        return {"sizes": {"canblog": 0, "canprint": 0, "candownload": offered, "size": sizes}, "stat": "ok"}

    def _echo(self, params: Mapping[str, str]) -> dict[str, Any]:
        """``flickr.test.echo``: a cheap health check."""
        return {**{name: {"_content": value} for name, value in params.items()}, "stat": "ok"}

    # --- photo files ---

    def _file(self, photo_id: str, size: str, extension: str) -> Reply:
        photo = self._photos.get(photo_id)
        if photo is None:
            return plain_reply(404, "Not Found")
        if size == "o":
            if photo.original is None or extension.lower() != photo.original_format.lower():
                return plain_reply(404, "Not Found")
            content_type = _CONTENT_TYPES.get(photo.original_format.lower(), "application/octet-stream")
            return Reply(body=photo.original, content_type=content_type)
        if extension.lower() != "jpg":
            return plain_reply(404, "Not Found")
        return Reply(body=self._large(photo), content_type="image/jpeg")

    def _large(self, photo: StandinPhoto) -> bytes:
        """The Large JPEG, re-encoded at quality 80 without Exif, made once per photo."""
        cached = self._large_cache.get(photo.id)
        if cached is None:
            cached = _render_large(photo)
            with self._lock:
                if self._photos.get(photo.id) is photo:
                    self._large_cache[photo.id] = cached
        return cached


def _render_large(photo: StandinPhoto) -> bytes:
    size = _large_size(photo.width, photo.height)
    if photo.original is not None:
        with Image.open(io.BytesIO(photo.original)) as image:
            image.draft("RGB", size)  # JPEG: decode at a reduced scale when shrinking a lot
            pixels = image.convert("RGB")
            if pixels.size != size:
                pixels = pixels.resize(size, Image.Resampling.LANCZOS)
    else:
        pixels = Image.fromarray(_pixels(_id_number(photo.id), size))
    out = io.BytesIO()
    pixels.save(out, "JPEG", quality=LARGE_QUALITY)
    return out.getvalue()


class _Server(ThreadingHTTPServer):
    """Threaded HTTP server that knows its stand-in and its open connections."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], standin: FlickrStandin) -> None:
        self.standin = standin
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall offline.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        LOG.debug("error while serving %s", client_address, exc_info=True)

    def drop_connections(self) -> None:
        """Wake keep-alive handler threads blocked on idle connections so they end."""
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    """HTTP plumbing only: read the request, ask the stand-in, write (or sabotage) the reply."""

    protocol_version = "HTTP/1.1"  # keep-alive, as requests' connection pool expects
    server_version = "FlickrStandin/1.0"
    disable_nagle_algorithm = True
    timeout = 30  # idle keep-alive connections end after this many seconds
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve(b"")

    def do_POST(self) -> None:  # noqa: N802
        length = _parse_int(self.headers.get("Content-Length"), 0)
        self._serve(self.rfile.read(length) if length > 0 else b"")

    def _serve(self, body: bytes) -> None:
        url = urlsplit(self.path)
        params = _params(url.query, body, self.headers.get("Content-Type", ""))
        reply = self.server.standin._respond(url.path, params, self.headers.get("Authorization", ""))
        try:
            self._send(reply)
        except OSError:  # the client went away; nothing to answer
            self.close_connection = True

    def _send(self, reply: Reply) -> None:
        if reply.reset:
            self._reset()
            return
        wire = reply if isinstance(reply, WireReply) else WireReply()
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", wire.content_length or str(reply.declared_length or len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        if wire.trickle_s:
            data, self._headers_buffer = b"".join(self._headers_buffer) + b"\r\n" + reply.body, []
            for i in range(len(data)):  # ends when the client or close() drops the connection
                self.wfile.write(data[i : i + 1])
                time.sleep(wire.trickle_s)
        else:
            self.end_headers()
            self.wfile.write(reply.body)
        if reply.declared_length is not None or wire.content_length is not None:
            self.close_connection = True  # the body is short, or its length unknown: end the transfer here

    def _reset(self) -> None:
        """Close without answering, with a TCP reset (SO_LINGER 0) rather than a clean FIN."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        LOG.debug("%s - %s", self.address_string(), format % args)


def _params(query: str, body: bytes, content_type: str) -> dict[str, str]:
    """Query-string and form-body parameters (the body wins), first value of each."""
    params = {name: values[0] for name, values in parse_qs(query, keep_blank_values=True).items()}
    if body and "multipart/" not in content_type:
        form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        params.update({name: values[0] for name, values in form.items()})
    return params
