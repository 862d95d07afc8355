"""The Image page in the real window: real mouse events, a tiny real ONNX model, a real thread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication

from app.engine_worker import EngineBridge
from app.image.canvas import Tool
from app.image.editor import ImageEditor
from app.main_window import MainWindow
from engine.media.image.export import save_image
from engine.media.image.files import LoadedImage, load_image
from engine.media.image.mask import save_mask
from engine.models import ModelRegistry
from tests.app.helpers import page_editor, shown_window

TIMEOUT_MS = 30_000
HEIGHT, WIDTH = 96, 128


@pytest.fixture(scope="module")
def models_dir(image_models: Path) -> Path:
    """The conftest's ``registry`` and joined ``bridge`` hold the tiny image model only."""
    return image_models


@pytest.fixture
def window(
    qtbot: Any, registry: ModelRegistry, bridge: EngineBridge, qsettings: Any
) -> Iterator[MainWindow]:
    editors = {"image": ImageEditor, "midi": None, "motion": None}
    main = shown_window(qtbot, registry, bridge, qsettings, editors, size=(1000, 700))
    qtbot.waitExposed(main)
    yield main
    main.close()


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    path = tmp_path / "photo.png"
    save_image(LoadedImage.from_rgb(rgb), path)
    return path


def opened(window: MainWindow, photo: Path) -> ImageEditor:
    assert window.open_path(photo)
    editor = page_editor(window, ImageEditor)
    QApplication.processEvents()
    return editor


def at(editor: ImageEditor, x: float, y: float) -> QPoint:
    """Viewport position of image pixel (x, y)."""
    return editor.canvas.mapFromScene(QPointF(x + 0.5, y + 0.5))


def drag(qtbot: Any, editor: ImageEditor, points: list[tuple[float, float]]) -> None:
    viewport = editor.canvas.viewport()
    left = Qt.MouseButton.LeftButton
    qtbot.mousePress(viewport, left, pos=at(editor, *points[0]))
    for point in points[1:]:
        qtbot.mouseMove(viewport, at(editor, *point))
    qtbot.mouseRelease(viewport, left, pos=at(editor, *points[-1]))


def paint_hole(qtbot: Any, editor: ImageEditor) -> np.ndarray:
    editor.set_tool(Tool.RECTANGLE)
    drag(qtbot, editor, [(40, 30), (70, 55)])
    assert editor.document is not None
    return editor.document.mask.copy()


def generate(qtbot: Any, window: MainWindow, variations: int = 1) -> ImageEditor:
    editor = page_editor(window, ImageEditor)
    window.sampler.steps.setValue(4)
    window.sampler.variations.setValue(variations)
    with qtbot.waitSignal(window.bridge.finished, timeout=TIMEOUT_MS):
        assert window.generate() is not None
    qtbot.waitUntil(lambda: len(editor.variations) == variations, timeout=TIMEOUT_MS)
    return editor


# --------------------------------------------------------------------------- painting


def test_a_mouse_drag_paints_the_mask_as_one_undo_step(
    qtbot: Any, window: MainWindow, photo: Path
) -> None:
    editor = opened(window, photo)
    assert window.pages["image"].currentWidget() is editor
    editor.canvas.set_brush_radius(3)
    drag(qtbot, editor, [(10, 10), (30, 12), (60, 40)])  # far apart: interpolated, no gaps
    document = editor.document
    assert document is not None
    mask = document.mask
    assert mask[10, 10] and mask[11, 20] and mask[26, 45] and mask[40, 60]
    assert not mask[80, 10]
    overlay = editor.canvas.mask_layer.pixels
    assert overlay[26, 45, 3] > 0 and overlay[80, 10, 3] == 0
    assert window.generate_bar.generate_button.isEnabled()
    window.undo_action.trigger()
    assert not document.mask.any() and overlay[26, 45, 3] == 0
    window.redo_action.trigger()
    assert document.mask[26, 45]


def test_bracket_keys_change_the_brush_size(qtbot: Any, window: MainWindow, photo: Path) -> None:
    editor = opened(window, photo)
    canvas = editor.canvas
    start = canvas.brush_radius
    qtbot.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert canvas.brush_radius > start
    assert editor.brush_size.value() == round(2 * canvas.brush_radius)
    qtbot.keyClick(canvas, Qt.Key.Key_BracketLeft)
    qtbot.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert canvas.brush_radius < start


def test_eraser_rectangle_lasso_and_fill(qtbot: Any, window: MainWindow, photo: Path) -> None:
    editor = opened(window, photo)
    document = editor.document
    assert document is not None
    mask = paint_hole(qtbot, editor)
    assert mask[31:55, 41:70].all() and 24 * 29 <= mask.sum() <= 28 * 33  # ±1 px of screen mapping
    editor.set_tool(Tool.ERASER)
    editor.canvas.set_brush_radius(2)
    drag(qtbot, editor, [(55, 42), (56, 42)])
    assert not document.mask[42, 55] and document.mask[31, 41]
    document.clear_mask()
    editor.set_tool(Tool.LASSO)
    drag(qtbot, editor, [(5, 5), (40, 5), (40, 40), (5, 40)])
    assert document.mask[20, 20] and not document.mask[60, 60]
    document.clear_mask()
    rgb = document.rgb
    editor.tolerance.setValue(0)
    editor.set_tool(Tool.FILL)
    qtbot.mouseClick(editor.canvas.viewport(), Qt.MouseButton.LeftButton, pos=at(editor, 3, 3))
    assert document.mask[3, 3]
    assert np.array_equal(document.mask, (rgb == rgb[3, 3]).all(axis=2) & document.mask)


@pytest.mark.parametrize("action", ["Invert", "Clear", "Grow", "Shrink"])
def test_mask_actions_are_each_undoable(
    qtbot: Any, window: MainWindow, photo: Path, action: str
) -> None:
    editor = opened(window, photo)
    before = paint_hole(qtbot, editor)
    [button] = [a for a in editor.actions() if a.text() == action]  # the Mask menu's
    button.trigger()
    document = editor.document
    assert document is not None
    assert not np.array_equal(document.mask, before)
    window.undo_action.trigger()
    assert np.array_equal(document.mask, before)


def test_zoom_and_pan(qtbot: Any, window: MainWindow, photo: Path) -> None:
    editor = opened(window, photo)
    canvas = editor.canvas
    canvas.actual_size()
    assert canvas.zoom == 1.0
    canvas.set_zoom(8)
    before = canvas.horizontalScrollBar().value()
    viewport = canvas.viewport()
    middle = Qt.MouseButton.MiddleButton
    qtbot.mousePress(viewport, middle, pos=QPoint(200, 200))
    qtbot.mouseMove(viewport, QPoint(150, 200))
    qtbot.mouseRelease(viewport, middle, pos=QPoint(150, 200))
    assert canvas.horizontalScrollBar().value() == before + 50
    assert editor.document is not None and not editor.document.mask.any()  # panning paints nothing
    canvas.fit()
    assert canvas.zoom > 1.0  # the 128 px picture is enlarged to fill the view


# --------------------------------------------------------------------------- generation


def test_generating_changes_only_masked_pixels_and_undo_restores_exactly(
    qtbot: Any, window: MainWindow, photo: Path
) -> None:
    editor = opened(window, photo)
    document = editor.document
    assert document is not None
    original = document.rgb.copy()
    mask = paint_hole(qtbot, editor)
    seen: list[tuple[int, bool, bool]] = []

    def on_step(_generation: int, _step: object) -> None:  # runs after the window's own slot
        untouched = np.array_equal(document.rgb, original)
        seen.append((editor.preview_updates, editor.canvas.preview_visible, untouched))

    window.bridge.stepReady.connect(on_step)
    generate(qtbot, window, variations=2)
    assert len(seen) >= 2
    assert seen == [(i, True, True) for i in range(1, len(seen) + 1)]  # every step, doc untouched
    assert np.array_equal(document.rgb, original)
    assert editor.strip.isVisible() and editor.strip.count == 2
    editor.strip.buttons[1].click()
    assert editor.canvas.preview_visible
    editor.strip.accept_button.click()
    assert not editor.strip.isVisible() and not editor.canvas.preview_visible
    result = document.rgb
    assert np.array_equal(result[~mask], original[~mask])  # bit-exact outside the mask
    assert not np.array_equal(result[mask], original[mask])
    assert len(document.history.undo_steps) == 2  # the rectangle and the accept
    window.undo_action.trigger()
    assert np.array_equal(document.rgb, original)
    assert np.array_equal(editor.canvas.picture.pixels[:, :, :3], original)
    window.redo_action.trigger()
    assert np.array_equal(document.rgb, result)


def test_discard_restores_the_previous_view(qtbot: Any, window: MainWindow, photo: Path) -> None:
    editor = opened(window, photo)
    assert editor.document is not None
    original = editor.document.rgb.copy()
    paint_hole(qtbot, editor)
    zoom = editor.canvas.zoom
    editor.heat_box.setChecked(True)
    generate(qtbot, window)
    editor.strip.discard_button.click()
    assert not editor.canvas.preview_visible and not editor.canvas.heat.isVisible()
    assert not editor.strip.isVisible() and editor.variations == []
    assert np.array_equal(editor.document.rgb, original)
    qtbot.waitUntil(lambda: editor.canvas.zoom == zoom)  # the canvas takes the strip's room back


def test_several_windows_run_in_order_and_merge(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    rgb = np.random.default_rng(2).integers(0, 256, (80, 400, 3), dtype=np.uint8)
    save_image(LoadedImage.from_rgb(rgb), tmp_path / "wide.png")
    editor = opened(window, tmp_path / "wide.png")
    editor.set_tool(Tool.RECTANGLE)
    drag(qtbot, editor, [(10, 30), (20, 40)])
    drag(qtbot, editor, [(370, 30), (380, 40)])
    document = editor.document
    assert document is not None
    mask = document.mask.copy()
    window.sampler.steps.setValue(3)
    window.sampler.variations.setValue(2)
    seen: list[tuple[int, int, int, str]] = []
    layers: list[set[int]] = []
    window.bridge.stepReady.connect(
        lambda generation, progress: seen.append(
            (generation, progress.window, progress.windows, editor.status.text())
        )
    )
    window.bridge.stepReady.connect(lambda *_: layers.append(set(editor.canvas.previews)))
    with qtbot.waitSignal(window.bridge.finished, timeout=TIMEOUT_MS) as finished:
        generation = window.generate()
    assert editor.job is not None and editor.job.count == 2
    assert finished.args[0].generation == generation  # one request ran both windows
    assert {g for g, *_ in seen} == {generation} and {n for *_, n, _ in seen} == {2}
    windows = [w for _, w, _, _ in seen]
    assert windows == sorted(windows) and set(windows) == {0, 1}
    assert all(text.endswith(f" · window {w + 1}/2") for _, w, _, text in seen)
    assert layers[-1] == {0, 1}  # the first hole's fill stays in sight while the second decodes
    qtbot.waitUntil(lambda: len(editor.variations) == 2, timeout=TIMEOUT_MS)
    editor.accept_variation(0)
    assert np.array_equal(document.rgb[~mask], rgb[~mask])
    assert not np.array_equal(document.rgb[30:41, 10:21], rgb[30:41, 10:21])
    assert not np.array_equal(document.rgb[30:41, 370:381], rgb[30:41, 370:381])
    window.undo_action.trigger()
    assert np.array_equal(document.rgb, rgb)


def test_outpainting_extends_and_masks_the_margin(
    qtbot: Any, window: MainWindow, photo: Path
) -> None:
    editor = opened(window, photo)
    editor.extend_canvas(16, 0, 16, 0)
    document = editor.document
    assert document is not None and document.shape == (HEIGHT, WIDTH + 32)
    assert document.mask[:, :16].all() and not document.mask[:, 16:-16].any()
    assert editor.canvas.picture.pixels.shape[:2] == (HEIGHT, WIDTH + 32)
    window.undo_action.trigger()
    assert document.shape == (HEIGHT, WIDTH) and not document.mask.any()


# --------------------------------------------------------------------------- files


def test_export_round_trips(qtbot: Any, window: MainWindow, photo: Path, tmp_path: Path) -> None:
    editor = opened(window, photo)
    assert editor.document is not None
    for name in ("out.png", "out.webp"):
        assert window.export_to(tmp_path / name)
        assert np.array_equal(load_image(tmp_path / name).rgb, editor.document.rgb)
    assert window.export_to(tmp_path / "out.jpg")
    assert load_image(tmp_path / "out.jpg").rgb.shape == (HEIGHT, WIDTH, 3)


def test_mask_png_round_trips(qtbot: Any, window: MainWindow, photo: Path, tmp_path: Path) -> None:
    editor = opened(window, photo)
    mask = paint_hole(qtbot, editor)
    assert editor.export_mask(tmp_path / "mask.png")
    assert editor.document is not None
    editor.document.clear_mask()
    assert editor.import_mask(tmp_path / "mask.png")
    assert np.array_equal(editor.document.mask, mask)


def test_bad_files_give_an_error_and_leave_the_document(
    qtbot: Any, window: MainWindow, photo: Path, tmp_path: Path
) -> None:
    editor = opened(window, photo)
    document = editor.document
    mask = paint_hole(qtbot, editor)
    broken = tmp_path / "broken.png"
    broken.write_bytes(photo.read_bytes()[:200])
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    for bad in (broken, empty):
        assert not window.open_path(bad)
        assert window.last_error and "\n" not in window.last_error
        assert editor.document is document
    small = tmp_path / "small.png"
    save_mask(np.ones((10, 10), dtype=np.bool_), small)
    assert not editor.import_mask(small)
    assert "10×10" in window.last_error
    assert editor.document is document and np.array_equal(document.mask, mask)


def test_a_full_mask_is_refused_with_a_message(qtbot: Any, window: MainWindow, photo: Path) -> None:
    editor = opened(window, photo)
    assert editor.document is not None
    editor.document.invert_mask()
    assert window.generate() is None
    assert "covers the whole image" in window.last_error
    assert editor.job is None


def test_dropping_a_file_opens_it(qtbot: Any, window: MainWindow, photo: Path) -> None:
    editor = page_editor(window, ImageEditor)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(photo))])
    drop = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    editor.canvas.dropEvent(drop)
    assert editor.document is not None and editor.document.name == "photo.png"


def test_welcome_sample_opens_the_photo(qtbot: Any, window: MainWindow) -> None:
    welcome = window.pages["image"].welcome
    assert welcome.sample is not None and welcome.sample.name == "photo.png"
    welcome.sample_button.click()
    editor = page_editor(window, ImageEditor)
    assert editor.document is not None and editor.document.name == "photo.png"
