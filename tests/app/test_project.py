"""File ▸ Save Project / Save Project As… / Open of .remask files in a real window, and loading
off the GUI thread: a refused or cancelled file leaves the open document exactly as it was."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QPushButton

from app.engine_worker import EngineBridge
from app.image.editor import ImageEditor
from app.main_window import MainWindow
from app.midi.editor import PianoRollEditor
from app.motion.editor import MotionEditor
from app.unsaved import Choice
from app.welcome import samples_dir
from engine.models import ModelRegistry
from tests.app.helpers import shown_window
from tests.app.prompt import Prompt

TIMEOUT_MS = 30_000


@pytest.fixture
def window(qtbot: Any, qsettings: QSettings, tmp_path: Path) -> Iterator[MainWindow]:
    registry = ModelRegistry.discover([tmp_path / "no-models"])
    editors = {"image": ImageEditor, "midi": PianoRollEditor, "motion": MotionEditor}
    main = shown_window(qtbot, registry, EngineBridge(registry), qsettings, editors)
    yield main
    main.confirm_discard = Prompt(Choice.DISCARD)
    main.close()


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    return Path(shutil.copy(samples_dir() / "photo.png", tmp_path / "photo.png"))


@pytest.fixture
def chorale(tmp_path: Path) -> Path:
    return Path(shutil.copy(samples_dir() / "chorale.mid", tmp_path / "chorale.mid"))


def opened(window: MainWindow, path: Path, medium: str) -> Any:
    assert window.open_path(path), window.last_error
    QApplication.processEvents()
    editor = window.pages[medium].editor
    assert editor is not None and editor.has_document()
    return editor


def save_as(window: MainWindow, path: Path) -> None:
    window.project_files.ask_project_path = lambda _page: path
    window.save_project_as_action.trigger()
    window.project_files.ask_project_path = lambda _page: pytest.fail("no dialog expected")


def test_save_project_then_reopen_restores_document_and_undo(
    window: MainWindow, photo: Path, tmp_path: Path
) -> None:
    editor = opened(window, photo, "image")
    editor.document.fill_rectangle((4, 4), (30, 20))
    first_mask = editor.document.mask.copy()
    editor.document.fill_rectangle((40, 40), (60, 50))
    saved_mask = editor.document.mask.copy()
    project = tmp_path / "work.remask"
    save_as(window, project)
    assert project.is_file() and not editor.is_modified()
    assert window.windowTitle().startswith("work.remask")
    editor.document.clear_mask()
    window.save_project_action.trigger()  # Save: same file, no dialog
    assert not editor.is_modified()
    assert opened(window, photo, "image") is editor  # another document: title is the file's
    assert window.windowTitle().startswith("photo.png")
    assert window.open_path(project)
    assert not editor.is_modified() and not editor.document.has_mask()
    assert window.windowTitle().startswith("work.remask")
    assert editor.undo() and np.array_equal(editor.document.mask, saved_mask)
    assert editor.undo() and np.array_equal(editor.document.mask, first_mask)
    assert editor.is_modified()


def test_midi_and_motion_projects_round_trip_through_the_window(
    window: MainWindow, chorale: Path, tmp_path: Path
) -> None:
    from tests.engine.motion.synthetic_bvh import bandai_like

    roll = opened(window, chorale, "midi")
    roll.document.set_mask(np.ones_like(roll.document.mask), "all")
    save_as(window, tmp_path / "piece.remask")
    walk = tmp_path / "walk.bvh"
    walk.write_text(bandai_like(frames=40, seed=4))
    motion = opened(window, walk, "motion")
    motion.document.set_mask(3, 9, "lower")
    save_as(window, tmp_path / "walk.remask")
    window.confirm_discard = Prompt(Choice.DISCARD)
    opened(window, chorale, "midi")
    opened(window, walk, "motion")
    assert window.open_path(tmp_path / "piece.remask")
    assert roll.document.mask.all() and roll.document_name() == "chorale.mid"
    assert roll.undo() and not roll.document.has_mask()
    assert window.open_path(tmp_path / "walk.remask")
    assert motion.document.part_mask("lower")[3:10].all()
    assert motion.undo() and not motion.document.has_mask()


def test_opening_a_project_over_unsaved_work_asks_first(
    window: MainWindow, photo: Path, tmp_path: Path
) -> None:
    editor = opened(window, photo, "image")
    save_as(window, tmp_path / "a.remask")
    editor.document.fill_rectangle((4, 4), (30, 20))
    prompt = Prompt(Choice.CANCEL)
    window.confirm_discard = prompt
    document = editor.document
    assert window.open_path(tmp_path / "a.remask")
    assert prompt.asked and editor.document is document and editor.document.has_mask()


def test_a_refused_file_leaves_the_document_exactly_as_it_was(
    window: MainWindow, photo: Path, tmp_path: Path
) -> None:
    editor = opened(window, photo, "image")
    editor.document.fill_rectangle((4, 4), (30, 20))
    document, mask, title = editor.document, editor.document.mask.copy(), window.windowTitle()
    broken_png = tmp_path / "broken.png"
    broken_png.write_bytes(photo.read_bytes()[:200])
    broken_project = tmp_path / "broken.remask"
    broken_project.write_bytes(b"PK\x03\x04 not really")
    window.confirm_discard = Prompt(Choice.DISCARD)
    for bad in (broken_png, broken_project):
        assert not window.open_path(bad)
        assert bad.name in window.last_error or "broken" in window.last_error
        assert editor.document is document and np.array_equal(editor.document.mask, mask)
        assert editor.is_modified() and window.windowTitle() == title


def test_an_install_that_fails_puts_the_old_document_back(
    window: MainWindow, photo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    editor = opened(window, photo, "image")
    editor.document.fill_rectangle((4, 4), (30, 20))
    document = editor.document
    original = ImageEditor._show_document
    calls = {"n": 0}

    def fail_once(self: ImageEditor, *shown: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise MemoryError("the view cannot hold it")
        original(self, *shown)

    monkeypatch.setattr(ImageEditor, "_show_document", fail_once)
    window.confirm_discard = Prompt(Choice.DISCARD)
    assert not window.open_path(photo)
    assert editor.document is document and editor.is_modified()
    assert "cannot hold" in window.last_error


def test_loading_runs_off_the_gui_thread_and_cancel_keeps_the_document(
    qtbot: Any, window: MainWindow, photo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window.loader.threaded = True
    editor = window.pages["image"].editor
    assert isinstance(editor, ImageEditor)
    assert window.open_path(photo)
    qtbot.waitUntil(editor.has_document, timeout=TIMEOUT_MS)
    document = editor.document
    release = threading.Event()
    threads: list[str] = []
    from app import loading

    real_decode = loading.decode_file

    def slow_decode(*args: Any) -> object:
        threads.append(threading.current_thread().name)
        release.wait(TIMEOUT_MS / 1000)
        return real_decode(*args)

    monkeypatch.setattr("app.main_window.decode_file", slow_decode)
    assert window.open_path(photo)
    qtbot.waitUntil(lambda: bool(threads), timeout=TIMEOUT_MS)
    assert threads == ["remask-load"] and window.loader.busy
    assert window.loader.progress is not None
    cancel = window.loader.progress.findChild(QPushButton)
    assert cancel is not None and cancel.text() == "Cancel"
    cancel.click()
    assert not window.loader.busy
    release.set()
    qtbot.wait(300)  # the dropped result arrives and is ignored
    assert editor.document is document
