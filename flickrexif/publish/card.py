"""Dataset cards (``README.md``): Hub metadata built with ``huggingface_hub``, prose from a template file.

The YAML front matter is a :class:`huggingface_hub.DatasetCardData`: ``configs`` list every shard per
split (no globs to go stale) and ``dataset_info`` holds the ``datasets`` features and split sizes, both
written by the ``datasets`` library's own card writers (``MetadataConfigs``, ``DatasetInfosDict``), so
``load_dataset(folder_or_repo, "Make")`` gets typed columns and ClassLabel names without guessing.
The body is a Jinja template file of the dataset (as ``huggingface_hub``'s own dataset-card
template), filled with numbers of the build only — no build dates, no local paths — so a card is as
reproducible as the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flickrexif.publish.parquet import PublishedConfig

CARD_NAME = "README.md"
#: What a card's ``load_dataset`` line names before push knows the repository (push fills it in).
REPO_PLACEHOLDER = "<this repository>"

#: The paper both datasets accompany.
PAPER = "Processing and acquisition traces in visual encoders: What does CLIP know about your camera?"
CITATION = """@inproceedings{ramos2025processing,
  title     = {Processing and acquisition traces in visual encoders: What does {CLIP} know about your camera?},
  author    = {Ramos, Ryan and Stojni{\\'c}, Vladan and Kordopatis-Zilos, Giorgos and Nakashima, Yuta and Tolias, Giorgos and Garcia, Noa},
  booktitle = {Proceedings of the IEEE/CVF International Conference on Computer Vision (ICCV)},
  year      = {2025},
  eprint    = {2508.10637},
  archivePrefix = {arXiv}
}"""


def size_category(count: int) -> str:
    """The Hub's ``size_categories`` value for ``count`` examples."""
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M")]  # fmt: skip
    return next((name for bound, name in bounds if count < bound), "100M<n<1B")


def card_data(configs: Sequence[PublishedConfig], **fields: Any) -> Any:
    """A :class:`~huggingface_hub.DatasetCardData` with ``fields`` (license, tags, ...), ``configs`` and
    ``dataset_info`` for ``configs``, written by ``datasets``' own card writers."""
    from datasets import DatasetInfo, SplitDict, SplitInfo
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCardData

    data = DatasetCardData(**fields)
    MetadataConfigs({
        config.name: {
            **({"default": True} if config.default else {}),
            "data_files": [{"split": split.split, "path": list(split.paths)} for split in config.splits],
        }
        for config in configs
    }).to_dataset_card_data(data)  # fmt: skip
    infos = {}
    for config in configs:
        splits = SplitDict()
        for split in config.splits:
            splits.add(SplitInfo(name=split.split, num_bytes=split.num_bytes, num_examples=split.num_examples))
        infos[config.name] = DatasetInfo(
            features=config.features, splits=splits, dataset_size=sum(split.num_bytes for split in config.splits)
        )
    DatasetInfosDict(infos).to_dataset_card_data(data)
    return data


def render_card(template: Path, data: Any, **values: Any) -> str:
    """The whole ``README.md``: ``data`` as YAML front matter, then the template filled with ``values``."""
    from huggingface_hub import DatasetCard

    card = DatasetCard.from_template(data, template_path=str(template), **values)
    return card.content.rstrip() + "\n"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table, cells as ``str()``."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def column_table(docs: Mapping[str, str]) -> str:
    """The card's "Columns" table from a column → meaning mapping."""
    return markdown_table(["column", "meaning"], [[f"`{name}`", meaning] for name, meaning in docs.items()])
