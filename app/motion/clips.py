"""The motion editor's clip helpers: the codec, live previews, blank clips and thumbnails.

Kept apart from :mod:`app.motion.editor` so the editor is only wiring; these
are plain functions of clips and codecs (the thumbnail draws with Qt).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap

from app.motion.viewport import TINTS, SkeletonPoints
from engine.jobs import MediumCodec
from engine.media.motion.clip import Clip
from engine.media.motion.document import MotionPayload
from engine.media.registry import medium
from engine.models import ModelManifest
from engine.sampling.types import Step

CodecFactory = Callable[[ModelManifest], MediumCodec]
"""Makes the codec for a motion model (tests pass a tiny one)."""

THUMB_SIZE = (96, 72)


def default_codec(manifest: ModelManifest) -> MediumCodec:
    """The shipped motion codec for ``manifest``, as the medium registry builds it."""
    return cast(MediumCodec, medium("motion").codec(manifest))


def preview_clip(codec: MediumCodec, payload: MotionPayload, step: Step) -> Clip | None:
    """The codec's decoded pose sequence for one sampler step (first variation), if it has one.

    ``preview(payload, tokens [B, N])`` decodes tokens that are still partly masked;
    one row is enough to show, and keeps the GUI thread's share of the work small.
    """
    preview = getattr(codec, "preview", None)
    if not callable(preview):
        return None
    clips = preview(payload, step.tokens[:1])
    clip = clips[0] if isinstance(clips, list | tuple) and clips else clips
    return clip if isinstance(clip, Clip) else None


def as_clip(variation: Any) -> Clip:
    """A decoded variation as a clip (codecs return clips, or objects carrying ``.clip``)."""
    clip = variation if isinstance(variation, Clip) else getattr(variation, "clip", None)
    if not isinstance(clip, Clip):
        raise TypeError(f"the motion codec returned {type(variation).__name__}, not a clip")
    return clip


def rest_pose(rig: Clip, frames: int) -> Clip:
    """``frames`` frames of the rig's rest pose: rotations zero, position channels = offsets.

    A position channel *replaces* its joint's offset, so zeros there (a rig read from
    a skeleton file without motion) would fold every 6-channel joint onto its parent.
    """
    row = np.zeros(rig.n_channels)
    for index, joint in enumerate(rig.joints):
        columns = rig.channel_columns(index, "position")
        row[columns] = [joint.offset["XYZ".index(axis)] for axis in joint.position_axes]
    return rig.with_motion(np.repeat(row[None, :], frames, axis=0))


def pose_thumbnail(points: SkeletonPoints, frames: Sequence[int]) -> QPixmap:
    """An onion skin of a few poses seen from the side (older poses fainter): a variation's gist."""
    width, height = THUMB_SIZE
    pixmap = QPixmap(width, height)
    pixmap.fill(QColor(38, 40, 46))
    side = points.points[list(frames)][..., 1:]  # GL (y, z): forward and up
    low, high = side.min(axis=(0, 1)), side.max(axis=(0, 1))
    scale = 0.9 * min(width / max(high[0] - low[0], 1e-6), height / max(high[1] - low[1], 1e-6))
    centre = (low + high) / 2
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    red, green, blue, _ = (int(c * 255) for c in TINTS["variation"])
    for order, pose in enumerate(side):
        alpha = int(255 * (order + 1) / len(side))
        painter.setPen(QPen(QColor(red, green, blue, alpha), 1.5))
        for parent, child in points.bones:
            a, b = (_to_pixel(pose[i], centre, scale) for i in (parent, child))
            painter.drawLine(a, b)
    painter.end()
    return pixmap


def _to_pixel(point: np.ndarray, centre: np.ndarray, scale: float) -> QPointF:
    width, height = THUMB_SIZE
    return QPointF(
        width / 2 + (point[0] - centre[0]) * scale, height / 2 - (point[1] - centre[1]) * scale
    )
