"""Downloads from a file server that lies: a bad Content-Length, gzip bombs, gzip (and deflate) done right."""

from __future__ import annotations

import gzip
import hashlib
import zlib

from hang_guard import finishes

from flickrexif.crawl.download import DownloadConfig, download_photos
from flickrexif.crawl.retry import RetryPolicy
from flickrexif.crawl.store import CrawlStore
from flickrexif.testing.flickr_server import WireReply
from flickrexif.testing.replies import Reply

FAST = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.01)


def for_one(photo_id, edit):
    """A download tamper that changes only ``photo_id``'s file."""
    return lambda params, reply: edit(reply) if params["photo_id"] == photo_id else reply


def encoded(coding, body=None, **extra):
    def edit(reply):
        data = reply.body if body is None else body
        packed = gzip.compress(data) if coding == "gzip" else zlib.compress(data) if coding == "deflate" else data
        return WireReply(body=packed, content_type=reply.content_type, headers=(("Content-Encoding", coding),), **extra)

    return edit


def download(served, tmp_path, **config):
    def run():
        with CrawlStore(served.db) as store:
            counts = download_photos(store, DownloadConfig(out_dir=tmp_path / "out", retry=FAST, **config))
            return counts, {photo.id: photo for photo in store.photos()}

    return finishes(run)


def test_a_content_length_that_is_not_a_number_is_ignored_and_the_run_goes_on(served, tmp_path):
    first, second = served.photos[0], served.photos[1]
    served.standin.tamper("download", lambda params, reply: WireReply(
        body=reply.body, content_type=reply.content_type,
        content_length={first.id: "lots", second.id: "-1"}.get(params["photo_id"]),
    ))  # fmt: skip
    counts, rows = download(served, tmp_path)
    assert counts == {"done": len(served.photos)}, {k: r.download_error for k, r in rows.items()}
    assert (tmp_path / "out" / rows[first.id].download_path).read_bytes() == first.original


def test_a_gzip_encoded_original_is_accepted_and_stored_as_the_original_bytes(served, tmp_path):
    gzipped, deflated = served.photos[0], served.photos[1]
    edits = {gzipped.id: encoded("gzip"), deflated.id: encoded("deflate")}
    served.standin.tamper("download", lambda params, reply: edits.get(params["photo_id"], lambda r: r)(reply))
    counts, rows = download(served, tmp_path)
    assert counts == {"done": len(served.photos)}
    for photo in (gzipped, deflated):
        row = rows[photo.id]
        assert (tmp_path / "out" / row.download_path).read_bytes() == photo.original
        assert row.download_sha256 == hashlib.sha256(photo.original).hexdigest()
        assert row.download_bytes == len(photo.original)


def test_a_gzip_bomb_fails_its_photo_at_the_size_limit_without_a_retry(served, tmp_path):
    bomb = served.photos[2]
    served.standin.tamper("download", for_one(bomb.id, encoded("gzip", body=b"\0" * (40 << 20))))  # 40 KB sent
    counts, rows = download(served, tmp_path, max_bytes=4 << 20)
    assert counts == {"done": len(served.photos) - 1, "failed": 1}
    assert rows[bomb.id].download_error == f"larger than the {4 << 20} bytes allowed"
    assert served.standin.calls["download"] == len(served.photos)  # the bomb was fetched once
    assert not [path for path in (tmp_path / "out").rglob("*") if path.is_file() and bomb.id in path.name]


def test_a_declared_length_over_the_limit_is_refused_unread(served, tmp_path):
    big = served.photos[3]
    served.standin.tamper("download", for_one(big.id, lambda reply: WireReply(
        body=reply.body, content_type=reply.content_type, content_length=str(10**12)
    )))  # fmt: skip
    counts, rows = download(served, tmp_path)
    assert counts == {"done": len(served.photos) - 1, "failed": 1}
    assert rows[big.id].download_error == f"larger than the {200 << 20} bytes allowed ({10**12} declared)"


def test_a_cut_or_unknown_encoding_fails_its_photo_and_the_next_run_gets_it(served, tmp_path):
    cut, brotli = served.photos[4], served.photos[5]

    def cut_in_half(reply):
        packed = gzip.compress(reply.body)[: len(reply.body) // 2]
        return Reply(body=packed, content_type=reply.content_type, headers=(("Content-Encoding", "gzip"),))

    edits = {cut.id: cut_in_half, brotli.id: encoded("br")}
    served.standin.tamper("download", lambda params, reply: edits.get(params["photo_id"], lambda r: r)(reply))
    counts, rows = download(served, tmp_path)
    assert counts == {"done": len(served.photos) - 2, "failed": 2}
    assert rows[cut.id].download_error == "the gzip-encoded body ends early (after 2 attempts)"
    assert rows[brotli.id].download_error == "unsupported Content-Encoding 'br'"
    served.standin.tamper("download", None)
    assert download(served, tmp_path)[0] == {"done": 2}
