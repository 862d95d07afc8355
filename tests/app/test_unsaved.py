"""No edit is lost without a question: modified documents, the title star, and the
Export… / Discard / Cancel question on close, Quit, Open over a document and New clip.

One real window holds all three real editors plus the token editor; files are real
files in ``tmp_path`` (the shipped samples copied there, a synthetic BVH), edits are
real mouse events, and the engine thread is joined by every test.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app.editor_base import MediumEditor
from app.engine_worker import EngineBridge
from app.image.canvas import Tool
from app.image.editor import ImageEditor
from app.main_window import MainWindow
from app.midi.editor import PianoRollEditor
from app.motion.editor import MotionEditor
from app.unsaved import Choice, ask_unsaved, choice_of, unsaved_box
from app.welcome import samples_dir
from engine.models import ModelRegistry
from engine.project import read_project
from tests.app.conftest import GRID_SHAPE, VOCAB, TokenGridEditor, write_motion_model
from tests.app.helpers import shown_window
from tests.app.midi.test_piano_roll import free_pitch
from tests.app.motion.test_editor import TinyMotionCodec, paint
from tests.app.prompt import Prompt
from tests.tinymodels import write_tiny_model

TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def all_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("unsaved-models")
    write_tiny_model(root, "tiny", vocab_size=VOCAB, shape=GRID_SHAPE, seed=0)
    write_motion_model(root)
    return root


@pytest.fixture
def window(qtbot: Any, all_models: Path, qsettings: QSettings) -> Iterator[MainWindow]:
    registry = ModelRegistry.discover([all_models])
    editors = {
        "image": ImageEditor,
        "midi": PianoRollEditor,
        "motion": lambda: MotionEditor(codec_factory=TinyMotionCodec),
        "tokens": TokenGridEditor,
    }
    bridge = EngineBridge(registry)
    main = shown_window(qtbot, registry, bridge, qsettings, editors, size=(1300, 850))
    main.ask_export_path = lambda _editor: pytest.fail("no export dialog was expected")
    qtbot.waitExposed(main)
    yield main
    main.confirm_discard = Prompt(Choice.DISCARD)
    main.close()
    thread = main.bridge.engine_thread
    assert thread is not None and thread.isFinished()


# --------------------------------------------------------------------------- files


@pytest.fixture
def grid_file(tmp_path: Path) -> Path:
    path = tmp_path / "grid.npy"
    np.save(path, np.random.default_rng(3).integers(0, VOCAB, GRID_SHAPE))
    return path


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    return Path(shutil.copy(samples_dir() / "photo.png", tmp_path / "photo.png"))


@pytest.fixture
def chorale(tmp_path: Path) -> Path:
    return Path(shutil.copy(samples_dir() / "chorale.mid", tmp_path / "chorale.mid"))


# --------------------------------------------------------------------------- helpers


def editor_of(window: MainWindow, medium: str) -> Any:
    editor = window.pages[medium].editor
    assert editor is not None
    return editor


def opened(window: MainWindow, path: Path, medium: str) -> Any:
    assert window.open_path(path), window.last_error
    QApplication.processEvents()
    return editor_of(window, medium)


def shown_title(window: MainWindow) -> str:
    """The title as the window system shows it ("[*]" replaced by "*" or nothing)."""
    handle = window.windowHandle()
    assert handle is not None
    return handle.title()


def toggle_cell(qtbot: Any, editor: TokenGridEditor, row: int, column: int) -> None:
    item = editor.table.item(row, column)
    center = editor.table.visualItemRect(item).center()
    qtbot.mouseClick(editor.table.viewport(), Qt.MouseButton.LeftButton, pos=center)


def edited_tokens(qtbot: Any, window: MainWindow, grid_file: Path) -> TokenGridEditor:
    editor = opened(window, grid_file, "tokens")
    toggle_cell(qtbot, editor, 1, 2)
    assert editor.is_modified()
    return editor


def paint_rectangle(qtbot: Any, editor: ImageEditor, corner: tuple[int, int], size: int) -> None:
    """A real drag of the rectangle tool from image pixel ``corner``."""
    editor.set_tool(Tool.RECTANGLE)
    viewport = editor.canvas.viewport()
    x, y = corner
    start, end = (
        editor.canvas.mapFromScene(QPointF(px + 0.5, py + 0.5))
        for px, py in ((x, y), (x + size, y + size))
    )
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(viewport, (start + end) / 2)
    qtbot.mouseMove(viewport, end)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)


def click_new_note(qtbot: Any, editor: PianoRollEditor, step: float) -> QPoint:
    editor.set_voice(1)
    point = editor.view.note_point(step, free_pitch(editor, step))
    qtbot.mouseClick(editor.view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    return point


# --------------------------------------------------------------------------- modified state


def test_an_edit_stars_the_title_and_undo_back_makes_it_clean(
    qtbot: Any, window: MainWindow, grid_file: Path
) -> None:
    editor = opened(window, grid_file, "tokens")
    tab = window.tabs.indexOf(window.pages["tokens"])
    assert not editor.is_modified() and not window.isWindowModified()
    assert shown_title(window) == "token grid — remask"
    with qtbot.waitSignal(editor.stateChanged):
        toggle_cell(qtbot, editor, 0, 3)
    assert editor.is_modified() and window.isWindowModified()
    assert window.windowTitle() == "token grid[*] — remask"
    assert shown_title(window) == "token grid* — remask"
    assert window.tabs.tabText(tab) == "Tokens *"
    toggle_cell(qtbot, editor, 0, 4)
    window.undo_action.trigger()
    assert editor.is_modified()  # one of two edits is still there
    window.undo_action.trigger()
    assert not editor.is_modified() and shown_title(window) == "token grid — remask"
    assert window.tabs.tabText(tab) == "Tokens"
    window.redo_action.trigger()
    assert editor.is_modified() and window.isWindowModified()


def test_export_makes_it_clean_and_undo_past_the_export_modified_again(
    qtbot: Any, window: MainWindow, grid_file: Path, tmp_path: Path
) -> None:
    editor = edited_tokens(qtbot, window, grid_file)
    with qtbot.waitSignal(editor.stateChanged):
        assert window.export_to(tmp_path / "saved.npy")
    assert not editor.is_modified() and not window.isWindowModified()
    window.undo_action.trigger()
    assert editor.is_modified()  # differs from what was saved
    window.redo_action.trigger()
    assert not editor.is_modified()


def test_the_title_follows_the_current_page(
    qtbot: Any, window: MainWindow, grid_file: Path, walk: Path
) -> None:
    edited_tokens(qtbot, window, grid_file)
    opened(window, walk, "motion")
    assert shown_title(window) == "walk.bvh — remask"
    window.show_medium("tokens")
    assert shown_title(window) == "token grid* — remask"
    window.show_medium("image")
    assert shown_title(window) == "remask" and not window.isWindowModified()


# --------------------------------------------------------------------------- closing


def test_close_with_a_modified_document_and_cancel_keeps_everything(
    qtbot: Any, window: MainWindow, grid_file: Path
) -> None:
    editor = edited_tokens(qtbot, window, grid_file)
    assert editor.document is not None
    document = editor.document
    tokens, mask = document.token_grid.copy(), document.editable_mask.copy()
    prompt = Prompt(Choice.CANCEL)
    window.confirm_discard = prompt
    assert not window.close()
    assert prompt.asked == [["token grid"]]
    assert window.isVisible() and editor.document is document and editor.is_modified()
    assert np.array_equal(document.token_grid, tokens)
    assert np.array_equal(document.editable_mask, mask)
    thread = window.bridge.engine_thread
    assert thread is not None and thread.isRunning()  # the engine was not shut down
    assert window.generate() is not None  # and still works
    qtbot.waitUntil(lambda: editor.result is not None, timeout=TIMEOUT_MS)


def test_quit_with_discard_closes_and_joins_the_engine(
    qtbot: Any, window: MainWindow, grid_file: Path
) -> None:
    edited_tokens(qtbot, window, grid_file)
    prompt = Prompt(Choice.DISCARD)
    window.confirm_discard = prompt
    window.quit_action.trigger()
    assert prompt.asked == [["token grid"]]
    assert not window.isVisible()
    thread = window.bridge.engine_thread
    assert thread is not None and thread.isFinished()


def test_close_without_changes_asks_nothing(
    qtbot: Any, window: MainWindow, grid_file: Path, tmp_path: Path
) -> None:
    edited_tokens(qtbot, window, grid_file)
    assert window.export_to(tmp_path / "saved.npy")
    prompt = Prompt(Choice.CANCEL)
    window.confirm_discard = prompt
    assert window.close()
    assert prompt.asked == []


def test_close_lists_every_modified_document_once(
    qtbot: Any, window: MainWindow, grid_file: Path, photo: Path, walk: Path
) -> None:
    edited_tokens(qtbot, window, grid_file)
    image = opened(window, photo, "image")
    paint_rectangle(qtbot, image, (20, 20), 30)
    opened(window, walk, "motion")  # open, but not modified: not listed
    prompt = Prompt(Choice.CANCEL)
    window.confirm_discard = prompt
    assert not window.close()
    assert prompt.asked == [["photo.png", "token grid"]]  # in tab order


def test_export_answer_saves_each_modified_document_then_closes(
    qtbot: Any, window: MainWindow, grid_file: Path, photo: Path, tmp_path: Path
) -> None:
    tokens = edited_tokens(qtbot, window, grid_file)
    image = opened(window, photo, "image")
    paint_rectangle(qtbot, image, (20, 20), 30)
    asked: list[MediumEditor] = []
    targets = {"image": tmp_path / "out.png", "tokens": tmp_path / "out.npy"}

    def choose(editor: MediumEditor) -> Path:
        asked.append(editor)
        assert window.current_editor() is editor  # its page is shown while asking
        return targets[editor.medium]

    window.confirm_discard = Prompt(Choice.EXPORT)
    window.ask_export_path = choose
    assert window.close()
    assert asked == [image, tokens]
    assert tokens.document is not None
    assert np.array_equal(np.load(targets["tokens"]), tokens.document.token_grid)
    assert targets["image"].is_file()


def test_save_project_answer_saves_each_as_a_project_then_closes(
    qtbot: Any, window: MainWindow, photo: Path, tmp_path: Path
) -> None:
    image = opened(window, photo, "image")
    paint_rectangle(qtbot, image, (20, 20), 30)
    mask = image.document.mask.copy()
    target = tmp_path / "kept.remask"
    window.project_files.ask_project_path = lambda _page: target
    window.confirm_discard = Prompt(Choice.SAVE)
    assert window.close()
    assert np.array_equal(read_project(target).document.mask, mask)


def test_export_button_of_the_question_answers_export(qtbot: Any) -> None:
    box = unsaved_box(None, ["photo.png"])
    qtbot.addWidget(box)
    (export,) = [b for b in box.buttons() if b.objectName() == "export"]
    export.click()
    assert choice_of(box) is Choice.EXPORT


def test_a_cancelled_export_dialog_keeps_the_window_open(
    qtbot: Any, window: MainWindow, grid_file: Path
) -> None:
    editor = edited_tokens(qtbot, window, grid_file)
    window.confirm_discard = Prompt(Choice.EXPORT)
    window.ask_export_path = lambda _editor: None
    assert not window.close()
    assert window.isVisible() and editor.is_modified()


# --------------------------------------------------------------------------- replacing a document


def test_opening_over_a_modified_document_asks_and_cancel_keeps_it_bit_exact(
    qtbot: Any, window: MainWindow, grid_file: Path, tmp_path: Path
) -> None:
    editor = edited_tokens(qtbot, window, grid_file)
    document = editor.document
    assert document is not None
    tokens, mask = document.token_grid.copy(), document.editable_mask.copy()
    other = tmp_path / "other.npy"
    np.save(other, np.zeros(GRID_SHAPE, np.int64))
    prompt = Prompt(Choice.CANCEL)
    window.confirm_discard = prompt
    assert not window.open_path(other)
    assert prompt.asked == [["token grid"]]
    assert editor.document is document and editor.is_modified()
    assert document.token_grid.tobytes() == tokens.tobytes()
    assert document.editable_mask.tobytes() == mask.tobytes()
    assert other.resolve() not in window.recent.paths()
    window.undo_action.trigger()  # the history is intact too
    assert not editor.is_modified()


def test_opening_over_a_modified_document_with_discard_opens_it_clean(
    qtbot: Any, window: MainWindow, grid_file: Path, tmp_path: Path
) -> None:
    editor = edited_tokens(qtbot, window, grid_file)
    other = tmp_path / "other.npy"
    np.save(other, np.zeros(GRID_SHAPE, np.int64))
    window.confirm_discard = Prompt(Choice.DISCARD)
    assert window.open_path(other)
    assert editor.document is not None and not editor.document.token_grid.any()
    assert not editor.is_modified() and not window.isWindowModified()


def test_opening_into_another_editor_does_not_ask(
    qtbot: Any, window: MainWindow, grid_file: Path, walk: Path
) -> None:
    edited_tokens(qtbot, window, grid_file)
    prompt = Prompt(Choice.CANCEL)
    window.confirm_discard = prompt
    assert window.open_path(walk)
    assert prompt.asked == []


def test_new_clip_over_a_modified_clip_asks_first(
    qtbot: Any, window: MainWindow, walk: Path
) -> None:
    editor: MotionEditor = opened(window, walk, "motion")
    paint(qtbot, editor.timeline, "upper", 10, 20)
    document = editor.document
    assert document is not None and editor.is_modified()
    mask = document.mask.copy()
    prompt = Prompt(Choice.CANCEL)
    window.confirm_discard = prompt
    assert not editor.new_clip()
    assert prompt.asked == [["walk.bvh"]]
    assert editor.document is document and np.array_equal(document.mask, mask)
    prompt.choice = Choice.DISCARD
    with qtbot.waitSignal(window.bridge.finished, timeout=TIMEOUT_MS):
        assert editor.new_clip()  # a blank clip, generated at once
    assert editor.document is not document and editor.document_name() == "new clip.bvh"
    assert not editor.is_modified()  # nothing to lose until a variation is accepted
    editor.accept_variation(0)
    assert editor.is_modified() and shown_title(window) == "new clip.bvh* — remask"


# --------------------------------------------------------------------------- the real editors


def test_image_is_modified_by_a_mask_edit_and_clean_after_export(
    qtbot: Any, window: MainWindow, photo: Path, tmp_path: Path
) -> None:
    editor: ImageEditor = opened(window, photo, "image")
    assert not editor.is_modified() and shown_title(window) == "photo.png — remask"
    paint_rectangle(qtbot, editor, (40, 30), 25)
    assert editor.document is not None and editor.document.mask[45, 50]
    assert editor.is_modified() and shown_title(window) == "photo.png* — remask"
    assert window.export_to(tmp_path / "photo-edited.jpg")  # any picture format saves it
    assert not editor.is_modified() and shown_title(window) == "photo-edited.jpg — remask"
    paint_rectangle(qtbot, editor, (100, 100), 10)
    assert editor.is_modified()


def test_midi_is_modified_by_a_note_edit_and_only_a_midi_export_saves_it(
    qtbot: Any, window: MainWindow, chorale: Path, tmp_path: Path
) -> None:
    editor: PianoRollEditor = opened(window, chorale, "midi")
    assert editor.document is not None and not editor.is_modified()
    notes = len(editor.document.score.notes)
    click_new_note(qtbot, editor, 9.6)
    assert len(editor.document.score.notes) == notes + 1
    assert editor.is_modified() and shown_title(window) == "chorale.mid* — remask"
    assert window.export_to(tmp_path / "chorale.wav")
    assert editor.is_modified()  # a render is not a save
    assert window.export_to(tmp_path / "chorale-edited.mid")
    assert not editor.is_modified() and shown_title(window) == "chorale-edited.mid — remask"


def test_export_answer_with_a_wav_keeps_the_window_open(
    qtbot: Any, window: MainWindow, chorale: Path, tmp_path: Path
) -> None:
    editor: PianoRollEditor = opened(window, chorale, "midi")
    click_new_note(qtbot, editor, 9.6)
    window.confirm_discard = Prompt(Choice.EXPORT)
    window.ask_export_path = lambda _editor: tmp_path / "render.wav"
    assert not window.close()
    assert window.isVisible() and editor.is_modified()
    assert "chorale.mid is still unsaved: export it as .mid" in window.statusBar().currentMessage()


def test_motion_is_modified_by_a_frame_edit_and_clean_after_export(
    qtbot: Any, window: MainWindow, walk: Path, tmp_path: Path
) -> None:
    editor: MotionEditor = opened(window, walk, "motion")
    assert not editor.is_modified()
    paint(qtbot, editor.timeline, "lower", 5, 30)
    assert editor.document is not None and editor.document.part_mask("lower")[5:31].all()
    assert editor.is_modified() and shown_title(window) == "walk.bvh* — remask"
    assert window.export_to(tmp_path / "walk-edited.bvh")
    assert not editor.is_modified() and shown_title(window) == "walk-edited.bvh — remask"
    window.undo_action.trigger()
    assert editor.is_modified()


# --------------------------------------------------------------------------- the default question


def test_the_default_question_names_the_documents_and_its_buttons(qtbot: Any) -> None:
    box = unsaved_box(None, ["photo.png", "chorale.mid"])
    qtbot.addWidget(box)
    assert "2 documents have unsaved changes" in box.text()
    assert "• photo.png" in box.text() and "• chorale.mid" in box.text()
    buttons = QMessageBox.StandardButton
    assert box.button(buttons.Save).text() == "Save Project…"
    assert [b.text() for b in box.buttons() if b.objectName() == "export"] == ["Export…"]
    assert box.button(buttons.Discard) is not None and box.button(buttons.Cancel) is not None
    assert box.defaultButton() is box.button(buttons.Save)
    assert box.escapeButton() is box.button(buttons.Cancel)
    single = unsaved_box(None, ["walk.bvh"])
    qtbot.addWidget(single)
    assert single.text() == "“walk.bvh” has unsaved changes."


@pytest.mark.parametrize(
    ("button", "choice"),
    [
        (QMessageBox.StandardButton.Save, Choice.SAVE),
        (QMessageBox.StandardButton.Discard, Choice.DISCARD),
        (QMessageBox.StandardButton.Cancel, Choice.CANCEL),
    ],
)
def test_the_default_question_returns_the_clicked_answer(
    qtbot: Any, button: QMessageBox.StandardButton, choice: Choice
) -> None:
    def click() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        box.button(button).click()

    def rescue() -> None:  # never hang the run if the box did not come up as expected
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, QMessageBox) and widget.isVisible():
                widget.reject()

    QTimer.singleShot(0, click)
    QTimer.singleShot(5000, rescue)
    assert ask_unsaved(None, ["a.png"]) is choice
