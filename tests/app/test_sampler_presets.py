"""The sampler dock in plain words: labels, tooltips, presets, and the time the user waited."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFormLayout, QLabel

from app.engine_worker import EngineBridge
from app.main_window import MainWindow
from app.sampler_panel import CUSTOM, PRESETS, SamplerPanel, preset_settings
from engine.models import ModelRegistry
from engine.runtime import load_transformer
from engine.sampling.types import SamplerSettings
from tests.app.conftest import GRID_SHAPE, VOCAB, TokenGridEditor
from tests.app.helpers import page_editor, shown_window

TIMEOUT_MS = 30_000


@pytest.fixture
def panel(qtbot: Any, registry: ModelRegistry) -> SamplerPanel:
    dock = SamplerPanel(registry)
    qtbot.addWidget(dock)
    dock.set_medium("tokens")
    assert dock.current_model() is not None
    return dock


def labels(panel: SamplerPanel) -> dict[str, QLabel]:
    form = panel.layout()
    assert isinstance(form, QFormLayout)
    found = {}
    for row in range(form.rowCount()):
        item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
        if item is not None and isinstance(item.widget(), QLabel):
            label = item.widget()
            assert isinstance(label, QLabel)
            found[label.text()] = label
    return found


def test_labels_are_plain_words_with_tooltips_that_say_the_effect(panel: SamplerPanel) -> None:
    shown = labels(panel)
    for jargon in ("Choice temp.", "Remask", "Guidance", "Top-k", "Order", "Schedule"):
        assert jargon not in shown
    assert "Randomness of choices" in shown and "Preset" in shown
    for text, label in shown.items():
        if text != "Model":
            assert len(label.toolTip()) > 30, text  # says what turning it does
    assert panel.selector.currentText() == "Surest first"
    assert panel.settings().selector == "confidence"  # the sampler's own name underneath


def test_greyed_guidance_says_why(panel: SamplerPanel) -> None:
    assert not panel.guidance_scale.isEnabled()
    label = labels(panel)["Follow the condition"]
    assert not label.isEnabled() and "no condition" in label.toolTip()


def test_presets_set_steps_schedule_and_temperature_and_custom_follows_edits(
    panel: SamplerPanel,
) -> None:
    manifest = panel.current_model()
    assert manifest is not None
    defaults = manifest.default_settings()
    assert panel.preset.currentText() == "Balanced"
    panel.seed.setValue(77)
    panel.apply_preset("Best quality")
    best = panel.settings()
    assert best.steps == min(256, defaults.steps * 2) and best.schedule == "arccos"
    assert best.temperature < defaults.temperature and best.seed == 77  # the seed is kept
    assert panel.preset.currentText() == "Best quality"
    panel.apply_preset("Fast")
    assert panel.settings().steps < defaults.steps and panel.preset.currentText() == "Fast"
    panel.choice_temperature.setValue(panel.choice_temperature.value() + 1)
    assert panel.preset.currentText() == CUSTOM
    panel.choice_temperature.setValue(defaults.choice_temperature)
    assert panel.preset.currentText() == "Fast"  # back on a preset's values: named again
    panel.preset.setCurrentIndex(panel.preset.findText("Balanced"))
    panel.preset.activated.emit(panel.preset.currentIndex())  # as a user's pick does
    assert panel.settings().steps == defaults.steps


def test_preset_settings_are_valid_for_any_defaults() -> None:
    for defaults in (SamplerSettings(steps=1), SamplerSettings(steps=200, temperature=0.0)):
        for name in PRESETS:
            settings = preset_settings(name, defaults)
            assert 1 <= settings.steps <= 256 and settings.temperature >= 0
    with pytest.raises(KeyError):
        preset_settings("Turbo", SamplerSettings())


@pytest.fixture
def slow_window(qtbot: Any, registry: ModelRegistry, qsettings: QSettings) -> Iterator[MainWindow]:
    """A window whose model takes 0.6 s to load: time the sampler never sees."""

    def slow_loader(manifest: Any) -> Any:
        time.sleep(0.6)
        return load_transformer(manifest)

    bridge = EngineBridge(registry, loader=slow_loader)
    editors = {"image": None, "midi": None, "motion": None, "tokens": TokenGridEditor}
    main = shown_window(qtbot, registry, bridge, qsettings, editors)
    yield main
    main.close()
    assert bridge.shutdown(timeout_ms=20_000)


def test_reported_time_is_the_wall_time_waited(
    qtbot: Any, slow_window: MainWindow, tmp_path: Path
) -> None:
    path = tmp_path / "grid.npy"
    np.save(path, np.random.default_rng(3).integers(0, VOCAB, GRID_SHAPE))
    assert slow_window.open_path(path)
    editor = page_editor(slow_window, TokenGridEditor)
    assert editor.document is not None
    editor.document.set_mask((slice(1, 2), slice(2, 6)))
    clicked = time.perf_counter()
    with qtbot.waitSignal(slow_window.bridge.finished, timeout=TIMEOUT_MS) as finished:
        slow_window.generate()
    waited = time.perf_counter() - clicked
    sampler_seconds = finished.args[0].seconds
    reported = slow_window.generation.last_seconds
    assert sampler_seconds + 0.5 < reported <= waited + 0.05
    assert slow_window.generate_bar.text().endswith(f"in {reported:.1f} s")
