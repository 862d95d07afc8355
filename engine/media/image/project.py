"""The image document in a project file: the picture as PNG, the mask and history as arrays.

The PNG keeps what an export keeps (16-bit samples, alpha, the ICC profile),
so any viewer can open the member; the manifest adds what a PNG cannot say
(the source's mode and format). An older canvas that an undoable "extend
canvas" replaced is stored as its arrays, since only this document reads it.

Kept variations (:mod:`engine.project_variations`) are whole-image results of
which Accept writes only the edited region, so the project keeps that region
(``variations/region.npy``) and each variation's colour inside the region's
bounding box as an 8-bit RGB PNG (``variations/<n>.png``): lossless, and a
small fraction of the picture for a typical hole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.media.image.document import ImageDocument
from engine.media.image.export import encode_image
from engine.media.image.files import ImageError, LoadedImage, decode_image
from engine.media.image.mask import Box, bounding_box
from engine.project_history import ProjectError, ProjectReader, ProjectWriter
from engine.project_variations import KeptVariations, member_name

__all__ = [
    "ImageVariations",
    "decode_object",
    "encode_object",
    "load_document",
    "load_variations",
    "save_document",
    "save_variations",
]

ImageVariations = KeptVariations[LoadedImage, npt.NDArray[np.bool_]]
"""Whole-image variations and the region [H, W] that Accept writes."""

PICTURE = "document.png"
MASK = "mask.npy"
REGION = "variations/region.npy"


def save_document(document: ImageDocument, out: ProjectWriter) -> None:
    image, mask = document.snapshot()  # private copies: encoded later, on another thread
    out.meta.update(name=document.name, mode=image.mode, format=image.format)
    out.add_deferred(PICTURE, lambda: encode_image(image, "PNG")[0])
    out.add_array(MASK, mask, copy=False)
    out.write_history(document.history)


def load_document(source: ProjectReader) -> ImageDocument:
    image = _picture(source)
    mask = source.array(MASK)
    if mask.dtype != np.bool_ or mask.shape != (image.height, image.width):
        raise source.error(f"the mask ({mask.shape}) does not fit the picture")
    document = ImageDocument(image, source.meta_field("name", str))
    document.set_mask(mask)
    source.restore_history(document.history)
    return document


def _picture(source: ProjectReader) -> LoadedImage:
    """The PNG member, with the source's mode and format put back (gray stays gray)."""
    image = decode_image(source.bytes(PICTURE), f"{source.name}: {PICTURE}")
    mode = source.meta_field("mode", str)
    image_format = source.meta.get("format")
    if not isinstance(image_format, str | None):
        raise source.error("the picture's format is not text")
    if replace(image, mode=mode).is_gray != image.is_gray:
        raise source.error(f"the picture does not match its mode {mode[:20]!r}")
    return replace(image, mode=mode, format=image_format, notes=())


def save_variations(kept: ImageVariations, out: ProjectWriter) -> dict[str, Any]:
    """The region and each variation's colour inside its box (copied now: they are small)."""
    region = kept.context
    box = _box(region)
    out.add_array(REGION, region)
    for index, item in enumerate(kept.items):
        out.add_deferred(member_name(index, ".png"), _png_maker(np.array(item.rgb[box], copy=True)))
    return {}


def load_variations(
    _record: dict[str, Any], count: int, shown: int, source: ProjectReader, document: ImageDocument
) -> ImageVariations:
    """Each crop pasted into the current picture: Accept writes its region pixels only."""
    region = source.array(REGION)
    if region.dtype != np.bool_ or region.shape != document.shape:
        raise source.error(f"the variations' region ({region.shape}) does not fit the picture")
    box = _box(region)
    size = (box[0].stop - box[0].start, box[1].stop - box[1].start, 3)
    items = []
    for index in range(count):
        member = member_name(index, ".png")
        try:
            crop = decode_image(source.bytes(member), f"{source.name}: {member}").rgb
        except ImageError as exc:  # already "<project>: <member>: why"
            raise ProjectError(str(exc)) from None
        if crop.shape != size:
            raise source.error(f"{member} ({crop.shape}) does not fit the variations' region")
        rgb = document.image.rgb.copy()
        rgb[box] = crop
        items.append(LoadedImage.from_rgb(rgb, document.image.alpha))
    return KeptVariations(tuple(items), region, shown)


def _png_maker(rgb: npt.NDArray[np.uint8]) -> Callable[[], bytes]:
    """Encodes ``rgb`` (a private copy) as an 8-bit RGB PNG when the project is written."""
    return lambda: encode_image(LoadedImage.from_rgb(rgb), "PNG")[0]


def _box(region: npt.NDArray[np.bool_]) -> Box:
    """The region's bounding box; the whole picture for an empty region (nothing to write)."""
    box = bounding_box(region)
    return box if box is not None else (slice(0, region.shape[0]), slice(0, region.shape[1]))


def encode_object(value: Any, out: ProjectWriter) -> dict[str, Any]:
    """An older canvas (before an undoable "extend canvas"): its arrays and facts."""
    if not isinstance(value, LoadedImage):
        raise TypeError(f"an image history holds no {type(value).__name__}")
    icc = None if value.icc_profile is None else np.frombuffer(value.icc_profile, np.uint8)
    return {
        "picture": {
            "rgb": out.value(value.rgb),
            "alpha": out.value(value.alpha),
            "high": out.value(value.high),
            "icc": out.value(icc),
            "mode": value.mode,
            "bit_depth": value.bit_depth,
            "format": value.format,
        }
    }


def decode_object(record: dict[str, Any], source: ProjectReader) -> LoadedImage:
    fields = record.get("picture")
    if not isinstance(fields, dict):
        raise source.error("an image history value is not a picture")
    rgb, alpha, high, icc = (source.value(fields.get(k)) for k in ("rgb", "alpha", "high", "icc"))
    mode, depth, image_format = fields.get("mode"), fields.get("bit_depth"), fields.get("format")
    if not (
        isinstance(rgb, np.ndarray)
        and rgb.dtype == np.uint8
        and rgb.ndim == 3
        and rgb.shape[2] == 3
        and _fits(alpha, np.uint8, rgb.shape[:2], 2)
        and _fits(high, np.uint16, rgb.shape[:2], 3)
        and (icc is None or (isinstance(icc, np.ndarray) and icc.dtype == np.uint8))
        and isinstance(mode, str)
        and depth in (1, 8, 16)
        and isinstance(image_format, str | None)
    ):
        raise source.error("an older canvas in the history is malformed")
    profile = None if icc is None else icc.tobytes()
    return LoadedImage(rgb, alpha, mode, int(depth), high, image_format, profile)


def _fits(array: Any, dtype: type, size: tuple[int, ...], ndim: int) -> bool:
    """None, or an ``ndim`` array of ``dtype`` whose first axes are ``size`` (rows, columns)."""
    if array is None:
        return True
    return (
        isinstance(array, np.ndarray)
        and array.dtype == dtype
        and array.ndim == ndim
        and array.shape[:2] == size
    )
