"""The model contract (``manifest.json`` schema v1) and the registry of installed models.

Any ONNX masked transformer that meets the contract can be dropped into a
models folder. A manifest is checked in full when it is found: against its own
graphs (input and output names, element types, ranks), and by its medium
(``MediumSpec.check_model``: every fact, file and graph the medium's codec
uses), within the size limits below. A mismatch is reported once, in one line
naming the file, instead of failing later inside a sampler step; a broken model
never replaces a working one of the same name.

Schema v1::

    {"schema_version": 1, "name": "...", "medium": "<a key of engine.media.registry>",
     "description": "...",
     "files": {"transformer": "transformer.onnx", "encoder": "...", "decoder": "..."},
     "tokens": {"vocab_size": V, "mask_id": M >= V, "shape": [...]},
     "io": {"tokens": "tokens", "logits": "logits", "condition": null,
            "side_inputs": [...optional float inputs the codec fills per window...]},
     "sampling": {...SamplerSettings fields...},
     "medium_facts": {...}, "license": "...", "data": "..."}
"""

from __future__ import annotations

import json
import logging
import math
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn

from engine.manifest import (
    _SAMPLER_FIELDS,
    SCHEMA_VERSION,
    ModelError,
    ModelManifest,
)
from engine.media.registry import medium, medium_keys
from engine.model_graphs import ModelIO, check_transformer_graph, graph_info
from engine.paths import bundled_models_dir, env_models_dirs, user_models_dir
from engine.sampling.types import SCHEDULES, SELECTORS, SamplerSettings

__all__ = [
    "MANIFEST_FILE",
    "SCHEMA_VERSION",
    "ModelError",
    "ModelManifest",
    "ModelRegistry",
    "default_model_dirs",
    "load_manifest",
]

_log = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.json"

MAX_VOCAB_SIZE = 1 << 20
"""Largest ``tokens.vocab_size`` (and ``mask_id``) accepted: far above any codebook."""
MAX_SEQUENCE = 1 << 16
"""Most tokens in one window (``tokens.shape`` multiplied out)."""
MAX_LOGITS = 1 << 28
"""Most logits one window produces (N x V floats, 1 GiB as float32), so a sampler step fits."""

_TOP_REQUIRED = ("schema_version", "name", "medium", "files", "tokens", "io")
_TOP_OPTIONAL = ("description", "sampling", "medium_facts", "license", "data")


_SAMPLER_TYPES: dict[str, type] = typing.get_type_hints(SamplerSettings)
_SAMPLER_CHOICES: dict[str, tuple[str, ...]] = {"schedule": SCHEDULES, "selector": SELECTORS}
_SAMPLER_MINIMUM: dict[str, float] = {"steps": 1, "variations": 1, "top_k": 0, "temperature": 0}


# --------------------------------------------------------------------------- JSON reading


class _Section:
    """One JSON object of the manifest, with typed getters that fail with the key's dotted name."""

    def __init__(self, file: Path, data: Mapping[str, Any], prefix: str = "") -> None:
        self.file = file
        self.data = data
        self.prefix = prefix

    def fail(self, problem: str) -> NoReturn:
        raise ModelError(self.file, problem)

    def where(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def check_keys(self, required: Sequence[str], optional: Sequence[str] = ()) -> None:
        missing = [k for k in required if k not in self.data]
        if missing:
            self.fail(f"missing key {self.where(missing[0])}")
        unknown = sorted(set(self.data) - set(required) - set(optional))
        if unknown:
            known = ", ".join([*required, *optional])
            self.fail(f"unknown key {self.where(unknown[0])} (known: {known})")

    def value(self, key: str, kind: type | tuple[type, ...], kind_name: str) -> Any:
        raw = self.data[key]
        if isinstance(raw, bool) and kind is not bool or not isinstance(raw, kind):
            self.fail(f"{self.where(key)} must be {kind_name}, got {json.dumps(raw)[:40]}")
        return raw

    def text(self, key: str, default: str | None = None) -> str:
        if key not in self.data and default is not None:
            return default
        text: str = self.value(key, str, "a string")
        return text

    def optional_text(self, key: str) -> str | None:
        if self.data.get(key) is None:
            return None
        return self.text(key)

    def integer(self, key: str) -> int:
        number: int = self.value(key, int, "an integer")
        return number

    def section(self, key: str) -> _Section:
        data = self.value(key, dict, "an object") if key in self.data else {}
        return _Section(self.file, data, f"{self.where(key)}.")


def _read_json(file: Path) -> dict[str, Any]:
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError(file, "missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(file, f"cannot be read: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(
            file, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(data, dict):
        raise ModelError(file, "must contain a JSON object")
    return data


# --------------------------------------------------------------------------- manifest parts


def _read_files(top: _Section, folder: Path) -> dict[str, str]:
    section = top.section("files")
    if "transformer" not in section.data:
        top.fail("missing key files.transformer")
    files = {role: section.text(role) for role in section.data}
    for role, name in files.items():
        relative = PurePosixPath(name)
        if not name or relative.is_absolute() or ".." in relative.parts:
            top.fail(f"files.{role} {name!r} must be a path inside the model folder")
        if not (folder / name).is_file():
            raise ModelError(folder / name, f"missing (files.{role} in {top.file.name})")
    return files


def _read_tokens(top: _Section) -> tuple[int, int, tuple[int, ...]]:
    section = top.section("tokens")
    section.check_keys(("vocab_size", "mask_id", "shape"))
    vocab_size, mask_id = section.integer("vocab_size"), section.integer("mask_id")
    shape = section.value("shape", list, "a list of positive integers")
    if not 1 <= vocab_size <= MAX_VOCAB_SIZE:
        top.fail(
            f"tokens.vocab_size must be 1..{MAX_VOCAB_SIZE} (MAX_VOCAB_SIZE), got {vocab_size}"
        )
    if mask_id > MAX_VOCAB_SIZE:
        top.fail(f"tokens.mask_id {mask_id} is beyond {MAX_VOCAB_SIZE} (MAX_VOCAB_SIZE)")
    if 0 <= mask_id < vocab_size:
        top.fail(f"tokens.mask_id {mask_id} is inside the vocabulary [0, {vocab_size})")
    if mask_id < 0:
        top.fail(f"tokens.mask_id must be >= vocab_size {vocab_size}, got {mask_id}")
    if not shape or not all(
        isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape
    ):
        top.fail(f"tokens.shape must be a non-empty list of positive integers, got {shape}")
    length = math.prod(shape)
    if length > MAX_SEQUENCE:
        top.fail(
            f"tokens.shape {shape} is {length} tokens, more than {MAX_SEQUENCE} (MAX_SEQUENCE)"
        )
    if length * vocab_size > MAX_LOGITS:
        top.fail(
            f"{length} tokens x {vocab_size} codes is more than {MAX_LOGITS} logits a window "
            "(MAX_LOGITS)"
        )
    return vocab_size, mask_id, tuple(shape)


def _read_io(top: _Section) -> ModelIO:
    section = top.section("io")
    section.check_keys(("tokens", "logits"), ("condition", "side_inputs"))
    side = section.data.get("side_inputs") or []
    if not isinstance(side, list) or not all(isinstance(n, str) and n for n in side):
        section.fail(f"{section.where('side_inputs')} must be a list of input names")
    return ModelIO(
        section.text("tokens"),
        section.text("logits"),
        section.optional_text("condition"),
        tuple(side),
    )


def _sampling_value(section: _Section, key: str) -> Any:
    kind = _SAMPLER_TYPES[key]
    if kind is float:
        value: Any = float(section.value(key, (int, float), "a number"))
    elif kind is int:
        value = section.integer(key)
    else:
        value = section.text(key)
    if key in _SAMPLER_CHOICES and value not in _SAMPLER_CHOICES[key]:
        section.fail(
            f"{section.where(key)} {value!r} is not one of {', '.join(_SAMPLER_CHOICES[key])}"
        )
    if key in _SAMPLER_MINIMUM and value < _SAMPLER_MINIMUM[key]:
        section.fail(f"{section.where(key)} must be at least {_SAMPLER_MINIMUM[key]}, got {value}")
    return value


def _read_sampling(top: _Section) -> SamplerSettings:
    section = top.section("sampling")
    section.check_keys((), sorted(_SAMPLER_FIELDS))
    values = {key: _sampling_value(section, key) for key in section.data}
    try:
        return SamplerSettings(**values)
    except (TypeError, ValueError) as exc:
        top.fail(f"sampling: {exc}")


def _read_header(top: _Section) -> tuple[str, str]:
    top.check_keys(_TOP_REQUIRED, _TOP_OPTIONAL)
    version = top.integer("schema_version")
    if version != SCHEMA_VERSION:
        top.fail(f"schema_version {version} is not supported (this remask reads {SCHEMA_VERSION})")
    name, medium_key = top.text("name"), top.text("medium")
    if not name.strip():
        top.fail("name must not be empty")
    if not name.isprintable() or len(name) > 100:
        top.fail(f"name {name[:40]!r} must be printable text of at most 100 characters")
    known = medium_keys()
    if medium_key not in known:
        top.fail(f"medium {medium_key!r} is not one of {', '.join(known)}")
    return name, medium_key


# --------------------------------------------------------------------------- loading


def load_manifest(folder: Path) -> ModelManifest:
    """Read and fully validate ``folder/manifest.json`` against its files and graph.

    Raises :class:`ModelError` (one line, naming the offending file).
    """
    folder = Path(folder)
    file = folder / MANIFEST_FILE
    top = _Section(file, _read_json(file))
    name, medium_key = _read_header(top)
    vocab_size, mask_id, shape = _read_tokens(top)
    io = _read_io(top)
    sampling = _read_sampling(top)
    medium_facts = dict(top.section("medium_facts").data)
    files = _read_files(top, folder)
    graphs = {
        role: graph_info(folder / relative)
        for role, relative in files.items()
        if role == "transformer" or relative.lower().endswith(".onnx")
    }
    transformer = folder / files["transformer"]
    check_transformer_graph(transformer, graphs["transformer"], io, vocab_size, math.prod(shape))
    manifest = ModelManifest(
        name=name,
        medium=medium_key,
        description=top.text("description", ""),
        folder=folder,
        files=files,
        vocab_size=vocab_size,
        mask_id=mask_id,
        shape=shape,
        tokens_input=io.tokens,
        logits_output=io.logits,
        condition_input=io.condition,
        side_inputs=io.side_inputs,
        sampling=sampling,
        medium_facts=medium_facts,
        license=top.text("license", ""),
        data=top.text("data", ""),
        size_bytes=sum((folder / f).stat().st_size for f in files.values()),
        graphs=graphs,
    )
    _check_for_medium(manifest, file)
    return manifest


def _check_for_medium(manifest: ModelManifest, file: Path) -> None:
    """The medium's own check: every fact, file and graph its codec will use."""
    spec = medium(manifest.medium)
    if spec.check_model is None:
        return
    try:
        spec.check_model(manifest)
    except (ValueError, KeyError, TypeError, OSError) as exc:
        problem = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise ModelError(file, f"the {spec.label} codec cannot use this model: {problem}") from None


def default_model_dirs() -> list[Path]:
    """Bundled models, then the user's, then ``REMASK_MODELS_PATH``; later folders win clashes."""
    return [bundled_models_dir(), user_models_dir(), *env_models_dirs()]


def _model_folders(directory: Path) -> list[Path]:
    """``directory`` itself when it is a model folder, else its sub-folders that hold a manifest."""
    if (directory / MANIFEST_FILE).is_file():
        return [directory]
    if not directory.is_dir():
        return []
    return sorted(child for child in directory.iterdir() if (child / MANIFEST_FILE).is_file())


@dataclass
class ModelRegistry:
    """Models found on disk, by name. A broken model is one line in ``errors``; the rest load."""

    models: dict[str, ModelManifest] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    searched: list[Path] = field(default_factory=list)

    @classmethod
    def discover(cls, dirs: Sequence[Path] | None = None) -> ModelRegistry:
        """Scan ``dirs`` (default :func:`default_model_dirs`) in order."""
        registry = cls(searched=[Path(d) for d in (default_model_dirs() if dirs is None else dirs)])
        seen: set[Path] = set()
        for directory in registry.searched:
            try:
                folders = _model_folders(directory)
            except OSError as exc:
                registry._error(f"{directory}: cannot be listed: {exc.strerror or exc}")
                continue
            for folder in folders:
                if folder.resolve() not in seen:
                    seen.add(folder.resolve())
                    registry._load(folder)
        return registry

    def _load(self, folder: Path) -> None:
        try:
            manifest = load_manifest(folder)
        except ModelError as exc:
            self._error(str(exc) + self._kept(folder))
            return
        previous = self.models.get(manifest.name)
        if previous is not None:
            note = f"model {manifest.name!r} in {folder} replaces the one in {previous.folder}"
            _log.info("%s", note)
            self.notes.append(note)
        self.models[manifest.name] = manifest

    def _kept(self, folder: Path) -> str:
        """Where a working model of the broken one's name stays in use ("" when none yet)."""
        try:
            name = _read_json(folder / MANIFEST_FILE).get("name")
        except ModelError:
            return ""
        kept = self.models.get(name) if isinstance(name, str) else None
        return f" (model {name!r} from {kept.folder} stays in use)" if kept else ""

    def _error(self, line: str) -> None:
        _log.info("skipping model: %s", line)  # callers show .errors themselves
        self.errors.append(line)

    def get(self, name: str) -> ModelManifest:
        """The model called ``name``; KeyError lists the known names."""
        try:
            return self.models[name]
        except KeyError:
            known = ", ".join(sorted(self.models)) or "none"
            raise KeyError(f"no model named {name!r} (known: {known})") from None

    def for_medium(self, medium: str) -> list[ModelManifest]:
        """Models for one medium, sorted by name."""
        return sorted((m for m in self.models.values() if m.medium == medium), key=lambda m: m.name)
