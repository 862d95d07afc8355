"""Image training data: BSDS500 photos from the shared zip, random crops, inpainting-shaped masks.

Splits: ``train`` + ``val`` (300 photos) train; ``test`` (200 photos) is held out for
evaluation only. Pixels are uint8 RGB [H, W, 3] until a batch is made; batches are
float32 NCHW in [-1, 1] (the manifest's ``pixel_range``). Nothing is copied into the repo:
the zip is read in place.

Masks come in two sizes:

* pixel masks (``brush_mask``, ``block_mask``): free-form strokes like the DeepFill v2 /
  LaMa training masks, used to train the context-aware decoder and by the evaluation;
* token masks (``training_masks``): what the transformer learns to fill, a mixture of
  MaskGIT's cosine-schedule random masks and strokes/blocks brought to the token grid the
  way the engine does it (a token is editable when any of its pixels is masked).
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

UInt8Array = npt.NDArray[np.uint8]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float32]

ZIP_RELATIVE = Path("images") / "bsds500" / "bsds500_images.zip"
TRAIN_SPLITS = ("train", "val")
TEST_SPLIT = "test"


def default_data_dir() -> Path:
    return Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


def zip_path(data: Path) -> Path:
    """The BSDS500 zip under ``data`` (data root, the bsds500 folder, or the zip itself)."""
    data = Path(data)
    for candidate in (data, data / "bsds500_images.zip", data / ZIP_RELATIVE):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no BSDS500 zip at {data} (expected {data / ZIP_RELATIVE})")


def load_split(
    data: Path, splits: Sequence[str] | str, limit: int | None = None
) -> list[UInt8Array]:
    """Decoded RGB photos of the given split(s), sorted by file name within each split."""
    names_wanted = (splits,) if isinstance(splits, str) else tuple(splits)
    images: list[UInt8Array] = []
    with zipfile.ZipFile(zip_path(data)) as archive:
        for split in names_wanted:
            names = sorted(
                n
                for n in archive.namelist()
                if n.startswith(f"images/{split}/") and n.endswith(".jpg")
            )
            if not names:
                raise FileNotFoundError(f"split {split!r} is empty in {zip_path(data)}")
            for name in names[: limit if limit else None]:
                pil = Image.open(io.BytesIO(archive.read(name))).convert("RGB")
                images.append(np.asarray(pil, dtype=np.uint8))
    return images


def synthetic_images(count: int, size: int = 96, seed: int = 0) -> list[UInt8Array]:
    """Smooth gradients with a few flat shapes and stripes: a stand-in when the data is missing."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    images = []
    for _ in range(count):
        base = rng.uniform(0, 255, 3) + rng.uniform(-80, 80, 3) * xx[..., None]
        base = base + rng.uniform(-80, 80, 3) * yy[..., None]
        image = np.clip(base, 0, 255).astype(np.uint8)
        for _ in range(3):
            centre = tuple(int(v) for v in rng.integers(0, size, 2))
            colour = tuple(int(v) for v in rng.integers(0, 256, 3))
            cv2.circle(image, centre, int(rng.integers(4, size // 4)), colour, -1)
        period = int(rng.integers(3, 9))
        stripes = (np.arange(size) // period % 2).astype(bool)
        image[: size // 3, stripes] = image[: size // 3, stripes] // 2
        images.append(image)
    return images


# --------------------------------------------------------------------------- crops and batches


def random_crops(
    images: Sequence[UInt8Array], rng: np.random.Generator, count: int, size: int
) -> UInt8Array:
    """``count`` random ``size``-square crops uint8 [count, size, size, 3], half mirrored."""
    crops = np.empty((count, size, size, 3), dtype=np.uint8)
    picks = rng.integers(0, len(images), count)
    for i, pick in enumerate(picks):
        image = images[pick]
        top = int(rng.integers(0, image.shape[0] - size + 1))
        left = int(rng.integers(0, image.shape[1] - size + 1))
        crop = image[top : top + size, left : left + size]
        crops[i] = crop[:, ::-1] if rng.random() < 0.5 else crop
    return crops


def to_model_range(pixels: UInt8Array) -> FloatArray:
    """uint8 [B, H, W, 3] -> float32 NCHW in [-1, 1]."""
    return np.ascontiguousarray(pixels.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0)


def from_model_range(values: FloatArray) -> UInt8Array:
    """float32 NCHW in [-1, 1] -> uint8 [B, H, W, 3]."""
    unit = (np.asarray(values, dtype=np.float32) + 1.0) * 127.5
    return np.ascontiguousarray(
        np.clip(np.rint(unit), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
    )


# --------------------------------------------------------------------------- pixel masks


def _stroke(mask: UInt8Array, rng: np.random.Generator, max_width: int) -> None:
    """One free-form stroke: a random walk of 2-6 segments drawn with round joints."""
    height, width = mask.shape
    y, x = float(rng.uniform(0, height)), float(rng.uniform(0, width))
    thickness = int(rng.integers(max(2, max_width // 4), max_width + 1))
    angle = rng.uniform(0, 2 * math.pi)
    for _ in range(int(rng.integers(2, 7))):
        angle += rng.uniform(-1.2, 1.2)
        length = rng.uniform(0.1, 0.45) * max(height, width)
        ny = float(np.clip(y + length * math.sin(angle), 0, height - 1))
        nx = float(np.clip(x + length * math.cos(angle), 0, width - 1))
        cv2.line(mask, (int(x), int(y)), (int(nx), int(ny)), 1, thickness)
        cv2.circle(mask, (int(nx), int(ny)), thickness // 2, 1, -1)
        y, x = ny, nx


def brush_mask(
    rng: np.random.Generator,
    shape: tuple[int, int],
    coverage: tuple[float, float] = (0.1, 0.4),
    max_width: int | None = None,
) -> BoolArray:
    """Free-form brush strokes covering a fraction of the area drawn uniformly from ``coverage``.

    Strokes are added until the target is reached; a draw that overshoots the upper bound
    is thrown away and redrawn (so the coverage always lies inside the range).
    """
    height, width = shape
    max_width = max_width or max(4, min(height, width) // 6)
    for _ in range(100):
        target = rng.uniform(*coverage)
        mask = np.zeros(shape, dtype=np.uint8)
        while mask.mean() < target:
            _stroke(mask, rng, max_width)
        if mask.mean() <= coverage[1]:
            return mask.astype(bool)
    return mask.astype(bool)


def block_mask(
    rng: np.random.Generator, shape: tuple[int, int], coverage: tuple[float, float] = (0.05, 0.5)
) -> BoolArray:
    """One to three random rectangles, total area roughly inside ``coverage``."""
    height, width = shape
    mask = np.zeros(shape, dtype=bool)
    target = rng.uniform(*coverage)
    for _ in range(int(rng.integers(1, 4))):
        side = math.sqrt(target * height * width / 2)
        h = int(np.clip(side * rng.uniform(0.5, 2.0), 2, height))
        w = int(np.clip(side * side * 2 / max(h, 1) * rng.uniform(0.5, 1.0), 2, width))
        top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
        mask[top : top + h, left : left + w] = True
        if mask.mean() >= target:
            break
    return mask


def training_pixel_mask(rng: np.random.Generator, shape: tuple[int, int]) -> BoolArray:
    """Decoder training holes: everything (plain VQ decode) 20 %, strokes 50 %, blocks 30 %."""
    draw = rng.random()
    if draw < 0.2:
        return np.ones(shape, dtype=bool)
    if draw < 0.7:
        return brush_mask(rng, shape, (0.05, 0.6))
    return block_mask(rng, shape, (0.05, 0.6))


# --------------------------------------------------------------------------- token masks


def tokens_of_pixels(pixel_mask: BoolArray, patch: int) -> BoolArray:
    """Editable tokens of a pixel mask (any covered pixel).

    The same rule as ``engine.media.image.codec.token_mask``.
    """
    height, width = pixel_mask.shape
    return pixel_mask.reshape(height // patch, patch, width // patch, patch).any(axis=(1, 3))


def cosine_token_mask(rng: np.random.Generator, rows: int, cols: int) -> BoolArray:
    """MaskGIT training mask: ratio cos(pi/2 * r), r ~ U(0, 1), at random positions (>= 1 token)."""
    count = rows * cols
    masked = max(1, math.ceil(math.cos(math.pi / 2 * rng.random()) * count))
    flat = np.zeros(count, dtype=bool)
    flat[rng.permutation(count)[:masked]] = True
    return flat.reshape(rows, cols)


def training_masks(
    rng: np.random.Generator, rows: int, cols: int, patch: int = 8
) -> tuple[BoolArray, BoolArray]:
    """(token mask [rows, cols], pixel hole [rows*patch, cols*patch]) of one training window:
    cosine random 40 %, strokes 40 %, blocks 20 %.

    Strokes and blocks are drawn on the pixel grid and brought to tokens as the engine
    does, so the transformer sees the hole shapes a user paints. A cosine random mask has
    no pixel shape: its hole is the masked tokens' pixels.
    """
    draw = rng.random()
    if draw < 0.4:
        mask = cosine_token_mask(rng, rows, cols)
        return mask, np.repeat(np.repeat(mask, patch, axis=0), patch, axis=1)
    return painted_hole(rng, rows, cols, patch, strokes=draw < 0.8)


def painted_hole(
    rng: np.random.Generator, rows: int, cols: int, patch: int, strokes: bool
) -> tuple[BoolArray, BoolArray]:
    """(token mask [rows, cols], pixel hole [rows*patch, cols*patch]) of brush strokes over
    3-50 % of the window, or of blocks, brought to tokens as the engine does (never empty)."""
    shape = (rows * patch, cols * patch)
    pixels = brush_mask(rng, shape, (0.03, 0.5)) if strokes else block_mask(rng, shape)
    mask = tokens_of_pixels(pixels, patch)
    if not mask.any():
        row, col = int(rng.integers(0, rows)), int(rng.integers(0, cols))
        mask[row, col] = True
        pixels[row * patch : (row + 1) * patch, col * patch : (col + 1) * patch] = True
    return mask, pixels


# --------------------------------------------------------------------------- token maps


WindowPosition = tuple[int, int, int]  # (map index, top token row, left token column)


def window_positions(
    maps: Sequence[npt.NDArray[np.int64]], rng: np.random.Generator, count: int, grid: int
) -> list[WindowPosition]:
    """Where ``count`` random ``grid``-square windows lie in the token maps."""
    positions = []
    for pick in rng.integers(0, len(maps), count):
        token_map = maps[pick]
        top = int(rng.integers(0, token_map.shape[0] - grid + 1))
        left = int(rng.integers(0, token_map.shape[1] - grid + 1))
        positions.append((int(pick), top, left))
    return positions


def gather_token_windows(
    maps: Sequence[npt.NDArray[np.int64]], positions: Sequence[WindowPosition], grid: int
) -> npt.NDArray[np.int64]:
    out = np.empty((len(positions), grid, grid), dtype=np.int64)
    for i, (pick, top, left) in enumerate(positions):
        out[i] = maps[pick][top : top + grid, left : left + grid]
    return out


def gather_pixel_windows(
    views: Sequence[UInt8Array], positions: Sequence[WindowPosition], grid: int, patch: int
) -> UInt8Array:
    """The photo pixels uint8 [count, grid*patch, grid*patch, 3] under token windows
    (``views[i]`` is the photo that token map ``i`` encodes)."""
    size = grid * patch
    return np.stack(
        [
            views[pick][top * patch : top * patch + size, left * patch : left * patch + size]
            for pick, top, left in positions
        ]
    )
