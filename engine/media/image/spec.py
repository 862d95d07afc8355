"""The image medium's entry in :mod:`engine.media.registry`.

Cheap to import: the document and codec modules load when first called.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from engine.media.registry import MediumSpec

if TYPE_CHECKING:
    from engine.jobs import Codec
    from engine.manifest import ModelManifest
    from engine.media.image.document import ImageDocument


def open_document(path: Path) -> ImageDocument:
    from engine.media.image.document import ImageDocument

    return ImageDocument.open(path)


def codec(manifest: ModelManifest) -> Codec:
    """One window's codec; an edit of several windows wraps it (``ImageEditCodec``)."""
    from engine.media.image.codec import ImageCodec

    return ImageCodec(manifest)


def check_model(manifest: ModelManifest) -> None:
    """Whether the image codec can use a model found on disk (see ``model_check``)."""
    from engine.media.image.model_check import check_model as check

    check(manifest)


SPEC = MediumSpec(
    key="image",
    title="Image",
    extensions=(".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"),
    blurb="Paint over part of a picture and let the model fill it in.",
    open_document=open_document,
    codec=codec,
    check_model=check_model,
    project="engine.media.image.project",
)
