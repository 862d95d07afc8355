"""Inpainting evaluation on held-out BSDS500 test photos: our model vs OpenCV Telea.

Each case is one window-sized crop of a test photo with a seeded free-form brush mask
covering 10-40 % of it. Our model runs through the real engine path (``ImageCodec`` +
``engine.jobs.run_model_generation`` -> ``engine.sampling.sample`` over onnxruntime sessions),
with the crop as the whole document and the ``resize`` strategy (scale 1: the crop is the
window). Telea (``cv2.inpaint``, radius 3) fills the same crops and masks.

Metrics, averaged over cases:

* hole PSNR: PSNR over the masked pixels only (all channels, 8-bit);
* gradient-energy ratio: sum of squared horizontal and vertical differences between
  neighbouring pixels that are both in the hole, result over original. 1.0 = as much
  texture as the photo had; blur scores low, noise scores high.

An "oracle tokens" row decodes the true tokens of the crop with the same decoder and
compositing: the ceiling for a perfect transformer with this tokenizer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from engine.jobs import GenerateRequest, run_model_generation
from engine.media.image.codec import ImageCodec, ImagePayload
from engine.media.image.files import LoadedImage
from engine.models import ModelManifest, load_manifest
from engine.runtime import load_transformer, session_for
from engine.train.image import data as idata


@dataclass(frozen=True)
class Case:
    crop: np.ndarray  # uint8 [S, S, 3]
    mask: np.ndarray  # bool [S, S]


@dataclass(frozen=True)
class Scores:
    name: str
    hole_psnr: float
    psnr_std: float
    gradient_ratio: float
    wins_vs_telea: int
    cases: int


def make_cases(images: Sequence[np.ndarray], count: int, size: int, seed: int = 0) -> list[Case]:
    """``count`` crops (images taken evenly over the list) with seeded 10-40 % brush masks."""
    rng = np.random.default_rng(seed)
    picks = np.linspace(0, len(images) - 1, count).round().astype(int)
    cases = []
    for pick in picks:
        image = images[pick]
        top = int(rng.integers(0, image.shape[0] - size + 1))
        left = int(rng.integers(0, image.shape[1] - size + 1))
        crop = np.ascontiguousarray(image[top : top + size, left : left + size])
        cases.append(Case(crop, idata.brush_mask(rng, (size, size), (0.1, 0.4))))
    return cases


def hole_psnr(result: np.ndarray, original: np.ndarray, mask: np.ndarray) -> float:
    diff = result[mask].astype(np.float64) - original[mask].astype(np.float64)
    return 10 * math.log10(255.0**2 / max(float((diff**2).mean()), 1e-10))


def gradient_energy(image: np.ndarray, mask: np.ndarray) -> float:
    values = image.astype(np.float64)
    dx = values[:, 1:] - values[:, :-1]
    dy = values[1:] - values[:-1]
    in_x = mask[:, 1:] & mask[:, :-1]
    in_y = mask[1:] & mask[:-1]
    return float((dx[in_x] ** 2).sum() + (dy[in_y] ** 2).sum())


def gradient_ratio(result: np.ndarray, original: np.ndarray, mask: np.ndarray) -> float:
    return gradient_energy(result, mask) / max(gradient_energy(original, mask), 1e-6)


def telea(case: Case) -> np.ndarray:
    return cv2.inpaint(case.crop, case.mask.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)


class EngineInpainter:
    """Our model through the engine: codec + sampler over onnxruntime, as the app runs it."""

    def __init__(self, model_dir: Path, **settings: object) -> None:
        self.manifest: ModelManifest = load_manifest(model_dir)
        self.codec = ImageCodec(self.manifest)
        self.model = load_transformer(self.manifest)
        self.settings = self.manifest.default_settings(**settings)

    def payload(self, case: Case) -> ImagePayload:
        (payload,) = self.codec.payloads(LoadedImage.from_rgb(case.crop), case.mask, "resize")
        return payload

    def __call__(self, case: Case, seed: int) -> np.ndarray:
        from dataclasses import replace

        request = GenerateRequest(
            generation=0,
            model_name=self.manifest.name,
            settings=replace(self.settings, seed=seed, variations=1),
            payload=self.payload(case),
            codec=self.codec,
        )
        variations, _ = run_model_generation(
            request, self.model, self.manifest.mask_id, lambda step: None, lambda: False
        )
        return np.asarray(variations[0].rgb)

    def oracle(self, case: Case) -> np.ndarray:
        """Decode the crop's true tokens (the ceiling of a perfect transformer)."""
        session = session_for(self.manifest.path("encoder"))
        pixels = self.codec._to_model_range(case.crop[None])  # noqa: SLF001 - same scaling
        (tokens,) = session.run(None, {session.get_inputs()[0].name: pixels})
        payload = self.payload(case)
        (result,) = self.codec.decode(payload, np.asarray(tokens).reshape(1, -1).astype(np.int64))
        return np.asarray(result.rgb)


def score(
    name: str,
    results: Sequence[np.ndarray],
    cases: Sequence[Case],
    telea_psnr: Sequence[float] | None = None,
) -> Scores:
    psnrs = [hole_psnr(r, c.crop, c.mask) for r, c in zip(results, cases, strict=True)]
    ratios = [gradient_ratio(r, c.crop, c.mask) for r, c in zip(results, cases, strict=True)]
    wins = sum(p > t for p, t in zip(psnrs, telea_psnr, strict=True)) if telea_psnr else 0
    return Scores(
        name, float(np.mean(psnrs)), float(np.std(psnrs)), float(np.mean(ratios)), wins, len(cases)
    )


def evaluate(
    model_dir: Path,
    cases: Sequence[Case],
    sampled: Sequence[tuple[str, dict[str, object]]] = (("ours", {}),),
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> list[Scores]:
    """Telea, the oracle tokens, and one row per sampler setting in ``sampled``."""
    telea_results = [telea(c) for c in cases]
    telea_scores = score("OpenCV Telea (radius 3)", telea_results, cases)
    telea_psnr = [hole_psnr(r, c.crop, c.mask) for r, c in zip(telea_results, cases, strict=True)]
    rows = []
    for name, settings in sampled:
        model = EngineInpainter(model_dir, **settings)
        results = [model(c, seed + i) for i, c in enumerate(cases)]
        rows.append(score(name, results, cases, telea_psnr))
        log(f"{rows[-1]}")
    oracle = EngineInpainter(model_dir)
    rows.append(
        score(
            "oracle: true tokens + our decoder",
            [oracle.oracle(c) for c in cases],
            cases,
            telea_psnr,
        )
    )
    rows.append(telea_scores)
    return rows


def table(rows: Sequence[Scores]) -> str:
    lines = [
        "| method | hole PSNR (dB), mean ± sd | gradient-energy ratio "
        "| crops beating Telea on PSNR |",
        "|---|---|---|---|",
    ]
    for r in rows:
        wins = "-" if r.name.startswith("OpenCV") else f"{r.wins_vs_telea} / {r.cases}"
        lines.append(
            f"| {r.name} | {r.hole_psnr:.2f} ± {r.psnr_std:.2f} | {r.gradient_ratio:.2f} | {wins} |"
        )
    return "\n".join(lines)
