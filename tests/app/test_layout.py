"""The window at its default 1200 x 800: tools in sight, canvas filling, status text in its place.

A toolbar that overflows hides its last tools behind ``>>``; a long status line once
widened the window for good; a message about one tab showed on another. Each is
checked on the real window with a document open in every tab.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QToolBar, QToolButton

from app.engine_worker import EngineBridge
from app.image.editor import ImageEditor
from app.main_window import MainWindow
from app.midi.editor import PianoRollEditor
from app.motion.editor import MotionEditor
from engine.media.image.export import save_image
from engine.media.image.files import LoadedImage
from engine.models import ModelRegistry
from tests.app.helpers import page_editor, shown_window
from tests.engine.midi.midi_files import chorale, save

SIZE = (1200, 800)
LONG = "a very long message about what just happened " * 12


@pytest.fixture
def window(
    qtbot: Any,
    registry: ModelRegistry,
    bridge: EngineBridge,
    qsettings: QSettings,
    tmp_path: Path,
    walk: Path,
) -> Iterator[MainWindow]:
    """The default window with a picture, a chorale and a walk open."""
    main = shown_window(qtbot, registry, bridge, qsettings, None, size=SIZE)
    qtbot.waitExposed(main)
    rgb = np.random.default_rng(5).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    save_image(LoadedImage.from_rgb(rgb), tmp_path / "photo.png")
    for path in (tmp_path / "photo.png", save(chorale(1, bars=6), tmp_path / "c.mid"), walk):
        assert main.open_path(path), main.last_error
    yield main
    main.close()


def settle() -> None:
    for _ in range(3):
        QApplication.processEvents()


def overflows(bar: QToolBar) -> bool:
    extension = bar.findChild(QToolButton, "qt_toolbar_ext_button")
    return extension is not None and extension.isVisible()


def visible_texts(bar: QToolBar) -> set[str]:
    """The texts of the tools shown in ``bar`` (actions and tool buttons)."""
    texts = {a.text() for a in bar.actions() if a.isVisible() and bar.widgetForAction(a)}
    buttons = bar.findChildren(QToolButton)
    return texts | {b.text() for b in buttons if b.isVisible() and b.text()}


@pytest.mark.parametrize(
    ("medium", "tools"),
    [
        ("image", {"Brush", "Fill", "Mask", "Extend canvas…", "Fit", "100 %"}),
        ("midi", {"Mask", "Harmonize", "Play", "Loop", "−", "+", "↕−", "↕+"}),
        ("motion", {"New clip", "Play", "Loop", "Frame all", "Clear mask", "Fit"}),
    ],
)
def test_the_main_tools_are_in_sight(window: MainWindow, medium: str, tools: set[str]) -> None:
    window.show_medium(medium)
    settle()
    editor = window.current_editor()
    assert editor is not None and window.width() == SIZE[0]
    for bar in editor.findChildren(QToolBar):
        assert not overflows(bar), f"{medium}: {bar.windowTitle() or 'toolbar'} overflows"
    shown = set().union(*(visible_texts(bar) for bar in editor.findChildren(QToolBar)))
    assert tools <= shown, tools - shown


def test_a_long_message_never_widens_the_window(window: MainWindow) -> None:
    for medium in ("image", "midi", "motion"):
        window.show_medium(medium)
        editor = window.current_editor()
        assert editor is not None
        editor.status.setText(LONG)  # type: ignore[attr-defined]
        window.statusBar().showMessage(LONG)
        settle()
        assert window.width() == SIZE[0] and window.minimumSizeHint().width() < SIZE[0]
        assert editor.status.toolTip() == LONG  # type: ignore[attr-defined]  # all of it


def test_the_image_canvas_fills_its_page(window: MainWindow) -> None:
    window.show_medium("image")
    settle()
    editor = page_editor(window, ImageEditor)
    canvas = editor.canvas
    assert not editor.strip.isVisible()
    below = editor.height() - canvas.geometry().bottom()
    assert below <= editor.status.sizeHint().height() + 8, below  # only the status line


def test_status_text_stays_with_its_tab(qtbot: Any, window: MainWindow) -> None:
    """A job's end ("cancelled") and a message shown on the MIDI tab stay on the MIDI tab."""
    window.show_medium("midi")
    midi = page_editor(window, PianoRollEditor)
    window.generation.job_editor = midi
    window.generate_bar.reset("cancelled")
    window.statusBar().showMessage("about the chorale")
    window.show_medium("image")
    assert window.generate_bar.text() != "cancelled"
    assert window.statusBar().currentMessage() == ""
    window.show_medium("midi")
    assert window.generate_bar.text() == "cancelled"


def test_a_message_for_another_tab_waits_for_it(window: MainWindow) -> None:
    window.show_medium("midi")
    window.generation.job_editor = page_editor(window, PianoRollEditor)
    window.show_medium("motion")
    window.bridge.failed.emit(1, "the model ran out of memory")
    assert "out of memory" not in window.statusBar().currentMessage()
    assert window.generate_bar.text() != "failed"
    window.show_medium("midi")
    assert "out of memory" in window.statusBar().currentMessage()
    assert window.generate_bar.text() == "failed"


def test_a_new_document_starts_with_a_clean_status(window: MainWindow, walk: Path) -> None:
    window.show_medium("motion")
    window.statusBar().showMessage("about the old clip")
    window.generate_bar.reset("cancelled")
    assert window.open_path(walk)
    assert window.statusBar().currentMessage() == ""
    assert window.generate_bar.text() != "cancelled"
    assert page_editor(window, MotionEditor).status.text().endswith("fps")
