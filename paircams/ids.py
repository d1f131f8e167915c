"""Stable subject ids: a subject keeps its id from one ingest to the next, a removed one's id is never reused.

Apart from pairing and the ingest run because ids outlive any one ingest: a release's ``subject_idx``
is what its users cite and join on.  Imports pairing (for its photos and candidates), never ingest.

**Stable subject ids**: a subject's key is ``folder:<sub-folder name>`` (folders) or
``photos:<sha256>+<sha256>`` (flat; the two file hashes sorted, so renaming or moving the files keeps
the key).  Re-ingesting into the same ``--out`` keeps the id of every key seen before; a subject whose
key changed but whose two files are byte-identical to an earlier subject's keeps that subject's id
(a renamed folder, or a switch between layouts); a removed subject's id is retired and never given
to another subject (it comes back only if the same subject does); new subjects get ids from a
counter that only grows, in folder-name order (folders) or capture-time order (flat).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from paircams.pairing import Candidate, Photo


@dataclass(frozen=True)
class Subject:
    """One validated pair with its stable id; photos ordered camera before smartphone, then by path."""

    key: str
    subject_idx: int
    photos: tuple[Photo, Photo]

    @property
    def capture_delta_s(self) -> float | None:
        first, second = (photo.taken for photo in self.photos)
        return None if first is None or second is None else abs((first - second).total_seconds())

    @property
    def hashes(self) -> tuple[str, str]:
        return tuple(sorted(photo.sha256 for photo in self.photos))  # type: ignore[return-value]

    def to_json(self) -> dict[str, Any]:
        return {
            "subject_idx": self.subject_idx,
            "key": self.key,
            "capture_delta_s": self.capture_delta_s,
            "photos": [photo.to_json() for photo in self.photos],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Subject:
        photos = tuple(Photo.from_json(p) for p in data["photos"])
        if len(photos) != 2:
            raise ValueError(f"subject {data.get('key')!r} has {len(photos)} photos, not 2")
        return cls(data["key"], int(data["subject_idx"]), photos)  # type: ignore[arg-type]


@dataclass(frozen=True)
class IdChanges:
    """How this ingest's ids relate to the previous one's."""

    kept: int = 0
    new: int = 0
    revived: int = 0
    retired: int = 0  # ids of subjects that disappeared in this ingest


# --- stable ids --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retired:
    """A subject no longer present: its id is kept for it alone (and its files' hashes, to know it again)."""

    key: str
    subject_idx: int
    sha256: tuple[str, ...] = ()  # the two file hashes, sorted

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "subject_idx": self.subject_idx, "sha256": list(self.sha256)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Retired:
        return cls(data["key"], int(data["subject_idx"]), tuple(data.get("sha256") or ()))


@dataclass(frozen=True)
class IdState:
    """The ids an earlier ingest gave out: its subjects, the retired ones, and the next new id."""

    subjects: tuple[Subject, ...] = ()
    retired: tuple[Retired, ...] = ()
    next_idx: int = 0


def assign_ids(candidates: Sequence[Candidate], state: IdState) -> tuple[list[Subject], IdState, IdChanges]:
    """Give every candidate pair its stable id (rules in the module docstring)."""
    earlier = [Retired(s.key, s.subject_idx, s.hashes) for s in state.subjects] + list(state.retired)
    by_key = {entry.key: entry.subject_idx for entry in earlier}
    by_hashes = {entry.sha256: entry.subject_idx for entry in earlier if entry.sha256}
    current = {s.subject_idx for s in state.subjects}
    claimed: set[int] = set()
    subjects: list[Subject] = []
    fresh: list[Candidate] = []
    for candidate in sorted(candidates, key=lambda c: c.key):
        idx = by_key.get(candidate.key)
        if idx is None or idx in claimed:
            idx = by_hashes.get(tuple(sorted(p.sha256 for p in candidate.photos)))
        if idx is None or idx in claimed:
            fresh.append(candidate)
            continue
        claimed.add(idx)
        subjects.append(Subject(candidate.key, idx, candidate.photos))
    next_idx = max([state.next_idx, *(entry.subject_idx + 1 for entry in earlier)])
    for candidate in sorted(fresh, key=lambda c: (c.order, c.key)):
        subjects.append(Subject(candidate.key, next_idx, candidate.photos))
        next_idx += 1
    subjects.sort(key=lambda s: s.subject_idx)
    retired: dict[int, Retired] = {}
    for entry in earlier:  # current subjects first, so a retired id keeps its latest key and hashes
        if entry.subject_idx not in claimed and entry.subject_idx not in retired:
            retired[entry.subject_idx] = entry
    changes = IdChanges(
        kept=len(claimed & current),
        new=len(fresh),
        revived=len(claimed - current),
        retired=len(current - claimed),
    )
    return subjects, IdState(tuple(subjects), tuple(retired[i] for i in sorted(retired)), next_idx), changes
