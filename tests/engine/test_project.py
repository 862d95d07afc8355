"""Project files (.remask) without Qt: each medium's round trip with its undo history, and bad
files refused with one clean line before any document is built."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.media.image.document import ImageDocument
from engine.media.image.export import encode_image
from engine.media.image.files import LoadedImage, decode_image
from engine.media.midi import read_score
from engine.media.midi.document import RollDocument
from engine.media.motion.bvh import parse_bvh
from engine.media.motion.document import MotionDocument
from engine.project import (
    FORMAT_VERSION,
    Project,
    ProjectError,
    decode_project,
    read_project,
    save_project,
)
from engine.sampling.types import SamplerSettings
from tests.engine.midi.midi_files import chorale, midi_bytes
from tests.engine.motion.synthetic_bvh import bandai_like


def picture(seed: int = 0, alpha: bool = True) -> LoadedImage:
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    return LoadedImage.from_rgb(
        rgb, rng.integers(0, 256, (24, 32), dtype=np.uint8) if alpha else None
    )


def picture16() -> LoadedImage:
    rng = np.random.default_rng(5)
    high = rng.integers(0, 65536, (16, 20, 4), dtype=np.uint16)
    source = LoadedImage(np.zeros((16, 20, 3), np.uint8), mode="RGBA", bit_depth=16, high=high)
    return decode_image(encode_image(source, "PNG")[0], "high.png")


def reopen(tmp_path: Path, project: Project) -> Project:
    path = tmp_path / "work.remask"
    save_project(path, project)
    return read_project(path)


def edited_image(image: LoadedImage) -> tuple[ImageDocument, list[tuple[np.ndarray, ...]]]:
    """A document with a stroke, an accepted edit and an extended canvas; its states in order."""
    document = ImageDocument(image, "photo.png")
    states = [state_of(document)]
    document.fill_rectangle((2, 2), (10, 8))
    states.append(state_of(document))
    changed = document.image.rgb.copy()
    changed[2:8, 2:10] = 7
    document.accept(LoadedImage.from_rgb(changed, document.image.alpha))
    states.append(state_of(document))
    document.extend_canvas(4, 0, 0, 2)
    states.append(state_of(document))
    document.fill_rectangle((0, 0), (3, 3), value=False)
    states.append(state_of(document))
    return document, states


def state_of(document: ImageDocument) -> tuple[np.ndarray, ...]:
    image = document.image
    parts = [image.rgb, document.mask, image.alpha, image.high]
    return tuple(np.array(p, copy=True) for p in parts if p is not None)


def same(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> bool:
    return len(a) == len(b) and all(
        x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("image", [picture(), picture(1, alpha=False), picture16()])
def test_an_image_project_reopens_with_its_whole_history(
    tmp_path: Path, image: LoadedImage
) -> None:
    document, states = edited_image(image)
    document.undo()  # one step waits in redo
    settings = SamplerSettings(steps=7, seed=3, variations=2)
    back = reopen(tmp_path, Project("image", document, "photo.png", "tiny", settings))
    assert (back.medium, back.name, back.model) == ("image", "photo.png", "tiny")
    assert back.sampler == settings
    doc = back.document
    assert isinstance(doc, ImageDocument) and doc.name == "photo.png"
    assert same(state_of(doc), states[3])
    assert doc.redo() and same(state_of(doc), states[4])
    for expected in reversed(states[:4]):
        doc.undo()
        assert same(state_of(doc), expected)
    assert not doc.can_undo
    for expected in states[1:]:  # and forward again, through the canvas swap
        assert doc.redo() and same(state_of(doc), expected)


def test_a_midi_project_keeps_score_mask_and_note_history(tmp_path: Path) -> None:
    roll = RollDocument(read_score(midi_bytes(chorale(1, bars=4))))
    opened = roll.score.to_bytes()
    roll.paint_rect((1, 3), (0, 8))
    roll.delete_notes([0, 1])
    roll.add_note(0, 72, 4)
    edited, mask = roll.score.to_bytes(), roll.mask.copy()
    back = reopen(tmp_path, Project("midi", roll, "chorale.mid")).document
    assert isinstance(back, RollDocument)
    assert back.score.to_bytes() == edited and np.array_equal(back.mask, mask)
    assert len(back.notes) == len(roll.notes)
    for _ in range(3):
        assert back.undo()
    assert back.score.to_bytes() == opened and not back.has_mask() and not back.can_undo


def test_a_motion_project_keeps_exact_values_masks_and_history(tmp_path: Path) -> None:
    clip = parse_bvh(bandai_like(frames=40, seed=2))
    document = MotionDocument(clip, "walk.bvh")
    document.set_mask(4, 20, "upper")
    result = clip.with_motion(clip.motion + np.pi / 7)
    document.accept(result, document.snapshot())
    before_undo = (document.clip.motion.copy(), document.mask.copy(), document.generated.copy())
    back = reopen(tmp_path, Project("motion", document, "walk.bvh")).document
    assert isinstance(back, MotionDocument) and back.name == "walk.bvh"
    assert np.array_equal(back.clip.motion, before_undo[0])  # bit-exact, not BVH-rounded
    assert np.array_equal(back.mask, before_undo[1])
    assert np.array_equal(back.generated, before_undo[2])
    assert back.undo() and np.array_equal(back.clip.motion, clip.motion) and back.has_mask()
    assert not back.generated.any()
    assert back.undo() and not back.has_mask() and not back.can_undo


def project_bytes(tmp_path: Path) -> bytes:
    document, _ = edited_image(picture())
    path = tmp_path / "good.remask"
    save_project(path, Project("image", document, "photo.png"))
    return path.read_bytes()


def rewritten(data: bytes, change: dict[str, bytes | None]) -> bytes:
    """``data`` with members replaced (bytes) or removed (None)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if info.filename in change:
                continue
            target.writestr(info, source.read(info))
        for name, member in change.items():
            if member is not None:
                target.writestr(name, member)
    return out.getvalue()


def manifest_with(data: bytes, **fields: object) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        manifest = json.loads(source.read("manifest.json"))
    manifest.update(fields)
    return rewritten(data, {"manifest.json": json.dumps(manifest).encode()})


def history_with(data: bytes, edit: Callable[[dict[str, Any]], object]) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        manifest = json.loads(source.read("manifest.json"))
    edit(manifest["history"])
    return rewritten(data, {"manifest.json": json.dumps(manifest).encode()})


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)  # an object array must be refused, not loaded
    return buffer.getvalue()


BAD_CASES: dict[str, Callable[[bytes], bytes]] = {
    "empty": lambda d: b"",
    "truncated": lambda d: d[: len(d) // 2],
    "bit flip": lambda d: d[:100] + bytes([d[100] ^ 0xFF]) + d[101:],
    "no manifest": lambda d: rewritten(d, {"manifest.json": None}),
    "manifest not json": lambda d: rewritten(d, {"manifest.json": b"{ nope"}),
    "manifest a list": lambda d: rewritten(d, {"manifest.json": b"[]"}),
    "newer version": lambda d: manifest_with(d, version=FORMAT_VERSION + 1),
    "version text": lambda d: manifest_with(d, version="1"),
    "foreign format": lambda d: manifest_with(d, format="other"),
    "unknown medium": lambda d: manifest_with(d, medium="smell"),
    "medium a number": lambda d: manifest_with(d, medium=3),
    "model a number": lambda d: manifest_with(d, model=3),
    "sampler wrong type": lambda d: manifest_with(d, sampler={"steps": "many"}),
    "no picture": lambda d: rewritten(d, {"document.png": None}),
    "picture garbage": lambda d: rewritten(d, {"document.png": b"\x89PNG broken"}),
    "mask wrong shape": lambda d: rewritten(d, {"mask.npy": npy(np.zeros((3, 3), bool))}),
    "mask wrong type": lambda d: rewritten(d, {"mask.npy": npy(np.zeros((30, 36), np.float32))}),
    "mask object array": lambda d: rewritten(d, {"mask.npy": npy(np.array([{}], object))}),
    "history missing": lambda d: history_with(d, lambda h: h.pop("undo")),
    "step without atoms": lambda d: history_with(d, lambda h: h["undo"][0].update(atoms=[])),
    "box outside": lambda d: history_with(
        d, lambda h: h["undo"][-1]["atoms"][0].update(bbox=[[0, 999], [0, 3]])
    ),
    "box wrong axes": lambda d: history_with(
        d, lambda h: h["undo"][-1]["atoms"][0].update(bbox=[[0, 3]])
    ),
    "unknown target": lambda d: history_with(
        d, lambda h: h["undo"][-1]["atoms"][0].update(edit="nose")
    ),
    "dangling value": lambda d: history_with(
        d, lambda h: h["undo"][-1]["atoms"][0].update(old={"array": "values/999.npy"})
    ),
    "swap of the wrong shape": lambda d: history_with(
        d, lambda h: h["undo"][0]["atoms"].insert(0, {"swap": "mask", "old": None, "new": None})
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_project_files_are_one_clean_error(tmp_path: Path, case: str) -> None:
    data = BAD_CASES[case](project_bytes(tmp_path))
    with pytest.raises(ProjectError) as caught:
        decode_project(data, "bad.remask")
    message = str(caught.value)
    assert message.startswith("bad.remask") and "\n" not in message, message


def test_a_newer_project_says_so(tmp_path: Path) -> None:
    data = manifest_with(project_bytes(tmp_path), version=FORMAT_VERSION + 1)
    with pytest.raises(ProjectError, match="newer remask"):
        decode_project(data, "new.remask")


def test_a_folder_or_missing_file_is_a_clean_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="folder"):
        read_project(tmp_path)
    with pytest.raises(ProjectError, match="cannot be read"):
        read_project(tmp_path / "absent.remask")


def test_saving_over_a_project_is_atomic_and_leaves_no_temporary(tmp_path: Path) -> None:
    document, _ = edited_image(picture())
    path = tmp_path / "work.remask"
    save_project(path, Project("image", document, "photo.png"))
    document.clear_mask()
    save_project(path, Project("image", document, "photo.png"))
    assert [p.name for p in tmp_path.iterdir()] == ["work.remask"]
    assert not read_project(path).document.has_mask()
