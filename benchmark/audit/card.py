"""``audit.md``: the audit as a "Metadata and processing confounds" section to paste into a dataset card.

Worded as the Data Cards playbook asks of a finding: what was measured and how, what was found with its
size and its uncertainty, what was looked for and not found, and what the method cannot see.  Every
number comes from ``audit.json``; nothing here computes.
"""

from __future__ import annotations

from typing import Any

HEADING = "## Metadata and processing confounds"
SHOWN = 3  # erased attributes described (the strongest associations first); audit.json has them all


def _pct(share: float) -> str:
    return f"{100 * share:.0f}%"


def _points(difference: float) -> str:
    points = round(100 * difference) or 0  # never "-0"
    return f"{points} point{'' if abs(points) == 1 else 's'}"


def _p(p: float, permutations: int) -> str:
    floor = 1 / (1 + permutations)
    return f"p ≤ {floor:.3g}" if p <= floor * (1 + 1e-9) else f"p = {p:.3g}"


def _names(attributes: list[str]) -> str:
    return ", ".join(attributes[:-1]) + (" and " if len(attributes) > 1 else "") + attributes[-1] if attributes else ""


def card_text(audit: dict[str, Any]) -> str:
    """The section (Markdown): scope and method, found, not found, the encoder, mitigation, limits."""
    dataset, parameters = audit["dataset"], audit["parameters"]
    by_name = {entry["attribute"]: entry for entry in audit["associations"]}
    lines = [HEADING, "", _scope(dataset, parameters), "", _found(audit, by_name, parameters), ""]
    lines += [_not_found(audit, by_name, parameters), ""]
    if "encoder" in audit:
        lines += [_encoder(audit, by_name), ""]
    if "mitigation" in audit:
        lines += [_mitigation(audit), ""]
    lines += [_limits()]
    return "\n".join(lines) + "\n"


def _scope(dataset: dict, parameters: dict) -> str:
    revision = f" at revision `{dataset['revision']}`" if dataset.get("revision") else ""
    unread = dataset["unreadable"]["count"]
    unread_text = f"; {unread} could not be read and are left out" if unread else ""
    return (
        f"*Audited with `trace-bench audit`: `{dataset['name']}`{revision}, {dataset['audited']:,} of "
        f"{dataset['images']:,} images{unread_text}, {len(dataset['class_counts'])} classes. For every image, what "
        "its file says (Exif camera make and model, smartphone or not, exposure, aperture, ISO, focal length, "
        "flash, year; JPEG quality and chroma subsampling; format; size and aspect ratio) was compared with its "
        f"class: bias-corrected Cramér's V and a permutation test ({parameters['permutations']:,} shufflings of "
        f"the classes, seed {parameters['seed']}), p-values Holm-adjusted over the {len(parameters['attributes'])} "
        f"attributes; an attribute is called confounded at adjusted p < {parameters['alpha']} with V ≥ "
        f"{parameters['min_effect']}.*"
    )


def _found(audit: dict, by_name: dict, parameters: dict) -> str:
    shortcut = audit["shortcut"]
    how = f"naive Bayes on every attribute, {parameters['folds']}-fold cross-validated"
    predicts = (
        f"The metadata alone predicts the class of {_pct(shortcut['accuracy'])} of the images ({how}; always "
        f"answering the most frequent class: {_pct(shortcut['majority_baseline'])})."
        if shortcut["accuracy"] > shortcut["majority_baseline"]
        else f"The metadata alone predicts the class no better than always answering the most frequent class "
        f"({_pct(shortcut['accuracy'])} against {_pct(shortcut['majority_baseline'])}; {how})."
    )
    if not audit["confounded"]:
        return f"**Found.** No metadata attribute is associated with the class beyond chance. {predicts}"
    shown = []
    for name in audit["confounded"]:
        entry = by_name[name]
        known = "" if entry["unknown"] == 0 else f"; known for {entry['known']:,} images"
        shown.append(
            f"{name} (V = {entry['cramers_v']:.2f}, {_p(entry['p_adjusted'], parameters['permutations'])}{known})"
        )
    examples = [
        f"{_pct(top['class_share'])} of `{label}` images have {top['attribute']} = {top['value']} "
        f"({_pct(top['overall_share'])} of all images)"
        for label, values in audit["over_represented"].items()
        for top in values[:1]
        if top["confounded"]
    ][:3]
    example_text = f" For example, {'; '.join(examples)}." if examples else ""
    return f"**Found.** The class is associated with {_names(shown)}.{example_text} {predicts}"


def _not_found(audit: dict, by_name: dict, parameters: dict) -> str:
    unread = [name for name, entry in by_name.items() if entry["known"] == 0]
    clear = [name for name, entry in by_name.items() if not entry["confounded"] and entry["known"] > 0]
    parts = []
    if clear:
        parts.append(
            f"No association with {_names(clear)} (adjusted p ≥ {parameters['alpha']} or V < "
            f"{parameters['min_effect']})."
        )
    if unread:
        parts.append(f"Not measurable: {_names(unread)}, which no image's file gives.")
    return "**Not found.** " + (" ".join(parts) or "Every attribute is associated with the class.")


def _encoder(audit: dict, by_name: dict) -> str:
    encoder = audit["encoder"]
    name = encoder["encoder"]["key"]
    measured = {a: split for a, split in encoder["knn"].items() if split.get("n_queries")}
    confounded = [a for a in audit["confounded"] if a in measured]
    if confounded:
        attribute = max(confounded, key=lambda a: measured[a]["reliance"])
    elif measured:
        attribute = max(measured, key=lambda a: measured[a]["spd"])
    else:
        return f"**Does an encoder follow it?** No attribute has the images to split `{name}`'s neighbours by."
    split = measured[attribute]
    follow = (
        f"With `{name}` embeddings, the nearest-neighbour decision between an image of the query's class and one of "
        f"another class is right for {_pct(split['natural'])} of such pairs as the dataset is (chance 50%; "
        f"{split['n_queries']:,} queries). When only the other class's image shares the query's {attribute}, "
        f"{_pct(split['neg-same'])} (neg-same: a drop of {_points(split['drop'])}); when only its own class's "
        f"does, {_pct(split['pos-same'])} (pos-same; SPD = {_points(split['spd'])})"
    )
    if attribute in audit["confounded"]:
        follow += (
            f". Were {attribute} independent of the class, {_pct(split['independent'])}: the dataset's "
            f"nearest-neighbour accuracy owes {_points(split['reliance'])} to it."
        )
    else:
        follow += (
            f": the encoder follows {attribute}, but the dataset does not tie it to the class (it owes "
            f"{_points(split['reliance'])} to it)."
        )
    k = audit["parameters"]["ks"][0]
    flips = encoder["flips"]
    rates = ", ".join(
        f"{family} {_pct(flips[family][f'mean_flip_rate@k{k}'])}" for family in flips if family != "unprocessed"
    )
    flip = (
        f" kNN over all the other images (k = {k}) is {_pct(flips['unprocessed'][f'accuracy@k{k}'])} accurate; "
        f"re-processing the queries, with nothing else changed, flips on average {rates} of its predictions."
    )
    return f"**Does an encoder follow it?** {follow}{flip}"


def _mitigation(audit: dict) -> str:
    mitigation = audit["mitigation"]
    k = audit["parameters"]["ks"][0]
    if not mitigation["attributes"]:
        return "**Mitigation.** Nothing was erased: no attribute was found confounded."
    parts = []
    erased = mitigation["attributes"]  # the strongest associations first
    shown = [(a, erased[a]) for a in audit["confounded"] if a in erased][:SHOWN]
    for attribute, found in shown:
        if "error" in found:
            parts.append(f"{attribute} could not be erased ({found['error']})")
            continue
        before, after = found["before"], found["after"]
        text = (
            f"erasing {attribute} ({mitigation['method']}, rank {found['rank']}) moves kNN accuracy from "
            f"{_pct(before[f'accuracy@k{k}'])} to {_pct(after[f'accuracy@k{k}'])} and the neighbours' {attribute} "
            f"from {_pct(before[f'attribute_accuracy@k{k}'])} to {_pct(after[f'attribute_accuracy@k{k}'])} right"
        )
        if before.get("n_queries") and after.get("n_queries"):
            text += f", and what the nearest-neighbour accuracy owes to it from {_points(before['reliance'])} to "
            text += f"{_points(after['reliance'])}"
        parts.append(text)
    more = len(mitigation["attributes"]) - len(shown)
    rest = f" ({more} more attributes in audit.json)" if more > 0 else ""
    return f"**Mitigation** (fitted on {mitigation['fitted_on']}): " + "; ".join(parts) + f"{rest}."


def _limits() -> str:
    return (
        "**Limits.** Metadata can be missing, stripped or rewritten by editing software and sharing platforms, "
        "and `unknown` is counted as a value of its own; an association says the class can be guessed from the "
        "file, not why. JPEG quality is estimated from the quantisation tables. The kNN figures hold for the "
        "encoder named and the dataset as labelled; other encoders and fine-tuned models can follow the metadata "
        "more or less."
    )
