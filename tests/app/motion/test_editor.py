"""The Motion page in the real window: real mouse events on the timeline, a real engine thread,
and a tiny real ONNX transformer (medium "motion") behind a small test codec.

The test codec in-betweens by linear + SLERP interpolation and lets the sampled tokens
sway the edited part's rotations, then composites with
:func:`engine.media.motion.editing.composite`, so variations differ and everything outside the
range is bit-exact, as the shipped codec promises. Raw channel values are compared exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt

from app.engine_worker import EngineBridge
from app.main_window import MainWindow
from app.motion.editor import MotionEditor
from app.motion.timeline import MotionTimeline
from app.motion.viewport import MotionViewport, skeleton_points
from engine.jobs import TokenProblem
from engine.media.motion.bvh import parse_bvh, read_bvh
from engine.media.motion.clip import Clip
from engine.media.motion.document import MotionDocument, MotionPayload
from engine.media.motion.editing import composite, interpolate_range
from engine.media.motion.skeleton import map_skeleton
from engine.models import ModelManifest, ModelRegistry
from engine.sampling.types import TokenArray
from tests.app.conftest import MOTION_COLUMNS, MOTION_VOCAB, WALK_FRAMES
from tests.app.helpers import drag, page_editor, shown_window
from tests.engine.motion.synthetic_bvh import bandai_like, names_bvh

TIMEOUT_MS = 30_000
VOCAB, COLUMNS = MOTION_VOCAB, MOTION_COLUMNS  # conftest's "tiny-motion" model (motion_registry)
FRAMES = WALK_FRAMES  # conftest's ``walk``


class TinyMotionCodec:
    """Two token rows (0 lower, 1 upper) of ``COLUMNS`` tokens spread over the clip's frames."""

    frames_per_token = 4

    def __init__(self, manifest: ModelManifest) -> None:
        self.mask_id = manifest.mask_id
        self.window = COLUMNS * self.frames_per_token

    def encode(self, payload: MotionPayload) -> TokenProblem:
        editable = np.zeros((2, COLUMNS), dtype=bool)
        columns = self._columns(payload)
        for row in _rows(payload.part):
            editable[row, columns] = True
        return TokenProblem(np.zeros(2 * COLUMNS, np.int64), editable.reshape(-1), (2, COLUMNS))

    def decode(self, payload: MotionPayload, tokens: TokenArray) -> list[Clip]:
        return [self._clip(payload, row) for row in np.atleast_2d(tokens)]

    def preview(self, payload: MotionPayload, tokens: TokenArray) -> list[Clip]:
        decided = np.where(np.asarray(tokens) >= self.mask_id, 0, tokens)
        return self.decode(payload, decided)

    def skeleton_template(self) -> Clip:
        rig = parse_bvh(bandai_like(frames=1))
        return rig.with_motion(np.zeros_like(rig.motion))

    def _columns(self, payload: MotionPayload) -> slice:
        n = payload.clip.n_frames
        return slice(payload.first * COLUMNS // n, payload.last * COLUMNS // n + 1)

    def _clip(self, payload: MotionPayload, row: TokenArray) -> Clip:
        clip, first, last = payload.clip, payload.first, payload.last
        whole = first == 0 and last == clip.n_frames - 1
        base = clip if whole else interpolate_range(clip, first, last, payload.part)
        motion = base.motion.copy()
        grid = row.reshape(2, COLUMNS)
        frames = np.arange(first, last + 1)
        columns = frames * COLUMNS // clip.n_frames
        for joint in payload.skeleton_map.part_joints(payload.part):
            token_row = grid[0 if payload.skeleton_map.source_parts[joint] == "lower" else 1]
            sway = (token_row[columns] - VOCAB / 2) * 3.0
            rotation = clip.channel_columns(int(joint), "rotation")
            motion[np.ix_(frames, rotation)] += sway[:, None]
        generated = clip.with_motion(motion)
        return composite(clip, generated, first, last, payload.part, 4, payload.skeleton_map)


def _rows(part: str) -> list[int]:
    return {"full": [0, 1], "lower": [0], "upper": [1]}[part]


# --------------------------------------------------------------------------- fixtures


def make_window(qtbot: Any, registry: ModelRegistry, qsettings: QSettings) -> MainWindow:
    editors = {
        "image": None,
        "midi": None,
        "motion": lambda: MotionEditor(codec_factory=TinyMotionCodec),
    }
    bridge = EngineBridge(registry)
    main = shown_window(qtbot, registry, bridge, qsettings, editors, size=(1300, 850))
    main.show_medium("motion")
    return main


@pytest.fixture
def window(
    qtbot: Any, motion_registry: ModelRegistry, qsettings: QSettings
) -> Iterator[MainWindow]:
    main = make_window(qtbot, motion_registry, qsettings)
    yield main
    main.close()
    assert main.bridge.engine_thread is not None and main.bridge.engine_thread.isFinished()


def opened(window: MainWindow, path: Path) -> MotionEditor:
    assert window.open_path(path), window.last_error
    return page_editor(window, MotionEditor)


def opened_document(window: MainWindow, path: Path) -> tuple[MotionEditor, MotionDocument]:
    """:func:`opened`, and the document it holds (checked to be there)."""
    editor = opened(window, path)
    assert editor.document is not None
    return editor, editor.document


def paint(
    qtbot: Any, timeline: MotionTimeline, part: str, first: int, last: int, **kw: Any
) -> None:
    drag(qtbot, timeline, timeline.frame_point(first, part), timeline.frame_point(last, part), **kw)


def generate(qtbot: Any, window: MainWindow, variations: int = 2) -> None:
    window.sampler.variations.setValue(variations)
    window.sampler.steps.setValue(4)
    with qtbot.waitSignal(window.bridge.finished, timeout=TIMEOUT_MS):
        assert window.generate() is not None, window.statusBar().currentMessage()


def part_columns(clip: Clip, part: str) -> np.ndarray:
    joints = map_skeleton(clip).part_joints(part)
    return np.concatenate([clip.channel_columns(int(j)) for j in joints])


# --------------------------------------------------------------------------- timeline


def test_dragging_on_the_timeline_marks_frames(qtbot: Any, window: MainWindow, walk: Path) -> None:
    editor, document = opened_document(window, walk)
    paint(qtbot, editor.timeline, "upper", 10, 25)
    assert np.flatnonzero(document.part_mask("upper")).tolist() == list(range(10, 26))
    assert not document.part_mask("lower").any()
    assert len(document.history.undo_steps) == 1  # one drag, one undo step
    assert window.generate_action.isEnabled() and window.undo_action.isEnabled()
    paint(qtbot, editor.timeline, "full", 30, 33)
    assert document.part_mask("lower")[30:34].all() and document.part_mask("upper")[30:34].all()
    paint(qtbot, editor.timeline, "upper", 12, 40, button=Qt.MouseButton.RightButton)
    assert np.flatnonzero(document.mask[:, 0]).tolist() == [10, 11]
    assert document.part_mask("lower")[30:34].all()  # right drag on upper left lower alone
    window.undo()
    assert document.part_mask("upper")[20:26].all()


def test_eraser_mode_and_ruler_scrub(qtbot: Any, window: MainWindow, walk: Path) -> None:
    editor, document = opened_document(window, walk)
    editor.mark(0, 20, "lower")
    editor.eraser_action.trigger()
    paint(qtbot, editor.timeline, "lower", 5, 9)
    assert np.flatnonzero(document.part_mask("lower")).tolist() == [*range(5), *range(10, 21)]
    drag(qtbot, editor.timeline, editor.timeline.ruler_point(3), editor.timeline.ruler_point(40))
    assert editor.frame == 40 and editor.timeline.playhead == 40 and editor.slider.value() == 40


# --------------------------------------------------------------------------- generation


def test_generating_changes_only_the_masked_frames_and_undo_restores(
    qtbot: Any, window: MainWindow, walk: Path, tmp_path: Path
) -> None:
    editor, document = opened_document(window, walk)
    before = document.clip.motion.copy()
    paint(qtbot, editor.timeline, "full", 20, 35)
    generate(qtbot, window, variations=3)
    assert editor.preview_updates >= 1  # the pose sequence followed the sampler's steps
    assert editor.strip.count == 3 and editor.showing == "variation"
    assert np.array_equal(document.clip.motion, before)  # nothing written until Accept
    editor.strip.select(1)
    qtbot.mouseClick(editor.strip.accept_button, Qt.MouseButton.LeftButton)
    after = document.clip.motion
    changed_rows = np.flatnonzero((after != before).any(axis=1))
    assert changed_rows.size and changed_rows.min() >= 20 and changed_rows.max() <= 35
    assert np.array_equal(after[:20], before[:20]) and np.array_equal(after[36:], before[36:])
    assert document.generated[20:36].all() and editor.showing == "document"
    out = tmp_path / "out.bvh"
    assert window.export_to(out), window.last_error
    assert np.array_equal(read_bvh(out).motion, after)  # same values back through the reader
    window.undo()
    assert np.array_equal(document.clip.motion, before) and not document.generated.any()
    assert document.part_mask("full")[20:36].all()  # the mask stroke is its own step
    window.redo()
    assert np.array_equal(document.clip.motion, after)


def test_part_only_generation_keeps_the_other_parts_channels(
    qtbot: Any, window: MainWindow, walk: Path
) -> None:
    editor, document = opened_document(window, walk)
    before = document.clip.motion.copy()
    paint(qtbot, editor.timeline, "lower", 8, 30)
    generate(qtbot, window)
    editor.accept_variation(0)
    after = document.clip.motion
    upper = part_columns(document.clip, "upper")
    lower = part_columns(document.clip, "lower")
    assert np.array_equal(after[:, upper], before[:, upper])
    assert not np.array_equal(after[8:31, lower], before[8:31, lower])
    assert document.generated[8:31, 1].all() and not document.generated[:, 0].any()


def test_discard_all_leaves_the_document_and_view_as_they_were(
    qtbot: Any, window: MainWindow, walk: Path
) -> None:
    editor, document = opened_document(window, walk)
    before = document.clip.motion.copy()
    editor.mark(40, 50, "upper")
    steps = len(document.history.undo_steps)
    generate(qtbot, window)
    qtbot.mouseClick(editor.strip.discard_button, Qt.MouseButton.LeftButton)
    assert np.array_equal(document.clip.motion, before) and editor.showing == "document"
    assert len(document.history.undo_steps) == steps and not editor.strip.isVisible()


def test_a_mask_with_gaps_is_refused_with_a_reason(window: MainWindow, walk: Path) -> None:
    editor = opened(window, walk)
    editor.mark(2, 5, "full")
    editor.mark(9, 12, "full")
    assert window.generate() is None
    assert "gaps" in window.statusBar().currentMessage()


# --------------------------------------------------------------------------- files


def test_a_bad_file_is_an_error_and_the_document_is_unchanged(
    window: MainWindow, walk: Path, tmp_path: Path
) -> None:
    editor, document = opened_document(window, walk)
    editor.mark(3, 9, "full")
    broken = tmp_path / "broken.bvh"
    broken.write_text(bandai_like(frames=4).replace("Frames: 4", "Frames: 9"))
    assert not window.open_path(broken)
    assert window.last_error
    odd = tmp_path / "odd.bvh"
    odd.write_text(names_bvh([("Pelvis", None), ("Torso", "Pelvis")]))
    assert not window.open_path(odd)
    assert "missing joints" in window.last_error
    assert editor.document is document and document.part_mask("full")[3:10].all()
    assert not window.export_to(tmp_path / "walk.png")
    assert ".bvh" in window.last_error


# --------------------------------------------------------------------------- views


def test_playback_advances_loops_and_pauses(qtbot: Any, window: MainWindow, walk: Path) -> None:
    editor = opened(window, walk)
    assert "30 fps" in editor.frame_label.text()
    assert editor.viewport.width() > editor.curves.width() > 100  # the skeleton gets the room
    editor.set_frame(FRAMES - 2)
    editor.play()
    assert editor.playing and editor.play_action.text() == "Pause"
    qtbot.waitUntil(lambda: editor.frame < FRAMES - 2, timeout=5_000)  # looped around
    editor.toggle_play()
    assert not editor.playing
    editor.loop_action.setChecked(False)
    editor.set_frame(FRAMES - 3)
    editor.play()
    qtbot.waitUntil(lambda: not editor.playing, timeout=5_000)
    assert editor.frame == FRAMES - 1


def test_curves_follow_the_chosen_joint(window: MainWindow, walk: Path) -> None:
    editor = opened(window, walk)
    curves = editor.curves
    assert curves.joint_box.count() == 22 and len(curves.curves) == 3
    curves.joint_box.setCurrentIndex(curves.joint_box.findText("Head"))
    clip = editor.document.clip if editor.document else None
    assert clip is not None
    head = clip.channel_columns(clip.joint_index("Head"), "rotation")
    assert np.array_equal(curves.curves[0].yData, clip.motion[:, head[0]])
    editor.set_frame(7)
    assert curves.playhead.value() == 7


def test_viewport_degrades_to_a_2d_view_without_opengl(qtbot: Any, walk: Path) -> None:
    viewport = MotionViewport(use_gl=None)  # offscreen Qt has no OpenGL context
    qtbot.addWidget(viewport)
    viewport.show()
    points = skeleton_points(read_bvh(walk))
    viewport.set_sequence(points)
    viewport.set_follow_root(True)
    viewport.set_frame(10)
    if not viewport.gl_ok:
        assert viewport.message.isVisible() and "2D" in viewport.message.text()
    assert points.points.shape == (FRAMES, 22 + 5, 3)  # joints + 5 End Sites
    bones = {tuple(bone) for bone in points.bones.tolist()}
    assert (0, 1) not in bones and (1, 2) in bones  # no line from the resting root to the hips
    assert len(bones) == 20 + 5 and 0 not in points.dots
    hips = points.points[:, 1]
    assert np.all(np.abs(hips[:, 2] - 0.9) < 0.03)  # 90 cm up became 0.9 m on Z


# --------------------------------------------------------------------------- new clip


def test_new_clip_generates_a_whole_clip_from_the_welcome_page(
    qtbot: Any, window: MainWindow
) -> None:
    editor = page_editor(window, MotionEditor)
    button = editor.new_clip_button
    assert button is not None and button.isEnabled() and "tiny-motion" in button.toolTip()
    assert window.pages["motion"].welcome.open_button.text() == "Open a BVH…"
    window.sampler.steps.setValue(3)
    with qtbot.waitSignal(window.bridge.finished, timeout=TIMEOUT_MS):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    document = editor.document
    assert document is not None and document.n_frames == COLUMNS * 4
    blank = document.clip.motion.copy()
    hips = document.clip.joint_index("Hips")
    spine = document.clip.joint_index("Spine")
    assert blank[0, document.clip.channel_columns(hips, "position")].tolist() == [0, 90, 0]
    assert blank[0, document.clip.channel_columns(spine, "position")].tolist() == [0, 10, 0]
    assert editor.strip.count >= 1
    editor.accept_variation(0)
    assert not np.array_equal(document.clip.motion, blank) and document.generated.all()
    window.undo()
    assert np.array_equal(document.clip.motion, blank)


def test_new_clip_is_disabled_without_a_motion_model(
    qtbot: Any, qsettings: QSettings, tmp_path: Path
) -> None:
    main = make_window(qtbot, ModelRegistry.discover([tmp_path]), qsettings)
    try:
        button = page_editor(main, MotionEditor).new_clip_button
        assert button is not None and not button.isEnabled()
        assert "No motion model is installed" in button.toolTip()
    finally:
        main.close()


# --------------------------------------------------------------------------- the shipped codec


def test_the_real_motion_codec_previews_and_keeps_the_outside_exact(
    qtbot: Any, qsettings: QSettings, tmp_path: Path, walk: Path
) -> None:
    from tests.app.motion.test_cli import write_tiny_motion_model

    write_tiny_motion_model(tmp_path / "models")
    registry = ModelRegistry.discover([tmp_path / "models"])
    main = shown_window(qtbot, registry, EngineBridge(registry), qsettings)
    try:
        editor, document = opened_document(main, walk)
        before = document.clip.motion.copy()
        paint(qtbot, editor.timeline, "upper", 24, 35)
        generate(qtbot, main)
        assert editor.preview_updates >= 1 and editor.strip.count == 2
        editor.accept_variation(1)
        after = document.clip.motion
        assert np.array_equal(after[:24], before[:24]) and np.array_equal(after[36:], before[36:])
        lower = part_columns(document.clip, "lower")
        assert np.array_equal(after[:, lower], before[:, lower])
        assert not np.array_equal(after, before)
        main.pages["motion"].sync()
        with qtbot.waitSignal(main.bridge.finished, timeout=TIMEOUT_MS):
            assert editor.new_clip()  # the model's rig, one window long, all generated
        assert editor.document is not document and editor.strip.count == 2
        blank = editor.document.clip.motion.copy() if editor.document else None
        editor.accept_variation(0)
        assert editor.document is not None and editor.document.n_frames == 32
        assert not np.array_equal(editor.document.clip.motion, blank)
    finally:
        main.close()
