"""paircams ids: subject ids stay stable as pairs are added, removed, renamed and come back."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta

from paircams.ingest import PAIRS_NAME, IngestConfig, ingest, load_ingested


def test_stable_ids_when_pairs_are_added_removed_and_come_back(folders_dir, tmp_path, kit):
    out = tmp_path / "ingested"
    first = ingest(IngestConfig(folders_dir, out))
    ids = {s.key: s.subject_idx for s in first.subjects}
    assert ids == {"folder:s01": 0, "folder:s02": 1, "folder:s07": 2}
    # s01 removed; s00 (sorts first) and s09 added; s03 gets its partner
    s01 = tmp_path / "s01-aside"
    shutil.move(folders_dir / "s01", s01)
    kit.write(folders_dir / "s00" / "p.jpg", kit.phone_b, kit.t0, seed=20)
    kit.write(folders_dir / "s00" / "c.jpg", kit.camera_b, kit.t0, seed=20)
    kit.write(folders_dir / "s09" / "p.jpg", kit.phone_a, kit.t0, seed=21)
    kit.write(folders_dir / "s09" / "c.jpg", kit.camera_b, kit.t0, seed=21)
    kit.write(folders_dir / "s03" / "camera.jpg", kit.camera_a, kit.t0, seed=3)
    second = ingest(IngestConfig(folders_dir, out))
    ids2 = {s.key: s.subject_idx for s in second.subjects}
    assert ids2 == {"folder:s02": 1, "folder:s07": 2, "folder:s00": 3, "folder:s03": 4, "folder:s09": 5}
    assert (second.ids.kept, second.ids.new, second.ids.retired) == (2, 3, 1)
    stored = json.loads((out / PAIRS_NAME).read_text())
    s01_hashes = sorted(p.sha256 for p in first.subjects[0].photos)
    assert stored["retired"] == [{"key": "folder:s01", "subject_idx": 0, "sha256": s01_hashes}]
    assert stored["next_subject_idx"] == 6
    # s01 comes back under a new folder name with the same files: its id comes back too
    shutil.move(s01, folders_dir / "s01-renamed")
    shutil.rmtree(folders_dir / "s09")
    third = ingest(IngestConfig(folders_dir, out))
    ids3 = {s.key: s.subject_idx for s in third.subjects}
    assert ids3["folder:s01-renamed"] == 0 and "folder:s09" not in ids3
    assert (third.ids.kept, third.ids.new, third.ids.revived, third.ids.retired) == (4, 0, 1, 1)
    kit.write(folders_dir / "s10" / "p.jpg", kit.phone_a, kit.t0, seed=30)
    kit.write(folders_dir / "s10" / "c.jpg", kit.camera_a, kit.t0, seed=30)
    fourth = ingest(IngestConfig(folders_dir, out))
    assert {s.key: s.subject_idx for s in fourth.subjects}["folder:s10"] == 6  # 5 (s09) is never reused
    assert [(r.key, r.subject_idx) for r in load_ingested(out).retired] == [("folder:s09", 5)]


def test_flat_layout_ids_survive_renaming_files(flat_dir, tmp_path, kit):
    out = tmp_path / "ingested"
    first = {s.hashes: s.subject_idx for s in ingest(IngestConfig(flat_dir, out)).subjects}
    (flat_dir / "p1.jpg").rename(flat_dir / "IMG_9999.jpg")
    kit.write(flat_dir / "new_p.jpg", kit.phone_b, kit.t0 - timedelta(hours=2), seed=50)  # earlier than all others
    kit.write(flat_dir / "new_c.jpg", kit.camera_a, kit.t0 - timedelta(hours=2, seconds=-3), seed=50)
    second = ingest(IngestConfig(flat_dir, out))
    again = {s.hashes: s.subject_idx for s in second.subjects}
    assert {h: again[h] for h in first} == first
    assert sorted(again.values()) == [0, 1, 2]
