"""The motion medium's entry in :mod:`engine.media.registry`.

Cheap to import: the document and codec modules load when first called.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from engine.media.registry import MediumSpec

if TYPE_CHECKING:
    from engine.jobs import Codec
    from engine.manifest import ModelManifest
    from engine.media.motion.document import MotionDocument


def open_document(path: Path) -> MotionDocument:
    from engine.media.motion.document import MotionDocument

    return MotionDocument.open(path)


def codec(manifest: ModelManifest) -> Codec:
    from engine.media.motion.codec import MotionCodec

    return MotionCodec(cast(Any, manifest))  # its MotionModelFiles protocol wants settable fields


def check_model(manifest: ModelManifest) -> None:
    """Whether the motion codec can use a model found on disk (see ``model_check``)."""
    from engine.media.motion.model_check import check_model as check

    check(manifest)


SPEC = MediumSpec(
    key="motion",
    title="Motion",
    extensions=(".bvh",),
    blurb="Select frames or body parts of a clip and let the model re-animate them.",
    open_document=open_document,
    codec=codec,
    check_model=check_model,
    project="engine.media.motion.project",
)
