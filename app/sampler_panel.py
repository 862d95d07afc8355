"""The model and sampler settings dock: a model list for the current medium and its knobs.

The panel holds no settings of its own: it shows a manifest's sampling
defaults when a model is chosen and reads the widgets back into an immutable
:class:`~engine.sampling.types.SamplerSettings` when asked.
"""

from __future__ import annotations

import random

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QPushButton,
    QSpinBox,
    QWidget,
)

from engine.models import ModelManifest, ModelRegistry
from engine.sampling.types import SCHEDULES, SELECTORS, SamplerSettings

SEED_MAX = 2**31 - 1


def _spin(minimum: int, maximum: int, tip: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(minimum, maximum)
    box.setToolTip(tip)
    return box


def _double(minimum: float, maximum: float, step: float, tip: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(minimum, maximum)
    box.setSingleStep(step)
    box.setDecimals(3)
    box.setToolTip(tip)
    return box


def _choices(items: tuple[str, ...], tip: str) -> QComboBox:
    combo = QComboBox()
    combo.addItems(list(items))
    combo.setToolTip(tip)
    return combo


class SamplerPanel(QWidget):
    """Model combo (filtered by medium) plus every :class:`SamplerSettings` field."""

    modelChanged = Signal(str)  # noqa: N815 - Qt signal naming  # model name, "" when the medium has none

    def __init__(self, registry: ModelRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._registry = registry
        self._medium = ""
        self.model_combo = QComboBox()
        self.steps = _spin(1, 256, "Sampler iterations; more is slower and usually cleaner")
        self.schedule = _choices(SCHEDULES, "How fast tokens are revealed over the steps")
        self.selector = _choices(SELECTORS, "Which positions are revealed first")
        self.temperature = _double(0.0, 5.0, 0.05, "Token sampling temperature (0 = greedy)")
        self.choice_temperature = _double(0.0, 20.0, 0.5, "Randomness of the reveal order")
        self.top_k = _spin(0, 65536, "Sample only among the k likeliest tokens (0 = all)")
        self.remask_fraction = _double(
            0.0, 0.9, 0.05, "Re-mask this share of generated tokens per step"
        )
        self.guidance_scale = _double(
            0.0, 20.0, 0.5, "Classifier-free guidance (conditional models)"
        )
        self.seed = _spin(0, SEED_MAX, "Same seed + same settings = same result")
        self.random_seed = QPushButton("random")
        self.variations = _spin(1, 16, "Variations generated together, to choose from")
        self._build()

    def _build(self) -> None:
        self.model_combo.currentIndexChanged.connect(self._on_model_index)
        self.random_seed.clicked.connect(self.randomize_seed)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.random_seed)
        form = QFormLayout(self)
        form.addRow("Model", self.model_combo)
        form.addRow("Steps", self.steps)
        form.addRow("Schedule", self.schedule)
        form.addRow("Order", self.selector)
        form.addRow("Temperature", self.temperature)
        form.addRow("Choice temp.", self.choice_temperature)
        form.addRow("Top-k", self.top_k)
        form.addRow("Remask", self.remask_fraction)
        form.addRow("Guidance", self.guidance_scale)
        form.addRow("Seed", seed_row)
        form.addRow("Variations", self.variations)
        self._set_knobs_enabled(False)

    # -- models ----------------------------------------------------------------------

    def set_medium(self, medium: str) -> None:
        """List the models of ``medium``, keeping the chosen one when it is still offered."""
        if medium == self._medium:
            return
        self._medium = medium
        models = self._registry.for_medium(medium)
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for manifest in models:
            self.model_combo.addItem(manifest.name, manifest.name)
            self.model_combo.setItemData(
                self.model_combo.count() - 1, manifest.description, Qt.ItemDataRole.ToolTipRole
            )
        self.model_combo.setPlaceholderText("no models for this medium" if not models else "")
        self.model_combo.blockSignals(False)
        self._on_model_index(self.model_combo.currentIndex())

    @property
    def medium(self) -> str:
        return self._medium

    def model_names(self) -> list[str]:
        return [self.model_combo.itemText(i) for i in range(self.model_combo.count())]

    def current_model(self) -> ModelManifest | None:
        name = self.model_combo.currentData()
        return self._registry.models.get(name) if isinstance(name, str) else None

    def select_model(self, name: str) -> None:
        index = self.model_combo.findData(name)
        if index < 0:
            raise KeyError(f"model {name!r} is not offered for medium {self._medium!r}")
        self.model_combo.setCurrentIndex(index)

    def _on_model_index(self, _index: int) -> None:
        manifest = self.current_model()
        self._set_knobs_enabled(manifest is not None)
        if manifest is not None:
            self.load_defaults(manifest)
        self.modelChanged.emit(manifest.name if manifest else "")

    # -- settings ------------------------------------------------------------------------

    def load_defaults(self, manifest: ModelManifest) -> None:
        """Show the manifest's sampling defaults in every knob."""
        self.show_settings(manifest.default_settings())
        self.guidance_scale.setEnabled(manifest.condition_input is not None)

    def show_settings(self, settings: SamplerSettings) -> None:
        self.steps.setValue(settings.steps)
        self.schedule.setCurrentText(settings.schedule)
        self.selector.setCurrentText(settings.selector)
        self.temperature.setValue(settings.temperature)
        self.choice_temperature.setValue(settings.choice_temperature)
        self.top_k.setValue(settings.top_k)
        self.remask_fraction.setValue(settings.remask_fraction)
        self.guidance_scale.setValue(settings.guidance_scale)
        self.seed.setValue(settings.seed)
        self.variations.setValue(settings.variations)

    def settings(self) -> SamplerSettings:
        """The knobs as an immutable value, ready for a request."""
        return SamplerSettings(
            steps=self.steps.value(),
            schedule=self.schedule.currentText(),
            selector=self.selector.currentText(),
            temperature=self.temperature.value(),
            choice_temperature=self.choice_temperature.value(),
            top_k=self.top_k.value(),
            remask_fraction=self.remask_fraction.value(),
            guidance_scale=self.guidance_scale.value() if self.guidance_scale.isEnabled() else 0.0,
            seed=self.seed.value(),
            variations=self.variations.value(),
        )

    def randomize_seed(self) -> None:
        self.seed.setValue(random.randint(0, SEED_MAX))

    def _set_knobs_enabled(self, enabled: bool) -> None:
        for widget in (
            self.steps,
            self.schedule,
            self.selector,
            self.temperature,
            self.choice_temperature,
            self.top_k,
            self.remask_fraction,
            self.guidance_scale,
            self.seed,
            self.random_seed,
            self.variations,
        ):
            widget.setEnabled(enabled)
