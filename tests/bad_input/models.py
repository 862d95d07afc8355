"""Broken model folders, generated from one small working model of each medium.

Each :class:`ModelCase` changes a copy of a working folder: a manifest field, a
fact its codec reads, or a file (an ONNX graph swapped for one with other
inputs, a damaged ``skeleton.json``). Every case must be reported as broken when
found, in one line, and must never replace a working model of the same name.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx

from tests.engine.image.test_codec import build_encoder, write_image_model
from tests.engine.motion.test_codec import write_tiny_motion_folder
from tests.tinymodels import write_tiny_model

Manifest = dict[str, Any]
Change = Callable[[Path], object]
"""What a case does to a copy of a working model folder."""
MIDI_FACTS = {"pitch_min": 60, "pitch_max": 70, "rest_token": 11, "window_steps": 8}


def write_midi_model(root: Path) -> Path:
    return write_tiny_model(root, "midi", "midi", 12, (4, 8), medium_facts=dict(MIDI_FACTS))


def write_motion_model(root: Path) -> Path:
    return write_tiny_motion_folder(root / "motion", name="motion")


def write_image(root: Path) -> Path:
    return write_image_model(root, name="image")


SEEDS: dict[str, Callable[[Path], Path]] = {
    "midi": write_midi_model,
    "image": write_image,
    "motion": write_motion_model,
}


@dataclass(frozen=True)
class ModelCase:
    """A change to a copy of the working ``seed`` model's folder."""

    id: str
    seed: str
    change: Change


def manifest_edit(edit: Callable[[Manifest], object]) -> Change:
    def change(folder: Path) -> None:
        file = folder / "manifest.json"
        manifest = json.loads(file.read_text())
        edit(manifest)
        file.write_text(json.dumps(manifest))

    return change


def facts(**values: object) -> Change:
    return manifest_edit(lambda m: m["medium_facts"].update(values))


def tokens(**values: object) -> Change:
    return manifest_edit(lambda m: m["tokens"].update(values))


def write_file(name: str, data: bytes) -> Change:
    return lambda folder: (folder / name).write_bytes(data)


def copy_file(source: str, target: str) -> Change:
    return lambda folder: shutil.copyfile(folder / source, folder / target)


def _deep_skeleton(folder: Path) -> None:
    joints = [{"name": "Hips", "parent": -1, "offset": [0, 0, 0], "channels": ["Xrotation"]}]
    joints += [
        {"name": f"j{i}", "parent": i, "offset": [0, 1, 0], "channels": ["Xrotation"]}
        for i in range(3000)
    ]
    (folder / "skeleton.json").write_text(json.dumps({"joints": joints}))


def _skeleton_edit(edit: Callable[[Manifest], object]) -> Change:
    def change(folder: Path) -> None:
        record = json.loads((folder / "skeleton.json").read_text())
        edit(record)
        (folder / "skeleton.json").write_text(json.dumps(record))

    return change


def _shared_cases() -> dict[str, Change]:
    """Manifest damage any medium's model can have."""
    return {
        "manifest-not-json": write_file("manifest.json", b"{ not json"),
        "manifest-empty": write_file("manifest.json", b""),
        "manifest-array": write_file("manifest.json", b"[]"),
        "manifest-latin1": write_file("manifest.json", b'{"name": "\xe9"}'),
        "name-empty": manifest_edit(lambda m: m.update(name="")),
        "name-escape": manifest_edit(lambda m: m.update(name="evil\x1b[31mred")),
        "name-newline": manifest_edit(lambda m: m.update(name="two\nlines")),
        "name-huge": manifest_edit(lambda m: m.update(name="n" * 5000)),
        "name-number": manifest_edit(lambda m: m.update(name=7)),
        "medium-unknown": manifest_edit(lambda m: m.update(medium="smell")),
        "schema-2": manifest_edit(lambda m: m.update(schema_version=2)),
        "unknown-key": manifest_edit(lambda m: m.update(extra=1)),
        "vocab-zero": tokens(vocab_size=0),
        "vocab-huge": tokens(vocab_size=10**9, mask_id=10**9),
        "vocab-float": tokens(vocab_size=12.5),
        "mask-inside": tokens(mask_id=0),
        "mask-negative": tokens(mask_id=-1),
        "mask-huge": tokens(mask_id=10**15),
        "shape-empty": tokens(shape=[]),
        "shape-zero": tokens(shape=[0, 8]),
        "shape-huge": tokens(shape=[100_000, 100_000]),
        "shape-text": tokens(shape=["a", 2]),
        "io-tokens-wrong": manifest_edit(lambda m: m["io"].update(tokens="nope")),
        "io-logits-wrong": manifest_edit(lambda m: m["io"].update(logits="nope")),
        "io-side-bogus": manifest_edit(lambda m: m["io"].update(side_inputs=["bogus"])),
        "steps-zero": manifest_edit(lambda m: m.setdefault("sampling", {}).update(steps=0)),
        "temperature-negative": manifest_edit(
            lambda m: m.setdefault("sampling", {}).update(temperature=-1)
        ),
        "schedule-unknown": manifest_edit(
            lambda m: m.setdefault("sampling", {}).update(schedule="x")
        ),
        "transformer-missing": lambda folder: (folder / "transformer.onnx").unlink(),
        "transformer-outside": manifest_edit(lambda m: m["files"].update(transformer="../x")),
        "transformer-garbage": write_file("transformer.onnx", b"\x00garbage"),
        "transformer-empty": write_file("transformer.onnx", b""),
    }


def _medium_cases() -> dict[str, dict[str, Change]]:
    return {
        "midi": {
            "rest-negative": facts(rest_token=-1),
            "rest-is-a-pitch": facts(rest_token=5),
            "rest-outside-vocab": facts(rest_token=12),
            "pitch-min-200": facts(pitch_min=200),
            "pitch-max-below-min": facts(pitch_min=70, pitch_max=60),
            "steps-per-quarter-zero": facts(steps_per_quarter=0),
            "steps-per-quarter-fraction": facts(steps_per_quarter=4.5),
            "steps-per-quarter-huge": facts(steps_per_quarter=10**6),
            "window-steps-zero": facts(window_steps=0),
            "window-steps-text": facts(window_steps="8"),
            "three-voices": manifest_edit(lambda m: m["tokens"].update(shape=[3, 8])),
        },
        "image": {
            "patch-zero": facts(patch_size=0),
            "patch-negative": facts(patch_size=-8),
            "patch-text": facts(patch_size="8"),
            "window-zero": facts(window=0),
            "window-not-multiple": facts(window=60),
            "window-one-side": facts(window=[64]),
            "window-huge": facts(window=10**6),
            "pixel-range-flat": facts(pixel_range=[1, 1]),
            "pixel-range-text": facts(pixel_range=["a", 1]),
            "pixel-range-nan": manifest_edit(
                lambda m: m["medium_facts"].update(pixel_range=[-1, float("nan")])
            ),
            "no-encoder": manifest_edit(lambda m: m["files"].pop("encoder")),
            "encoder-garbage": write_file("encoder.onnx", b"\x08\x01garbage"),
            "decoder-is-encoder": copy_file("encoder.onnx", "decoder.onnx"),
            "encoder-is-decoder": copy_file("decoder.onnx", "encoder.onnx"),
            "encoder-is-transformer": copy_file("transformer.onnx", "encoder.onnx"),
            "encoder-not-onnx": manifest_edit(lambda m: m["files"].update(encoder="manifest.json")),
        },
        "motion": {
            "fps-zero": facts(fps=0),
            "fps-text": facts(fps="30"),
            "fps-huge": facts(fps=1e9),
            "frames-per-token-zero": facts(frames_per_token=0),
            "window-not-multiple": facts(window_frames=30),
            "window-mismatch": facts(window_frames=64),
            "no-decoder": manifest_edit(lambda m: m["files"].pop("decoder")),
            "encoder-is-decoder": copy_file("decoder.onnx", "encoder.onnx"),
            "decoder-is-encoder": copy_file("encoder.onnx", "decoder.onnx"),
            "encoder-from-image": lambda folder: onnx.save(
                build_encoder(), str(folder / "encoder.onnx")
            ),
            "skeleton-garbage": write_file("skeleton.json", b"not json"),
            "skeleton-empty-object": write_file("skeleton.json", b"{}"),
            "skeleton-list": write_file("skeleton.json", b"[1, 2]"),
            "skeleton-deep": _deep_skeleton,
            "skeleton-bad-parent": _skeleton_edit(lambda r: r["joints"][1].update(parent=99)),
            "skeleton-bad-channel": _skeleton_edit(
                lambda r: r["joints"][0].update(channels=["Wrotation"])
            ),
            "skeleton-huge-offset": _skeleton_edit(
                lambda r: r["joints"][1].update(offset=[1e308, 0, 0])
            ),
            "skeleton-unknown-rig": _skeleton_edit(
                lambda r: [j.update(name=f"bone{i}") for i, j in enumerate(r["joints"])]
            ),
            "skeleton-mean-pose-nan": _skeleton_edit(
                lambda r: r.update(mean_pose={"Hips": [[float("nan")] * 3] * 3}, foot_floor_cm=0)
            ),
        },
    }


def model_cases() -> list[ModelCase]:
    """Every broken-model case: the shared damage for each medium, then each medium's own."""
    cases = [
        ModelCase(f"{seed}-{name}", seed, change)
        for seed in SEEDS
        for name, change in _shared_cases().items()
    ]
    for seed, changes in _medium_cases().items():
        cases += [ModelCase(f"{seed}-{name}", seed, change) for name, change in changes.items()]
    return cases
