"""Exporting an image document as PNG, JPEG or WebP, in its source depth where possible.

Kept pixels must come back bit-exact (see ``engine.media.image.files`` for the
write-back policy): gray stays gray, alpha stays alpha, and a 16-bit source is written
as a 16-bit PNG, which Pillow cannot write for colour, so that encoder is our own.
Nothing on disk is touched on error: an export is written atomically
(:mod:`engine.atomic`).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from engine.atomic import write_atomic
from engine.media.image.files import ImageError, LoadedImage, UInt16Array

__all__ = ["EXPORT_FORMATS", "encode_image", "save_image"]

EXPORT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}


def save_image(
    image: LoadedImage,
    path: str | os.PathLike[str],
    *,
    quality: int = 95,
    lossless_webp: bool = True,
) -> tuple[str, ...]:
    """Export as PNG, JPEG or WebP (chosen by suffix); returns notes for the user.

    The file is written atomically (:mod:`engine.atomic`), so a failed or
    killed export never leaves a broken file or touches an existing one.
    """
    target = Path(path)
    file_format = EXPORT_FORMATS.get(target.suffix.lower())
    if file_format is None:
        raise ImageError(f"{target.name}: export as .png, .jpg or .webp")
    data, notes = encode_image(image, file_format, quality=quality, lossless_webp=lossless_webp)
    _write_image_bytes(target, data)
    return notes


def _write_image_bytes(target: Path, data: bytes) -> None:
    """Write encoded image bytes atomically (:mod:`engine.atomic`); errors are one line."""
    try:
        write_atomic(target, data)
    except OSError as exc:
        raise ImageError(f"{target.name}: cannot write ({exc.strerror or exc})") from None


def encode_image(
    image: LoadedImage, file_format: str, *, quality: int = 95, lossless_webp: bool = True
) -> tuple[bytes, tuple[str, ...]]:
    """File bytes of ``image`` in ``file_format`` ("PNG", "JPEG", "WEBP") and notes."""
    if file_format == "PNG" and image.high is not None:
        return _encode_png16(image.high, image.icc_profile), ()
    notes: list[str] = []
    if image.high is not None:
        notes.append(f"{file_format} stores 8 bits per sample: the 16-bit source was reduced")
    pil = _to_pil(image)
    options: dict[str, object] = {}
    if image.icc_profile:
        options["icc_profile"] = image.icc_profile
    if file_format == "JPEG":
        if image.alpha is not None:
            notes.append("JPEG has no transparency: the alpha channel was dropped")
            pil = pil.convert("L" if image.is_gray else "RGB")
        options.update(quality=quality, subsampling=0 if quality >= 90 else 2)
    elif file_format == "WEBP":
        options.update(
            lossless=lossless_webp, quality=quality if not lossless_webp else 100, exact=True
        )
        if pil.mode in ("L", "LA"):  # WebP is RGB(A) only; gray converts exactly
            pil = pil.convert("RGBA" if pil.mode == "LA" else "RGB")
    elif file_format != "PNG":
        raise ImageError(f"cannot export as {file_format}: use PNG, JPEG or WebP")
    buffer = io.BytesIO()
    pil.save(buffer, file_format, **options)
    return buffer.getvalue(), tuple(notes)


def _to_pil(image: LoadedImage) -> Image.Image:
    """The 8-bit Pillow image to save: gray stays gray, alpha stays alpha."""
    if image.is_gray:
        gray = image.rgb[:, :, 0]
        if image.alpha is None:
            return Image.fromarray(gray, "L")
        return Image.fromarray(np.dstack([gray, image.alpha]), "LA")
    if image.alpha is None:
        return Image.fromarray(image.rgb, "RGB")
    return Image.fromarray(np.dstack([image.rgb, image.alpha]), "RGBA")


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def _encode_png16(high: UInt16Array, icc_profile: bytes | None) -> bytes:
    """A 16-bit PNG (gray, gray+alpha, RGB or RGBA); Pillow cannot write 16-bit colour.

    Rows use the Up filter (row minus previous row, bytewise), which is
    vectorised and compresses photos well.
    """
    height, width, channels = high.shape
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    raw = (
        np.ascontiguousarray(high.astype(">u2"))
        .view(np.uint8)
        .reshape(height, width * channels * 2)
    )
    filtered = raw.copy()
    filtered[1:] -= raw[:-1]
    rows = np.concatenate([np.full((height, 1), 2, dtype=np.uint8), filtered], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 16, color_type, 0, 0, 0)
    chunks = [b"\x89PNG\r\n\x1a\n", _png_chunk(b"IHDR", header)]
    if icc_profile:
        chunks.append(_png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc_profile)))
    compressed = zlib.compress(rows.tobytes(), 6)
    step = 1 << 23
    chunks += [
        _png_chunk(b"IDAT", compressed[i : i + step]) for i in range(0, len(compressed), step)
    ]
    chunks.append(_png_chunk(b"IEND", b""))
    return b"".join(chunks)
