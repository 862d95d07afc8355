"""The 3D skeleton view: bones as lines, joints as points, a ground grid, an orbit camera.

Poses are precomputed once per clip (:func:`skeleton_points`: forward
kinematics plus End Sites, in metres, Z up), so playback only slices an array.
The view shows one "sequence" at a time, the document or a preview/variation,
tinted so the user always knows which one is playing.

OpenGL is not everywhere (a headless CI, a remote desktop without GLX). When a
context cannot be created the view degrades to a 2D front view drawn with the
plain pyqtgraph canvas and says why in a line above it; it never crashes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtGui import QColor, QOffscreenSurface, QOpenGLContext
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from engine.media.bvh import Clip
from engine.media.motion import forward_kinematics, guess_cm_per_unit
from engine.media.skeleton import SkeletonMap

_log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
"""BVH is Y-up; the GL view orbits around Z. A proper rotation (det +1), so nothing mirrors."""

TINTS: dict[str, tuple[float, float, float, float]] = {
    "document": (0.92, 0.92, 0.95, 1.0),
    "preview": (1.0, 0.62, 0.2, 1.0),
    "variation": (0.35, 0.75, 1.0, 1.0),
}
"""Bone colours: the document in white, a live preview in orange, a variation in blue."""

JOINT_COLOR = (1.0, 0.85, 0.3, 1.0)


@dataclass(frozen=True)
class SkeletonPoints:
    """A clip's poses ready to draw.

    ``points`` is ``[F, P, 3]`` metres, Z up: the joints in clip order, then one
    point per End Site. ``bones`` is ``[B, 2]`` point indices (parent, child);
    ``dots`` the joints drawn as points (those on a bone).
    """

    points: FloatArray
    bones: npt.NDArray[np.intp]
    dots: npt.NDArray[np.intp]

    @property
    def n_frames(self) -> int:
        return int(self.points.shape[0])

    def segments(self, frame: int) -> FloatArray:
        """``[2B, 3]`` line endpoints for GL ``mode='lines'``."""
        return np.asarray(self.points[frame][self.bones.reshape(-1)], dtype=np.float64)

    def joints(self, frame: int) -> FloatArray:
        return np.asarray(self.points[frame][self.dots], dtype=np.float64)

    def centre(self, frame: int) -> FloatArray:
        """The body's centre at ``frame`` (mean of the drawn joints): what the camera follows."""
        return np.asarray(self.joints(frame).mean(axis=0), dtype=np.float64)

    def height(self) -> float:
        """The body's height in the first frame (for framing the camera)."""
        z = self.joints(0)[:, 2]
        return float(z.max() - z.min())


def skeleton_points(clip: Clip, skeleton_map: SkeletonMap | None = None) -> SkeletonPoints:
    """FK positions of every joint and End Site for all frames, scaled to metres, Z up."""
    positions, rotations = forward_kinematics(clip)
    ends = [(j, joint.end_site) for j, joint in enumerate(clip.joints) if joint.end_site]
    end_points = [
        positions[:, j] + np.einsum("fij,j->fi", rotations[:, j], np.asarray(site, np.float64))
        for j, site in ends
    ]
    if ends:
        positions = np.concatenate([positions, np.stack(end_points, axis=1)], axis=1)
    try:
        metres = guess_cm_per_unit(clip, skeleton_map) / 100.0
    except ValueError:  # unmapped rig or degenerate legs: assume centimetres, the common case
        metres = 0.01
    to_ends = [(j, len(clip.joints) + k) for k, (j, _site) in enumerate(ends)]
    bones = np.array(_bones(positions, clip.parents) + to_ends, dtype=np.intp).reshape(-1, 2)
    dots = np.unique(bones[bones < len(clip.joints)]) if bones.size else np.arange(1)
    return SkeletonPoints((positions * metres) @ Y_UP_TO_Z_UP.T, bones, dots.astype(np.intp))


def _bones(positions: FloatArray, parents: Sequence[int]) -> list[tuple[int, int]]:
    """Parent-child pairs whose length stays (nearly) constant over the clip.

    A pair that stretches is no bone: Bandai's Hips is placed by its position
    channels while its parent ``joint_Root`` rests at the origin, and drawing
    that "bone" would be a line from the origin to the character.
    """
    bones = []
    for child, parent in enumerate(parents):
        if parent < 0:
            continue
        length = np.linalg.norm(positions[:, child] - positions[:, parent], axis=-1)
        if np.ptp(length) <= 0.1 * max(float(np.median(length)), 1e-9) + 1e-9:
            bones.append((parent, child))
    return bones


def opengl_available() -> tuple[bool, str]:
    """Whether an OpenGL context can be created here, and if not, why (one line)."""
    context = QOpenGLContext()
    if not context.create():
        return False, "no OpenGL context could be created on this display"
    surface = QOffscreenSurface()
    surface.create()
    if not context.makeCurrent(surface):
        return False, "the OpenGL context could not be made current"
    context.doneCurrent()
    return True, ""


class MotionViewport(QWidget):
    """Shows one pose of a :class:`SkeletonPoints` sequence in 3D (or 2D without OpenGL).

    Parameters
    ----------
    use_gl
        ``None`` probes OpenGL; ``False`` forces the 2D fallback (tests, a user setting).
    """

    def __init__(self, parent: QWidget | None = None, use_gl: bool | None = None) -> None:
        super().__init__(parent)
        available, why = opengl_available() if use_gl is None else (use_gl, "OpenGL is turned off")
        self.gl_ok = available
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setVisible(not available)
        self.sequence: SkeletonPoints | None = None
        self.frame = 0
        self.follow_root = True
        self.tint = "document"
        self._home = np.zeros(3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.message)
        self._view: _GlSkeleton | _FlatSkeleton = (
            _GlSkeleton(self) if available else _FlatSkeleton(self)
        )
        if not available:
            self.message.setText(f"3D view unavailable ({why}): showing a 2D front view.")
        layout.addWidget(self._view.widget, 1)

    @property
    def canvas(self) -> QWidget:
        """The drawing widget (a ``GLViewWidget`` or a ``PlotWidget``), e.g. for screenshots."""
        widget: QWidget = self._view.widget
        return widget

    def set_sequence(self, sequence: SkeletonPoints, tint: str = "document") -> None:
        """Show another sequence (same frame index, clamped); the camera stays where it is."""
        first = self.sequence is None
        self.sequence = sequence
        self.tint = tint
        self.frame = min(self.frame, sequence.n_frames - 1)
        if first:
            self.frame_all()
        self._draw()

    def set_frame(self, frame: int) -> None:
        if self.sequence is not None:
            self.frame = int(np.clip(frame, 0, self.sequence.n_frames - 1))
            self._draw()

    def set_follow_root(self, follow: bool) -> None:
        """Keep the camera centred on the root (a walking clip stays in view)."""
        self.follow_root = follow
        if not follow:
            self._view.look_at(self._home)
        self._draw()

    def frame_all(self) -> None:
        """Aim the camera at the body in the first frame, at a distance that fits its height."""
        if self.sequence is None:
            return
        self._home = self.sequence.centre(0)
        self._view.frame(self._home, self.sequence.height())

    def _draw(self) -> None:
        if self.sequence is None:
            return
        if self.follow_root:
            centre = self.sequence.centre(self.frame)
            self._view.look_at(np.array([centre[0], centre[1], self._home[2]]))
        self._view.draw(self.sequence, self.frame, TINTS[self.tint])


class _GlSkeleton:
    """The pyqtgraph.opengl scene: grid, bones, joints."""

    def __init__(self, owner: QWidget) -> None:
        import pyqtgraph.opengl as gl  # needs PyOpenGL; imported only when GL is usable

        self.widget = gl.GLViewWidget(owner)
        self.widget.setBackgroundColor(QColor(38, 40, 46))
        self.widget.setCameraPosition(distance=4.0, elevation=12.0, azimuth=-60.0)
        grid = gl.GLGridItem()
        grid.setSize(20, 20)
        grid.setSpacing(0.5, 0.5)
        self.widget.addItem(grid)
        self.bones = gl.GLLinePlotItem(mode="lines", width=3.0, antialias=True)
        self.joints = gl.GLScatterPlotItem(size=7.0, color=JOINT_COLOR)
        self.joints.setGLOptions("translucent")
        self.widget.addItem(self.bones)
        self.widget.addItem(self.joints)

    def draw(self, sequence: SkeletonPoints, frame: int, tint: tuple[float, ...]) -> None:
        self.bones.setData(pos=sequence.segments(frame), color=tint)
        self.joints.setData(pos=sequence.joints(frame))

    def look_at(self, centre: FloatArray) -> None:
        self.widget.opts["center"] = pg.Vector(*(float(v) for v in centre))
        self.widget.update()

    def frame(self, centre: FloatArray, height: float) -> None:
        self.look_at(centre)
        self.widget.setCameraPosition(distance=max(2.0, 2.2 * height))


class _FlatSkeleton:
    """The fallback: the skeleton seen from the front (x right, z up) on a 2D plot."""

    def __init__(self, owner: QWidget) -> None:
        self.widget = pg.PlotWidget(owner)
        self.widget.setAspectLocked(True)
        self.widget.showGrid(x=True, y=True, alpha=0.2)
        self.widget.setLabel("bottom", "x (m)")
        self.widget.setLabel("left", "height (m)")
        self.bones = pg.PlotDataItem(connect="pairs")
        self.joints = pg.ScatterPlotItem(size=6, brush=pg.mkBrush(*_rgb255(JOINT_COLOR)))
        self.widget.addItem(self.bones)
        self.widget.addItem(self.joints)
        self.widget.addItem(pg.InfiniteLine(pos=0.0, angle=0, pen=pg.mkPen((120, 120, 120))))

    def draw(self, sequence: SkeletonPoints, frame: int, tint: tuple[float, ...]) -> None:
        segments = sequence.segments(frame)
        self.bones.setData(segments[:, 0], segments[:, 2], pen=pg.mkPen(_rgb255(tint), width=2))
        joints = sequence.joints(frame)
        self.joints.setData(joints[:, 0], joints[:, 2])

    def look_at(self, centre: FloatArray) -> None:
        view = self.widget.getViewBox()
        width = view.viewRange()[0][1] - view.viewRange()[0][0]
        view.setXRange(centre[0] - width / 2, centre[0] + width / 2, padding=0)

    def frame(self, centre: FloatArray, height: float) -> None:
        half = max(1.0, 0.8 * height)
        self.widget.setXRange(centre[0] - half, centre[0] + half)
        self.widget.setYRange(-0.1, max(2.0, 2 * centre[2]))


def _rgb255(color: tuple[float, ...]) -> tuple[int, int, int]:
    return (int(color[0] * 255), int(color[1] * 255), int(color[2] * 255))


__all__ = [
    "MotionViewport",
    "SkeletonPoints",
    "opengl_available",
    "skeleton_points",
]
