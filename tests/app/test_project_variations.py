"""Kept variations through Save Project and autosave recovery, in real windows: each page
generates two variations with its shipped model (fixed seed, four steps), the second is picked
with a real click, and a fresh window that opens the project (or recovers the autosave) offers
the same two, the second selected; Accept there writes exactly what it wrote before saving."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

from app.autosave import install_autosave
from app.engine_worker import EngineBridge
from app.image.editor import ImageEditor
from app.main_window import MainWindow
from app.midi.editor import PianoRollEditor
from app.motion.editor import MotionEditor
from app.unsaved import Choice
from app.welcome import samples_dir
from engine.models import ModelRegistry
from engine.paths import bundled_models_dir
from tests.app.helpers import shown_window
from tests.app.prompt import Prompt
from tests.engine.motion.synthetic_bvh import bandai_like

TIMEOUT_MS = 60_000
EDITORS = {"image": ImageEditor, "midi": PianoRollEditor, "motion": MotionEditor}


@cache
def shipped() -> ModelRegistry:
    return ModelRegistry.discover([bundled_models_dir()])


@pytest.fixture
def make_window(qtbot: Any, qsettings: QSettings) -> Iterator[Callable[[], MainWindow]]:
    """Fresh windows over the shipped models, each with its own synchronous engine."""
    windows: list[MainWindow] = []

    def make() -> MainWindow:
        bridge = EngineBridge(shipped(), synchronous=True)
        main = shown_window(qtbot, shipped(), bridge, qsettings, EDITORS, size=(1100, 760))
        windows.append(main)
        return main

    yield make
    for main in windows:
        main.confirm_discard = Prompt(Choice.DISCARD)
        main.close()


def open_with_mask(window: MainWindow, medium: str, folder: Path) -> Any:
    """The medium's sample (a synthetic walk for motion), opened, with a small region masked."""
    if medium == "motion":
        path = folder / "walk.bvh"
        path.write_text(bandai_like(frames=64, seed=4))
    else:
        name = {"image": "photo.png", "midi": "chorale.mid"}[medium]
        path = Path(shutil.copy(samples_dir() / name, folder / name))
    assert window.open_path(path), window.last_error
    QApplication.processEvents()
    editor = window.pages[medium].editor
    document = editor.document  # type: ignore[union-attr]
    if medium == "image":
        document.fill_rectangle((40, 30), (72, 60))
    elif medium == "midi":
        document.mask_bars(1, 2, [1, 2])
    else:
        document.set_mask(20, 39, "upper")
    return editor


def generate_two(qtbot: Any, window: MainWindow, editor: Any) -> None:
    window.sampler.steps.setValue(4)
    window.sampler.variations.setValue(2)
    window.sampler.seed.setValue(7)
    with qtbot.waitSignal(window.bridge.finished, timeout=TIMEOUT_MS):
        assert window.generate() is not None, window.statusBar().currentMessage()
    assert editor.strip.count == 2


def click(qtbot: Any, button: Any) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def content(medium: str, editor: Any) -> bytes:
    """The document's content after an Accept, byte for byte."""
    document = editor.document
    if medium == "image":
        return bytes(document.image.rgb.tobytes())
    if medium == "midi":
        return bytes(document.score.to_bytes())
    return bytes(document.clip.motion.tobytes())


def offered_then_accepted(qtbot: Any, window: MainWindow, editor: Any) -> Any:
    """Generate two, pick the second by a click; the editor's record of the offer."""
    generate_two(qtbot, window, editor)
    click(qtbot, editor.strip.buttons[1])
    kept = editor.kept_variations()
    assert kept is not None and kept.shown == 1 and len(kept.items) == 2
    return kept


def check_reopened(qtbot: Any, medium: str, editor: Any, expected: bytes, before: bytes) -> None:
    """Two variations offered, the second selected; both selectable; Accept as before saving."""
    assert editor.strip.isVisible() and editor.strip.count == 2
    assert editor.strip.current() == 1
    assert content(medium, editor) == before  # nothing written before Accept
    click(qtbot, editor.strip.buttons[0])
    assert editor.strip.current() == 0 and editor.kept_variations().shown == 0
    click(qtbot, editor.strip.buttons[1])
    click(qtbot, editor.strip.accept_button)
    assert content(medium, editor) == expected != before
    assert not editor.strip.isVisible() and editor.kept_variations() is None
    assert editor.undo() and content(medium, editor) == before


@pytest.mark.parametrize("medium", sorted(EDITORS))
def test_saved_variations_reopen_in_a_fresh_window_and_accept_the_same(
    qtbot: Any, make_window: Callable[[], MainWindow], tmp_path: Path, medium: str
) -> None:
    first = make_window()
    editor = open_with_mask(first, medium, tmp_path)
    offered_then_accepted(qtbot, first, editor)
    before = content(medium, editor)
    project = tmp_path / "work.remask"
    first.project_files.ask_project_path = lambda _page: project
    first.save_project_as_action.trigger()
    assert project.is_file() and not first.project_files.offer_unsaved(first.pages[medium])
    click(qtbot, editor.strip.accept_button)  # what Accept gives before saving
    expected = content(medium, editor)

    second = make_window()
    assert second.open_path(project), second.last_error
    QApplication.processEvents()
    reopened = second.pages[medium].editor
    assert reopened is not None and reopened.has_document() and not reopened.is_modified()
    check_reopened(qtbot, medium, reopened, expected, before)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_autosave_keeps_the_offer_and_recovery_brings_it_back(
    qtbot: Any, make_window: Callable[[], MainWindow], tmp_path: Path
) -> None:
    first = make_window()
    saver = install_autosave(first, tmp_path / "autosave-a")
    saver.timer.setInterval(50)
    editor = open_with_mask(first, "image", tmp_path)
    first.project_files.ask_project_path = lambda _page: tmp_path / "clean.remask"
    first.save_project_as_action.trigger()  # clean: only the offer makes an autosave worth it
    with qtbot.waitSignal(saver.written, timeout=TIMEOUT_MS):
        offered_then_accepted(qtbot, first, editor)
        saver.save_now()  # the selection changed after the idle timer started
    saver.wait()
    before = content("image", editor)
    click(qtbot, editor.strip.accept_button)
    expected = content("image", editor)

    folder = tmp_path / "autosave-b"  # as a crashed session left it
    folder.mkdir()
    shutil.copy(saver.path_for("image"), folder / f"{dead_pid()}-image.remask")
    second = make_window()
    recovering = install_autosave(second, folder)
    recovering.ask_recover = lambda _labels: True
    assert recovering.offer_recovery() == 1
    recovered = second.pages["image"].editor
    assert isinstance(recovered, ImageEditor) and recovered.is_modified()
    check_reopened(qtbot, "image", recovered, expected, before)
    assert np.array_equal(recovered.document.mask, editor.document.mask)  # type: ignore[union-attr]
    recovering.finish()
    saver.finish()


def test_a_project_with_damaged_variations_is_refused_and_the_open_document_stays(
    qtbot: Any, make_window: Callable[[], MainWindow], tmp_path: Path
) -> None:
    import zipfile

    window = make_window()
    editor = open_with_mask(window, "midi", tmp_path)
    generate_two(qtbot, window, editor)
    project = tmp_path / "good.remask"
    window.project_files.ask_project_path = lambda _page: project
    window.save_project_as_action.trigger()
    damaged = tmp_path / "damaged.remask"
    with zipfile.ZipFile(project) as source, zipfile.ZipFile(damaged, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            target.writestr(info, b"MThd" if info.filename == "variations/1.mid" else data)
    document, offer = editor.document, editor.kept_variations()
    editor.document.clear_mask()  # unsaved work that must survive the refusal
    window.confirm_discard = Prompt(Choice.DISCARD)
    assert not window.open_path(damaged)
    assert window.last_error.startswith("damaged.remask: variations/1.mid: "), window.last_error
    assert "\n" not in window.last_error
    assert editor.document is document and editor.is_modified() and not document.has_mask()
    assert editor.kept_variations() == offer and editor.strip.count == 2
