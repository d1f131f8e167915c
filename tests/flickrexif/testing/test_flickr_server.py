"""The loopback Flickr server, driven through the real ``flickrapi`` client and ``requests``.

Search (filters, sorting, extras, paging under the result cap), getExif, getSizes, API errors,
the photo files, injected faults and latency, and a generated population served end to end.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import flickrapi
import pytest
import requests
from flickrapi.exceptions import FlickrError
from PIL import Image

from flickrexif.crawl.licenses import PERMISSIVE_LICENSES
from flickrexif.exif.tags import exif_from_flickr
from flickrexif.testing.flickr_server import FlickrStandin
from flickrexif.testing.getexif import exif_items_from_file
from flickrexif.testing.photos import StandinPhoto

EXTRAS = "owner_name,license,date_taken,date_upload,o_dims,original_format,url_o,url_l,tags,media"
BASE_FIELDS = {"id", "owner", "secret", "server", "farm", "title", "ispublic", "isfriend", "isfamily"}


def jpeg(size=(48, 32), exif=None, color=(90, 140, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", quality=95, **({"exif": exif} if exif is not None else {}))
    return out.getvalue()


def camera_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS 40D"
    exif[0x8769] = {0x9003: "2015:06:01 10:00:00", 0x9209: 9}
    return exif


ITEMS = [
    {"tagspace": "IFD0", "tagspaceid": 0, "tag": "Make", "label": "Make", "raw": {"_content": "NIKON CORPORATION"}},
    {"tagspace": "IFD0", "tagspaceid": 0, "tag": "Model", "label": "Model", "raw": {"_content": "NIKON D70"}},
]


def photo(photo_id, **overrides) -> StandinPhoto:
    fields = dict(
        id=str(photo_id),
        owner="11111111@N01",
        ownername="Ann",
        title=f"Photo {photo_id}",
        license=4,
        date_taken=datetime(2015, 6, 1, 10, 0, 0),
        date_upload=datetime(2015, 6, 2, 10, 0, 0),
        exif_items=ITEMS,
        width=48,
        height=32,
    )
    fields.update(overrides)
    return StandinPhoto(**fields)


ORIGINAL = jpeg(exif=camera_exif())

PHOTOS = [
    photo(
        "10000000001",
        title="Sunset over the harbour",
        tags=["sunset", "sea"],
        original=ORIGINAL,
        date_taken=datetime(2015, 1, 1, 0, 0, 0),
        date_upload=datetime(2015, 1, 5),
    ),
    photo(
        "10000000002",
        title="Market street",
        tags=["street", "market"],
        license=2,
        date_taken=datetime(2015, 2, 1, 12, 0, 0),
        date_upload=datetime(2015, 2, 3),
    ),
    photo(
        "10000000003",
        title="Dog",
        description="A dog by the SEA",
        tags=["dog"],
        license=9,
        date_taken=datetime(2015, 3, 1, 12, 0, 0),
        date_upload=datetime(2015, 3, 2),
        owner="22222222@N02",
        ownername="Bo",
    ),
    photo(
        "10000000004",
        title="Moderate",
        safety_level=1,
        date_taken=datetime(2015, 4, 1),
        date_upload=datetime(2015, 4, 2),
    ),
    photo(
        "10000000005",
        title="Restricted",
        safety_level=2,
        date_taken=datetime(2015, 5, 1),
        date_upload=datetime(2015, 5, 2),
    ),
    photo(
        "10000000006",
        title="A video",
        media="video",
        tags=["sea"],
        date_taken=datetime(2015, 6, 1),
        date_upload=datetime(2015, 6, 3),
    ),
    photo(
        "10000000007",
        title="Hidden exif",
        exif_items=None,
        exif_error=2,
        date_taken=datetime(2015, 7, 1),
        date_upload=datetime(2015, 7, 2),
    ),
    photo(
        "10000000008",
        title="Gone",
        exif_items=None,
        exif_error=1,
        date_taken=datetime(2015, 8, 1),
        date_upload=datetime(2015, 8, 2),
    ),
    photo(
        "10000000009",
        title="Sea and sunset",
        tags=["sea", "sunset"],
        license=11,
        original=ORIGINAL,
        date_taken=datetime(2015, 9, 1),
        date_upload=datetime(2015, 9, 2),
    ),
]


def client(standin: FlickrStandin, key: str = "test-key") -> flickrapi.FlickrAPI:
    flickr = flickrapi.FlickrAPI(key, "secret", format="parsed-json", store_token=False)
    flickr.REST_URL = standin.api_url
    return flickr


@pytest.fixture(scope="module")
def standin():
    with FlickrStandin(PHOTOS) as server:
        yield server


@pytest.fixture(scope="module")
def flickr(standin):
    return client(standin)


def search_ids(flickr, **params) -> list[str]:
    params.setdefault("min_taken_date", "2000-01-01")
    answer = flickr.photos.search(safe_search=3, per_page=500, **params)
    return [item["id"] for item in answer["photos"]["photo"]]


def short(ids) -> set[int]:
    return {int(photo_id) - 10000000000 for photo_id in ids}


# --- search ----------------------------------------------------------------------------------


def test_search_answer_shape(flickr):
    answer = flickr.photos.search(min_taken_date="2000-01-01", per_page=2)
    assert answer["stat"] == "ok"
    photos = answer["photos"]
    assert (photos["page"], photos["perpage"], photos["total"], photos["pages"]) == (1, 2, 7, 4)
    assert set(photos["photo"][0]) == BASE_FIELDS
    first = photos["photo"][0]
    assert (first["ispublic"], first["isfriend"], first["isfamily"]) == (1, 0, 0)


def test_search_license_filter(flickr):
    assert short(search_ids(flickr, license="9,11")) == {3, 9}
    assert short(search_ids(flickr, license="2")) == {2}


def test_search_taken_dates_are_inclusive_in_three_formats(flickr):
    assert short(search_ids(flickr, min_taken_date="2015-02-01 12:00:00", max_taken_date="2015-03-01 12:00:00")) == {
        2,
        3,
    }
    assert short(search_ids(flickr, min_taken_date="2015-02-02", max_taken_date="2015-04-01")) == {3, 4}
    unix = int(datetime(2015, 9, 1, tzinfo=UTC).timestamp())
    assert short(search_ids(flickr, min_taken_date=str(unix))) == {9}


def test_search_upload_dates(flickr):
    ids = search_ids(flickr, min_upload_date="2015-03-01", max_upload_date="2015-05-02 00:00:00")
    assert short(ids) == {3, 4, 5}


def test_search_text_is_a_case_insensitive_substring_of_title_description_tags(flickr):
    assert short(search_ids(flickr, text="SEA")) == {1, 3, 6, 9}
    assert short(search_ids(flickr, text="harbour")) == {1}


def test_search_tags_any_and_all(flickr):
    assert short(search_ids(flickr, tags="sunset,dog")) == {1, 3, 9}
    assert short(search_ids(flickr, tags="Sea,SUNSET", tag_mode="all")) == {1, 9}


def test_safe_search_levels(flickr):
    def count(level=None):
        params = {"min_taken_date": "2000-01-01", "per_page": 500}
        if level is not None:
            params["safe_search"] = level
        return flickr.photos.search(**params)["photos"]["total"]

    assert (count(), count(1), count(2), count(3)) == (7, 7, 8, 9)


def test_media_and_content_type_filters(flickr):
    assert 6 in short(search_ids(flickr))
    assert 6 not in short(search_ids(flickr, media="photos"))
    assert 6 not in short(search_ids(flickr, content_type=1))
    assert 6 not in short(search_ids(flickr, content_types="0"))
    assert short(search_ids(flickr, media="videos")) == {6}


def test_user_filter_and_unknown_user(flickr):
    assert short(search_ids(flickr, user_id="22222222@N02")) == {3}
    with pytest.raises(FlickrError) as error:
        flickr.photos.search(user_id="99999999@N09")
    assert error.value.code == 2


def test_parameterless_search_is_refused(flickr):
    with pytest.raises(FlickrError) as error:
        flickr.photos.search(per_page=10)
    assert error.value.code == 3


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (None, [9, 8, 7, 6, 3, 2, 1]),
        ("date-posted-asc", [1, 2, 3, 6, 7, 8, 9]),
        ("date-taken-desc", [9, 8, 7, 6, 3, 2, 1]),
        ("date-taken-asc", [1, 2, 3, 6, 7, 8, 9]),
    ],
)
def test_sort_orders(flickr, sort, expected):
    params = {"min_taken_date": "2000-01-01"}
    if sort:
        params["sort"] = sort
    ids = [item["id"] for item in flickr.photos.search(**params)["photos"]["photo"]]
    assert [int(i) - 10000000000 for i in ids] == expected


def test_extras_only_when_asked_with_flickr_field_names(flickr):
    plain = flickr.photos.search(text="harbour")["photos"]["photo"][0]
    assert set(plain) == BASE_FIELDS
    full = flickr.photos.search(text="harbour", extras=EXTRAS)["photos"]["photo"][0]
    assert full["ownername"] == "Ann"
    assert full["license"] == "4"
    assert full["datetaken"] == "2015-01-01 00:00:00"
    assert full["datetakengranularity"] == 0 and full["datetakenunknown"] == "0"
    assert full["dateupload"] == str(int(datetime(2015, 1, 5, tzinfo=UTC).timestamp()))
    assert (full["o_width"], full["o_height"], full["originalformat"]) == ("48", "32", "jpg")
    assert full["url_o"].endswith("/photos/10000000001_o.jpg") and (full["width_o"], full["height_o"]) == (48, 32)
    assert full["url_l"].endswith("/photos/10000000001_b.jpg") and (full["width_l"], full["height_l"]) == (48, 32)
    assert full["tags"] == "sunset sea"
    assert full["media"] == "photo"
    only_license = flickr.photos.search(text="harbour", extras="license")["photos"]["photo"][0]
    assert set(only_license) == BASE_FIELDS | {"license"}


def test_no_original_means_no_url_o_but_a_large_size(flickr):
    item = flickr.photos.search(text="market", extras=EXTRAS)["photos"]["photo"][0]
    assert "url_o" not in item and "o_width" not in item and "originalformat" not in item
    assert item["url_l"].endswith("_b.jpg")


# --- paging and the result cap ------------------------------------------------------------------


@pytest.fixture(scope="module")
def capped():
    photos = [
        photo(
            str(20000000000 + i),
            date_taken=datetime(2016, 1, 1) + timedelta(minutes=i),
            date_upload=datetime(2016, 2, 1) + timedelta(minutes=i),
        )
        for i in range(120)
    ]
    with FlickrStandin(photos, max_results=50) as server:
        yield server


def test_pages_past_the_cap_repeat_the_last_reachable_page(capped):
    flickr = client(capped)
    pages = [
        flickr.photos.search(min_taken_date="2016-01-01", per_page=20, page=page)["photos"] for page in range(1, 7)
    ]
    assert all(page["total"] == 120 and page["pages"] == 6 for page in pages)
    ids = [[item["id"] for item in page["photo"]] for page in pages]
    assert [len(page) for page in ids] == [20, 20, 10, 10, 10, 10]
    assert ids[3] == ids[4] == ids[5] == ids[2]
    seen = {photo_id for page in ids for photo_id in page}
    assert len(seen) == 50  # a naive crawler misses 70 photos


def test_per_page_is_capped_at_500_and_page_reported(capped):
    answer = client(capped).photos.search(min_taken_date="2016-01-01", per_page=1000, page=2)["photos"]
    assert answer["perpage"] == 500 and answer["pages"] == 1 and answer["page"] == 2
    assert len(answer["photo"]) == 50


def test_empty_search(flickr):
    answer = flickr.photos.search(text="nothing-matches-this")["photos"]
    assert (answer["total"], answer["pages"], answer["photo"]) == (0, 0, [])


# --- getExif, getSizes, errors --------------------------------------------------------------------


def test_get_exif_answer(flickr):
    answer = flickr.photos.getExif(photo_id="10000000001")
    assert answer["stat"] == "ok"
    assert answer["photo"]["id"] == "10000000001"
    assert answer["photo"]["camera"] == "Nikon D70"
    assert answer["photo"]["exif"] == ITEMS


@pytest.mark.parametrize(("photo_id", "code"), [("10000000007", 2), ("10000000008", 1), ("424242", 1)])
def test_get_exif_errors(flickr, photo_id, code):
    with pytest.raises(FlickrError) as error:
        flickr.photos.getExif(photo_id=photo_id)
    assert error.value.code == code


def test_getexif_answer_parses_into_our_record(exif_samples):
    items = exif_items_from_file(exif_samples / "jpg" / "Canon_40D.jpg")
    with FlickrStandin([photo("40000000001", exif_items=items)]) as server:
        answer = client(server).photos.getExif(photo_id="40000000001")
    record = exif_from_flickr(answer)
    assert record.make == "Canon" and record.model == "Canon EOS 40D"
    assert record.exposure_time == Fraction(1, 160)
    assert record.f_number == 7.1
    assert record.iso == 100
    assert record.flash_fired is True
    assert record.datetime_original == "2008-05-30T15:56:01"


def test_get_sizes_with_and_without_original(flickr):
    sizes = flickr.photos.getSizes(photo_id="10000000001")["sizes"]
    assert sizes["candownload"] == 1
    assert [size["label"] for size in sizes["size"]] == ["Large", "Original"]
    original = sizes["size"][1]
    assert (original["width"], original["height"]) == (48, 32) and original["source"].endswith("_o.jpg")
    without = flickr.photos.getSizes(photo_id="10000000002")["sizes"]
    assert [size["label"] for size in without["size"]] == ["Large"]
    with pytest.raises(FlickrError) as error:
        flickr.photos.getSizes(photo_id="1")
    assert error.value.code == 1


def test_invalid_api_key(standin):
    with pytest.raises(FlickrError) as error:
        client(standin, key="wrong-key").photos.search(text="sea")
    assert error.value.code == 100
    answer = requests.get(
        standin.api_url,
        params={"method": "flickr.photos.search", "text": "sea", "format": "json", "nojsoncallback": 1},
        timeout=5,
    )
    assert answer.status_code == 200 and answer.json()["code"] == 100
    keyed = requests.get(
        standin.api_url,
        params={
            "method": "flickr.photos.search",
            "text": "sea",
            "format": "json",
            "nojsoncallback": 1,
            "api_key": "test-key",
        },
        timeout=5,
    )
    assert keyed.json()["stat"] == "ok"


def test_unknown_method(flickr):
    with pytest.raises(FlickrError) as error:
        flickr.photos.getFavorites(photo_id="10000000001")
    assert error.value.code == 112
    assert "flickr.photos.getFavorites" in str(error.value)


def test_json_without_nojsoncallback_is_wrapped(standin):
    answer = requests.post(
        standin.api_url, data={"method": "flickr.test.echo", "format": "json", "api_key": "test-key"}, timeout=5
    )
    assert answer.text.startswith("jsonFlickrApi(") and answer.text.endswith(")")


def test_calls_are_counted_per_method():
    with FlickrStandin(PHOTOS) as server:
        flickr = client(server)
        flickr.photos.search(text="sea")
        flickr.photos.search(text="dog")
        with pytest.raises(FlickrError):
            flickr.photos.getExif(photo_id="10000000007")
        requests.get(f"{server.base_url}/photos/10000000001_o.jpg", timeout=5)
        assert server.calls == Counter({"flickr.photos.search": 2, "flickr.photos.getExif": 1, "download": 1})


# --- photo files ----------------------------------------------------------------------------------


def test_original_is_served_untouched(standin):
    answer = requests.get(f"{standin.base_url}/photos/10000000001_o.jpg", timeout=5)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "image/jpeg"
    assert int(answer.headers["Content-Length"]) == len(ORIGINAL)
    assert hashlib.sha256(answer.content).hexdigest() == hashlib.sha256(ORIGINAL).hexdigest()


def test_large_is_reencoded_without_exif(standin):
    answer = requests.get(f"{standin.base_url}/photos/10000000001_b.jpg", timeout=5)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/jpeg"
    assert answer.content != ORIGINAL
    with Image.open(io.BytesIO(answer.content)) as image:
        assert image.size == (48, 32)
        assert "exif" not in image.info and len(image.getexif()) == 0
    assert requests.get(f"{standin.base_url}/photos/10000000002_b.jpg", timeout=5).status_code == 200


def test_large_of_a_big_photo_is_1024_on_the_long_side():
    big = photo("30000000001", original=jpeg((2000, 1500)), width=0, height=0)
    with FlickrStandin([big]) as server:
        sizes = client(server).photos.getSizes(photo_id=big.id)["sizes"]["size"]
        assert (sizes[0]["width"], sizes[0]["height"]) == (1024, 768)
        assert (sizes[1]["width"], sizes[1]["height"]) == (2000, 1500)
        answer = requests.get(sizes[0]["source"], timeout=5)
        with Image.open(io.BytesIO(answer.content)) as image:
            assert image.size == (1024, 768)


@pytest.mark.parametrize(
    "path",
    [
        "/photos/10000000002_o.jpg",
        "/photos/424242_o.jpg",
        "/photos/10000000001_o.png",
        "/nothing",
        "/photos/10000000001_z.jpg",
    ],
)
def test_missing_files_are_404(standin, path):
    assert requests.get(standin.base_url + path, timeout=5).status_code == 404


# --- faults and latency --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("http500", "Status code 500"),
        ("http503", "Status code 503"),
        ("http429", "Status code 429"),
        ("code105", 105),
        ("truncated", json.JSONDecodeError),
        ("reset", requests.exceptions.ConnectionError),
    ],
)
def test_each_api_fault_reaches_the_client(kind, expected):
    with FlickrStandin(PHOTOS, fault_rate=1.0, fault_kinds=[kind]) as server:
        flickr = client(server)
        if isinstance(expected, type):
            with pytest.raises(expected):
                flickr.photos.search(text="sea")
        else:
            with pytest.raises(FlickrError) as error:
                flickr.photos.search(text="sea")
            if isinstance(expected, int):
                assert error.value.code == expected
            else:
                assert error.value.code is None and expected in str(error.value)
        assert server.faults == Counter({kind: 1})
        assert server.calls == Counter({"flickr.photos.search": 1})
        server.set_faults(0.0)
        assert flickr.photos.search(text="sea")["stat"] == "ok"  # the client recovers


def test_429_carries_retry_after():
    with FlickrStandin(PHOTOS, fault_rate=1.0, fault_kinds=["http429"]) as server:
        answer = requests.get(server.api_url, timeout=5)
        assert answer.status_code == 429 and answer.headers["Retry-After"] == "1"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("truncated", requests.exceptions.ChunkedEncodingError), ("reset", requests.exceptions.ConnectionError)],
)
def test_download_faults(kind, expected):
    with FlickrStandin(PHOTOS, fault_rate=1.0, fault_kinds=[kind]) as server:
        with pytest.raises(expected):
            requests.get(f"{server.base_url}/photos/10000000001_o.jpg", timeout=5)
        assert server.faults == Counter({kind: 1}) and server.calls == Counter({"download": 1})


def test_api_only_faults_spare_downloads():
    with FlickrStandin(PHOTOS, fault_rate=1.0, fault_kinds=["code105"]) as server:
        assert requests.get(f"{server.base_url}/photos/10000000001_o.jpg", timeout=5).content == ORIGINAL
        assert not server.faults


def test_fault_rate_is_roughly_honoured_and_seeded():
    def run() -> int:
        with FlickrStandin(PHOTOS, fault_rate=0.3, fault_kinds=["http503"], seed=7) as server:
            session = requests.Session()
            for _ in range(100):
                session.get(f"{server.base_url}/photos/10000000001_b.jpg", timeout=5)
            return server.faults["http503"]

    first = run()
    assert 15 <= first <= 45
    assert run() == first


def test_bad_fault_settings_are_rejected():
    with pytest.raises(ValueError, match="unknown fault kinds"):
        FlickrStandin([], fault_kinds=["meteor"])
    with pytest.raises(ValueError):
        FlickrStandin([], fault_rate=1.5)


def test_latency_does_not_serialize_concurrent_requests():
    with FlickrStandin(PHOTOS, latency_s=0.2) as server:
        errors = []

        def call():
            try:
                client(server).photos.search(text="sea")
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=call) for _ in range(8)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        assert not errors
        assert server.calls["flickr.photos.search"] == 8
        assert 0.2 <= elapsed < 1.0


def test_close_is_idempotent():
    server = FlickrStandin(PHOTOS)
    server.close()
    server.close()
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(server.api_url, timeout=2)


def test_photo_validation():
    with pytest.raises(ValueError, match="exif_error"):
        photo("1", exif_items=None)
    with pytest.raises(ValueError, match="width and height"):
        photo("1", width=0, height=0)


# --- a generated population, served ------------------------------------------------------------


def test_generated_population_served_end_to_end(population):
    with FlickrStandin(population[:400]) as server:
        flickr = client(server)
        answer = flickr.photos.search(
            min_taken_date="2000-01-01", license=",".join(map(str, PERMISSIVE_LICENSES)), extras=EXTRAS, per_page=50
        )
        assert answer["photos"]["total"] == sum(
            p.license in PERMISSIVE_LICENSES and p.safety_level == 0 for p in population[:400]
        )
        item = next(i for i in answer["photos"]["photo"] if "url_o" in i)
        exif = flickr.photos.getExif(photo_id=item["id"])
        original = requests.get(item["url_o"], timeout=5).content
        assert exif_from_flickr(exif).make == exif_from_flickr(exif_items_from_file(original)).make
