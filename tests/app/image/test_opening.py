"""Opening pictures through the window's threaded loader: the canvas's RGBA and mask-layer
arrays are made in the loading worker and show the file's every pixel; a cancelled or refused
open leaves the picture, its mask and the canvas as they were."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings

from app.engine_worker import EngineBridge
from app.image.editor import ImageEditor
from app.image.widgets import rgba_of
from app.main_window import MainWindow
from engine.media.image.document import ImageDocument
from engine.models import ModelRegistry
from engine.project import Project, save_project
from tests.app.helpers import (
    LOAD_TIMEOUT_MS,
    held_prepare,
    open_and_wait,
    shown_window,
)


@pytest.fixture
def window(qtbot: Any, qsettings: QSettings, tmp_path: Path) -> Iterator[MainWindow]:
    registry = ModelRegistry.discover([tmp_path / "no-models"])
    editors = {"image": ImageEditor, "motion": None, "midi": None}
    main = shown_window(qtbot, registry, EngineBridge(registry), qsettings, editors)
    main.loader.threaded = True
    yield main
    main.close()


def picture(path: Path, height: int, width: int, seed: int, mode: str = "RGBA") -> np.ndarray:
    """Random pixels (a translucent alpha in RGBA) saved to ``path``; returns them."""
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, len(mode)), np.uint8)
    Image.fromarray(pixels, mode).save(path)
    return pixels


def test_a_picture_opens_with_its_canvas_arrays_made_in_the_worker(
    qtbot: Any, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: dict[str, str] = {}
    for name in ("prepare_decoded", "open_decoded"):
        original = getattr(ImageEditor, name)

        def wrapper(self: ImageEditor, *args: Any, _name: str = name, _f: Any = original) -> Any:
            threads[_name] = threading.current_thread().name
            return _f(self, *args)

        monkeypatch.setattr(ImageEditor, name, wrapper)
    pixels = picture(tmp_path / "wide.png", 300, 500, seed=1)
    editor = open_and_wait(qtbot, window, tmp_path / "wide.png", ImageEditor)
    assert threads == {"prepare_decoded": "remask-load", "open_decoded": "MainThread"}
    assert editor.document is not None and editor.document.shape == (300, 500)
    assert np.array_equal(editor.document.rgb, pixels[:, :, :3])
    assert np.array_equal(editor.canvas.picture.pixels, pixels)  # alpha included
    overlay = editor.canvas.mask_layer.pixels
    assert overlay.shape == (300, 500, 4) and not overlay.any() and not editor.has_mask()
    editor.document.fill_rectangle((10, 20), (60, 40))  # the overlay is live, as before
    assert editor.has_mask() and overlay[30, 30, 3] > 0 and not overlay[100, 100].any()


def test_an_opaque_picture_gets_an_opaque_canvas(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    pixels = picture(tmp_path / "rgb.png", 64, 48, seed=2, mode="RGB")
    editor = open_and_wait(qtbot, window, tmp_path / "rgb.png", ImageEditor)
    shown = editor.canvas.picture.pixels
    assert np.array_equal(shown[:, :, :3], pixels) and (shown[:, :, 3] == 255).all()
    alpha = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rgb = np.zeros((3, 4, 3), np.uint8)
    assert np.array_equal(rgba_of(rgb, alpha), np.concatenate([rgb, alpha[:, :, None]], axis=2))


@pytest.mark.parametrize("outcome", ["cancelled", "refused"])
def test_a_cancelled_or_refused_open_leaves_picture_mask_and_canvas(
    qtbot: Any,
    window: MainWindow,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    outcome: str,
) -> None:
    pixels = picture(tmp_path / "first.png", 120, 90, seed=3)
    picture(tmp_path / "second.png", 200, 210, seed=4)
    editor = open_and_wait(qtbot, window, tmp_path / "first.png", ImageEditor)
    document = editor.document
    assert document is not None
    document.fill_rectangle((5, 5), (40, 30))
    mask, overlay = document.mask.copy(), editor.canvas.mask_layer.pixels.copy()
    release, ended = held_prepare(
        monkeypatch, ImageEditor, "no room for the canvas" if outcome == "refused" else None
    )
    assert window.open_path(tmp_path / "second.png") and window.loader.busy
    if outcome == "cancelled":
        window.loader.cancel()
        assert not window.loader.busy
    release.set()
    qtbot.waitUntil(lambda: bool(ended) and not window.loader.busy, timeout=LOAD_TIMEOUT_MS)
    qtbot.wait(100)  # a dropped (or refused) result reaches the GUI thread
    assert editor.document is document and np.array_equal(document.mask, mask)
    assert np.array_equal(editor.canvas.picture.pixels, pixels)
    assert np.array_equal(editor.canvas.mask_layer.pixels, overlay) and overlay.any()
    assert editor.is_modified() and editor.document_name() == "first.png"
    if outcome == "refused":
        assert "no room for the canvas" in window.last_error


def test_a_project_opens_with_its_canvas_arrays_made_in_the_worker(
    qtbot: Any, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A saved project's picture and mask reach the canvas through ``prepare_document``,
    which runs in the loading thread, not on the GUI thread."""
    pixels = picture(tmp_path / "p.png", 120, 90, seed=4)
    document = ImageDocument.open(tmp_path / "p.png")
    document.fill_rectangle((5, 10), (30, 40))
    save_project(tmp_path / "p.remask", Project("image", document, name="p.png"))
    threads: list[str] = []
    original = ImageEditor.prepare_document

    def spy(self: ImageEditor, opened: object) -> object | None:
        threads.append(threading.current_thread().name)
        return original(self, opened)

    monkeypatch.setattr(ImageEditor, "prepare_document", spy)
    editor = open_and_wait(qtbot, window, tmp_path / "p.remask", ImageEditor)
    assert threads == ["remask-load"]
    assert editor.document is not None and np.array_equal(editor.document.rgb, pixels[..., :3])
    assert np.array_equal(editor.canvas.picture.pixels, pixels)
    overlay = editor.canvas.mask_layer.pixels
    assert overlay[20, 20, 3] > 0 and not overlay[100, 80].any()
