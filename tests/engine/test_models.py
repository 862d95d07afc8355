"""Manifest validation (one-line errors naming the file) and model discovery."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import engine
from engine.media.registry import register_medium, unregister_medium
from engine.models import ModelError, ModelRegistry, default_model_dirs, load_manifest
from engine.sampling.types import SamplerSettings
from tests.tinymodels import write_tiny_model
from tests.toy_medium import spec as toy_medium

Manifest = dict[str, Any]
FACTS = {"pitch_min": 60, "pitch_max": 70, "rest_token": 11}
"""A MIDI token contract that fits a 12-token vocabulary."""


@pytest.fixture(autouse=True)
def _isolated_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the real user data dir and any REMASK_MODELS_PATH out of these tests."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("REMASK_MODELS_PATH", raising=False)


def edit_manifest(folder: Path, change: Callable[[Manifest], None]) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def load_error(folder: Path) -> str:
    with pytest.raises(ModelError) as info:
        load_manifest(folder)
    message = str(info.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- valid


def test_valid_manifest_loads_with_typed_fields(tmp_path: Path) -> None:
    folder = write_tiny_model(
        tmp_path, medium="midi", vocab_size=12, shape=(4, 8), medium_facts=FACTS
    )
    manifest = load_manifest(folder)
    assert (manifest.name, manifest.medium, manifest.folder) == ("tiny", "midi", folder)
    assert (manifest.vocab_size, manifest.mask_id, manifest.shape, manifest.length) == (
        12,
        12,
        (4, 8),
        32,
    )
    assert (manifest.tokens_input, manifest.logits_output, manifest.condition_input) == (
        "tokens",
        "logits",
        None,
    )
    assert manifest.path("transformer") == folder / "transformer.onnx"
    assert manifest.size_bytes == (folder / "transformer.onnx").stat().st_size
    assert manifest.medium_facts == FACTS
    assert (manifest.license, manifest.description) == ("MIT", "tiny test model")
    assert manifest.sampling == SamplerSettings(steps=6, schedule="cosine", selector="confidence")
    assert manifest.default_settings(steps=3, seed=7) == SamplerSettings(steps=3, seed=7)
    assert hash(manifest) == hash(load_manifest(folder))


def test_manifest_helpers_reject_unknown_names(tmp_path: Path) -> None:
    manifest = load_manifest(write_tiny_model(tmp_path))
    with pytest.raises(TypeError, match="sched_pow"):
        manifest.default_settings(sched_pow=2)
    with pytest.raises(KeyError, match="has no 'decoder' file"):
        manifest.path("decoder")


def test_conditional_model_loads(tmp_path: Path) -> None:
    manifest = load_manifest(write_tiny_model(tmp_path, with_condition=True))
    assert manifest.condition_input == "condition"


def test_sampling_numbers_accept_ints_for_floats(tmp_path: Path) -> None:
    folder = write_tiny_model(tmp_path)
    edit_manifest(folder, lambda m: m["sampling"].update(temperature=2, top_k=5))
    assert load_manifest(folder).sampling.temperature == 2.0


# --------------------------------------------------------------------------- broken manifests


def _set(section: str, key: str, value: Any) -> Callable[[Manifest], None]:
    return lambda m: m[section].__setitem__(key, value)


MANIFEST_ERRORS: list[tuple[str, Callable[[Manifest], None], str]] = [
    ("missing key", lambda m: m.pop("tokens"), "missing key tokens"),
    (
        "missing nested key",
        lambda m: m["tokens"].pop("vocab_size"),
        "missing key tokens.vocab_size",
    ),
    ("unknown top key", lambda m: m.update(sampleing={}), "unknown key sampleing"),
    ("unknown medium", lambda m: m.update(medium="video"), "medium 'video' is not one of"),
    ("unknown sampling key", _set("sampling", "sched_pow", 2), "unknown key sampling.sched_pow"),
    (
        "bad schedule",
        _set("sampling", "schedule", "cubic"),
        "sampling.schedule 'cubic' is not one of",
    ),
    ("bad steps", _set("sampling", "steps", 0), "sampling.steps must be at least"),
    ("string for int", _set("tokens", "vocab_size", "12"), "tokens.vocab_size must be an integer"),
    ("bool for int", _set("sampling", "steps", True), "sampling.steps must be an integer"),
    (
        "mask inside vocab",
        _set("tokens", "mask_id", 3),
        "tokens.mask_id 3 is inside the vocabulary [0, 12)",
    ),
    ("bad shape", _set("tokens", "shape", [4, 0]), "tokens.shape must be"),
    ("schema version", lambda m: m.update(schema_version=2), "schema_version 2 is not supported"),
    (
        "files escape",
        _set("files", "transformer", "../x.onnx"),
        "must be a path inside the model folder",
    ),
    ("no transformer", lambda m: m.update(files={}), "missing key files.transformer"),
    (
        "side inputs not a list",
        _set("io", "side_inputs", "known"),
        "io.side_inputs must be a list of input names",
    ),
]


@pytest.mark.parametrize(
    ("change", "fragment"), [c[1:] for c in MANIFEST_ERRORS], ids=[c[0] for c in MANIFEST_ERRORS]
)
def test_broken_manifest_is_one_line_naming_it(
    tmp_path: Path, change: Callable[[Manifest], None], fragment: str
) -> None:
    folder = write_tiny_model(tmp_path)
    edit_manifest(folder, change)
    message = load_error(folder)
    assert message.startswith(f"{folder / 'manifest.json'}: ")
    assert fragment in message


def test_the_medium_is_one_the_media_registry_knows(tmp_path: Path) -> None:
    folder = write_tiny_model(tmp_path, medium="toy2")
    assert "medium 'toy2' is not one of image, midi, motion, tokens" in load_error(folder)
    register_medium(dataclasses.replace(toy_medium.SPEC, key="toy2"))
    try:
        assert load_manifest(folder).medium == "toy2"
    finally:
        unregister_medium("toy2")
    assert "medium 'toy2' is not one of" in load_error(folder)


def test_mask_id_error_reads_exactly(tmp_path: Path) -> None:
    folder = write_tiny_model(tmp_path)
    edit_manifest(folder, _set("tokens", "mask_id", 3))
    assert (
        load_error(folder)
        == f"{folder}/manifest.json: tokens.mask_id 3 is inside the vocabulary [0, 12)"
    )


@pytest.mark.parametrize("text", ["{", '{"name": "x",}', "[1, 2]", ""])
def test_bad_json_is_one_line(tmp_path: Path, text: str) -> None:
    folder = write_tiny_model(tmp_path)
    (folder / "manifest.json").write_text(text)
    assert load_error(folder).startswith(f"{folder / 'manifest.json'}: ")


def test_missing_manifest(tmp_path: Path) -> None:
    assert load_error(tmp_path) == f"{tmp_path / 'manifest.json'}: missing"


def test_missing_onnx_file_is_named(tmp_path: Path) -> None:
    folder = write_tiny_model(tmp_path)
    (folder / "transformer.onnx").unlink()
    assert load_error(folder).startswith(f"{folder / 'transformer.onnx'}: missing")


@pytest.mark.parametrize("damage", ["random", "truncated", "empty"])
def test_corrupt_onnx_is_named(tmp_path: Path, damage: str) -> None:
    folder = write_tiny_model(tmp_path)
    onnx_file = folder / "transformer.onnx"
    data = onnx_file.read_bytes()
    corrupt = {"random": os.urandom(2048), "truncated": data[: len(data) // 2], "empty": b""}[
        damage
    ]
    onnx_file.write_bytes(corrupt)
    message = load_error(folder)
    assert message.startswith(f"{onnx_file}: not a loadable ONNX model (")


def test_corrupt_optional_onnx_file_is_named(tmp_path: Path) -> None:
    folder = write_tiny_model(tmp_path)
    (folder / "decoder.onnx").write_bytes(b"not onnx")
    edit_manifest(folder, _set("files", "decoder", "decoder.onnx"))
    assert load_error(folder).startswith(f"{folder / 'decoder.onnx'}: not a loadable ONNX model (")


GRAPH_ERRORS: list[tuple[str, dict[str, Any], Callable[[Manifest], None], str]] = [
    ("token input name", {}, _set("io", "tokens", "ids"), "has no input 'ids' (io.tokens)"),
    ("logits name", {}, _set("io", "logits", "scores"), "has no output 'scores' (io.logits)"),
    (
        "vocab",
        {},
        lambda m: m["tokens"].update(vocab_size=13, mask_id=13),
        "V = 12 but tokens.vocab_size is 13",
    ),
    ("length", {}, _set("tokens", "shape", [4, 4]), "N = 32 but tokens.shape multiplies to 16"),
    (
        "condition absent",
        {},
        _set("io", "condition", "condition"),
        "has no input 'condition' (io.condition)",
    ),
    (
        "condition undeclared",
        {"with_condition": True},
        _set("io", "condition", None),
        "is not declared",
    ),
    (
        "side input absent",
        {},
        _set("io", "side_inputs", ["known"]),
        "has no input 'known' (io.side_inputs)",
    ),
    (
        "side input undeclared",
        {"side_inputs": {"known": (8, 2)}},
        _set("io", "side_inputs", []),
        "input 'known' is not declared",
    ),
]


@pytest.mark.parametrize(
    ("kwargs", "change", "fragment"),
    [g[1:] for g in GRAPH_ERRORS],
    ids=[g[0] for g in GRAPH_ERRORS],
)
def test_graph_disagreeing_with_manifest_names_the_onnx_file(
    tmp_path: Path, kwargs: dict[str, Any], change: Callable[[Manifest], None], fragment: str
) -> None:
    folder = write_tiny_model(tmp_path, **kwargs)
    edit_manifest(folder, change)
    message = load_error(folder)
    assert message.startswith(f"{folder / 'transformer.onnx'}: ")
    assert fragment in message


# --------------------------------------------------------------------------- registry


def test_registry_keeps_good_models_when_one_is_broken(tmp_path: Path) -> None:
    write_tiny_model(tmp_path, name="good", medium="midi")
    write_tiny_model(tmp_path, name="other")  # the toy medium: its check accepts any grid
    broken = write_tiny_model(tmp_path, name="broken")
    (broken / "transformer.onnx").write_bytes(b"\x00garbage")
    registry = ModelRegistry.discover([tmp_path])
    assert sorted(registry.models) == ["good", "other"]
    assert len(registry.errors) == 1 and str(broken / "transformer.onnx") in registry.errors[0]
    assert [m.name for m in registry.for_medium("midi")] == ["good"]
    assert registry.for_medium("motion") == []
    assert registry.get("good").medium == "midi"
    with pytest.raises(KeyError, match="no model named 'nope'.*good, other"):
        registry.get("nope")


def test_default_dirs_are_bundle_then_user_then_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(
        "REMASK_MODELS_PATH", os.pathsep.join([str(tmp_path / "a"), "", str(tmp_path / "b")])
    )
    bundle = Path(engine.__file__).resolve().parent.parent / "assets" / "models"
    assert default_model_dirs() == [
        bundle,
        tmp_path / "xdg" / "remask" / "models",
        tmp_path / "a",
        tmp_path / "b",
    ]


def test_env_path_is_scanned_and_later_duplicates_win(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = write_tiny_model(tmp_path / "one", name="dup", medium="midi")
    second = write_tiny_model(tmp_path / "two", name="dup")
    single = write_tiny_model(
        tmp_path / "three", name="direct"
    )  # a model folder itself on the path
    paths = [tmp_path / "one", tmp_path / "missing", tmp_path / "two", single]
    monkeypatch.setenv("REMASK_MODELS_PATH", os.pathsep.join(map(str, paths)))
    registry = ModelRegistry.discover()
    assert registry.get("dup").folder == second
    assert registry.get("direct").folder == single
    assert registry.errors == []
    assert (
        len(registry.notes) == 1
        and str(first) in registry.notes[0]
        and str(second) in registry.notes[0]
    )
