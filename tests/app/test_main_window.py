"""The main window with real widgets, real tiny models and a real engine thread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QKeySequence

from app import registry as app_registry
from app.editor_base import MediumEditor, load_editor_class
from app.engine_worker import EngineBridge
from app.main_window import MainWindow, MediumPage
from app.settings_store import RecentFiles
from engine.models import ModelRegistry
from tests.app.conftest import GRID_SHAPE, VOCAB, TokenGridEditor
from tests.app.helpers import page_editor, shown_window

TIMEOUT_MS = 30_000
NO_EDITORS = {"image": None, "midi": None, "motion": None}


@pytest.fixture
def window(
    qtbot: Any, registry: ModelRegistry, bridge: EngineBridge, qsettings: QSettings
) -> Iterator[MainWindow]:
    editors = {**NO_EDITORS, "tokens": TokenGridEditor}
    main = shown_window(qtbot, registry, bridge, qsettings, editors)
    yield main
    main.close()


@pytest.fixture
def grid_file(tmp_path: Path) -> Path:
    path = tmp_path / "grid.npy"
    np.save(path, np.random.default_rng(3).integers(0, VOCAB, GRID_SHAPE))
    return path


def click_cell(qtbot: Any, editor: TokenGridEditor, row: int, column: int) -> None:
    """A real mouse click on the table's viewport."""
    item = editor.table.item(row, column)
    center = editor.table.visualItemRect(item).center()
    qtbot.mouseClick(editor.table.viewport(), Qt.MouseButton.LeftButton, pos=center)


def open_with_mask(qtbot: Any, window: MainWindow, grid_file: Path) -> TokenGridEditor:
    assert window.open_path(grid_file)
    editor = page_editor(window, TokenGridEditor)
    for column in range(2, 6):
        click_cell(qtbot, editor, 1, column)
    return editor


def test_window_has_the_three_medium_pages(window: MainWindow) -> None:
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles[:3] == ["Image", "MIDI", "Motion"]
    for medium in ("image", "midi", "motion"):
        page = window.pages[medium]
        assert isinstance(page, MediumPage) and page.currentWidget() is page.welcome
        assert not page.welcome.open_button.isEnabled()  # its editor is left out (None)
        assert "editor failed to load" in page.welcome.note.text()


def test_sampler_lists_models_of_the_current_medium(window: MainWindow) -> None:
    window.show_medium("tokens")
    assert window.sampler.model_names() == ["tiny", "tiny-b"]
    window.show_medium("midi")
    assert window.sampler.model_names() == ["tiny-midi"]
    window.show_medium("image")
    assert window.sampler.model_names() == []
    assert window.sampler.current_model() is None
    assert not window.sampler.steps.isEnabled()


def test_sampler_settings_come_from_the_manifest(
    window: MainWindow, registry: ModelRegistry
) -> None:
    window.show_medium("tokens")
    assert window.sampler.settings() == registry.get("tiny").default_settings()
    window.sampler.steps.setValue(3)
    window.sampler.select_model("tiny-b")
    assert window.sampler.settings() == registry.get("tiny-b").default_settings()
    window.sampler.variations.setValue(4)
    window.sampler.randomize_seed()
    settings = window.sampler.settings()
    assert settings.variations == 4
    assert settings == registry.get("tiny-b").default_settings(variations=4, seed=settings.seed)


def test_generate_needs_a_model_a_document_and_a_mask(
    qtbot: Any, window: MainWindow, grid_file: Path
) -> None:
    button = window.generate_bar.generate_button
    window.show_medium("image")
    assert not button.isEnabled()
    window.show_medium("tokens")
    assert not button.isEnabled()  # model, but no document
    assert window.open_path(grid_file)
    assert window.pages["tokens"].currentWidget() is page_editor(window, TokenGridEditor)
    assert not button.isEnabled()  # document, but no mask
    click_cell(qtbot, page_editor(window, TokenGridEditor), 0, 0)
    assert button.isEnabled()
    assert window.generate() is not None


def test_status_bar_shows_provider_and_registry_errors(qtbot: Any, window: MainWindow) -> None:
    window.show_medium("tokens")
    qtbot.waitUntil(lambda: "CPU" in window.engine_label.text(), timeout=TIMEOUT_MS)
    assert window.engine_label.text().startswith("tiny · ")
    assert "broken" in window.engine_label.toolTip()  # the unreadable manifest, listed once


def test_a_late_load_of_another_pages_model_leaves_the_status_bar(
    qtbot: Any, window: MainWindow
) -> None:
    window.show_medium("tokens")
    qtbot.waitUntil(lambda: "CPU" in window.engine_label.text(), timeout=TIMEOUT_MS)
    window.show_medium("image")  # no image model here
    assert window.engine_label.text() == "no model"
    window.bridge.modelLoaded.emit("tiny", "CPUExecutionProvider")  # the preload, finishing late
    assert window.engine_label.text() == "no model"


def test_registry_errors_reach_the_status_bar_once(
    qtbot: Any, registry: ModelRegistry, qsettings: QSettings
) -> None:
    engine = EngineBridge(registry, synchronous=True)
    main = MainWindow(registry, bridge=engine, editors=NO_EDITORS, settings=qsettings)
    qtbot.addWidget(main)
    assert main.statusBar().currentMessage().startswith("1 model(s) skipped:")
    assert "broken" in main.statusBar().currentMessage()


def test_undo_redo_actions_call_the_current_editor(
    qtbot: Any, window: MainWindow, grid_file: Path
) -> None:
    editor = open_with_mask(qtbot, window, grid_file)
    assert window.undo_action.shortcut() == QKeySequence("Ctrl+Z")
    assert window.redo_action.shortcut() == QKeySequence("Ctrl+Shift+Z")
    assert editor.document is not None and editor.document.editable_mask.sum() == 4
    window.undo_action.trigger()
    assert editor.document.editable_mask.sum() == 3
    window.redo_action.trigger()
    assert editor.document.editable_mask.sum() == 4
    assert not window.redo_action.isEnabled()


def test_generate_shows_live_steps_then_results(
    qtbot: Any, window: MainWindow, bridge: EngineBridge, grid_file: Path
) -> None:
    editor = open_with_mask(qtbot, window, grid_file)
    assert editor.document is not None
    before = editor.document.token_grid.copy()
    texts: list[str] = []
    bridge.stepReady.connect(lambda _gen, _step: texts.append(window.generate_bar.text()))
    window.sampler.variations.setValue(2)
    with qtbot.waitSignal(bridge.finished, timeout=TIMEOUT_MS):
        qtbot.mouseClick(window.generate_bar.generate_button, Qt.MouseButton.LeftButton)
    total = min(window.sampler.steps.value(), 4)  # the sampler never runs more steps than cells
    assert texts == [f"step {i} / {total}" for i in range(1, total + 1)]
    assert window.generate_bar.text().startswith("2 variations in")
    assert editor.result is not None and editor.preview is None
    np.testing.assert_array_equal(editor.document.token_grid, before)  # nothing accepted yet
    editor.accept(1)
    mask = editor.document.editable_mask
    np.testing.assert_array_equal(editor.document.token_grid[~mask], before[~mask])
    window.undo_action.trigger()
    np.testing.assert_array_equal(editor.document.token_grid, before)


def test_cancel_button_stops_the_job(qtbot: Any, window: MainWindow, grid_file: Path) -> None:
    editor = open_with_mask(qtbot, window, grid_file)
    window.sampler.steps.setValue(4)
    bar = window.generate_bar
    window.bridge.stepReady.connect(
        lambda _gen, progress: bar.cancel_button.click() if progress.step.index == 1 else None
    )
    with qtbot.waitSignal(window.bridge.cancelled, timeout=TIMEOUT_MS):
        window.generate()
    qtbot.wait(100)
    assert bar.text() == "cancelled" and not bar.cancel_button.isEnabled()
    assert editor.result is None and editor.preview is None


def test_open_errors_are_reported_and_leave_the_document(
    qtbot: Any, window: MainWindow, grid_file: Path, tmp_path: Path
) -> None:
    editor = open_with_mask(qtbot, window, grid_file)
    assert editor.document is not None
    before = editor.document.token_grid.copy()
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not numpy")
    assert not window.open_path(bad)
    assert window.last_error and "\n" not in window.last_error
    np.testing.assert_array_equal(editor.document.token_grid, before)
    assert not window.open_path(tmp_path / "song.mid")
    assert "MIDI editor failed to load" in window.last_error
    assert not window.open_path(tmp_path / "notes.txt")
    assert window.recent.paths() == [grid_file.resolve()]


def test_export_is_delegated(
    qtbot: Any, window: MainWindow, grid_file: Path, tmp_path: Path
) -> None:
    editor = open_with_mask(qtbot, window, grid_file)
    assert window.export_to(tmp_path / "out.npy")
    assert editor.document is not None
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), editor.document.token_grid)


def test_closing_the_window_joins_the_engine_thread(window: MainWindow) -> None:
    thread = window.bridge.engine_thread
    assert thread is not None and thread.isRunning()
    window.close()
    assert thread.isFinished()


def test_editor_interface_is_enforced(qtbot: Any) -> None:
    class Half(MediumEditor):
        medium = "tokens"

        def has_document(self) -> bool:
            return False

    with pytest.raises(TypeError, match="does not implement .*make_generate_payload"):
        Half()
    editor = TokenGridEditor()
    qtbot.addWidget(editor)
    assert editor.file_filter() == "Tokens (*.npy)"


def test_a_broken_editor_means_welcome_page(monkeypatch: pytest.MonkeyPatch) -> None:
    def named(editor: str) -> app_registry.AppMediumSpec | None:
        return app_registry.AppMediumSpec("midi", editor)

    assert load_editor_class("no-such-medium") is None  # no app side: no editor
    monkeypatch.setattr("app.editor_base.app_medium", lambda _key: named("app.no_such_module:E"))
    assert load_editor_class("midi") is None
    monkeypatch.setattr("app.editor_base.app_medium", lambda _key: named("app.cli:Command"))
    assert load_editor_class("midi") is None  # not a MediumEditor
    editor = "tests.toy_medium.editor:TokenGridEditor"
    monkeypatch.setattr("app.editor_base.app_medium", lambda _key: named(editor))
    assert load_editor_class("midi") is TokenGridEditor


def test_recent_files_are_deduplicated_and_bounded(qsettings: QSettings, tmp_path: Path) -> None:
    recent = RecentFiles(qsettings, limit=3)
    for name in ("a", "b", "c", "a", "d"):
        recent.add(tmp_path / name)
    assert [p.name for p in recent.paths()] == ["d", "a", "c"]
    recent.remove(tmp_path / "a")
    assert [p.name for p in RecentFiles(qsettings).paths()] == ["d", "c"]
