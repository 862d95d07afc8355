"""Honest inpainting evaluation on held-out BSDS500 test photos: our model vs OpenCV.

Every hole is *painted* before it is filled (white, noise, or the same place of another
photo), so a fill that lets the erased pixels through scores badly instead of well: the
true photo is never left under the hole. Mask kinds (:data:`KINDS`): 3-px scratches,
10-30 px brush strokes, 48- and 96-px objects, holes of 25-40 % of a 128-px window, and
150-300 px holes in a 1024×768 photo (a test photo upscaled; so it is smoother than a
real 1024×768 photo). Our model runs as ``remask inpaint`` does (``ImageEdit`` over
``ImageEditCodec``, the ``regions`` strategy, manifest sampling, 3 variations, seed =
case index); OpenCV Telea and Navier-Stokes (radius 3) fill the same painted photos.

Metrics over the hole's pixels, averaged over cases (the original photo is the target; the
first variation is scored):

* PSNR (8-bit, all channels), L1 (mean absolute error, 0-255);
* SSIM: :func:`ssim_map` (7×7 uniform window, per channel) averaged over the hole;
* texture ratio: gradient energy (squared neighbour differences inside the hole) of the
  results over the originals', summed over the cases (a flat sky hole would make a
  per-case ratio explode); 1.0 = as much texture as the photos, blur scores low;
* diversity: per-pixel spread (standard deviation) across the variations, over the
  spread of the original's hole pixels; 0 for a deterministic method.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from engine.jobs import GenerateRequest, run_model_windows
from engine.media.image.codec import ImageCodec
from engine.media.image.edit import ImageEdit, ImageEditCodec
from engine.media.image.files import LoadedImage
from engine.models import ModelManifest, load_manifest
from engine.runtime import load_transformer
from engine.train.image import data as idata
from engine.train.image.metrics import (  # noqa: F401 - the report's metrics, re-exported
    diversity,
    gradient_energy,
    gradient_ratio,
    hole_l1,
    hole_psnr,
    hole_ssim,
    ssim_map,
)

KINDS = ("scratch", "brush", "object48", "object96", "large", "photo1024")
"""Mask kinds, in table order."""
KIND_LABELS = {
    "scratch": "3-px scratch",
    "brush": "brush strokes 10-30 px",
    "object48": "48-px object",
    "object96": "96-px object",
    "large": "hole of 25-40 % of the window",
    "photo1024": "150-300 px holes in a 1024×768 photo",
}
PAINTS = ("white", "noise", "photo")
"""What the hole is painted with before filling (``photo``: another test photo there)."""
WINDOW_CROP = 128
OBJECT96_CROP = 192
BIG_PHOTO = (768, 1024)
VARIATIONS = 3


@dataclass(frozen=True)
class Case:
    """One photo (the target) and its hole; ``donor`` is the other photo used for painting."""

    crop: np.ndarray  # uint8 [H, W, 3]
    mask: np.ndarray  # bool [H, W]
    donor: np.ndarray | None = None  # uint8 [H, W, 3]


@dataclass(frozen=True)
class Scores:
    """One method on one mask kind with one paint, averaged over ``cases``."""

    kind: str
    method: str
    paint: str
    psnr: float
    l1: float
    ssim: float
    texture: float
    diversity: float
    wins_vs_telea: int
    cases: int


# --------------------------------------------------------------------------- masks


def scratch_mask(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """One or two 3-px polylines across the crop (a scratch on a print)."""
    height, width = shape
    mask = np.zeros(shape, dtype=np.uint8)
    for _ in range(int(rng.integers(1, 3))):
        points = np.stack([rng.uniform(0, width, 3), rng.uniform(0, height, 3)], axis=1).astype(
            np.int32
        )
        cv2.polylines(mask, [points], False, 1, 3)
    return mask.astype(bool)


def stroke_mask(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Two or three brush strokes, each 10-30 px wide, of 2-4 segments."""
    height, width = shape
    mask = np.zeros(shape, dtype=np.uint8)
    for _ in range(int(rng.integers(2, 4))):
        thickness = int(rng.integers(10, 31))
        y, x = rng.uniform(0, height), rng.uniform(0, width)
        angle = rng.uniform(0, 2 * math.pi)
        for _ in range(int(rng.integers(2, 5))):
            angle += rng.uniform(-1.0, 1.0)
            length = rng.uniform(0.15, 0.4) * max(height, width)
            ny = float(np.clip(y + length * math.sin(angle), 0, height - 1))
            nx = float(np.clip(x + length * math.cos(angle), 0, width - 1))
            cv2.line(mask, (int(x), int(y)), (int(nx), int(ny)), 1, thickness)
            cv2.circle(mask, (int(nx), int(ny)), thickness // 2, 1, -1)
            y, x = ny, nx
    return mask.astype(bool)


def blob(
    rng: np.random.Generator, shape: tuple[int, int], extent: int, centre: tuple[int, int]
) -> np.ndarray:
    """A star-shaped object about ``extent`` px across (12 radii within ±20 %), at ``centre``."""
    angles = np.sort(rng.uniform(0, 2 * math.pi, 12))
    radii = extent / 2 * rng.uniform(0.8, 1.0, 12)
    points = np.stack(
        [centre[1] + radii * np.cos(angles), centre[0] + radii * np.sin(angles)], axis=1
    )
    mask = np.zeros(shape, dtype=np.uint8)
    cv2.fillPoly(mask, [np.rint(points).astype(np.int32)], 1)
    return mask.astype(bool)


def object_mask(rng: np.random.Generator, shape: tuple[int, int], extent: int) -> np.ndarray:
    """One object of ``extent`` px, somewhere its whole outline fits inside the crop."""
    half = extent // 2 + 2
    centre = (
        int(rng.integers(half, shape[0] - half + 1)),
        int(rng.integers(half, shape[1] - half + 1)),
    )
    return blob(rng, shape, extent, centre)


def large_mask(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """One object covering 25-40 % of the window (redrawn until it does)."""
    area = shape[0] * shape[1]
    mask = np.zeros(shape, dtype=bool)
    for _ in range(100):
        extent = int(math.sqrt(rng.uniform(0.25, 0.4) * area / 0.7))
        extent = min(extent, min(shape) - 6)
        mask = object_mask(rng, shape, extent)
        if 0.25 <= mask.mean() <= 0.4:
            return mask
    return mask


def big_photo_mask(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Two objects of 150-300 px in a 1024×768 photo, one in each half (so they never touch)."""
    mask = np.zeros(shape, dtype=bool)
    height, width = shape
    for left_half in (True, False):
        extent = int(rng.integers(150, 301))
        half = extent // 2 + 2
        low = half if left_half else width // 2 + half
        high = width // 2 - half if left_half else width - half
        centre = (int(rng.integers(half, height - half + 1)), int(rng.integers(low, high + 1)))
        mask |= blob(rng, shape, extent, centre)
    return mask


def kind_mask(kind: str, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    if kind == "scratch":
        return scratch_mask(rng, shape)
    if kind == "brush":
        return stroke_mask(rng, shape)
    if kind == "object48":
        return object_mask(rng, shape, 48)
    if kind == "object96":
        return object_mask(rng, shape, 96)
    if kind == "large":
        return large_mask(rng, shape)
    if kind == "photo1024":
        return big_photo_mask(rng, shape)
    raise ValueError(f"unknown mask kind {kind!r}; use one of {', '.join(KINDS)}")


# --------------------------------------------------------------------------- cases and paints


def _crop_size(kind: str) -> int:
    return OBJECT96_CROP if kind == "object96" else WINDOW_CROP


def _big_photo(image: np.ndarray) -> np.ndarray:
    """A test photo as a 1024×768 landscape (portrait photos are turned first), Lanczos."""
    if image.shape[0] > image.shape[1]:
        image = np.ascontiguousarray(np.rot90(image))
    return cv2.resize(image, (BIG_PHOTO[1], BIG_PHOTO[0]), interpolation=cv2.INTER_LANCZOS4)


def make_kind_cases(
    images: Sequence[np.ndarray], kind: str, count: int, seed: int = 0
) -> list[Case]:
    """``count`` cases of ``kind`` from photos spread over ``images``; the donor is the photo
    half the list away, cropped at the same place."""
    rng = np.random.default_rng([seed, KINDS.index(kind) if kind in KINDS else 99])
    picks = np.linspace(0, len(images) - 1, count).round().astype(int)
    cases = []
    for pick in picks:
        donor_image = images[(pick + len(images) // 2) % len(images)]
        if kind == "photo1024":
            photo, donor = _big_photo(images[pick]), _big_photo(donor_image)
        else:
            photo, donor = _same_crop(images[pick], donor_image, _crop_size(kind), rng)
        cases.append(Case(photo, kind_mask(kind, rng, photo.shape[:2]), donor))
    return cases


def _same_crop(
    image: np.ndarray, donor: np.ndarray, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    top = int(rng.integers(0, image.shape[0] - size + 1))
    left = int(rng.integers(0, image.shape[1] - size + 1))
    donor_top = min(top, donor.shape[0] - size)
    donor_left = min(left, donor.shape[1] - size)
    return (
        np.ascontiguousarray(image[top : top + size, left : left + size]),
        np.ascontiguousarray(donor[donor_top : donor_top + size, donor_left : donor_left + size]),
    )


def make_cases(images: Sequence[np.ndarray], count: int, size: int, seed: int = 0) -> list[Case]:
    """``count`` crops with seeded 10-40 % brush masks (the training recipe's quick check)."""
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


def painted(case: Case, paint: str, seed: int = 0) -> np.ndarray:
    """The photo with its hole painted over: what a user hands the inpainter."""
    result = case.crop.copy()
    if paint == "white":
        result[case.mask] = 255
    elif paint == "noise":
        rng = np.random.default_rng(seed)
        result[case.mask] = rng.integers(0, 256, (int(case.mask.sum()), 3), dtype=np.uint8)
    elif paint == "photo":
        if case.donor is None:
            raise ValueError("the 'photo' paint needs a case with a donor photo")
        result[case.mask] = case.donor[case.mask]
    elif paint != "true":
        raise ValueError(f"unknown paint {paint!r}; use one of {', '.join(PAINTS)}")
    return result


# --------------------------------------------------------------------------- metrics


def telea(case: Case, image: np.ndarray | None = None) -> np.ndarray:
    source = case.crop if image is None else image
    return cv2.inpaint(source, case.mask.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)


def navier_stokes(case: Case, image: np.ndarray | None = None) -> np.ndarray:
    source = case.crop if image is None else image
    return cv2.inpaint(source, case.mask.astype(np.uint8) * 255, 3, cv2.INPAINT_NS)


class EngineInpainter:
    """Our model as ``remask inpaint`` runs it: every crop window of the edit, in order."""

    def __init__(self, model_dir: Path, variations: int = VARIATIONS, **settings: object) -> None:
        self.manifest: ModelManifest = load_manifest(model_dir)
        self.codec = ImageCodec(self.manifest)
        self.model = load_transformer(self.manifest)
        self.settings = self.manifest.default_settings(variations=variations, **settings)

    def __call__(self, image: np.ndarray, mask: np.ndarray, seed: int) -> list[np.ndarray]:
        edit = ImageEdit.plan(self.codec, LoadedImage.from_rgb(image), mask, "regions")
        request = GenerateRequest(
            0,
            self.manifest.name,
            replace(self.settings, seed=seed),
            edit,
            ImageEditCodec(self.codec),
        )
        variations, _ = run_model_windows(
            request, self.model, self.manifest.mask_id, lambda step: None, lambda: False
        )
        return [np.asarray(v.rgb) for v in variations]


# --------------------------------------------------------------------------- the run


@dataclass
class _Tally:
    psnr: list[float]
    l1: list[float]
    ssim: list[float]
    texture: list[tuple[float, float]]  # gradient energy of (result, original) per case
    diversity: list[float]

    @staticmethod
    def empty() -> _Tally:
        return _Tally([], [], [], [], [])

    def add(self, results: Sequence[np.ndarray], case: Case) -> None:
        first, photo, hole = results[0], case.crop, case.mask
        self.psnr.append(hole_psnr(first, photo, hole))
        self.l1.append(hole_l1(first, photo, hole))
        self.ssim.append(hole_ssim(first, photo, hole))
        self.texture.append((gradient_energy(first, hole), gradient_energy(photo, hole)))
        self.diversity.append(diversity(results, photo, hole))

    def scores(self, kind: str, method: str, paint: str, telea_psnr: Sequence[float]) -> Scores:
        wins = sum(p > t for p, t in zip(self.psnr, telea_psnr, strict=True))
        return Scores(
            kind,
            method,
            paint,
            float(np.mean(self.psnr)),
            float(np.mean(self.l1)),
            float(np.mean(self.ssim)),
            sum(t[0] for t in self.texture) / max(sum(t[1] for t in self.texture), 1e-6),
            float(np.mean(self.diversity)),
            wins,
            len(self.psnr),
        )


Filler = Callable[[np.ndarray, Case, int], list[np.ndarray]]


def evaluate_kind(
    kind: str, cases: Sequence[Case], methods: dict[str, Filler], paints: Sequence[str]
) -> tuple[list[Scores], dict[str, bool]]:
    """Scores per method and paint on ``cases``, and per method whether its results were
    bit-identical whatever the hole was painted with."""
    tallies = {(m, p): _Tally.empty() for m in methods for p in paints}
    same = dict.fromkeys(methods, True)
    for index, case in enumerate(cases):
        for method, fill in methods.items():
            first: list[np.ndarray] | None = None
            for paint in paints:
                results = fill(painted(case, paint, seed=index), case, index)
                tallies[method, paint].add(results, case)
                if first is None:
                    first = results
                elif not all(np.array_equal(a, b) for a, b in zip(first, results, strict=True)):
                    same[method] = False
    telea_name = next(m for m in methods if m.startswith("OpenCV Telea"))
    rows = []
    for (method, paint), tally in tallies.items():
        rows.append(tally.scores(kind, method, paint, tallies[telea_name, paint].psnr))
    return rows, same


def standard_methods(model_dir: Path, variations: int = VARIATIONS) -> dict[str, Filler]:
    """Ours (manifest sampling, ``variations`` each), OpenCV Telea and Navier-Stokes."""
    ours = EngineInpainter(model_dir, variations=variations)
    return {
        "ours": lambda image, case, seed: ours(image, case.mask, seed),
        "OpenCV Telea": lambda image, case, seed: [telea(case, image)],
        "OpenCV Navier-Stokes": lambda image, case, seed: [navier_stokes(case, image)],
    }


@dataclass(frozen=True)
class Report:
    """One honest evaluation run: rows per kind, method and paint, and run facts."""

    rows: tuple[Scores, ...]
    paint_invariant: dict[str, bool]  # "kind/method" -> results identical across paints
    cases_per_kind: dict[str, int]
    seconds: float

    def to_json(self) -> dict[str, object]:
        from dataclasses import asdict

        return {
            "rows": [asdict(r) for r in self.rows],
            "paint_invariant": self.paint_invariant,
            "cases_per_kind": self.cases_per_kind,
            "seconds": self.seconds,
        }

    @staticmethod
    def from_json(data: dict[str, object]) -> Report:
        rows = tuple(Scores(**r) for r in data["rows"])  # type: ignore[attr-defined]
        return Report(
            rows,
            dict(data["paint_invariant"]),  # type: ignore[call-overload]
            dict(data["cases_per_kind"]),  # type: ignore[call-overload]
            float(data["seconds"]),  # type: ignore[arg-type]
        )


def evaluate(
    model_dir: Path,
    images: Sequence[np.ndarray],
    per_kind: dict[str, int],
    seed: int = 0,
    paints: Sequence[str] = PAINTS,
    log: Callable[[str], None] = print,
) -> Report:
    """Every kind in ``per_kind`` (kind -> number of photos), every paint, ours and OpenCV."""
    started = time.monotonic()
    methods = standard_methods(model_dir)
    rows: list[Scores] = []
    invariant: dict[str, bool] = {}
    for kind in (k for k in KINDS if per_kind.get(k)):
        cases = make_kind_cases(images, kind, per_kind[kind], seed)
        kind_rows, same = evaluate_kind(kind, cases, methods, paints)
        rows += kind_rows
        invariant.update({f"{kind}/{m}": v for m, v in same.items()})
        log(f"{kind}: {len(cases)} photos, {time.monotonic() - started:.0f} s")
    return Report(tuple(rows), invariant, dict(per_kind), time.monotonic() - started)


# --------------------------------------------------------------------------- tables


def _cells(r: Scores) -> str:
    diverse = f"{r.diversity:.2f}" if r.method == "ours" else "0"
    wins = "-" if r.method.startswith("OpenCV") else f"{r.wins_vs_telea} / {r.cases}"
    return f"{r.psnr:.2f} | {r.l1:.1f} | {r.ssim:.3f} | {r.texture:.2f} | {diverse} | {wins}"


def table(report: Report, before: Report | None = None) -> str:
    """Markdown: per kind, ours (and ours before the fix, when given) per paint, then OpenCV.

    A method whose results were bit-identical across the paints gets one row.
    """
    lines = [
        "| mask kind | method | paint | hole PSNR (dB) | L1 | SSIM | texture | diversity "
        "| beats Telea |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind in (k for k in KINDS if report.cases_per_kind.get(k)):
        label = f"{KIND_LABELS[kind]} ({report.cases_per_kind[kind]})"
        runs = [("ours", report, "ours")]
        if before is not None and before.cases_per_kind.get(kind):
            runs.insert(0, ("ours", before, "ours, before the fix"))
        runs += [(m, report, m) for m in ("OpenCV Telea", "OpenCV Navier-Stokes")]
        for method, run, name in runs:
            rows = [r for r in run.rows if r.kind == kind and r.method == method]
            if run.paint_invariant.get(f"{kind}/{method}"):
                paint_names = " = ".join(r.paint for r in rows)
                rows = rows[:1]
                rows = [replace(rows[0], paint=f"{paint_names} (identical)")]
            for r in rows:
                lines.append(f"| {label} | {name} | {r.paint} | {_cells(r)} |")
    return "\n".join(lines)


def headline(report: Report) -> dict[str, tuple[float, float]]:
    """Per kind: (ours, Telea) hole PSNR on the white paint, for the README and card notes."""
    out = {}
    for kind in (k for k in KINDS if report.cases_per_kind.get(k)):
        white = {r.method: r.psnr for r in report.rows if (r.kind, r.paint) == (kind, "white")}
        out[kind] = (white["ours"], white["OpenCV Telea"])
    return out
