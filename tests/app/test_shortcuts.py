"""Every shortcut of :data:`app.shortcuts.SHORTCUTS`, pressed with the focus elsewhere.

Each medium's keys are pressed with the focus on the sampler's "random" button, its
Steps spin box, its model combo and the editor's own view, never after a click on
the canvas. A spin box keeps the keys it types with (digits, arrows, Home/End,
Delete), a combo its arrows; everything else reaches the shortcut.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QObject, QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QWidget

from app.editor_base import MediumEditor
from app.engine_worker import EngineBridge
from app.image.canvas import Tool
from app.image.editor import ImageEditor
from app.main_window import MainWindow
from app.midi.editor import PianoRollEditor
from app.motion.editor import MotionEditor
from app.shortcuts import SHORTCUTS, WINDOW, Shortcut, shortcut_rows
from engine.media.image.export import save_image
from engine.media.image.files import LoadedImage
from engine.models import ModelRegistry
from tests.app.helpers import page_editor, shown_window
from tests.engine.midi.midi_files import chorale, save

NAVIGATION = {"Left", "Right", "Up", "Down", "Home", "End"}
EDITING = {"Delete", "Backspace"}
PLACES = ("button", "steps", "model", "view")
Press = Callable[[str], None]


@pytest.fixture
def window(
    qtbot: Any, registry: ModelRegistry, bridge: EngineBridge, qsettings: QSettings
) -> Iterator[MainWindow]:
    main = shown_window(qtbot, registry, bridge, qsettings, None, size=(1200, 800))
    main.activateWindow()
    qtbot.waitActive(main)
    yield main
    main.close()


def open_image(window: MainWindow, tmp_path: Path) -> ImageEditor:
    rgb = np.random.default_rng(5).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    path = save_image_file(rgb, tmp_path / "photo.png")
    assert window.open_path(path), window.last_error
    return page_editor(window, ImageEditor)


def save_image_file(rgb: np.ndarray, path: Path) -> Path:
    save_image(LoadedImage.from_rgb(rgb), path)
    return path


def open_midi(window: MainWindow, tmp_path: Path) -> PianoRollEditor:
    assert window.open_path(save(chorale(1, bars=6), tmp_path / "chorale.mid")), window.last_error
    return page_editor(window, PianoRollEditor)


def open_motion(window: MainWindow, walk: Path) -> MotionEditor:
    assert window.open_path(walk), window.last_error
    return page_editor(window, MotionEditor)


def main_view(editor: MediumEditor) -> QWidget:
    """The widget a user works in: the canvas, the roll, the timeline."""
    for name in ("canvas", "view", "timeline"):
        widget = getattr(editor, name, None)
        if isinstance(widget, QWidget):
            return widget
    raise AssertionError(f"{type(editor).__name__} has no main view")


def focus(qtbot: Any, window: MainWindow, place: str) -> QWidget:
    """Put the keyboard focus on ``place`` (no click: nothing is painted on the way)."""
    editor = window.current_editor()
    assert editor is not None
    widget = {
        "button": window.sampler.random_seed,
        "steps": window.sampler.steps,
        "model": window.sampler.model_combo,
        "view": main_view(editor),
    }[place]
    widget.setEnabled(True)  # the sampler greys out without a model of the tab's medium
    assert widget.isVisible(), place
    widget.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(lambda: widget.hasFocus())
    focused = QApplication.focusWidget()
    assert focused is not None
    return focused


def presser(qtbot: Any, window: MainWindow, place: str) -> Press:
    def press(key: str) -> None:
        combination = QKeySequence(key)[0]  # type: ignore[index]  # the stubs miss __getitem__
        target = focus(qtbot, window, place)
        qtbot.keyClick(target, combination.key(), combination.keyboardModifiers())

    return press


def reaches_shortcuts(place: str, key: str) -> bool:
    """Whether ``key`` should reach the shortcut with the focus on ``place`` (module docstring)."""
    if place == "steps":
        return key not in NAVIGATION | EDITING
    if place == "model":
        return key not in NAVIGATION
    return True


def entries(medium: str) -> list[tuple[Shortcut, str]]:
    return [(entry, key) for entry in SHORTCUTS if medium in entry.media for key in entry.keys]


def spy(action: QAction) -> list[bool]:
    calls: list[bool] = []
    action.triggered.connect(lambda _checked=False: calls.append(True))
    return calls


def action_for(owner: QObject, command: str) -> QAction:
    [action] = [
        a
        for a in owner.findChildren(QAction)
        if a.property("shortcut_command") == command and owner_medium(a) == medium_of(owner)
    ]
    return action


def medium_of(owner: QObject) -> str:
    return owner.medium if isinstance(owner, MediumEditor) else WINDOW


def owner_medium(action: QAction) -> str:
    """The medium of the editor that holds ``action`` (the window's own: :data:`WINDOW`)."""
    parent = action.parent()
    while parent is not None:
        if isinstance(parent, MediumEditor):
            return parent.medium
        parent = parent.parent()
    return WINDOW


# -- what each command does, checked ----------------------------------------------------


def image_checks(editor: ImageEditor) -> dict[str, Callable[[Press, str], None]]:
    canvas = editor.canvas
    document = editor.document
    assert document is not None

    def tool(tool: Tool) -> Callable[[Press, str], None]:
        def check(press: Press, key: str) -> None:
            editor.set_tool(Tool.FILL if tool is not Tool.FILL else Tool.BRUSH)
            press(key)
            assert canvas.tool is tool

        return check

    def brush(direction: int) -> Callable[[Press, str], None]:
        def check(press: Press, key: str) -> None:
            canvas.set_brush_radius(20)
            press(key)
            assert np.sign(canvas.brush_radius - 20) == direction
            assert editor.brush_size.value() == round(2 * canvas.brush_radius)

        return check

    def clear(press: Press, key: str) -> None:
        document.fill_rectangle((10, 10), (40, 40))
        press(key)
        assert not document.has_mask()

    def invert(press: Press, key: str) -> None:
        document.fill_rectangle((10, 10), (40, 40))
        before = document.mask.copy()
        press(key)
        assert np.array_equal(document.mask, ~before)

    def zoom(command: str) -> Callable[[Press, str], None]:
        def check(press: Press, key: str) -> None:
            canvas.set_zoom(7)
            press(key)
            assert canvas.zoom == 1 if command == "actual_size" else canvas.zoom < 7

        return check

    def show_mask(press: Press, key: str) -> None:
        layer = editor.canvas.mask_layer
        before = layer.isVisible()
        press(key)
        assert layer.isVisible() is not before
        press(key)
        assert layer.isVisible() is before

    return {
        **{t.value: tool(t) for t in Tool},
        "brush_smaller": brush(-1),
        "brush_larger": brush(1),
        "clear_mask": clear,
        "invert_mask": invert,
        "fit": zoom("fit"),
        "actual_size": zoom("actual_size"),
        "show_mask": show_mask,
    }


def midi_checks(editor: PianoRollEditor) -> dict[str, Callable[[Press, str], None]]:
    view = editor.view
    document = editor.document
    assert document is not None
    starts = document.grid.bar_steps

    def tool(name: str) -> Callable[[Press, str], None]:
        def check(press: Press, key: str) -> None:
            editor.set_tool("mask" if name == "notes" else "notes")
            press(key)
            assert view.tool == name

        return check

    def clear(press: Press, key: str) -> None:
        document.mask_bars(1, 2, [1, 2])
        press(key)
        assert not document.has_mask()

    def zoom(direction: int) -> Callable[[Press, str], None]:
        def check(press: Press, key: str) -> None:
            before = view.step_px
            press(key)
            assert np.sign(view.step_px - before) == direction

        return check

    def play(press: Press, key: str) -> None:
        calls = spy(editor.play_action)
        press(key)
        assert calls == [True]
        editor.player.stop()

    def bars(start: int, expected: Callable[[float], bool]) -> Callable[[Press, str], None]:
        def check(press: Press, key: str) -> None:
            for _ in range(4):
                view.zoom(factor_x=2)  # the piece wider than the view, so it can scroll
            editor.go_to_bar(start)
            press(key)
            assert expected(view.x_step(0)), view.x_step(0)

        return check

    return {
        "notes": tool("notes"),
        "brush": tool("mask"),
        "clear_mask": clear,
        "zoom_in": zoom(1),
        "zoom_out": zoom(-1),
        "play": play,
        "previous": bars(2, lambda step: step == pytest.approx(starts[1], abs=0.1)),
        "next": bars(2, lambda step: step == pytest.approx(starts[3], abs=0.1)),
        "first": bars(2, lambda step: step == pytest.approx(0, abs=0.1)),
        "last": bars(0, lambda step: step > starts[1]),
    }


def motion_checks(editor: MotionEditor) -> dict[str, Callable[[Press, str], None]]:
    timeline = editor.timeline
    document = editor.document
    assert document is not None
    last = document.n_frames - 1

    def eraser(press: Press, key: str) -> None:
        before = editor.eraser_action.isChecked()
        press(key)
        assert editor.eraser_action.isChecked() is not before
        assert timeline.erase is not before

    def clear(press: Press, key: str) -> None:
        editor.mark(5, 20, "upper")
        press(key)
        assert not document.has_mask()

    def zoom(command: str) -> Callable[[Press, str], None]:
        def check(press: Press, key: str) -> None:
            timeline.fit()
            if command != "zoom_in":  # a 64-frame walk has little room to zoom in
                timeline.zoom_by(2)
            before = timeline.zoom
            press(key)
            expected = {"fit": timeline.zoom == 1, "zoom_in": timeline.zoom > before}
            assert expected.get(command, timeline.zoom < before)

        return check

    def play(press: Press, key: str) -> None:
        editor.pause()
        press(key)
        assert editor.playing
        press(key)
        assert not editor.playing

    def frame(start: int, expected: int) -> Callable[[Press, str], None]:
        def check(press: Press, key: str) -> None:
            editor.set_frame(start)
            press(key)
            assert editor.frame == expected

        return check

    def frame_all(press: Press, key: str) -> None:
        calls = spy(editor.frame_action)
        press(key)
        assert calls == [True]

    return {
        "eraser": eraser,
        "clear_mask": clear,
        "fit": zoom("fit"),
        "zoom_in": zoom("zoom_in"),
        "zoom_out": zoom("zoom_out"),
        "play": play,
        "previous": frame(10, 9),
        "next": frame(10, 11),
        "first": frame(10, 0),
        "last": frame(10, last),
        "frame_all": frame_all,
    }


def check_medium(
    qtbot: Any, window: MainWindow, place: str, medium: str, checks: dict[str, Any]
) -> None:
    """Every key of ``medium`` in the table has a check, and passes it from ``place``."""
    assert {entry.command for entry, _key in entries(medium)} == set(checks)
    press = presser(qtbot, window, place)
    seed = window.sampler.seed.value()
    for entry, key in entries(medium):
        if reaches_shortcuts(place, key):
            checks[entry.command](press, key)
    assert window.sampler.seed.value() == seed  # Space never pressed the focused button


@pytest.mark.parametrize("place", PLACES)
def test_image_shortcuts_from_anywhere(
    qtbot: Any, window: MainWindow, tmp_path: Path, place: str
) -> None:
    editor = open_image(window, tmp_path)
    check_medium(qtbot, window, place, "image", image_checks(editor))


@pytest.mark.parametrize("place", PLACES)
def test_midi_shortcuts_from_anywhere(
    qtbot: Any, window: MainWindow, tmp_path: Path, place: str
) -> None:
    editor = open_midi(window, tmp_path)
    check_medium(qtbot, window, place, "midi", midi_checks(editor))


@pytest.mark.parametrize("place", PLACES)
def test_motion_shortcuts_from_anywhere(
    qtbot: Any, window: MainWindow, walk: Path, place: str
) -> None:
    editor = open_motion(window, walk)
    check_medium(qtbot, window, place, "motion", motion_checks(editor))


@pytest.mark.parametrize("place", ["button", "steps", "model", "view"])
def test_window_shortcuts_from_anywhere(
    qtbot: Any, window: MainWindow, tmp_path: Path, place: str
) -> None:
    """Each window key triggers its action (its dialogs and effects are tested elsewhere)."""
    open_image(window, tmp_path)
    press = presser(qtbot, window, place)
    for entry, key in entries(WINDOW):
        if place == "steps" and entry.command in ("undo", "redo"):
            continue  # a number field keeps its own Ctrl+Z (Qt's behaviour for every text field)
        action = action_for(window, entry.command)
        action.triggered.disconnect()  # no file dialog, no quitting: only that the key arrives
        action.setEnabled(True)
        calls = spy(action)
        press(key)
        assert calls == [True], (entry.command, key, place)


def test_every_shortcut_is_bound_once_per_tab(window: MainWindow) -> None:
    owners: list[QObject] = [window]
    owners += [page.editor for page in window.pages.values() if page.editor is not None]
    for owner in owners:
        for entry in SHORTCUTS:
            if medium_of(owner) in entry.media:
                action = action_for(owner, entry.command)
                assert [s.toString() for s in action.shortcuts()] == [
                    QKeySequence(k).toString() for k in entry.keys
                ]
                assert action.shortcutContext() == Qt.ShortcutContext.WindowShortcut


def test_a_hidden_tab_ignores_its_keys(
    qtbot: Any, window: MainWindow, tmp_path: Path, walk: Path
) -> None:
    motion = open_motion(window, walk)
    image = open_image(window, tmp_path)
    assert window.current_editor() is image
    frame_all = spy(motion.frame_action)
    press = presser(qtbot, window, "button")
    press("Space")
    press("F")
    assert not motion.playing and frame_all == [] and image.canvas.tool is Tool.FILL


def test_number_fields_keep_their_keys_and_combos_their_arrows(
    qtbot: Any, window: MainWindow, walk: Path
) -> None:
    editor = open_motion(window, walk)
    editor.set_frame(10)
    steps = window.sampler.steps
    steps.setValue(12)
    press = presser(qtbot, window, "steps")
    press("Up")
    press("End")
    press("Left")
    assert editor.frame == 10 and steps.value() == 13
    steps.lineEdit().selectAll()
    press("7")
    assert steps.value() == 7
    press("E")  # a letter cannot go in a number: it picks the eraser
    assert steps.value() == 7 and editor.eraser_action.isChecked()
    combo = window.sampler.model_combo
    combo.blockSignals(True)  # two stand-in models, never loaded
    combo.addItems(["first", "second"])
    combo.setCurrentIndex(0)
    index = combo.currentIndex()
    presser(qtbot, window, "model")("Down")
    assert combo.currentIndex() == index + 1 and editor.frame == 10


def test_midi_delete_removes_the_selected_notes_before_the_mask(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    editor = open_midi(window, tmp_path)
    document = editor.document
    assert document is not None
    document.mask_bars(1, 2, [1])
    notes = len(document.score.notes)
    editor.view.selected = {0}
    presser(qtbot, window, "button")("Delete")
    assert len(document.score.notes) == notes - 1 and document.has_mask()
    presser(qtbot, window, "button")("Delete")
    assert not document.has_mask()


def test_help_lists_the_table(qtbot: Any, window: MainWindow) -> None:
    presser(qtbot, window, "button")("F1")
    dialog = window.shortcuts_dialog
    qtbot.waitUntil(dialog.isVisible)
    titles = {page.medium: page.title for page in window.pages.values()}
    rows = shortcut_rows(titles)
    assert dialog.table.rowCount() == len(rows) == len(SHORTCUTS)
    items = [dialog.table.item(row, 0) for row in range(dialog.table.rowCount())]
    cells = {item.text() for item in items if item is not None}
    assert {"Ctrl+I", "B", "Space", "Esc, Ctrl+."} <= cells
    dialog.close()
