"""Kept variations in project files: real results of the shipped models (two variations, fixed
seed, few steps) saved with their documents, read back equal, and Accept on the reopened
document gives exactly what it gave before saving. Damaged variation parts are one clean line."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.jobs import GenerateRequest, run_model_windows
from engine.media.image.codec import ImageCodec
from engine.media.image.document import ImageDocument
from engine.media.image.edit import ImageEdit, ImageEditCodec
from engine.media.image.files import load_image
from engine.media.midi import MidiCodec, read_score
from engine.media.midi.document import RollDocument
from engine.media.motion.bvh import parse_bvh
from engine.media.motion.document import MotionDocument
from engine.media.registry import medium
from engine.models import ModelRegistry
from engine.paths import bundled_models_dir
from engine.project import (
    FORMAT_VERSION,
    KeptVariations,
    Project,
    ProjectError,
    decode_project,
    read_project,
    save_project,
    snapshot_project,
)
from engine.project_variations import MAX_KEPT_VARIATIONS
from engine.runtime import load_transformer
from tests.engine.motion.synthetic_bvh import bandai_like

SAMPLES = Path(__file__).resolve().parents[2] / "assets" / "samples"
STEPS = 4


@cache
def shipped() -> ModelRegistry:
    return ModelRegistry.discover([bundled_models_dir()])


def generate(model: str, payload: Any, codec: Any) -> list[Any]:
    """Two variations of ``payload`` by the shipped ``model`` (seed 7, a few steps)."""
    manifest = shipped().get(model)
    settings = manifest.default_settings(steps=STEPS, seed=7, variations=2)
    request = GenerateRequest(0, model, settings, payload, codec)
    results, _ = run_model_windows(
        request, load_transformer(manifest), manifest.mask_id, lambda _p: None, lambda: False
    )
    return results


def image_offer() -> tuple[ImageDocument, KeptVariations[Any, Any]]:
    document = ImageDocument(load_image(SAMPLES / "photo.png"), "photo.png")
    document.fill_rectangle((40, 30), (72, 60))
    codec = ImageCodec(shipped().get("image-maskgit"))
    image, mask = document.snapshot()
    edit = ImageEdit.plan(codec, image, mask, "regions")
    results = generate("image-maskgit", edit, ImageEditCodec(codec))
    region = np.logical_or.reduce(edit.regions())
    return document, KeptVariations(tuple(results), region, shown=1)


def midi_offer() -> tuple[RollDocument, KeptVariations[Any, Any]]:
    document = RollDocument(read_score((SAMPLES / "chorale.mid").read_bytes()))
    document.mask_bars(1, 2, [1, 2])
    codec = MidiCodec.from_manifest(shipped().get("chorale-satb"))
    payload = document.payload(codec.model.contract)
    results = generate("chorale-satb", payload, codec)
    return document, KeptVariations(tuple(results), payload.cell_mask.copy(), shown=1)


def motion_offer() -> tuple[MotionDocument, KeptVariations[Any, Any]]:
    document = MotionDocument(parse_bvh(bandai_like(frames=64, seed=4).encode()), "walk.bvh")
    document.set_mask(20, 39, "upper")
    payload = document.snapshot()
    codec = medium("motion").codec(shipped().get("motion-mmm"))
    results = generate("motion-mmm", payload, codec)
    return document, KeptVariations(tuple(results), payload, shown=1)


OFFERS: dict[str, Callable[[], tuple[Any, KeptVariations[Any, Any]]]] = {
    "image": image_offer,
    "midi": midi_offer,
    "motion": motion_offer,
}


def accepted_state(key: str, document: Any, kept: KeptVariations[Any, Any]) -> Any:
    """Accept the shown variation; the document's content afterwards, comparable with ==."""
    item = kept.items[kept.shown]
    if key == "image":
        document.accept(item, kept.context)
        return document.image.rgb.tobytes()
    if key == "midi":
        document.accept(item)
        return document.score.to_bytes()
    document.accept(item, kept.context)
    return (document.clip.motion.tobytes(), document.generated.tobytes())


def item_bytes(key: str, item: Any, context: Any) -> bytes:
    if key == "image":
        return bytes(item.rgb[context].tobytes())
    if key == "midi":
        return bytes(item.to_bytes())
    return bytes(item.motion.tobytes())


@cache
def saved(key: str) -> tuple[bytes, Any]:
    """A project with its offer (bytes), and what Accept gives on the original document."""
    document, kept = OFFERS[key]()
    data = snapshot_project(Project(key, document, f"{key} doc", variations=kept)).to_bytes()
    expected = accepted_state(key, document, kept)
    return data, (kept, expected)


@pytest.mark.parametrize("key", sorted(OFFERS))
def test_kept_variations_survive_save_and_reopen_and_accept_the_same(
    tmp_path: Path, key: str
) -> None:
    data, (kept, expected) = saved(key)
    path = tmp_path / "work.remask"
    path.write_bytes(data)
    back = read_project(path)
    assert back.variations is not None
    restored = back.variations
    assert len(restored.items) == 2 and restored.shown == 1
    for a, b in zip(kept.items, restored.items, strict=True):
        assert item_bytes(key, a, kept.context) == item_bytes(key, b, kept.context)
    assert item_bytes(key, kept.items[0], kept.context) != item_bytes(
        key, kept.items[1], kept.context
    )  # two real, different variations
    if key == "motion":
        assert (restored.context.first, restored.context.last, restored.context.part) == (
            20,
            39,
            "upper",
        )
    else:
        assert np.array_equal(restored.context, kept.context)
    assert accepted_state(key, back.document, restored) == expected
    assert back.document.undo()  # Accept is still one undo step


def test_a_project_without_an_offer_has_no_variations_and_version_1_still_opens(
    tmp_path: Path,
) -> None:
    document = RollDocument(read_score((SAMPLES / "chorale.mid").read_bytes()))
    path = save_project(tmp_path / "plain.remask", Project("midi", document, "chorale.mid"))
    assert read_project(path).variations is None
    old = _with_manifest(path.read_bytes(), lambda m: m.update(version=1))
    assert decode_project(old, "old.remask").document.score.to_bytes() == (
        document.score.to_bytes()
    )
    manifest = json.loads(zipfile.ZipFile(path).read("manifest.json"))
    assert manifest["version"] == FORMAT_VERSION == 2 and "variations" not in manifest


def test_more_than_the_cap_keeps_the_first_sixteen() -> None:
    kept = KeptVariations.of(list(range(40)), None, shown=30)
    assert kept is not None and len(kept.items) == MAX_KEPT_VARIATIONS and kept.shown == 0
    assert KeptVariations.of([], None) is None
    with pytest.raises(ValueError):
        KeptVariations((1, 2), None, shown=2)


# --------------------------------------------------------------------------- damaged parts


def _rewritten(data: bytes, changes: dict[str, bytes | None]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if info.filename in changes:
                continue
            target.writestr(info, source.read(info.filename))
        for name, content in changes.items():
            if content is not None:
                target.writestr(name, content)
    return out.getvalue()


def _with_manifest(data: bytes, edit: Callable[[dict[str, Any]], Any]) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        manifest = json.loads(source.read("manifest.json"))
    edit(manifest)
    return _rewritten(data, {"manifest.json": json.dumps(manifest).encode()})


def _variations(edit: Callable[[dict[str, Any]], Any]) -> Callable[[bytes], bytes]:
    return lambda data: _with_manifest(data, lambda m: edit(m["variations"]))


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _nan_like(data: bytes) -> bytes:
    """Variation 1's values, one of them NaN (right shape and type, wrong content)."""
    stored = np.load(io.BytesIO(zipfile.ZipFile(io.BytesIO(data)).read("variations/1.npy")))
    stored[5, 5] = np.nan
    return _npy(stored)


COMMON_CASES: dict[str, Callable[[bytes], bytes]] = {
    "record a list": lambda d: _with_manifest(d, lambda m: m.update(variations=[1])),
    "count zero": _variations(lambda v: v.update(count=0)),
    "count huge": _variations(lambda v: v.update(count=10**9)),
    "count text": _variations(lambda v: v.update(count="2")),
    "count true": _variations(lambda v: v.update(count=True)),
    "shown outside": _variations(lambda v: v.update(shown=2)),
    "shown negative": _variations(lambda v: v.update(shown=-1)),
    "count over the members": _variations(lambda v: v.update(count=3)),
}

MEDIUM_CASES: dict[str, dict[str, Callable[[bytes], bytes]]] = {
    "image": {
        "no region": lambda d: _rewritten(d, {"variations/region.npy": None}),
        "region wrong shape": lambda d: _rewritten(
            d, {"variations/region.npy": _npy(np.ones((3, 3), bool))}
        ),
        "region object array": lambda d: _rewritten(
            d, {"variations/region.npy": _npy(np.array([{}], object))}
        ),
        "png garbage": lambda d: _rewritten(d, {"variations/1.png": b"\x89PNG broken"}),
        "png another size": lambda d: _rewritten(
            d, {"variations/1.png": zipfile.ZipFile(io.BytesIO(d)).read("document.png")}
        ),
    },
    "midi": {
        "no score": lambda d: _rewritten(d, {"variations/0.mid": None}),
        "score garbage": lambda d: _rewritten(d, {"variations/1.mid": b"MThd\x00\x00"}),
        "cells not voices": lambda d: _rewritten(
            d, {"variations/cells.npy": _npy(np.ones((7, 8), bool))}
        ),
        "cells floats": lambda d: _rewritten(
            d, {"variations/cells.npy": _npy(np.ones((4, 8), np.float32))}
        ),
    },
    "motion": {
        "range outside": _variations(lambda v: v.update(last=10_000)),
        "range reversed": _variations(lambda v: v.update(first=30, last=20)),
        "part unknown": _variations(lambda v: v.update(part="tail")),
        "values wrong shape": lambda d: _rewritten(d, {"variations/0.npy": _npy(np.zeros(3))}),
        "values not finite": lambda d: _rewritten(d, {"variations/1.npy": _nan_like(d)}),
    },
}

BAD = [(key, case, make) for key in OFFERS for case, make in COMMON_CASES.items()] + [
    (key, case, make) for key, cases in MEDIUM_CASES.items() for case, make in cases.items()
]


@pytest.mark.parametrize(("key", "case", "make"), BAD, ids=[f"{k}-{c}" for k, c, _ in BAD])
def test_a_damaged_variations_part_is_one_clean_error(
    key: str, case: str, make: Callable[[bytes], bytes]
) -> None:
    data, _ = saved(key)
    decode_project(data, "good.remask")  # the undamaged file opens
    with pytest.raises(ProjectError) as caught:
        decode_project(make(data), "bad.remask")
    message = str(caught.value)
    assert message.startswith("bad.remask: ") and "\n" not in message, message
    assert message.count("bad.remask") == 1, message  # said once, not wrapped twice
