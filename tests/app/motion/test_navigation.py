"""Finding one's way in a motion clip: "New clip" on the toolbar, timeline zoom, camera framing.

Real widgets in the real window, real clicks, drags and wheel events on the timeline; the
camera is checked through pyqtgraph's own view and projection matrices (the GL widget can be
built without a context, so no rendering is needed).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QColor, QVector3D, QWheelEvent
from PySide6.QtWidgets import QApplication, QWidget

from app.main_window import MainWindow
from app.motion.editor import MotionEditor
from app.motion.timeline import (
    CONTEXT_COLOR,
    HEADER_WIDTH,
    MASK_COLOR,
    RULER_HEIGHT,
    TEXT_COLOR,
    ZOOM_STEP,
    MotionTimeline,
)
from app.motion.viewport import (
    CAMERA_FOV,
    MotionViewport,
    SkeletonPoints,
    clip_box,
    fit_distance,
    grid_origin,
    skeleton_points,
)
from app.unsaved import Choice
from engine.media.motion.bvh import parse_bvh
from engine.media.motion.bvh_writer import write_bvh
from engine.media.motion.clip import Clip
from engine.models import ModelRegistry
from tests.app.helpers import drag
from tests.app.motion.test_editor import (
    FRAMES,
    TIMEOUT_MS,
    make_window,
    opened,
    paint,
)
from tests.app.prompt import Prompt
from tests.engine.motion.synthetic_bvh import ZYX3, ZYX6, Spec, bandai_like, bvh_text

LONG_CLIP = 2000


@pytest.fixture
def window(
    qtbot: Any, motion_registry: ModelRegistry, qsettings: QSettings
) -> Iterator[MainWindow]:
    main = make_window(qtbot, motion_registry, qsettings)
    yield main
    main.confirm_discard = Prompt(Choice.DISCARD)
    main.close()


@pytest.fixture
def long_walk(tmp_path: Path) -> Path:
    path = tmp_path / "long walk.bvh"
    path.write_text(bandai_like(frames=LONG_CLIP, seed=5))
    return path


def tool_button(editor: MotionEditor, action: Any) -> QWidget:
    button = editor.toolbar.widgetForAction(action)
    assert button is not None and button.isVisible()
    return button


def wheel(widget: QWidget, pos: QPoint, notches: float, modifiers: Any = None) -> None:
    """A real wheel event (``notches`` clicks of 120; positive: away from the user)."""
    event = QWheelEvent(
        QPointF(pos),
        QPointF(widget.mapToGlobal(pos)),
        QPoint(0, 0),
        QPoint(0, round(120 * notches)),
        Qt.MouseButton.NoButton,
        modifiers or Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


# --------------------------------------------------------------------------- New clip


def test_new_clip_on_the_toolbar_asks_before_replacing_a_modified_clip(
    qtbot: Any, window: MainWindow, walk: Path
) -> None:
    editor = opened(window, walk)
    action = editor.new_clip_action
    assert action.isEnabled() and "tiny-motion" in action.toolTip()
    assert editor.new_clip_button is not None  # the welcome page's, same rule and tooltip
    assert action.toolTip() == editor.new_clip_button.toolTip()
    paint(qtbot, editor.timeline, "upper", 10, 20)
    document = editor.document
    assert document is not None and editor.is_modified()
    mask = document.mask.copy()
    prompt = Prompt(Choice.CANCEL)
    window.confirm_discard = prompt
    qtbot.mouseClick(tool_button(editor, action), Qt.MouseButton.LeftButton)
    assert prompt.asked == [["walk.bvh"]]  # the window's question, once
    assert editor.document is document and np.array_equal(document.mask, mask)
    prompt.choice = Choice.DISCARD
    window.sampler.steps.setValue(3)
    with qtbot.waitSignal(window.bridge.finished, timeout=TIMEOUT_MS):
        qtbot.mouseClick(tool_button(editor, action), Qt.MouseButton.LeftButton)
    assert len(prompt.asked) == 2
    assert editor.document is not document and editor.document_name() == "new clip.bvh"
    assert editor.strip.count >= 1 and editor.showing == "variation"


def test_toolbar_new_clip_is_disabled_without_a_motion_model(
    qtbot: Any, qsettings: QSettings, tmp_path: Path, walk: Path
) -> None:
    main = make_window(qtbot, ModelRegistry.discover([tmp_path / "no models"]), qsettings)
    try:
        editor = opened(main, walk)
        button = tool_button(editor, editor.new_clip_action)
        assert not editor.new_clip_action.isEnabled() and not button.isEnabled()
        assert "No motion model is installed" in editor.new_clip_action.toolTip()
        document = editor.document
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert editor.document is document
    finally:
        main.close()


# --------------------------------------------------------------------------- timeline zoom


def frame_under(timeline: MotionTimeline, x: float) -> int:
    """The test's own reading of the view: frames run from ``view_start`` at the header's edge."""
    return math.floor(timeline.view_start + (x - HEADER_WIDTH) / timeline.frame_width())


def centre_x(timeline: MotionTimeline, frame: int) -> int:
    return round(HEADER_WIDTH + (frame + 0.5 - timeline.view_start) * timeline.frame_width())


def row_y(timeline: MotionTimeline, part: str) -> int:
    return timeline.frame_point(0, part).y()


def pixel(timeline: MotionTimeline, x: int, y: int) -> QColor:
    return timeline.grab().toImage().pixelColor(x, y)


def test_ctrl_wheel_zooms_about_the_mouse_and_a_drag_marks_exactly_the_frames_under_it(
    qtbot: Any, window: MainWindow, long_walk: Path
) -> None:
    editor = opened(window, long_walk)
    timeline, document = editor.timeline, editor.document
    assert document is not None and document.n_frames == LONG_CLIP
    fitted = timeline.frame_width()
    assert fitted < 1  # every frame a fraction of a pixel: why zoom is needed
    y = row_y(timeline, "upper")
    mouse = QPoint(HEADER_WIDTH + round(0.4 * timeline.track_width()), y)
    anchor = (mouse.x() - HEADER_WIDTH) / fitted
    wheel(timeline, mouse, 10, Qt.KeyboardModifier.ControlModifier)
    assert timeline.zoom == pytest.approx(ZOOM_STEP**10)
    assert timeline.frame_width() == pytest.approx(fitted * ZOOM_STEP**10)
    under = timeline.view_start + (mouse.x() - HEADER_WIDTH) / timeline.frame_width()
    assert under == pytest.approx(anchor)  # the frame under the mouse stayed under it
    start, end = mouse - QPoint(30, 0), mouse + QPoint(41, 0)
    first, last = frame_under(timeline, start.x()), frame_under(timeline, end.x())
    assert last - first == pytest.approx(71 / timeline.frame_width(), abs=1.5)
    assert last - first < 71 / fitted / 5  # at fit the same drag would span ~9x more frames
    drag(qtbot, timeline, start, end)
    assert np.flatnonzero(document.part_mask("upper")).tolist() == list(range(first, last + 1))
    assert len(document.history.undo_steps) == 1
    for frame, colour in ((first, MASK_COLOR), (last, MASK_COLOR)):
        assert pixel(timeline, centre_x(timeline, frame), y) == colour
    for frame in (first - 1, last + 1):  # painted where the mouse went, not a frame more
        assert pixel(timeline, centre_x(timeline, frame), y) == CONTEXT_COLOR


def test_wheel_scrolls_when_zoomed_and_the_ruler_and_playhead_follow(
    qtbot: Any, window: MainWindow, long_walk: Path
) -> None:
    editor = opened(window, long_walk)
    timeline = editor.timeline
    middle = QPoint(HEADER_WIDTH + timeline.track_width() // 2, row_y(timeline, "lower"))
    wheel(timeline, middle, -3)  # nothing to scroll at fit
    assert timeline.view_start == 0 and timeline.zoom == 1
    qtbot.mouseClick(tool_button(editor, editor.zoom_in_action), Qt.MouseButton.LeftButton)
    wheel(timeline, middle, 12, Qt.KeyboardModifier.ControlModifier)
    shown = timeline.visible_frames()
    assert shown < LONG_CLIP / 10 and timeline.scrollbar.isEnabled()
    before = timeline.view_start
    wheel(timeline, middle, -2)  # towards the user: later frames
    assert timeline.view_start == pytest.approx(before + shown / 4)
    wheel(timeline, middle, 1, Qt.KeyboardModifier.ShiftModifier)
    assert timeline.view_start == pytest.approx(before + shown / 8)
    assert timeline.scrollbar.value() == round(timeline.view_start * timeline.frame_width())
    target = QPoint(HEADER_WIDTH + round(0.7 * timeline.track_width()), RULER_HEIGHT // 2)
    expected = frame_under(timeline, target.x())
    assert expected > shown  # a frame only reachable by scrolling
    qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=target)
    assert editor.frame == expected and timeline.playhead == expected
    step = next(s for s in (1, 2, 5, 10, 20, 25, 50) if s * timeline.frame_width() >= 48)
    tick = (math.floor(timeline.view_start) // step + 2) * step
    tick_x = round(HEADER_WIDTH + (tick - timeline.view_start) * timeline.frame_width())
    assert pixel(timeline, tick_x, RULER_HEIGHT - 3) == TEXT_COLOR  # the ruler's tick is there
    editor.set_frame(1900)  # playback or an audition far away: the view keeps it in sight
    assert timeline.view_start <= 1900 < timeline.view_start + timeline.visible_frames()
    qtbot.mouseDClick(timeline, Qt.MouseButton.LeftButton, pos=target)
    assert timeline.zoom == 1 and timeline.view_start == 0 and not timeline.scrollbar.isEnabled()


def test_keyboard_zoom_and_fit(qtbot: Any, window: MainWindow, long_walk: Path) -> None:
    editor = opened(window, long_walk)
    timeline = editor.timeline
    window.activateWindow()
    qtbot.waitActive(window)
    qtbot.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=timeline.ruler_point(0))
    assert QApplication.focusWidget() is timeline  # a click on the timeline takes the keys
    qtbot.keyClick(timeline, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(timeline, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert timeline.zoom == pytest.approx(ZOOM_STEP**2)
    qtbot.keyClick(timeline, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert timeline.zoom == pytest.approx(ZOOM_STEP)
    qtbot.keyClick(timeline, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert timeline.zoom == 1 and timeline.view_start == 0


def test_zoom_is_view_state_and_a_new_document_starts_fitted(
    qtbot: Any, window: MainWindow, long_walk: Path, walk: Path
) -> None:
    editor = opened(window, long_walk)
    timeline = editor.timeline
    revision = editor.document.revision if editor.document else -1
    wheel(timeline, timeline.frame_point(500, "full"), 8, Qt.KeyboardModifier.ControlModifier)
    assert timeline.zoom > 1 and editor.document is not None
    assert editor.document.revision == revision and not editor.is_modified()
    opened(window, walk)
    assert timeline.zoom == 1 and timeline.view_start == 0
    assert timeline.frame_width() == pytest.approx(timeline.track_width() / FRAMES)


# --------------------------------------------------------------------------- camera framing


def tall_rig(frames: int, jump: float = 0.0, walk_cm: float = 0.0) -> Clip:
    """A CC-rig skeleton in cm spanning 0..180 in Y at rest (toe tips to the top of the head).

    ``jump`` lifts the root by that many cm in the middle third of the clip; ``walk_cm``
    moves it that far forward (+z) per frame.
    """
    specs = [
        Spec("CC_Base_Hip", None, (0, 90, 0), ZYX6),
        Spec("CC_Base_Pelvis", "CC_Base_Hip", (0, 0, 0), ZYX3),
        Spec("CC_Base_Waist", "CC_Base_Hip", (0, 10, 0), ZYX3),
        Spec("CC_Base_Spine01", "CC_Base_Waist", (0, 15, 0), ZYX3),
        Spec("CC_Base_Spine02", "CC_Base_Spine01", (0, 20, 0), ZYX3),
        Spec("CC_Base_NeckTwist01", "CC_Base_Spine02", (0, 15, 0), ZYX3),
        Spec("CC_Base_Head", "CC_Base_NeckTwist01", (0, 10, 0), ZYX3, (0, 20, 0)),
    ]
    for side, sign in (("L", 1), ("R", -1)):
        specs += [
            Spec(f"CC_Base_{side}_Thigh", "CC_Base_Pelvis", (sign * 10, 0, 0), ZYX3),
            Spec(f"CC_Base_{side}_Calf", f"CC_Base_{side}_Thigh", (0, -45, 0), ZYX3),
            Spec(f"CC_Base_{side}_Foot", f"CC_Base_{side}_Calf", (0, -40, 0), ZYX3),
            Spec(f"CC_Base_{side}_ToeBase", f"CC_Base_{side}_Foot", (0, -5, 8), ZYX3, (0, 0, 5)),
            Spec(f"CC_Base_{side}_Clavicle", "CC_Base_Spine02", (sign * 5, 12, 0), ZYX3),
            Spec(f"CC_Base_{side}_Upperarm", f"CC_Base_{side}_Clavicle", (sign * 12, 0, 0), ZYX3),
            Spec(f"CC_Base_{side}_Forearm", f"CC_Base_{side}_Upperarm", (sign * 26, 0, 0), ZYX3),
            Spec(
                f"CC_Base_{side}_Hand",
                f"CC_Base_{side}_Forearm",
                (sign * 25, 0, 0),
                ZYX3,
                (sign * 10, 0, 0),
            ),  # fmt: skip
        ]
    channels = sum(len(spec.channels) for spec in specs)
    rest = parse_bvh(bvh_text(specs, np.zeros((1, channels)), "0.0333333", str, "  "))
    motion = np.zeros((frames, rest.n_channels))
    root = rest.channel_columns(0, "position")
    t = np.arange(frames)
    lifted = (t >= frames // 3) & (t < 2 * frames // 3)
    motion[:, root] = np.stack([0 * t, 90 + jump * lifted, walk_cm * t], axis=1)
    return rest.with_motion(motion)


def ndc(widget: Any, points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Normalized device coordinates of GL points ``[N, 3]`` under pyqtgraph's own camera."""
    size = (0, 0, widget.width(), widget.height())
    matrix = widget.projectionMatrix(size, size) * widget.viewMatrix()
    transform = np.array(matrix.data(), dtype=np.float64).reshape(4, 4).T  # column-major
    clip = np.c_[points, np.ones(len(points))] @ transform.T
    assert (clip[:, 3] > 0).all()  # in front of the camera
    return np.asarray(clip[:, :3] / clip[:, 3:], dtype=np.float64)


def corners(low: npt.NDArray[np.float64], high: npt.NDArray[np.float64]) -> Any:
    return np.array([[(low, high)[b >> i & 1][i] for i in range(3)] for b in range(8)])


def gl_viewport(qtbot: Any, size: tuple[int, int]) -> MotionViewport:
    viewport = MotionViewport(use_gl=True)  # a GLViewWidget; its matrices need no context
    qtbot.addWidget(viewport)
    viewport.resize(*size)
    viewport.show()
    qtbot.waitUntil(lambda: viewport.canvas.size().width() == size[0], timeout=5_000)
    return viewport


def test_the_tall_rig_spans_0_to_1_8_metres() -> None:
    points = skeleton_points(tall_rig(3))
    assert points.points[:, :, 2].min() == pytest.approx(0.0, abs=1e-9)
    assert points.points[:, :, 2].max() == pytest.approx(1.8)


@pytest.mark.parametrize("aspect", [0.5, 1.0, 1.6, 3.0])
@pytest.mark.parametrize("elevation", [0.0, 12.0, 60.0])
@pytest.mark.parametrize("azimuth", [-60.0, 0.0, 135.0])
def test_fit_distance_puts_the_whole_box_just_inside_the_view(
    aspect: float, elevation: float, azimuth: float
) -> None:
    low, high = np.array([-0.4, -0.2, 0.0]), np.array([0.4, 2.3, 1.8])
    distance = fit_distance(low, high, aspect, elevation, azimuth)
    half_width = math.tan(math.radians(CAMERA_FOV) / 2)
    x, y, depth = camera_coordinates(
        corners(low, high) - (low + high) / 2, distance, elevation, azimuth
    )
    reach = np.maximum(abs(x / depth) / half_width, abs(y / depth) / (half_width / aspect))
    assert (depth > 0).all() and reach.max() <= 1.0  # every corner in view
    assert reach.max() > 0.8  # and no further away than the margin needs


def camera_coordinates(
    points: npt.NDArray[np.float64], distance: float, elevation: float, azimuth: float
) -> tuple[npt.NDArray[np.float64], ...]:
    """A pinhole camera orbiting the origin as pyqtgraph's does: right, up, depth."""
    elev, azim = math.radians(elevation), math.radians(azimuth)
    back = np.array(
        [math.cos(elev) * math.cos(azim), math.cos(elev) * math.sin(azim), math.sin(elev)]
    )
    right = np.cross([0.0, 0.0, 1.0], back)
    right /= np.linalg.norm(right)
    up = np.cross(back, right)
    relative = points - distance * back
    return relative @ right, relative @ up, -(relative @ back)


def test_the_gl_camera_frames_a_tall_rig_over_the_whole_clip(qtbot: Any) -> None:
    """A wide, short view (the editor's layout) and a jump late in the clip: the head stays in."""
    viewport = gl_viewport(qtbot, (900, 300))
    points = skeleton_points(tall_rig(60, jump=40.0))
    viewport.set_sequence(points)
    low, high = points.points.min(axis=(0, 1)), points.points.max(axis=(0, 1))
    assert high[2] == pytest.approx(2.2)  # the jump's head
    for frame in (0, 30, 59):
        viewport.set_frame(frame)
        projected = abs(ndc(viewport.canvas, corners(low, high))[:, :2])
        assert projected.max() <= 1, (frame, projected)
        assert projected[:, 1].max() > 0.8  # wide and short: the height fills the view


def test_resizing_refits_until_the_user_zooms(qtbot: Any) -> None:
    viewport = gl_viewport(qtbot, (900, 300))
    points = skeleton_points(tall_rig(10))
    viewport.set_sequence(points)
    wide = viewport.canvas.opts["distance"]
    viewport.resize(400, 500)
    qtbot.waitUntil(lambda: viewport.canvas.opts["distance"] != wide, timeout=5_000)
    assert viewport.canvas.opts["distance"] < wide  # more height: the tall body comes closer
    low, high = clip_box(points, follow_root=True)
    assert abs(ndc(viewport.canvas, corners(low, high))[:, :2]).max() > 0.8  # fits snugly
    viewport.canvas.setCameraPosition(distance=1.5)  # the user zooms in with the wheel
    viewport.resize(900, 300)
    qtbot.waitUntil(lambda: viewport.canvas.width() == 900, timeout=5_000)
    assert viewport.canvas.opts["distance"] == 1.5
    viewport.frame_all()
    assert viewport.canvas.opts["distance"] == pytest.approx(wide)


def body_corners(points: SkeletonPoints, frame: int) -> Any:
    pose = points.points[frame, points.drawn()]
    return corners(pose.min(axis=0), pose.max(axis=0))


def test_follow_root_tracks_the_body_and_a_fixed_camera_frames_the_whole_path(
    qtbot: Any,
) -> None:
    viewport = gl_viewport(qtbot, (900, 300))
    points = skeleton_points(tall_rig(120, walk_cm=3.0))  # 3.6 m forward
    viewport.set_sequence(points)
    near = viewport.canvas.opts["distance"]
    lead = viewport.canvas.opts["center"].y() - points.centre(0)[1]
    for frame in (0, 60, 119):
        viewport.set_frame(frame)
        centre = viewport.canvas.opts["center"]
        assert centre.y() - points.centre(frame)[1] == pytest.approx(lead, abs=1e-6)  # followed
        assert (abs(ndc(viewport.canvas, body_corners(points, frame))[:, :2]) <= 1).all()
    viewport.set_follow_root(False)
    assert viewport.canvas.opts["distance"] > near  # room for the whole walk
    fixed = viewport.canvas.opts["center"]
    whole = corners(*clip_box(points, follow_root=False))
    for frame in (0, 119):
        viewport.set_frame(frame)
        assert viewport.canvas.opts["center"] == fixed
        assert (abs(ndc(viewport.canvas, whole)[:, :2]) <= 1).all()
    viewport.set_follow_root(True)
    assert viewport.canvas.opts["distance"] == pytest.approx(near)


def test_a_resting_root_off_the_body_does_not_widen_the_frame(qtbot: Any) -> None:
    """Bandai's joint_Root stays at the origin while the walk goes 12 m away: it is no bone."""
    viewport = gl_viewport(qtbot, (900, 300))
    points = skeleton_points(parse_bvh(bandai_like(frames=400, seed=2)))
    assert np.ptp(points.points[:, 1, 1]) > 10  # the hips walked more than 10 m
    viewport.set_sequence(points)
    low, high = clip_box(points, follow_root=True)
    assert (high - low).max() < 2.5  # the body's own extent only
    assert viewport.canvas.opts["distance"] < 8
    viewport.set_frame(399)
    assert abs(ndc(viewport.canvas, body_corners(points, 399))[:, :2]).max() > 0.3  # not a speck


def test_frame_body_in_the_editor_brings_the_skeleton_back(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    """The editor's view here is the 2D fallback (no OpenGL offscreen): same framing rule."""
    path = tmp_path / "tall.bvh"
    write_bvh(tall_rig(20, jump=30.0), path)
    editor = opened(window, path)
    plot = editor.viewport.canvas.getViewBox()  # type: ignore[attr-defined]
    (_x0, _x1), (bottom, top) = plot.viewRange()
    assert bottom <= 0.0 and 2.1 <= top < 3.5  # feet to the jump's head, with a margin
    plot.setRange(xRange=(10, 11), yRange=(10, 11), padding=0)  # the user pans away
    qtbot.mouseClick(tool_button(editor, editor.frame_action), Qt.MouseButton.LeftButton)
    (_x0, _x1), (bottom, top) = plot.viewRange()
    assert bottom <= 0.0 and 2.1 <= top < 3.5


def test_the_ground_grid_stays_under_a_body_that_walks_away(qtbot: Any) -> None:
    """A 20 m grid at the origin would be out of sight after a long walk; it moves in cells."""
    import pyqtgraph.opengl as gl

    assert grid_origin(np.array([3.74, -1.2, 0.9])) == (3.5, -1.0)
    viewport = gl_viewport(qtbot, (900, 300))
    points = skeleton_points(tall_rig(120, walk_cm=30.0))  # 36 m forward
    viewport.set_sequence(points)
    grid = next(item for item in viewport.canvas.items if isinstance(item, gl.GLGridItem))
    for frame in (0, 119):
        viewport.set_frame(frame)
        look = viewport.canvas.opts["center"]  # the body's centre, followed
        moved = grid.transform().map(QVector3D(0.0, 0.0, 0.0))
        assert abs(moved.x() - look.x()) <= 0.25 and abs(moved.y() - look.y()) <= 0.25
        assert moved.z() == 0.0
    assert abs(moved.y()) > 30  # it did leave the origin


def test_a_standing_character_has_no_bone_from_the_floor_to_its_hips(qtbot: Any) -> None:
    """Bandai's joint_Root rests at the origin under the Hips; a still take keeps their distance
    constant, which once passed for a bone: a line from the floor up to the pelvis."""
    clip = parse_bvh(bandai_like(frames=30, seed=3))
    still = clip.with_motion(np.repeat(clip.motion[:1], clip.n_frames, axis=0))
    points = skeleton_points(still)
    root = [j.name for j in still.joints].index("joint_Root")
    hips = [j.name for j in still.joints].index("Hips")
    assert root not in points.bones and root not in points.dots
    assert hips in points.dots and len(points.bones) >= len(still.joints) - 2
    viewport = gl_viewport(qtbot, (900, 300))
    viewport.set_sequence(points)
    low, high = clip_box(points, follow_root=False)
    assert low[2] > -0.2 and high[2] - low[2] < 2.5  # the body alone, nothing down to the origin
