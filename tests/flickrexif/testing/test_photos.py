"""Generated photo populations, and the camera profiles and rendering their files come from."""

from __future__ import annotations

import io
from collections import Counter
from datetime import datetime, timedelta

import pytest
from PIL import Image

from flickrexif.crawl.licenses import NONPERMISSIVE_LICENSES, PERMISSIVE_LICENSES
from flickrexif.exif.read import read_exif
from flickrexif.testing.getexif import exif_items_from_file
from flickrexif.testing.photos import generate_photos
from flickrexif.testing.profiles import Rendering, builtin_profiles
from flickrexif.testing.render import render_photo


def values(items) -> dict[str, str]:
    return {item["tag"]: item["raw"]["_content"] for item in items}


# --- generated populations ---------------------------------------------------------------------------


def test_generation_is_deterministic(population):
    again = generate_photos(2000, seed=3)
    assert [p.id for p in again] == [p.id for p in population]
    assert [p.original for p in again[:50]] == [p.original for p in population[:50]]
    assert [p.exif_items for p in again[:50]] == [p.exif_items for p in population[:50]]
    other = generate_photos(50, seed=4)
    assert [p.id for p in other] != [p.id for p in population[:50]]


def test_generated_ids_dates_and_owners(population):
    ids = [int(p.id) for p in population]
    assert all(len(p.id) == 11 for p in population)
    assert ids == sorted(set(ids))
    assert [p.date_upload for p in population] == sorted(p.date_upload for p in population)
    assert all(datetime(2010, 1, 1) <= p.date_taken < datetime(2024, 1, 1) for p in population)
    assert all(p.date_upload > p.date_taken for p in population)
    per_owner_month = Counter((p.owner, p.date_taken.strftime("%Y-%m")) for p in population)
    assert max(per_owner_month.values()) >= 10  # the per-owner-per-month cap has work to do
    per_owner = Counter(p.owner for p in population)
    assert per_owner.most_common(1)[0][1] >= 5 * len(population) / len(per_owner)


def test_generated_rates_are_roughly_honoured(population):
    n = len(population)

    def share(predicate) -> float:
        return sum(map(predicate, population)) / n

    assert 0.02 < share(lambda p: p.exif_error == 2) < 0.09
    assert 0.005 < share(lambda p: p.exif_items == []) < 0.04
    assert 0.02 < share(lambda p: p.original is None) < 0.09
    assert 0.06 < share(lambda p: p.license in NONPERMISSIVE_LICENSES) < 0.15
    assert all(p.license in PERMISSIVE_LICENSES | NONPERMISSIVE_LICENSES for p in population)
    assert 0.005 < share(lambda p: p.safety_level > 0) < 0.04
    assert 0.0 < share(lambda p: p.media == "video") < 0.03


def test_generated_files_carry_the_exif_of_their_items(population):
    with_exif = [p for p in population if p.original is not None and p.exif_items][:20]
    makes = set()
    for generated in with_exif:
        assert exif_items_from_file(generated.original) == generated.exif_items
        got = values(generated.exif_items)
        assert got["DateTimeOriginal"] == generated.date_taken.strftime("%Y:%m:%d %H:%M:%S")
        makes.add(got["Make"])
        with Image.open(io.BytesIO(generated.original)) as image:
            assert image.size == (generated.width, generated.height)
    assert len(makes) >= 2
    bare = next(p for p in population if p.exif_items == [] and p.original is not None)
    assert exif_items_from_file(bare.original) == []
    assert any("SerialNumber" in values(p.exif_items or []) for p in population)
    assert any("GPSLatitude" in values(p.exif_items or []) for p in population)


def test_generated_photo_size_is_a_parameter():
    photos = [p for p in generate_photos(60, seed=6, size=(200, 150)) if p.original is not None]
    shapes = Counter((p.width, p.height) for p in photos)
    assert set(shapes) == {(200, 150), (150, 200)} and shapes[(200, 150)] > shapes[(150, 200)]
    for generated in [p for p in photos if p.exif_items][:10]:
        with Image.open(io.BytesIO(generated.original)) as image:
            assert image.size == (generated.width, generated.height)
        got = values(generated.exif_items)
        assert (int(got["ExifImageWidth"]), int(got["ExifImageHeight"])) == image.size
    with pytest.raises(ValueError, match="size"):
        generate_photos(5, size=(4, 4))


def test_generated_from_samples(exif_samples):
    photos = generate_photos(300, seed=1, samples=exif_samples)
    makes = {values(p.exif_items).get("Make") for p in photos if p.exif_items}
    assert None not in makes and len(makes) >= 5
    generated = next(p for p in photos if p.original is not None and p.exif_items)
    assert exif_items_from_file(generated.original) == generated.exif_items


# --- per-photo scenes and per-profile rendering ------------------------------------------------------


def pixels(data: bytes, size=None):
    import numpy as np

    with Image.open(io.BytesIO(data)) as image:
        image = image.convert("L")
        if size:
            image = image.resize(size, Image.Resampling.BOX)
        return np.asarray(image, dtype=float).ravel()


def test_photos_of_one_profile_have_their_own_pixels(population):
    by_make = {}
    for p in population:
        if p.original is not None and p.exif_items:
            by_make.setdefault(values(p.exif_items)["Model"], []).append(p)
    model, same = max(by_make.items(), key=lambda item: len(item[1]))
    assert len(same) >= 10
    firsts = {bytes(pixels(p.original).astype("uint8")) for p in same[:10] if (p.width, p.height) == (96, 64)}
    assert len(firsts) == len([p for p in same[:10] if (p.width, p.height) == (96, 64)]) > 1


def test_profiles_render_with_their_own_quality_and_subsampling():
    profiles = builtin_profiles()
    assert all(isinstance(p.rendering, Rendering) for p in profiles)
    phone = next(p for p in profiles if p.is_smartphone)
    camera = next(p for p in profiles if p.is_smartphone is False)
    assert (phone.make, camera.make) == ("Apple", "Canon")
    assert phone.rendering.subsampling == "4:2:0" and camera.rendering.subsampling == "4:2:2"
    assert phone.rendering.sharpen_percent > camera.rendering.sharpen_percent and phone.rendering.blur > 0
    taken = datetime(2019, 5, 4, 12, 0, 0)
    for profile in (phone, camera, next(p for p in profiles if p.model == "X-T3")):
        record = read_exif(render_photo(7, profile, taken))
        assert record.jpeg_quality == profile.rendering.quality
        assert record.chroma_subsampling == profile.rendering.subsampling
    assert phone.rendering.quality != camera.rendering.quality
    # Generated photos carry their profile's traces too.
    for generated in generate_photos(60, seed=5):
        if generated.original is not None and generated.exif_items:
            model = values(generated.exif_items)["Model"]
            rendering = next(p.rendering for p in profiles if p.model == model)
            assert read_exif(generated.original).jpeg_quality == rendering.quality


def test_one_scene_through_two_profiles_shows_the_same_subject():
    import numpy as np

    profiles = builtin_profiles()
    phone = next(p for p in profiles if p.is_smartphone)
    camera = next(p for p in profiles if p.is_smartphone is False)
    taken = datetime(2021, 8, 1, 9, 30, 0)
    for scene in range(5):
        a = render_photo(scene, phone, taken)
        b = render_photo(scene, camera.name, taken + timedelta(seconds=20))
        assert a != b
        same = np.corrcoef(pixels(a, (12, 8)), pixels(b, (12, 8)))[0, 1]
        other = np.corrcoef(pixels(a, (12, 8)), pixels(render_photo(scene + 100, camera, taken), (12, 8)))[0, 1]
        assert same > 0.8 and same > other
        exif_a, exif_b = read_exif(a), read_exif(b)
        assert (exif_a.make, exif_b.make) == ("Apple", "Canon")
        assert exif_a.model != exif_b.model
        taken_b = values(exif_items_from_file(b))["DateTimeOriginal"]
        assert taken_b == (taken + timedelta(seconds=20)).strftime("%Y:%m:%d %H:%M:%S")
    with Image.open(io.BytesIO(render_photo(1, phone, taken, size=(160, 120)))) as image:
        assert image.size == (160, 120)


def test_render_photo_is_deterministic():
    phone = next(p for p in builtin_profiles() if p.is_smartphone)
    taken = datetime(2020, 1, 2, 3, 4, 5)
    assert render_photo(3, phone, taken) == render_photo(3, phone, taken)
    assert render_photo(3, phone, taken) != render_photo(4, phone, taken)
    with pytest.raises(ValueError):
        render_photo(3, "no such camera", taken)


def test_sample_profiles_render_with_the_sample_files_traces(exif_samples):
    from flickrexif.testing.profiles import _sample_profiles

    profiles = _sample_profiles(str(exif_samples.resolve()))
    checked = 0
    for profile in profiles:
        path = exif_samples / profile.name
        own = read_exif(path)
        if own.jpeg_quality is not None and own.chroma_subsampling in ("4:4:4", "4:2:2", "4:2:0"):
            assert profile.rendering.quality == max(30, own.jpeg_quality)
            assert profile.rendering.subsampling == own.chroma_subsampling
            checked += 1
    assert checked >= 3
    assert _sample_profiles.__wrapped__(str(exif_samples.resolve())) == profiles
