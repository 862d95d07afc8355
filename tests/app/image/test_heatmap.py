"""The confidence heat-map outlives the result (toggle, opacity, legend); Accept hides the mask."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from app.engine_worker import EngineBridge
from app.image.editor import ImageEditor
from app.main_window import MainWindow
from app.shortcuts import shortcut
from engine.media.image.export import save_image
from engine.media.image.files import LoadedImage
from engine.models import ModelRegistry
from tests.app.helpers import shown_window
from tests.app.image.test_editor import HEIGHT, WIDTH, generate, opened, paint_hole


@pytest.fixture(scope="module")
def models_dir(image_models: Path) -> Path:
    return image_models


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    rgb = np.random.default_rng(5).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    path = tmp_path / "photo.png"
    save_image(LoadedImage.from_rgb(rgb), path)
    return path


@pytest.fixture
def window(
    qtbot: Any, registry: ModelRegistry, bridge: EngineBridge, qsettings: Any
) -> Iterator[MainWindow]:
    editors = {"image": ImageEditor, "midi": None, "motion": None}
    main = shown_window(qtbot, registry, bridge, qsettings, editors, size=(1200, 800))
    qtbot.waitExposed(main)
    yield main
    main.close()


def test_heat_map_stays_with_the_result_and_follows_the_selection(
    qtbot: Any, window: MainWindow, photo: Path
) -> None:
    editor = opened(window, photo)
    paint_hole(qtbot, editor)
    controls = editor.heat_controls
    assert controls.legend.isHidden() and controls.opacity.isHidden()
    generate(qtbot, window, variations=2)  # the map was off: nothing drawn, data kept
    assert not editor.canvas.heat.isVisible() and editor.heat is not None
    editor.heat_box.setChecked(True)  # switched on after the result: drawn from what was kept
    assert editor.canvas.heat.isVisible() and editor.canvas.heat_layers
    assert not controls.legend.isHidden() and not controls.opacity.isHidden()
    first = editor.canvas.heat_layers[0].pixels.copy()
    editor.strip.buttons[1].click()
    assert editor.heat.which == 1 and editor.canvas.preview_visible
    assert editor.canvas.heat_layers[0].pixels.shape == first.shape
    controls.opacity.setValue(25)
    assert abs(editor.canvas.heat.opacity() - 0.25) < 1e-6
    editor.heat_box.setChecked(False)
    assert not editor.canvas.heat.isVisible()
    editor.heat_box.setChecked(True)
    editor.strip.accept_button.click()
    assert editor.canvas.heat.isVisible(), "the map outlives an Accept"
    editor.heat_box.setChecked(False)
    editor.heat_box.setChecked(True)
    assert editor.canvas.heat.isVisible(), "and can be shown again after it"


def test_accept_hides_the_mask_and_m_shows_it(qtbot: Any, window: MainWindow, photo: Path) -> None:
    editor = opened(window, photo)
    paint_hole(qtbot, editor)
    assert editor.canvas.mask_layer.isVisible()
    generate(qtbot, window)
    editor.strip.accept_button.click()
    assert not editor.canvas.mask_layer.isVisible() and editor.has_mask()
    assert "M shows it" in editor.status.text()
    assert shortcut("image", "show_mask").keys == ("M",)
    window.sampler.seed.setFocus()  # focus elsewhere in the window: the key still works
    QApplication.processEvents()
    qtbot.keyClick(window.sampler.seed, "m")
    assert editor.canvas.mask_layer.isVisible() and editor.show_mask_action.isChecked()
    qtbot.keyClick(window.sampler.seed, "m")
    assert not editor.canvas.mask_layer.isVisible()
    paint_hole(qtbot, editor)  # editing the mask shows it again
    assert editor.canvas.mask_layer.isVisible()


def test_discard_and_a_new_generation_drop_the_old_map(
    qtbot: Any, window: MainWindow, photo: Path
) -> None:
    editor = opened(window, photo)
    paint_hole(qtbot, editor)
    editor.heat_box.setChecked(True)
    generate(qtbot, window)
    assert editor.canvas.heat.isVisible()
    editor.strip.discard_button.click()
    assert not editor.canvas.heat.isVisible() and not editor.canvas.heat_layers
    assert editor.heat is None


def test_threaded_previews_decode_off_the_gui_thread(
    qtbot: Any, window: MainWindow, photo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from app.image import generation as generation_module

    decode = generation_module.preview_patch
    threads: list[str] = []

    def recording(*args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return decode(*args)

    monkeypatch.setattr(generation_module, "preview_patch", recording)
    editor = opened(window, photo)
    editor.decoder.threaded = True
    paint_hole(qtbot, editor)
    generate(qtbot, window)
    qtbot.waitUntil(lambda: not editor.decoder.busy, timeout=10_000)
    assert threads and set(threads) == {"remask-preview"}


def test_confidence_is_ranked_within_the_result() -> None:
    from app.image.heatmap import ranked

    confidence = np.array([[np.inf, 0.004, 0.0, 0.02, 0.001]], dtype=np.float32)
    out = ranked(confidence)
    assert out[0, 0] == np.inf and out[0, 2] == 0.0  # kept and undecided stay as they are
    assert list(out[0, [4, 1, 3]]) == pytest.approx([1 / 3, 2 / 3, 1.0])
