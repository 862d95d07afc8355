"""The 3D skeleton view: bones as lines, joints as points, a ground grid, an orbit camera.

Poses are precomputed once per clip (:func:`skeleton_points`: forward
kinematics plus End Sites, in metres, Z up), so playback only slices an array.
The view shows one "sequence" at a time, the document or a preview/variation,
tinted so the user always knows which one is playing.

The camera frames the skeleton's bounding box over the whole clip
(:func:`clip_box`, :func:`fit_distance`), from the angle it looks from: a tall
rig in centimetres or a pose that reaches up later in the clip stays in view. With
"follow root" the box is taken relative to the body's centre, which the camera
then tracks; without it the box covers the whole path, and the camera stays put.

OpenGL is not everywhere (a headless CI, a remote desktop without GLX). When a
context cannot be created the view degrades to a 2D front view drawn with the
plain pyqtgraph canvas and says why in a line above it; it never crashes.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QColor, QOffscreenSurface, QOpenGLContext
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from engine.media.motion.clip import Clip
from engine.media.motion.kinematics import forward_kinematics, guess_cm_per_unit
from engine.media.motion.skeleton import SkeletonMap

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

CAMERA_FOV = 60.0
"""pyqtgraph's field of view in degrees; it spans the view's *width* (the height gets less)."""
FIT_MARGIN = 1.1
"""Framing grows the skeleton's box by this factor: a little room around it."""


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

    def centres(self) -> FloatArray:
        """``[F, 3]`` :meth:`centre` of every frame at once."""
        return np.asarray(self.points[:, self.dots].mean(axis=1), dtype=np.float64)

    def drawn(self) -> npt.NDArray[np.intp]:
        """The points on a bone: what the view shows (a resting root off the body is not)."""
        if self.bones.size == 0:
            return np.arange(self.points.shape[1], dtype=np.intp)
        return np.unique(self.bones).astype(np.intp)


def clip_box(sequence: SkeletonPoints, follow_root: bool) -> tuple[FloatArray, FloatArray]:
    """The ``(low, high)`` corners of every drawn point (End Sites too) over the whole clip.

    Following the root, x and y are taken relative to each frame's :meth:`~SkeletonPoints.centre`
    (the camera moves with the body, so only the body's own extent must fit); z stays absolute,
    as the camera never follows up and down.
    """
    points = sequence.points[:, sequence.drawn()]
    if follow_root:
        ground_shift = sequence.centres() * np.array([1.0, 1.0, 0.0])
        points = points - ground_shift[:, None, :]
    low = np.asarray(points.min(axis=(0, 1)), dtype=np.float64)
    high = np.asarray(points.max(axis=(0, 1)), dtype=np.float64)
    return low, high


def camera_axes(elevation: float, azimuth: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Right, up and back (towards the camera) unit vectors of pyqtgraph's orbit camera.

    Angles in degrees, as ``GLViewWidget.opts`` holds them: the camera sits at
    ``centre + distance * back`` and keeps world Z up.
    """
    elev, azim = math.radians(elevation), math.radians(azimuth)
    back = np.array([math.cos(elev) * math.cos(azim), math.cos(elev) * math.sin(azim)])
    back = np.append(back, math.sin(elev))
    right = np.array([-math.sin(azim), math.cos(azim), 0.0])
    return right, np.cross(back, right), back


def fit_distance(
    low: FloatArray,
    high: FloatArray,
    aspect: float,
    elevation: float,
    azimuth: float,
    fov: float = CAMERA_FOV,
) -> float:
    """The camera distance from the box's centre at which the whole box is in view.

    Every corner of the box (grown by :data:`FIT_MARGIN`) must lie inside the view
    from the current angles: a corner ``a`` to the side and ``t`` towards the camera
    is in view when ``|a| <= tan(half angle) * (distance - t)``. ``aspect`` is width /
    height; pyqtgraph's ``fov`` spans the width, so a wide, short view (the editor's
    layout) has the narrower vertical angle, which is what cut off tall skeletons.
    """
    centre = (low + high) / 2
    offsets = (box_corners(low, high) - centre) * FIT_MARGIN
    right, up, back = camera_axes(elevation, azimuth)
    tan_width = math.tan(math.radians(fov) / 2)
    tan_height = tan_width / max(aspect, 1e-3)
    side = np.maximum(np.abs(offsets @ right) / tan_width, np.abs(offsets @ up) / tan_height)
    return max(float((side + offsets @ back).max()), 1e-2)


def box_corners(low: FloatArray, high: FloatArray) -> FloatArray:
    """The 8 corners ``[8, 3]`` of an axis-aligned box."""
    return np.array(list(itertools.product(*zip(low, high, strict=True))), dtype=np.float64)


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
    bones = np.array(_bones(clip, positions) + to_ends, dtype=np.intp).reshape(-1, 2)
    dots = np.unique(bones[bones < len(clip.joints)]) if bones.size else np.arange(1)
    return SkeletonPoints((positions * metres) @ Y_UP_TO_Z_UP.T, bones, dots.astype(np.intp))


def _bones(clip: Clip, positions: FloatArray) -> list[tuple[int, int]]:
    """Parent-child pairs drawn as bones: the child hangs from its parent by a fixed length.

    Two kinds of pair are no bone. A joint moved by position channels straight under the
    hierarchy's top joint is placed by its animated translation, not by a bone: Bandai's
    Hips under ``joint_Root``, which rests on the floor at the origin, so even a character
    that stands still (constant length) would get a line from the floor to the pelvis. And
    any pair that stretches over the clip (a translation by another name).
    """
    parents = clip.parents
    bones = []
    for child, parent in enumerate(parents):
        if parent < 0 or (parents[parent] < 0 and clip.joints[child].position_axes):
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
        self._box_centre = np.zeros(3)
        """Centre of :func:`clip_box` (relative to the body's centre in x, y when following)."""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.message)
        self._view: _GlSkeleton | _FlatSkeleton = (
            _GlSkeleton(self) if available else _FlatSkeleton(self)
        )
        if not available:
            self.message.setText(f"3D view unavailable ({why}): showing a 2D front view.")
        layout.addWidget(self._view.widget, 1)
        self._view.widget.installEventFilter(self)

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
        """Keep the camera centred on the root (a walking clip stays in view).

        The framing changes with it: following needs room for the body, a fixed camera
        room for the whole path, so the camera is framed again.
        """
        self.follow_root = follow
        self.frame_all()

    def frame_all(self) -> None:
        """Frame the skeleton's bounding box over the clip (a new clip, or the user asks)."""
        if self.sequence is None:
            return
        low, high = clip_box(self.sequence, self.follow_root)
        self._box_centre = (low + high) / 2
        self._view.frame(low, high, self.camera_target())
        self._draw()

    def camera_target(self) -> FloatArray:
        """Where the camera looks now: the box's centre, carried along by the body if following."""
        if self.sequence is None or not self.follow_root:
            return np.asarray(self._box_centre, dtype=np.float64)
        body = self.sequence.centre(self.frame)
        return np.array([body[0], body[1], 0.0]) + self._box_centre

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        """A resized view changes the aspect the distance was fitted to: refit unless zoomed."""
        if watched is self._view.widget and event.type() == QEvent.Type.Resize:
            self._view.keep_fitted()
        return super().eventFilter(watched, event)

    def _draw(self) -> None:
        if self.sequence is None:
            return
        if self.follow_root:
            self._view.look_at(self.camera_target())
        self._view.draw(self.sequence, self.frame, TINTS[self.tint])


GRID_SIZE = 20.0
GRID_SPACING = 0.5


def grid_origin(centre: FloatArray) -> tuple[float, float]:
    """Where the ground grid goes: under ``centre``, snapped to whole cells so it never slides."""
    x, y = np.round(np.asarray(centre[:2]) / GRID_SPACING) * GRID_SPACING
    return float(x), float(y)


class _GlSkeleton:
    """The pyqtgraph.opengl scene: grid, bones, joints."""

    def __init__(self, owner: QWidget) -> None:
        import pyqtgraph.opengl as gl  # needs PyOpenGL; imported only when GL is usable

        self.widget = gl.GLViewWidget(owner)
        self.widget.setBackgroundColor(QColor(38, 40, 46))
        self.widget.setCameraPosition(distance=4.0, elevation=12.0, azimuth=-60.0)
        self.widget.opts["fov"] = CAMERA_FOV
        self._box: tuple[FloatArray, FloatArray] | None = None
        self._fitted = 0.0
        """The distance the last fit set; another one means the user zoomed since."""
        self.grid = gl.GLGridItem()
        self.grid.setSize(GRID_SIZE, GRID_SIZE)
        self.grid.setSpacing(GRID_SPACING, GRID_SPACING)
        self.widget.addItem(self.grid)
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
        self.grid.resetTransform()  # the floor stays under the body, however far it walks
        self.grid.translate(*grid_origin(centre), 0.0)
        self.widget.update()

    def frame(self, low: FloatArray, high: FloatArray, target: FloatArray) -> None:
        self._box = (low, high)
        self.look_at(target)
        self._set_fitted_distance()

    def keep_fitted(self) -> None:
        if self._box is not None and self.widget.opts["distance"] == self._fitted:
            self._set_fitted_distance()

    def aspect(self) -> float:
        """Width / height of the view (1 before it is laid out)."""
        width, height = self.widget.width(), self.widget.height()
        return width / height if width > 0 and height > 0 else 1.0

    def _set_fitted_distance(self) -> None:
        assert self._box is not None
        opts = self.widget.opts
        angles = (float(opts["elevation"]), float(opts["azimuth"]), float(opts["fov"]))
        self._fitted = fit_distance(*self._box, self.aspect(), *angles)
        self.widget.setCameraPosition(distance=self._fitted)


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

    def frame(self, low: FloatArray, high: FloatArray, target: FloatArray) -> None:
        """The box's front (x, z) around ``target``; the locked aspect widens one range."""
        half = (high[0] - low[0]) / 2
        x_range = (target[0] - half, target[0] + half)
        y_range = (min(low[2], 0.0), high[2])  # the ground line stays in view
        self.widget.getViewBox().setRange(xRange=x_range, yRange=y_range, padding=0.08)

    def keep_fitted(self) -> None:
        """The locked aspect keeps the ranges when the plot is resized: nothing to do."""


def _rgb255(color: tuple[float, ...]) -> tuple[int, int, int]:
    return (int(color[0] * 255), int(color[1] * 255), int(color[2] * 255))


__all__ = [
    "MotionViewport",
    "SkeletonPoints",
    "box_corners",
    "camera_axes",
    "clip_box",
    "fit_distance",
    "opengl_available",
    "skeleton_points",
]
