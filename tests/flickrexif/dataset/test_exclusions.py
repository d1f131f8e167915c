"""Takedown lists (``--exclude``, issue #14 point 4): every Flickr photo URL form, or a refusal naming the line."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from flickrexif.cli.app import app
from flickrexif.cli.errors import EXIT_USAGE, lookup
from flickrexif.dataset.spec import load_exclusions

BASE58 = "123456789abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"  # Flickr's short-link alphabet
PHOTO = "52345678901"

# one line of a takedown list → the photo ids it names
FORMS = [
    (PHOTO, {PHOTO}),
    (f"  {PHOTO}  ", {PHOTO}),
    (f"https://www.flickr.com/photos/someone/{PHOTO}", {PHOTO}),
    (f"https://www.flickr.com/photos/someone/{PHOTO}/", {PHOTO}),
    (f"https://www.flickr.com/photos/someone/{PHOTO}/in/photostream/", {PHOTO}),
    (f"https://www.flickr.com/photos/someone/{PHOTO}/in/album-72157712345678901/", {PHOTO}),
    (f"https://www.flickr.com/photos/12345678@N00/{PHOTO}/in/dateposted-public/", {PHOTO}),
    (f"https://www.flickr.com/photos/someone/{PHOTO}/?context=explore", {PHOTO}),
    (f"https://www.flickr.com/photos/someone/{PHOTO}/sizes/o/", {PHOTO}),
    (f"https://www.flickr.com/photos/someone/{PHOTO}/lightbox/", {PHOTO}),
    (f"https://www.flickr.com/photos/someone/{PHOTO}/#comment72157", {PHOTO}),  # a fragment reads as a comment
    (f"http://flickr.com/photos/someone/{PHOTO}", {PHOTO}),
    (f"https://m.flickr.com/photos/someone/{PHOTO}/", {PHOTO}),
    (f"www.flickr.com/photos/someone/{PHOTO}/", {PHOTO}),
    (f"flickr.com/photos/someone/{PHOTO}", {PHOTO}),
    (f"HTTPS://WWW.FLICKR.COM/photos/someone/{PHOTO}/", {PHOTO}),
    (f"https://www.flickr.com/photo.gne?id={PHOTO}", {PHOTO}),
    # short links: ids and codes seen together on public pages
    ("https://flic.kr/p/4bxMqq", {"2088436532"}),
    ("http://flic.kr/p/8a6Ven", {"4697500467"}),
    ("flic.kr/p/8a738X/", {"4697523701"}),
    ("https://www.flickr.com/photo.gne?short=4bxMqq", {"2088436532"}),
    # image files
    (f"https://live.staticflickr.com/65535/{PHOTO}_0a1b2c3d4e_b.jpg", {PHOTO}),
    (f"https://live.staticflickr.com/65535/{PHOTO}_0a1b2c3d4e.jpg", {PHOTO}),
    (f"https://live.staticflickr.com/65535/{PHOTO}_0a1b2c3d4e_o.png", {PHOTO}),
    ("https://farm5.staticflickr.com/4029/4697523701_249e93ba23_q.jpg", {"4697523701"}),
    ("http://farm1.static.flickr.com/123/4697523701_249e93ba23.jpg", {"4697523701"}),
    ("https://c1.staticflickr.com/1/123/4697523701_249e93ba23_z.jpg", {"4697523701"}),
    (f"https://live.staticflickr.com/video/{PHOTO}/0a1b2c3d4e/720p.mp4", {PHOTO}),
    # several on one line
    ("123,456", {"123", "456"}),
    ("123 456", {"123", "456"}),
    ("123, 456;789\t1011", {"123", "456", "789", "1011"}),
    (f"123 https://flic.kr/p/4bxMqq https://www.flickr.com/photos/someone/{PHOTO}/", {"123", "2088436532", PHOTO}),
    # comments and blank lines
    ("# a comment", set()),
    (f"{PHOTO}  # asked by mail 2024-05-01", {PHOTO}),
    ("", set()),
    ("   \t ", set()),
]


@pytest.mark.parametrize("line, ids", FORMS)
def test_every_photo_url_form(tmp_path, line: str, ids: set[str]) -> None:
    path = tmp_path / "takedown.txt"
    path.write_text(f"{line}\n", encoding="utf-8")
    assert load_exclusions(path) == ids


def test_bom_crlf_and_utf16_files(tmp_path) -> None:
    text = f"# takedowns\r\n{PHOTO}\r\nhttps://flic.kr/p/4bxMqq\r\n123,456\r\n"
    expected = {PHOTO, "2088436532", "123", "456"}
    for name, data in [
        ("bom.txt", b"\xef\xbb\xbf" + text.encode("utf-8")),
        ("crlf.txt", text.encode("utf-8")),
        ("utf16.txt", text.encode("utf-16")),  # Windows "Unicode text": UTF-16 with its BOM
        ("cr.txt", text.replace("\r\n", "\r").encode("utf-8")),  # old Mac line ends
    ]:
        path = tmp_path / name
        path.write_bytes(data)
        assert load_exclusions(path) == expected, name


def test_a_bom_as_the_only_content_and_an_empty_file_exclude_nothing(tmp_path) -> None:
    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbf")
    (tmp_path / "b.txt").write_bytes(b"")
    assert load_exclusions(tmp_path / "a.txt") == load_exclusions(tmp_path / "b.txt") == frozenset()


def test_base58_short_links_round_trip(tmp_path) -> None:
    """Encoded here independently of the module, so a wrong alphabet there fails."""
    ids = [1, 57, 58, 3_392_387_861, 52_345_678_901, 2**53]
    lines = []
    for number in ids:
        code, rest = "", number
        while rest:
            rest, digit = divmod(rest, 58)
            code = BASE58[digit] + code
        lines.append(f"https://flic.kr/p/{code}")
    path = tmp_path / "takedown.txt"
    path.write_text("\n".join(lines))
    assert load_exclusions(path) == {str(number) for number in ids}


BAD_LINES = [
    "https://www.flickr.com/photos/someone/",  # a photostream, not a photo
    "https://www.flickr.com/photos/someone/albums/72157712345678901",
    "https://www.flickr.com/photos/someone/sets/72157712345678901/",
    "https://www.flickr.com/photos/someone/favorites/",
    "https://www.flickr.com/people/someone/",
    "https://flic.kr/p/",
    "https://flic.kr/p/0OIl",  # not in Flickr's base-58 alphabet
    "https://flic.kr/p/4bxMqq/extra",
    "https://flic.kr/s/aHsmTn4k9E",  # an album short link
    "https://live.staticflickr.com/65535/notanid_b.jpg",
    "https://example.com/photos/someone/52345678901/",  # not Flickr
    "https://notflickr.com/photos/someone/52345678901/",
    "https://flickr.com.example.com/photos/someone/52345678901/",
    "photo 52345678901",
    "52345678901x",
    "0123",
    "-5",
    "١٢٣",  # Arabic-Indic digits are not a Flickr id
    "https://[flickr.com/photos/someone/1/",
]


@pytest.mark.parametrize("bad", BAD_LINES)
def test_a_line_that_names_no_photo_is_refused_with_file_line_number_and_line(tmp_path, bad: str) -> None:
    path = tmp_path / "takedown.txt"
    path.write_text(f"# requests\n{PHOTO}\n\n{bad}  # from the form\n456\n", encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        load_exclusions(path)
    message = str(caught.value)
    assert str(path) in message
    assert "line 4" in message
    assert repr(f"{bad}  # from the form") in message
    assert lookup(caught.value).code == EXIT_USAGE  # the CLI's error map: one line, exit 2


def test_one_bad_item_among_good_ones_is_refused(tmp_path) -> None:
    path = tmp_path / "takedown.txt"
    path.write_text("123, in/photostream, 456\n")
    with pytest.raises(ValueError, match=r"line 1: 'in/photostream' is not a Flickr photo id"):
        load_exclusions(path)


def test_an_unreadable_or_missing_file_is_refused_with_its_name(tmp_path) -> None:
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("123 # demande de retrait \xe9t\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match="cannot read the takedown list .*latin1.txt"):
        load_exclusions(latin1)
    with pytest.raises(ValueError, match="cannot read the takedown list .*missing.txt"):
        load_exclusions(tmp_path / "missing.txt")


@pytest.mark.parametrize("command", ["build", "release"])
def test_the_command_line_refuses_a_bad_list_in_one_line_with_exit_code_2(tmp_path, command: str) -> None:
    path = tmp_path / "takedown.txt"
    path.write_text(f"{PHOTO}\nhttps://www.flickr.com/photos/someone/\n", encoding="utf-8")
    args = [command, "--db", str(tmp_path / "crawl.db"), "--images", str(tmp_path), "--out", str(tmp_path / "out")]
    if command == "release":
        args += ["--version", "1.0.0"]
    result = CliRunner().invoke(app, [*args, "--exclude", str(path)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "takedown.txt" in lines[0] and "line 2" in lines[0] and "https://www.flickr.com/photos/someone/" in lines[0]
    assert not (tmp_path / "out").exists()
