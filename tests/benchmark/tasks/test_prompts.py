"""The zero-shot prompt table: the package's covers every attribute and family, gives every class of the
paper's label spaces prompts of its own, and a table a user writes is checked with one clear line."""

from __future__ import annotations

import json

import pytest

from benchmark.errors import UsageError
from benchmark.imaging.processing import FAMILIES
from benchmark.tasks.prompts import default_templates, parse_templates, read_templates
from flickrexif.exif.labels import ATTRIBUTES


def check_prompts(target: str, classes: list[str]) -> None:
    prompts = default_templates().prompts(target, classes)
    assert len(prompts) == len(classes)
    for name, own in zip(classes, prompts):
        assert len(own) >= 3 and len(set(own)) == len(own), (target, name, own)
        assert all("{c}" not in prompt and prompt.strip() for prompt in own)
    # no two classes are prompted alike: zero-shot could not tell them apart
    assert len({tuple(own) for own in prompts}) == len(classes), target


def test_the_package_table_covers_every_attribute_and_family():
    assert set(default_templates().targets) == set(ATTRIBUTES) | set(FAMILIES)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_processing_class_gets_prompts_of_its_own(family):
    check_prompts(family, list(FAMILIES[family]))


def test_every_class_of_the_papers_label_spaces_gets_prompts_of_its_own(paper_splits):
    files = sorted(paper_splits.glob("split_data_target_attribute=*.json"))
    assert len(files) >= 8
    for file in files:
        spec = json.loads(file.read_text())
        check_prompts(spec["target_attribute"], [str(c) for c in spec["label_encoder_classes"]])


def test_our_releases_labels_get_prompts_too():
    """Our releases name classes as flickrexif.exif.labels does (``f/9.0``, ``50 mm``, ``True``)."""
    check_prompts("Make", ["Canon", "Nikon", "Apple"])
    check_prompts("Aperture", ["f/2.8", "f/9.0"])
    check_prompts("Focal Length", ["4.2 mm", "50 mm"])
    check_prompts("Is Smartphone", ["False", "True"])
    check_prompts("Flash", ["with flash", "without flash"])
    prompts = default_templates().prompts("Make", ["EASTMAN KODAK COMPANY", "Canon"])
    assert (
        prompts[0][0] == "a photo taken with a Kodak camera." and prompts[1][0] == "a photo taken with a Canon camera."
    )


def test_a_users_table_replaces_the_package_one(tmp_path):
    table = {"format": 1, "targets": {"Make": {"templates": ["{c} photo"]}, "jpeg": {"prompts": {"q75-420": ["bad"]}}}}
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(table))
    mine = read_templates(path)
    assert mine.source == str(path) and mine.sha256 != default_templates().sha256
    assert mine.prompts("Make", ["Canon"]) == [["Canon photo"]]
    with pytest.raises(UsageError, match="'jpeg' has no templates and no prompts for class 'q95-444'"):
        mine.prompts("jpeg", ["q75-420", "q95-444"])
    with pytest.raises(UsageError, match="has no prompts for 'ISO Speed'; it has: Make, jpeg"):
        mine.prompts("ISO Speed", ["100"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "is not JSON"),
        ('{"targets": {}}', 'a prompt table is {"format": 1'),
        ('{"format": 1, "targets": {}}', "has no targets"),
        ('{"format": 1, "targets": {"Make": {"templates": ["no placeholder"]}}}', "each with {c}"),
        ('{"format": 1, "targets": {"Make": {"template": ["{c}"]}}}', "must be an object of names, prompts, templates"),
        ('{"format": 1, "targets": {"Make": {"names": {"a": "b"}}}}', "has neither templates nor prompts"),
        ('{"format": 1, "targets": {"Flash": {"prompts": {"with flash": []}}}}', "non-empty list of prompts"),
    ],
)
def test_a_table_that_cannot_prompt_is_one_line_naming_the_file(text, message):
    with pytest.raises(UsageError, match=message) as raised:
        parse_templates(text.encode(), "mine.json")
    assert str(raised.value).startswith("mine.json") and "\n" not in str(raised.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(UsageError, match="--templates .*nope.json: no such file"):
        read_templates(tmp_path / "nope.json")
