"""The photos the stand-in serves (:class:`StandinPhoto`), and a generated population of them.

:func:`generate_photos` makes a realistic, seeded population: owners drawn Zipf-like whose photos
cluster in short outings, a mix of licenses, hidden or missing Exif, photos without an original,
and for each photo a small real JPEG of its own scene shot with a camera profile
(:mod:`flickrexif.testing.profiles`, :mod:`flickrexif.testing.render`).
"""

from __future__ import annotations

import hashlib
import io
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from PIL import Image

from flickrexif.testing.profiles import _BUILTIN_SETTINGS, _builtin_profiles, _sample_profiles
from flickrexif.testing.render import DEFAULT_PHOTO_SIZE, _photo_file

__all__ = ["StandinPhoto", "generate_photos"]


@dataclass(kw_only=True)
class StandinPhoto:
    """One photo as the stand-in knows it: search metadata, getExif answer and file bytes.

    ``exif_items`` is the list Flickr's getExif returns (see :func:`exif_items_from_file`);
    ``None`` together with ``exif_error`` (1 not found, 2 owner hides Exif) makes getExif fail.
    ``original`` is the file a downloader gets from ``url_o``; ``None`` means the owner does
    not offer it (no ``url_o``, no "Original" size) while the Large size is still served.
    ``width``/``height`` are the original's; they are read from ``original`` when left at 0.
    Call :meth:`FlickrStandin.add_photos` again after changing a photo that is being served.
    """

    id: str
    owner: str
    ownername: str
    title: str
    license: int
    date_taken: datetime
    date_upload: datetime
    description: str = ""
    tags: list[str] = field(default_factory=list)
    safety_level: int = 0
    media: str = "photo"
    exif_items: list[dict] | None = field(default_factory=list)
    exif_error: int | None = None
    original: bytes | None = None
    original_format: str = "jpg"
    width: int = 0
    height: int = 0

    def __post_init__(self) -> None:
        self.id = str(self.id)
        if self.exif_items is None and self.exif_error is None:
            raise ValueError(f"photo {self.id}: exif_items is None but no exif_error is set")
        if self.exif_error not in (None, 1, 2):
            raise ValueError(f"photo {self.id}: exif_error must be None, 1 or 2")
        if self.safety_level not in (0, 1, 2):
            raise ValueError(f"photo {self.id}: safety_level must be 0, 1 or 2")
        if self.media not in ("photo", "video"):
            raise ValueError(f"photo {self.id}: media must be 'photo' or 'video'")
        if (not self.width or not self.height) and self.original is not None:
            with Image.open(io.BytesIO(self.original)) as image:
                self.width, self.height = image.size
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"photo {self.id}: width and height are needed when original is None")

    @property
    def secret(self) -> str:
        return hashlib.sha1(f"secret-{self.id}".encode()).hexdigest()[:10]

    @property
    def server(self) -> str:
        return str(1000 + _id_number(self.id) % 8999)


def _id_number(photo_id: str) -> int:
    return int(photo_id) if photo_id.isdigit() else int(hashlib.sha1(photo_id.encode()).hexdigest()[:12], 16)


_WORDS = (
    "sunset",
    "harbour",
    "street",
    "market",
    "mountain",
    "lake",
    "forest",
    "bridge",
    "cathedral",
    "portrait",
    "dog",
    "cat",
    "flowers",
    "beach",
    "snow",
    "train",
    "night",
    "festival",
    "river",
    "garden",
    "city",
    "old town",
    "museum",
    "birds",
    "autumn",
    "spring",
    "fog",
    "desert",
    "café",
    "rain",
)
_TITLE_FORMS = ("{a} and {b}", "{a}", "{a} at dusk", "IMG_{n:04d}", "DSC{n:05d}", "{a} in {year}", "Untitled")
_FIRST_NAMES = (
    "Anna",
    "Ben",
    "Chiara",
    "Dmitri",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kofi",
    "Lena",
    "Marta",
    "Noor",
    "Oskar",
    "Priya",
    "Quentin",
    "Rosa",
    "Sven",
    "Tomás",
)
_PERMISSIVE_WEIGHTS = {4: 35, 5: 20, 7: 5, 8: 5, 9: 10, 10: 8, 11: 12, 12: 5}
_NONPERMISSIVE_WEIGHTS = {0: 40, 1: 15, 2: 15, 3: 10, 6: 5, 13: 5, 14: 4, 15: 3, 16: 3}


def _weighted(rng: random.Random, weights: Mapping[int, int]) -> int:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _owner_dates(rng: random.Random, count: int, start: datetime, span: float) -> list[datetime]:
    """Dates for one owner's photos: mostly bursts (outings of a few days), some spread evenly."""
    outings = [start + timedelta(seconds=rng.uniform(0, span)) for _ in range(max(1, count // 12))]
    dates = []
    for _ in range(count):
        if rng.random() < 0.8:
            offset = rng.choice(outings) - start + timedelta(seconds=rng.uniform(0, 3 * 86400))
            dates.append(start + timedelta(seconds=min(span - 1, offset.total_seconds())))
        else:
            dates.append(start + timedelta(seconds=rng.uniform(0, span)))
    return [date.replace(microsecond=0) for date in dates]


def _title(rng: random.Random, taken: datetime) -> str:
    form = rng.choice(_TITLE_FORMS)
    a, b = rng.sample(_WORDS, 2)
    return form.format(a=a.capitalize(), b=b, n=rng.randrange(10000), year=taken.year)


def generate_photos(
    n: int,
    *,
    seed: int = 0,
    samples: str | Path | None = None,
    owners: int | None = None,
    start: datetime = datetime(2010, 1, 1),
    end: datetime = datetime(2024, 1, 1),
    hidden_exif_rate: float = 0.05,
    missing_exif_rate: float = 0.02,
    no_original_rate: float = 0.05,
    nonpermissive_rate: float = 0.1,
    unsafe_rate: float = 0.02,
    video_rate: float = 0.01,
    size: tuple[int, int] = DEFAULT_PHOTO_SIZE,
) -> list[StandinPhoto]:
    """A deterministic, realistic photo population for the stand-in (same seed → same photos).

    Owners (``owners``, default ``n // 20``) are drawn Zipf-like, and an owner's photos cluster
    in short outings, so some owners have many photos in one month.  Ids are unique 11-digit
    numbers increasing with upload time.  Exif comes from the real files under ``samples``
    (those with a Make, cycled per owner) or from built-in camera profiles; each photo's file is
    a small real JPEG whose embedded Exif matches its items, with DateTimeOriginal = date_taken,
    showing its own scene (seeded by the photo id) rendered through its profile's processing
    (see :class:`Rendering` and :func:`render_photo`).
    ``missing_exif_rate`` photos have no Exif at all (empty items, file without Exif);
    ``hidden_exif_rate`` photos answer getExif with code 2.  Photos are ``size`` (width, height)
    pixels, one in five turned to portrait; larger sizes keep more of each profile's traces
    through a benchmark's resize but take longer to render.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if end <= start:
        raise ValueError("end must be after start")
    if len(size) != 2 or min(size) < 8:
        raise ValueError(f"size must be (width, height) of at least 8 pixels each, got {size!r}")
    landscape, portrait = (int(size[0]), int(size[1])), (int(size[1]), int(size[0]))
    rng = random.Random(seed)
    if samples is not None:
        profiles = list(_sample_profiles(str(Path(samples).resolve())))
        if not profiles:
            raise ValueError(f"no JPEG/HEIC file with a camera Make under {samples}")
    else:
        profiles = list(_builtin_profiles())
    owner_count = max(1, owners if owners is not None else n // 20)
    owner_numbers = rng.sample(range(10_000_000, 100_000_000), owner_count)  # unique NSIDs
    owner_ids = [f"{number}@N{rng.randrange(0, 8):02d}" for number in owner_numbers]
    owner_names = [f"{rng.choice(_FIRST_NAMES)} {rng.choice(_WORDS).title()}{i}" for i in range(owner_count)]
    zipf = [1 / (rank + 1) ** 1.1 for rank in range(owner_count)]
    drawn = rng.choices(range(owner_count), weights=zipf, k=n)
    per_owner = Counter(drawn)
    span = (end - start).total_seconds()
    dates = {owner: iter(_owner_dates(rng, count, start, span)) for owner, count in sorted(per_owner.items())}
    cameras_per_owner = 1 if samples is not None else len(_BUILTIN_SETTINGS)

    rows = []
    for owner in drawn:
        taken = next(dates[owner])
        uploaded = taken + timedelta(seconds=int(rng.expovariate(1 / (20 * 86400))) + 60)
        # An owner keeps one camera (a few settings of it); one photo in five is shot on another.
        base = (owner * cameras_per_owner) % len(profiles)
        if rng.random() < 0.2:
            base = rng.randrange(len(profiles))
        profile = profiles[(base + rng.randrange(cameras_per_owner)) % len(profiles)]
        rows.append((uploaded, owner, taken, profile))
    rows.sort(key=lambda row: row[0])

    photos = []
    photo_id = 10_000_000_000 + rng.randrange(10**9)
    for uploaded, owner, taken, profile in rows:
        photo_id += rng.randint(1, 2000)
        shape = portrait if rng.random() < 0.2 else landscape
        exif_error = None
        licenses = _NONPERMISSIVE_WEIGHTS if rng.random() < nonpermissive_rate else _PERMISSIVE_WEIGHTS
        exif_draw = rng.random()
        data, items = _photo_file(photo_id, profile, taken, shape, with_exif=exif_draw >= missing_exif_rate)
        if missing_exif_rate <= exif_draw < missing_exif_rate + hidden_exif_rate:
            items, exif_error = None, 2
        photos.append(
            StandinPhoto(
                id=str(photo_id),
                owner=owner_ids[owner],
                ownername=owner_names[owner],
                title=_title(rng, taken),
                description=rng.choice(("", "", f"Shot in {taken:%B %Y}.", "Taken on a walk.")),
                tags=rng.sample(_WORDS, rng.randint(0, 5)),
                license=_weighted(rng, licenses),
                date_taken=taken,
                date_upload=uploaded,
                safety_level=rng.choice((1, 2)) if rng.random() < unsafe_rate else 0,
                media="video" if rng.random() < video_rate else "photo",
                exif_items=items,
                exif_error=exif_error,
                original=None if rng.random() < no_original_rate else data,
                width=shape[0],
                height=shape[1],
            )
        )
    return photos
