"""`make bench`'s image part: whole edits through the codec, as ``remask inpaint`` runs them.

Issue 17's two cases: a 300-px hole in a 12-megapixel photo at native resolution (a
coarse fill, then the native-resolution tiles that refine it; target ≤ 3 s on the
project's CPU) and a hole that one native model window holds (≤ 1 s). Each edit is
planned, sampled (manifest settings, one variation), decoded and pasted; the photo is
the shipped sample, resized (its content does not change the work done).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from engine.jobs import GenerateRequest, run_model_windows
from engine.media.image.codec import ImageCodec
from engine.media.image.edit import ImageEdit, ImageEditCodec
from engine.media.image.files import LoadedImage
from engine.media.image.refine import DEFAULT_REFINEMENT, Refinement
from engine.models import ModelManifest
from engine.runtime import load_transformer
from engine.sampling.types import FloatArray, LogitsFn, SideInputs, TokenArray

SAMPLE_PHOTO = Path(__file__).resolve().parents[3] / "assets" / "samples" / "photo.png"
BIG_PHOTO = (3000, 4000)
"""12 megapixels (height, width)."""
BIG_HOLE = 300
WINDOW_PHOTO = (256, 256)
WINDOW_HOLE = 64


def photo(shape: tuple[int, int]) -> LoadedImage:
    """The sample photo resized to ``shape`` (height, width)."""
    with Image.open(SAMPLE_PHOTO) as image:
        resized = image.convert("RGB").resize((shape[1], shape[0]), Image.Resampling.BILINEAR)
    return LoadedImage.from_rgb(np.asarray(resized))


def square_hole(shape: tuple[int, int], side: int) -> np.ndarray:
    """A ``side``-px square hole in the middle of ``shape``, bool [H, W]."""
    mask = np.zeros(shape, dtype=np.bool_)
    top, left = (shape[0] - side) // 2, (shape[1] - side) // 2
    mask[top : top + side, left : left + side] = True
    return mask


class TimedModel:
    """The transformer, counting its calls and their time (ms) for the bench's split."""

    def __init__(self, manifest: ModelManifest) -> None:
        self.model = load_transformer(manifest)
        self.calls = 0
        self.ms = 0.0

    def logits_fn(
        self, condition: int | None = None, side_inputs: SideInputs | None = None
    ) -> LogitsFn:
        inner = self.model.logits_fn(condition, side_inputs)

        def run(tokens: TokenArray) -> FloatArray:
            start = time.perf_counter()
            logits = inner(tokens)
            self.calls += 1
            self.ms += (time.perf_counter() - start) * 1e3
            return logits

        return run


def edit_fn(
    manifest: ModelManifest,
    image: LoadedImage,
    mask: np.ndarray,
    refinement: Refinement | None,
    model: TimedModel,
) -> tuple[Callable[[], object], ImageEdit]:
    """One whole edit (plan, sample every window, decode, paste), one variation."""
    codec = ImageCodec(manifest)
    settings = manifest.default_settings(seed=0, variations=1)

    def run() -> object:
        edit = ImageEdit.plan(codec, image, mask, "regions", refinement)
        request = GenerateRequest(0, manifest.name, settings, edit, ImageEditCodec(codec))
        return run_model_windows(request, model, manifest.mask_id, lambda _: None, lambda: False)

    return run, ImageEdit.plan(codec, image, mask, "regions", refinement)


def median_ms(run: Callable[[], object], runs: int) -> float:
    run()  # warm-up: sessions and kernels
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def bench_image_edit(manifest: ModelManifest, runs: int) -> None:
    """Print the whole-edit times of issue 17's cases."""
    big, window = photo(BIG_PHOTO), photo(WINDOW_PHOTO)
    cases = (
        ("300-px hole, 12 MP, coarse + native tiles", big, BIG_HOLE, DEFAULT_REFINEMENT, 3000),
        ("300-px hole, 12 MP, coarse only", big, BIG_HOLE, None, None),
        (
            f"{WINDOW_HOLE}-px hole, {WINDOW_PHOTO[0]}-px photo",
            window,
            WINDOW_HOLE,
            DEFAULT_REFINEMENT,
            1000,
        ),
    )
    for label, image, side, refinement, target in cases:
        model = TimedModel(manifest)
        mask = square_hole(image.rgb.shape[:2], side)
        run, edit = edit_fn(manifest, image, mask, refinement, model)
        repeats = max(1, runs // 2) if image is big else runs
        ms = median_ms(run, repeats)
        step_ms, calls = model.ms / model.calls, model.calls // (repeats + 1)
        goal = f", target ≤ {target / 1000:.0f} s" if target else ""
        print(
            f"  whole edit, {label}: {ms:.0f} ms ({edit.count} windows{goal}); "
            f"{calls} transformer calls of {step_ms:.0f} ms, the rest {ms - calls * step_ms:.0f} ms"
        )
