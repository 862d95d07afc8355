"""Autosave and crash recovery: modified documents are written after idle time, removed on a
clean save or exit, and offered back after a crash, including a real ``kill -9`` of the app."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from app.autosave import Autosaver, install_autosave, recover_text
from app.engine_worker import EngineBridge
from app.image.editor import ImageEditor
from app.main_window import MainWindow
from app.unsaved import Choice
from app.welcome import samples_dir
from engine.media.image.document import ImageDocument
from engine.models import ModelRegistry
from engine.project import Project, save_project
from tests.app.autosave_app import EDIT_CORNERS
from tests.app.helpers import shown_window
from tests.app.prompt import Prompt

TIMEOUT_MS = 30_000
REPO = Path(__file__).resolve().parents[2]


class Answer:
    """Answers "Recover unsaved work?" at once and remembers what was listed."""

    def __init__(self, recover: bool) -> None:
        self.recover = recover
        self.asked: list[list[str]] = []

    def __call__(self, labels: Sequence[str]) -> bool:
        self.asked.append(list(labels))
        return self.recover


@pytest.fixture
def make_window(qtbot: Any, qsettings: QSettings, tmp_path: Path) -> Iterator[Any]:
    windows: list[MainWindow] = []

    def make() -> MainWindow:
        registry = ModelRegistry.discover([tmp_path / "no-models"])
        main = shown_window(
            qtbot, registry, EngineBridge(registry), qsettings, {"image": ImageEditor}
        )
        windows.append(main)
        return main

    yield make
    for main in windows:
        main.confirm_discard = Prompt(Choice.DISCARD)
        main.close()


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    return Path(shutil.copy(samples_dir() / "photo.png", tmp_path / "photo.png"))


def autosaver(window: MainWindow, folder: Path, recover: bool = True) -> Autosaver:
    saver = install_autosave(window, folder)
    saver.timer.setInterval(50)
    saver.ask_recover = Answer(recover)
    return saver


def image_editor(window: MainWindow) -> ImageEditor:
    editor = window.pages["image"].editor
    assert isinstance(editor, ImageEditor)
    return editor


def doc(editor: ImageEditor) -> ImageDocument:
    assert editor.document is not None
    return editor.document


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_idle_time_writes_the_modified_document_and_a_clean_save_removes_it(
    qtbot: Any, make_window: Any, photo: Path, tmp_path: Path
) -> None:
    window = make_window()
    saver = autosaver(window, tmp_path / "autosave")
    assert saver.lock.read_text().strip() == str(os.getpid())
    editor = image_editor(window)
    assert window.open_path(photo)
    with qtbot.waitSignal(saver.written, timeout=TIMEOUT_MS):
        doc(editor).fill_rectangle((2, 2), (20, 20))
    assert saver.path_for("image").is_file()
    window.project_files.ask_project_path = lambda _page: tmp_path / "kept.remask"
    assert window.project_files.save()
    saver.wait()
    assert not saver.path_for("image").exists()


def test_a_clean_exit_leaves_nothing_to_recover(
    qtbot: Any, make_window: Any, photo: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "autosave"
    window = make_window()
    saver = autosaver(window, folder)
    assert window.open_path(photo)
    with qtbot.waitSignal(saver.written, timeout=TIMEOUT_MS):
        doc(image_editor(window)).fill_rectangle((2, 2), (20, 20))
    window.confirm_discard = Prompt(Choice.DISCARD)
    window.close()
    assert list(folder.iterdir()) == []


def test_recovery_offers_a_dead_sessions_autosave_and_opens_it_modified(
    make_window: Any, photo: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "autosave"
    folder.mkdir()
    first = make_window()
    assert first.open_path(photo)
    document = doc(image_editor(first))
    document.fill_rectangle((2, 2), (20, 20))
    mask = document.mask.copy()
    pid = dead_pid()
    save_project(folder / f"{pid}-image.remask", Project("image", document, "photo.png"))
    (folder / f"{pid}.lock").write_text(f"{pid}\n")
    window = make_window()
    saver = autosaver(window, folder)
    assert saver.offer_recovery() == 1
    assert saver.ask_recover.asked == [["photo.png (Image)"]]  # type: ignore[attr-defined]
    editor = image_editor(window)
    assert np.array_equal(doc(editor).mask, mask) and editor.is_modified()
    assert window.windowTitle().startswith("photo.png")
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [saver.lock.name, saver.path_for("image").name]
    )  # the dead lock is gone; the autosave is now this session's
    assert editor.undo() and not doc(editor).has_mask()


def test_no_deletes_the_autosaves_and_a_live_session_is_left_alone(
    make_window: Any, photo: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "autosave"
    folder.mkdir()
    first = make_window()
    assert first.open_path(photo)
    project = Project("image", doc(image_editor(first)), "photo.png")
    dead = folder / f"{dead_pid()}-image.remask"
    alive = folder / f"{os.getppid()}-image.remask"  # pytest's parent runs
    save_project(dead, project)
    save_project(alive, project)
    window = make_window()
    saver = autosaver(window, folder, recover=False)
    assert saver.offer_recovery() == 0
    assert not dead.exists() and alive.exists()
    assert not image_editor(window).has_document()


def test_a_broken_autosave_is_reported_and_dropped(make_window: Any, tmp_path: Path) -> None:
    folder = tmp_path / "autosave"
    folder.mkdir()
    broken = folder / f"{dead_pid()}-image.remask"
    broken.write_bytes(b"not a zip")
    window = make_window()
    saver = autosaver(window, folder)
    assert saver.offer_recovery() == 0
    assert "not a remask project" in window.last_error and not broken.exists()


def test_the_question_lists_every_document() -> None:
    text = recover_text(["photo.png (Image)", "walk.bvh (Motion)"])
    assert "Recover unsaved work?" in text and "walk.bvh (Motion)" in text


def test_kill_9_of_the_app_loses_at_most_the_idle_seconds(
    qtbot: Any, make_window: Any, photo: Path, tmp_path: Path
) -> None:
    """The real app in a subprocess, an edit, the autosave, SIGKILL; the next start recovers."""
    home = tmp_path / "home"
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        QT_QPA_PLATFORM="offscreen",
        PYTHONPATH=str(REPO),
    )
    folder = home / "data" / "remask" / "autosave"
    app = subprocess.Popen(
        [sys.executable, "-m", "tests.app.autosave_app", str(photo)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert app.stdout is not None and app.stdout.readline().strip() == "edited"
        autosave = folder / f"{app.pid}-image.remask"
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while not autosave.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert autosave.exists(), "no autosave within the time limit"
        assert (folder / f"{app.pid}.lock").exists()
    finally:
        os.kill(app.pid, signal.SIGKILL)
        app.wait()
    window = make_window()
    saver = autosaver(window, folder)
    assert saver.offer_recovery() == 1
    editor = image_editor(window)
    assert editor.is_modified() and editor.document_name() == "photo.png"
    (x0, y0), (x1, y1) = EDIT_CORNERS
    assert doc(editor).mask[int(y0) + 1 : int(y1), int(x0) + 1 : int(x1)].all()
    assert editor.undo() and not doc(editor).has_mask()
