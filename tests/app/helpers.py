"""Small helpers the app tests share: a shown main window, the editor of one of its pages, a
drag made of real mouse events."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt

from app.editor_base import MediumEditor
from app.engine_worker import EngineBridge
from app.main_window import EditorFactory, MainWindow
from engine.models import ModelRegistry

EditorT = TypeVar("EditorT", bound=MediumEditor)


def shown_window(
    qtbot: Any,
    registry: ModelRegistry,
    bridge: EngineBridge,
    settings: QSettings,
    editors: Mapping[str, EditorFactory | None] | None = None,
    size: tuple[int, int] | None = None,
) -> MainWindow:
    """A real main window with ``editors``, handed to ``qtbot``, resized to ``size`` (if one is
    given) and shown."""
    main = MainWindow(registry, bridge=bridge, editors=editors, settings=settings)
    qtbot.addWidget(main)
    if size is not None:
        main.resize(*size)
    main.show()
    return main


def page_editor(window: MainWindow, kind: type[EditorT]) -> EditorT:
    """The editor on the page of ``kind``'s medium, checked to be a ``kind``."""
    editor = window.pages[kind.medium].editor
    assert isinstance(editor, kind)
    return editor


def drag(qtbot: Any, widget: Any, start: QPoint, end: QPoint, button: Any = None) -> None:
    """Press, move in a few hops (as a hand does), release: real events on ``widget``."""
    button = button or Qt.MouseButton.LeftButton
    qtbot.mousePress(widget, button, pos=start)
    for t in (0.3, 0.7, 1.0):
        qtbot.mouseMove(widget, start + (end - start) * t)
    qtbot.mouseRelease(widget, button, pos=end)


LOAD_TIMEOUT_MS = 60_000


def open_and_wait(qtbot: Any, window: MainWindow, path: Path, kind: type[EditorT]) -> EditorT:
    """Open ``path`` through the window's loader and wait until ``kind``'s editor shows it."""
    editor = page_editor(window, kind)
    before = getattr(editor, "document", None)
    assert window.open_path(path), window.last_error
    qtbot.waitUntil(lambda: not window.loader.busy, timeout=LOAD_TIMEOUT_MS)
    assert getattr(editor, "document", None) is not before, window.last_error
    return editor


def held_prepare(
    monkeypatch: pytest.MonkeyPatch, kind: type[MediumEditor], failure: str | None
) -> tuple[threading.Event, list[str]]:
    """Make ``kind``'s worker-side ``prepare_decoded`` wait for the returned event, then
    finish, or raise MemoryError(``failure``) when one is given; the list fills when it ends."""
    release, ended = threading.Event(), []
    original: Callable[..., object] = kind.prepare_decoded

    def held(self: MediumEditor, path: Path, decoded: object) -> object:
        release.wait(LOAD_TIMEOUT_MS / 1000)
        try:
            if failure is not None:
                raise MemoryError(failure)
            return original(self, path, decoded)
        finally:
            ended.append("done")

    monkeypatch.setattr(kind, "prepare_decoded", held)
    return release, ended
