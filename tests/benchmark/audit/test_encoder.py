"""Does the encoder follow the metadata: the split by metadata and the flip rates on planted embeddings
(known answers), then a pretrained encoder on the generated confounded set and its control."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from benchmark.audit.audit import AuditOptions, run_audit
from benchmark.audit.encoder import SetEmbeddings, flip_rates, metadata_split
from benchmark.encoders.factory import EncoderOptions
from benchmark.protocols.erasers import EraserOptions
from benchmark.sources.kinds import SourceOptions
from flickrexif.testing.labelled import labelled_photos


def planted(confound: float, trace: float, n: int = 240, seed: int = 0):
    """Two classes, a two-valued attribute that agrees with the class for ``confound`` of the images (0.5:
    independent), embeddings = class direction + ``trace`` x value direction + noise."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], n // 2)
    values = np.where(rng.random(n) < confound, labels, 1 - labels)
    if confound == 0.5:  # exactly independent: each value half of each class
        values = np.tile([0, 1], n // 2)
    x = np.zeros((n, 16))
    x[np.arange(n), labels] = 1.0
    x[np.arange(n), 2 + values] += trace
    return torch.as_tensor(x + rng.normal(0, 0.5, x.shape)), labels, values


def test_an_encoder_that_follows_the_value_shows_spd_and_relies_on_it_only_where_the_data_ties_it():
    confounded = metadata_split(*planted(0.85, trace=1.0))
    control = metadata_split(*planted(0.5, trace=1.0))
    assert confounded["spd"] > 0.25 and control["spd"] > 0.25  # the encoder follows the value in both
    assert confounded["drop"] > 0.1 and confounded["neg-same"] < confounded["natural"] < confounded["pos-same"]
    assert confounded["reliance"] > 0.04  # the dataset's decisions owe to the value...
    assert abs(control["reliance"]) < 0.01  # ...where it goes with the class, not otherwise
    assert control["drop"] < confounded["drop"]
    assert confounded["n_queries"] == 240


def test_an_encoder_blind_to_the_value_shows_none_of_it():
    blind = metadata_split(*planted(0.85, trace=0.0))
    assert abs(blind["spd"]) < 0.05 and abs(blind["reliance"]) < 0.02 and abs(blind["drop"]) < 0.05


def test_a_complete_confound_leaves_no_query_to_split():
    x, labels, _ = planted(0.85, trace=1.0)
    assert metadata_split(x, labels, labels) == {"n_queries": 0}


def test_flip_rates_count_predictions_that_change_with_the_processing_alone():
    x, labels, _ = planted(0.85, trace=0.0)
    shifted = x.clone()
    shifted[:, :2] = shifted[:, [1, 0]]  # a "processing" that swaps the class directions: predictions flip
    found = flip_rates(
        SetEmbeddings([str(i) for i in range(len(labels))], x, {("jpeg", "q75-420"): x, ("jpeg", "q95-444"): shifted}),
        labels,
        (1, 10),
        vote_ties="lowest-class",
    )
    classes = found["jpeg"]["classes"]
    assert classes["q75-420"]["flip_rate@k1"] == 0.0 and classes["q95-444"]["flip_rate@k10"] > 0.5
    assert found["jpeg"]["any_flip@k10"] == classes["q95-444"]["flip_rate@k10"]
    assert found["unprocessed"]["accuracy@k10"] > 0.8


def audit_with(folder, out, model, **options) -> dict:
    found = SourceOptions((str(folder),)).detect(str(folder))
    files = run_audit(found, AuditOptions(**options), out, EncoderOptions((model,)))
    return json.loads(files[0].read_text()) | {"_card": files[1].read_text()}


def test_mitigate_erases_each_confounded_attribute_and_measures_before_and_after(tmp_path):
    root = tmp_path / "pets"
    labelled_photos(root, per_class=16, confound=1.0, size=(96, 72))
    eraser = EraserOptions(method="leace")
    audit = audit_with(root, tmp_path / "out", "random:resnet10t", families=("resizing",), mitigate=True, eraser=eraser)
    mitigation = audit["mitigation"]
    assert set(mitigation["attributes"]) == set(audit["confounded"]) and mitigation["method"] == "leace"
    smartphone = mitigation["attributes"]["Is Smartphone"]
    assert smartphone["rank"] == 1 and {"accuracy@k1", "attribute_accuracy@k1"} <= set(smartphone["after"])
    assert mitigation["n_fit"] + mitigation["n_measured"] == 32
    assert "**Mitigation**" in audit["_card"]
    assert set(audit["encoder"]["flips"]) == {"unprocessed", "resizing"}


@pytest.mark.slow
def test_a_pretrained_encoder_relies_on_the_planted_confound_and_not_on_its_control(
    confounded_set, control_set, tmp_path
):
    # EfficientNet-Lite0 (offline pretrained): random networks' features barely separate images
    confounded = audit_with(confounded_set[0], tmp_path / "c", "effnet-lite0", families=("sharpening",))
    control = audit_with(control_set[0], tmp_path / "n", "effnet-lite0", families=("sharpening",))
    split, plain = confounded["encoder"]["knn"]["Is Smartphone"], control["encoder"]["knn"]["Is Smartphone"]
    assert split["drop"] > 0.1 and split["spd"] > 0.1  # the neg-same drop, and neighbours that follow the phone
    assert plain["spd"] > 0.1  # the same encoder follows it in the control too...
    assert split["reliance"] > 0.04 and abs(plain["reliance"]) < 0.02  # ...but only the confounded set relies on it
    assert split["reliance"] > plain["reliance"] + 0.03
    for split_of in (confounded, control):  # exposure settings leave no trace to follow
        assert abs(split_of["encoder"]["knn"]["Exposure"]["spd"]) < 0.05
    flips = confounded["encoder"]["flips"]["sharpening"]
    assert flips["classes"]["sharpness-x4"]["flip_rate@k1"] > 0 and flips["mean_flip_rate@k1"] > 0
    assert "neg-same: a drop of" in confounded["_card"] and "owes" in confounded["_card"]
