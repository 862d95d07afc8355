"""Image files in and out: decoding every common format into one representation, and back.

A :class:`LoadedImage` is what an image document holds: ``rgb`` (uint8
[H, W, 3], RGB order, no BGR anywhere in remask) is what the canvas shows and
the model sees; ``alpha`` (uint8 [H, W] or None) travels beside it untouched
by generation; ``high`` keeps the source samples of a 16-bit file.

Write-back policy (why the extra arrays exist)
----------------------------------------------
Everything outside the mask must come back **bit-exact in the source depth**.
:func:`with_edit` replaces pixels only inside the edited region; outside it
``rgb``, ``alpha`` and ``high`` are the very arrays that were loaded.

* 8-bit sources keep their samples as loaded. Gray sources (L, LA, 1) stay
  gray: edited pixels are converted to gray with Pillow's own luma weights
  (which map R = G = B = v back to v exactly), so exporting as L loses nothing.
* 16-bit sources (I;16 gray, and 16-bit-per-channel gray+alpha, RGB and RGBA
  PNG/TIFF, which Pillow would otherwise cut to 8 bits) keep ``high`` (uint16
  [H, W, C], C = 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA). Edited pixels are
  widened with ``v * 257`` (the exact inverse of the 16→8 rounding), all
  others keep their 16-bit value, and PNG export writes 16 bits again.
* Palette (P/PA) sources are exported as RGB/RGBA: re-quantising generated
  pixels into the old palette would change them; kept pixels keep their colour.
* CMYK/YCbCr/LAB sources are converted to RGB on load (noted in ``notes``).

Every way a file can be bad ends in :class:`ImageError` with one line that a
dialog can show; Pillow's warnings about a file are kept out of the terminal
(they are noise beside that line). The image size is checked from the header
against :mod:`engine.media.image.limits` before any pixel is decoded. Exporting is
in ``engine.media.image.export``.
"""

from __future__ import annotations

import io
import os
import struct
import sys
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from engine.media.image.limits import MAX_PIXELS, MAX_PIXELS_16BIT

__all__ = [
    "MAX_PIXELS",
    "BoolArray",
    "ImageError",
    "LoadedImage",
    "UInt8Array",
    "UInt16Array",
    "decode_image",
    "edit_colors",
    "extend_canvas",
    "extend_for_outpainting",
    "extend_image",
    "load_image",
    "luma",
    "to_8bit",
    "with_box_edit",
    "with_box_edits",
    "with_edit",
]

UInt8Array = npt.NDArray[np.uint8]
UInt16Array = npt.NDArray[np.uint16]
BoolArray = npt.NDArray[np.bool_]

OPEN_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF")
"""Pillow plugins we let identify a file (JPEG covers MPO); others (EPS runs Ghostscript) never."""

_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I;16", "I;16B", "I;16L", "I;16N", "I"})
_CONVERT_TO_RGB = frozenset({"CMYK", "YCbCr", "LAB", "HSV", "RGBX"})
_DECODE_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    zlib.error,
    struct.error,
    IndexError,
    KeyError,
    TypeError,  # Pillow plugins raise these on damaged headers (a TIFF without dimensions)
)


class ImageError(Exception):
    """A file or mask remask cannot use; ``str(error)`` is one line for the user."""


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """A decoded image, ready to become an image document.

    ``mode`` is the Pillow mode of the source (``"P"``, ``"I;16"``, ...), and
    ``bit_depth`` its bits per sample (1, 8 or 16). ``notes`` lists what loading
    changed (EXIF rotation, colour conversion) so the app can tell the user.
    """

    rgb: UInt8Array
    alpha: UInt8Array | None = None
    mode: str = "RGB"
    bit_depth: int = 8
    high: UInt16Array | None = None
    format: str | None = None
    icc_profile: bytes | None = None
    notes: tuple[str, ...] = ()

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def is_gray(self) -> bool:
        """True for gray sources, which are edited and exported as gray."""
        return self.mode in _GRAY_MODES

    @staticmethod
    def from_rgb(rgb: UInt8Array, alpha: UInt8Array | None = None) -> LoadedImage:
        """Wrap arrays that did not come from a file (tests, generated canvases)."""
        return LoadedImage(
            rgb=_check_rgb(rgb), alpha=alpha, mode="RGB" if alpha is None else "RGBA"
        )


# --------------------------------------------------------------------------- sample depth


def to_8bit(high: UInt16Array) -> UInt8Array:
    """16-bit samples to 8 bits, rounded to nearest (``v * 257`` maps back exactly)."""
    return ((high.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def luma(rgb: UInt8Array) -> UInt8Array:
    """Gray from RGB with Pillow's fixed-point weights, so gray R = G = B = v stays v."""
    weights = np.array([19595, 38470, 7471], dtype=np.uint32)
    return ((rgb.astype(np.uint32) @ weights + 0x8000) >> 16).astype(np.uint8)


def _check_rgb(rgb: UInt8Array) -> UInt8Array:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"rgb must be uint8 [H, W, 3], got {rgb.dtype} {rgb.shape}")
    return rgb


# --------------------------------------------------------------------------- loading


def load_image(path: str | os.PathLike[str]) -> LoadedImage:
    """Read and decode an image file; any failure is an :class:`ImageError`."""
    name = Path(path).name
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ImageError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{name}: is a folder, not an image file") from None
    except OSError as exc:
        raise ImageError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    return decode_image(data, name)


def decode_image(data: bytes, name: str = "image") -> LoadedImage:
    """Decode file bytes (PNG, JPEG, WebP, BMP, TIFF, GIF) honouring EXIF orientation.

    Pillow's ``LOAD_TRUNCATED_IMAGES`` is left False on purpose: a cut-off
    download must be refused, not shown half grey.
    """
    if not data:
        raise ImageError(f"{name}: the file is empty (0 bytes)")
    with warnings.catch_warnings():
        # Pillow warns about odd files (bad EXIF, truncated chunks) on stderr; the outcome that
        # matters is the image or the one ImageError line, so the warnings are not shown
        warnings.simplefilter("ignore")
        try:
            return _decode(data, name)
        except _DECODE_ERRORS as exc:  # Pillow reading past the first frame (n_frames), say
            raise ImageError(
                f"{name}: the file is truncated or damaged ({_first_line(exc)})"
            ) from None


def _decode(data: bytes, name: str) -> LoadedImage:
    with _open(data, name) as pil:
        image_format = pil.format
        rawmode = _tile_rawmode(pil)
        icc = pil.info.get("icc_profile")
        frames = int(getattr(pil, "n_frames", 1))
        if rawmode in _WIDE_RAWMODES:
            loaded = _decode_wide(data, name, rawmode)
        else:
            loaded = _from_pil(_load(pil, name), name)
    notes = list(loaded.notes)
    if frames > 1:
        notes.append(f"only the first of {frames} frames was opened")
    return replace(loaded, format=image_format, icc_profile=icc or None, notes=tuple(notes))


def _open(data: bytes, name: str) -> ImageFile.ImageFile:
    """Identify the file and check its size from the header, before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            # our MAX_PIXELS check below replaces Pillow's warning; its hard error still counts
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            pil = Image.open(io.BytesIO(data), formats=OPEN_FORMATS)
    except Image.DecompressionBombError:
        raise ImageError(_too_large(name)) from None
    except UnidentifiedImageError:
        raise ImageError(
            f"{name}: not an image file remask can read (PNG, JPEG, WebP, BMP, TIFF)"
        ) from None
    except _DECODE_ERRORS as exc:
        raise ImageError(f"{name}: the file is truncated or damaged ({_first_line(exc)})") from None
    width, height = pil.size
    wide = pil.mode.startswith("I") or _tile_rawmode(pil) in _WIDE_RAWMODES
    limit, kind = (MAX_PIXELS_16BIT, "16-bit ") if wide else (MAX_PIXELS, "")
    if width * height > limit:
        pil.close()
        raise ImageError(
            f"{name}: {width}×{height} is {width * height / 1e6:.0f} megapixels, more than the "
            f"{limit // 1_000_000} MP remask opens for a {kind}image (limits.MAX_PIXELS"
            f"{'_16BIT' if wide else ''}: decoding it would need too much memory)"
        )
    if width == 0 or height == 0:
        pil.close()
        raise ImageError(f"{name}: the image has no pixels ({width}×{height})")
    return pil


def _load(pil: ImageFile.ImageFile, name: str) -> Image.Image:
    """Decode the pixels and apply EXIF orientation; a truncated file raises here."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            pil.load()
            return ImageOps.exif_transpose(pil)
    except Image.DecompressionBombError:
        raise ImageError(_too_large(name)) from None
    except _DECODE_ERRORS as exc:
        raise ImageError(f"{name}: the file is truncated or damaged ({_first_line(exc)})") from None


def _too_large(name: str) -> str:
    """Pillow's own bomb check fired (its limit is 89 MP, ours is checked after it opens)."""
    return (
        f"{name}: the image is too large to open safely (over the "
        f"{MAX_PIXELS // 1_000_000} MP of limits.MAX_PIXELS)"
    )


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _tile_rawmode(pil: ImageFile.ImageFile) -> str | None:
    """The raw sample layout of the first tile (how the file stores pixels), if Pillow says."""
    tiles = getattr(pil, "tile", None) or []
    if not tiles:
        return None
    args = tiles[0].args
    raw = args[0] if isinstance(args, tuple) and args else args
    return raw if isinstance(raw, str) else None


def _from_pil(pil: Image.Image, name: str) -> LoadedImage:
    """Split a decoded Pillow image into rgb / alpha / high arrays by its mode."""
    mode = pil.mode
    notes: list[str] = []
    if mode in ("I;16", "I;16B", "I;16L", "I;16N") or mode == "I":
        return _from_gray16(np.asarray(pil), mode, name)
    if mode == "F":
        raise ImageError(f"{name}: 32-bit floating-point images are not supported (mode F)")
    if mode == "P" or mode == "PA":
        pil = pil.convert("RGBA" if pil.has_transparency_data else "RGB")
    elif mode in ("RGB", "L") and "transparency" in pil.info:
        pil = pil.convert("RGBA" if mode == "RGB" else "LA")
    elif mode == "1":
        pil = pil.convert("L")
    elif mode in ("RGBa", "La"):
        pil = pil.convert("RGBA" if mode == "RGBa" else "LA")
    elif mode in _CONVERT_TO_RGB:
        pil = pil.convert("RGB")
        notes.append(f"converted from {mode} to RGB; it will be saved as RGB")
    elif mode not in ("RGB", "RGBA", "L", "LA"):
        raise ImageError(f"{name}: unsupported image mode {mode}")
    rgb, alpha = _split_8bit(np.asarray(pil))
    return LoadedImage(
        rgb=rgb, alpha=alpha, mode=mode, bit_depth=1 if mode == "1" else 8, notes=tuple(notes)
    )


def _split_8bit(samples: UInt8Array) -> tuple[UInt8Array, UInt8Array | None]:
    """[H, W] L, [H, W, 2] LA, [H, W, 3] RGB or [H, W, 4] RGBA → (rgb, alpha)."""
    if samples.ndim == 2:
        samples = samples[:, :, None]
    channels = samples.shape[2]
    color = samples[:, :, :1] if channels <= 2 else samples[:, :, :3]
    rgb = np.ascontiguousarray(np.broadcast_to(color, (*samples.shape[:2], 3)), dtype=np.uint8)
    alpha = np.ascontiguousarray(samples[:, :, -1]) if channels in (2, 4) else None
    return rgb, alpha


def _from_gray16(samples: npt.NDArray[np.generic], mode: str, name: str) -> LoadedImage:
    """16-bit gray (or mode I holding 16-bit values, as older TIFF/PNG decoders give)."""
    if mode == "I" and samples.size and (samples.min() < 0 or samples.max() > 65535):
        raise ImageError(f"{name}: 32-bit integer images are not supported (mode I)")
    high = np.ascontiguousarray(samples.astype(np.uint16)[:, :, None])
    return _from_high(high, mode="I;16")


def _from_high(high: UInt16Array, mode: str) -> LoadedImage:
    """Build the 8-bit view of 16-bit samples [H, W, C] and keep the samples."""
    rgb, alpha = _split_8bit(to_8bit(high))
    return LoadedImage(rgb=rgb, alpha=alpha, mode=mode, bit_depth=16, high=high)


# --------------------------------------------------------------------------- 16-bit colour

# Pillow keeps only the high byte of 16-bit colour samples. Decoding the file a
# second time with the opposite byte order makes its unpacker pick the low
# bytes instead; the two passes together are the exact 16-bit samples.
_WIDE_RAWMODES = {
    f"{layout};16{order}": layout for layout in ("RGB", "RGBA", "LA") for order in "BLN"
}
_SOURCE_MODE = {"RGB": "RGB;16", "RGBA": "RGBA;16", "LA": "LA;16"}


def _swapped(rawmode: str) -> str:
    """The same layout read with the other byte order (N means this machine's)."""
    order = rawmode[-1]
    if order == "N":
        order = "L" if sys.byteorder == "little" else "B"
    return rawmode[:-1] + ("L" if order == "B" else "B")


def _decode_with_rawmode(data: bytes, name: str, rawmode: str) -> UInt8Array:
    """Decode the file again, unpacking its samples with ``rawmode``."""
    with _open(data, name) as pil:
        pil.tile = [tile._replace(args=_replace_rawmode(tile.args, rawmode)) for tile in pil.tile]
        return np.asarray(_load(pil, name))


def _replace_rawmode(args: tuple[Any, ...] | str | None, rawmode: str) -> tuple[Any, ...] | str:
    return (rawmode, *args[1:]) if isinstance(args, tuple) else rawmode


def _decode_wide(data: bytes, name: str, rawmode: str) -> LoadedImage:
    """Exact 16-bit samples of a 16-bit gray+alpha, RGB or RGBA file."""
    layout = _WIDE_RAWMODES[rawmode]
    if layout == "LA":  # 4 bytes a pixel: read them as raw RGBA bytes (hi L, lo L, hi A, lo A)
        pair = _decode_with_rawmode(data, name, "RGBA").astype(np.uint16)
        first_is_high = rawmode.endswith("B") or (rawmode.endswith("N") and sys.byteorder == "big")
        hi, lo = (
            (pair[:, :, 0::2], pair[:, :, 1::2])
            if first_is_high
            else (pair[:, :, 1::2], pair[:, :, 0::2])
        )
    else:
        hi = _decode_with_rawmode(data, name, rawmode).astype(np.uint16)
        lo = _decode_with_rawmode(data, name, _swapped(rawmode)).astype(np.uint16)
    high = np.ascontiguousarray((hi << 8) | lo)
    return _from_high(high, mode=_SOURCE_MODE[layout])


# --------------------------------------------------------------------------- editing


def with_edit(image: LoadedImage, rgb: UInt8Array, region: BoolArray) -> LoadedImage:
    """A copy of ``image`` whose colour inside ``region`` comes from ``rgb`` [H, W, 3].

    Outside ``region`` every array is bit-exact (see the module docstring for
    the policy). Alpha is kept as loaded: generation fills colour, not
    transparency.
    """
    _check_rgb(rgb)
    if rgb.shape != image.rgb.shape or region.shape != image.rgb.shape[:2]:
        raise ValueError(
            f"edit of shape {rgb.shape}/{region.shape} for an image of {image.rgb.shape}"
        )
    new_color = rgb[region]
    if image.is_gray:
        new_color = np.repeat(luma(new_color)[:, None], 3, axis=1)
    out_rgb = image.rgb.copy()
    out_rgb[region] = new_color
    high = None
    if image.high is not None:
        high = image.high.copy()
        color_channels = 1 if high.shape[2] <= 2 else 3
        high[region, :color_channels] = new_color[:, :color_channels].astype(np.uint16) * 257
    return replace(image, rgb=out_rgb, high=high)


def with_box_edit(
    image: LoadedImage, box: tuple[slice, slice], rgb: UInt8Array, region: BoolArray
) -> LoadedImage:
    """:func:`with_edit` for an edit inside ``box``: ``rgb`` [box] and ``region`` [box].

    The same policy, at the cost of the box: a large picture edited in many small
    windows is not indexed whole for each of them.
    """
    return with_box_edits(image, [(box, rgb, region)])


def with_box_edits(
    image: LoadedImage, edits: Sequence[tuple[tuple[slice, slice], UInt8Array, BoolArray]]
) -> LoadedImage:
    """:func:`with_box_edit` of each (box, rgb, region) in order, copying the picture once."""
    out_rgb = image.rgb.copy()
    high = None if image.high is None else image.high.copy()
    for box, rgb, region in edits:
        _check_rgb(rgb)
        if rgb.shape != image.rgb[box].shape or region.shape != rgb.shape[:2]:
            raise ValueError(f"box edit of shape {rgb.shape}/{region.shape} for box {box}")
        new_color = edit_colors(image, rgb[region])
        out_rgb[box][region] = new_color
        if high is not None:
            color_channels = 1 if high.shape[2] <= 2 else 3
            high[box][region, :color_channels] = (
                new_color[:, :color_channels].astype(np.uint16) * 257
            )
    return replace(image, rgb=out_rgb, high=high)


def edit_colors(image: LoadedImage, colors: UInt8Array) -> UInt8Array:
    """The colours uint8 [..., 3] an edit writes into ``image``: gray sources stay gray."""
    if not image.is_gray:
        return colors
    return np.repeat(luma(colors)[..., None], 3, axis=-1)


def extend_image(image: LoadedImage, left: int, top: int, right: int, bottom: int) -> LoadedImage:
    """Grow the canvas for outpainting: colour is edge-replicated, new alpha is opaque.

    The replicated colour is only a pre-fill for the model; the app marks the
    new area as masked (see :func:`extend_for_outpainting`).
    """
    if min(left, top, right, bottom) < 0:
        raise ValueError("margins must be >= 0")
    pad = ((top, bottom), (left, right))
    rgb = np.pad(image.rgb, (*pad, (0, 0)), mode="edge")
    alpha = None if image.alpha is None else np.pad(image.alpha, pad, constant_values=255)
    high = None
    if image.high is not None:
        high = np.pad(image.high, (*pad, (0, 0)), mode="edge")
        if high.shape[2] in (2, 4):
            inner = high[top : top + image.height, left : left + image.width, -1].copy()
            high[:, :, -1] = 65535
            high[top : top + image.height, left : left + image.width, -1] = inner
    return replace(image, rgb=rgb, alpha=alpha, high=high)


def extend_for_outpainting(
    image: LoadedImage, left: int, top: int, right: int, bottom: int
) -> tuple[LoadedImage, BoolArray]:
    """:func:`extend_image` and the mask of the new area (True), which outpainting fills."""
    mask = np.ones((image.height + top + bottom, image.width + left + right), dtype=np.bool_)
    mask[top : top + image.height, left : left + image.width] = False
    return extend_image(image, left, top, right, bottom), mask


def extend_canvas(
    rgb: UInt8Array, left: int, top: int, right: int, bottom: int
) -> tuple[UInt8Array, BoolArray]:
    """:func:`extend_for_outpainting` for bare pixels: edge-replicated canvas and its mask."""
    if min(left, top, right, bottom) < 0:
        raise ValueError("outpainting margins must be >= 0")
    canvas = np.pad(rgb, ((top, bottom), (left, right), (0, 0)), mode="edge")
    mask = np.ones(canvas.shape[:2], dtype=np.bool_)
    mask[top : top + rgb.shape[0], left : left + rgb.shape[1]] = False
    return canvas, mask
