"""The model and sampler settings dock: a model list for the current medium and its knobs.

The panel holds no settings of its own: it shows a manifest's sampling
defaults when a model is chosen and reads the widgets back into an immutable
:class:`~engine.sampling.types.SamplerSettings` when asked.

Labels say what a knob does to the result, in the user's words, and each
tooltip says which way to turn it; the sampler's own names (``choice
temperature``, ``remask fraction``) stay in the code. The presets (Fast,
Balanced, Best quality) are derived from the model's own defaults, which are
Balanced (see :func:`preset_settings`); any other value shows "Custom".
"""

from __future__ import annotations

import dataclasses
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
MAX_STEPS = 256

PRESETS = ("Fast", "Balanced", "Best quality")
CUSTOM = "Custom"
_PRESET_FIELDS = (
    "steps",
    "schedule",
    "selector",
    "temperature",
    "choice_temperature",
    "top_k",
    "remask_fraction",
)
"""What a preset sets; seed, variations and guidance stay as the user left them."""

SCHEDULE_LABELS = {
    "cosine": "Cosine: few at first",
    "arccos": "Arccos: fewest at first",
    "linear": "Linear: even",
}
SELECTOR_LABELS = {
    "confidence": "Surest first",
    "halton": "Spread out (Halton)",
    "dilated": "Spread out (dilated)",
    "random": "Random",
}

TIPS = {
    "preset": (
        "Fast: half the steps, for a quick idea.\n"
        "Balanced: the model's own defaults.\n"
        "Best quality: twice the steps, the gentlest reveal pace and slightly safer "
        "token picks; slower.\n"
        "Changing any knob below shows Custom."
    ),
    "steps": (
        "How many passes the model makes over the masked part.\n"
        "More: slower, usually cleaner and more coherent. Fewer: faster, rougher."
    ),
    "schedule": (
        "How many masked tokens are settled at each pass.\n"
        "Cosine and arccos settle few at first and many at the end, so early choices "
        "are made with care; linear settles the same number every pass."
    ),
    "selector": (
        "Which tokens are settled first.\n"
        "Surest first: where the model is most confident (tends to grow from the edges).\n"
        "Spread out: an even scatter over the hole, so no area is decided alone.\n"
        "Random: no preference."
    ),
    "temperature": (
        "How adventurous each generated token is.\n"
        "0: always the likeliest (safe, may look bland or repeat); 1: as the model "
        "learned; above 1: wilder, more mistakes."
    ),
    "choice_temperature": (
        "How much chance decides which tokens are kept at each pass (fading to none by "
        "the last pass).\n"
        "Higher: variations differ more from each other; 0: always keep the surest."
    ),
    "top_k": (
        "Pick each token only among the k likeliest (0 = any).\nLower: safer, less varied results."
    ),
    "remask_fraction": (
        "At each pass, send this share of the tokens already generated back to be "
        "generated again, so early mistakes can be fixed.\n"
        "0: never revise; higher: more revising, a little slower to settle."
    ),
    "guidance": (
        "How strongly the result follows the model's condition (classifier-free "
        "guidance). 0: off; higher: closer to the condition, less varied."
    ),
    "guidance_off": "This model takes no condition, so there is nothing to follow.",
    "seed": "The same seed with the same settings gives the same result",
    "variations": "How many results are generated together, to choose from",
}


def preset_settings(name: str, defaults: SamplerSettings) -> SamplerSettings:
    """``defaults`` (the model's, = Balanced) moved to preset ``name``.

    Fast halves the steps. Best quality doubles them, reveals on the arccos
    schedule (the slowest start) and lowers the token temperature by a tenth;
    more steps is the one change known to help every masked model, the other
    two are the usual MaskGIT advice, not measured on these models.
    """
    if name == "Fast":
        return dataclasses.replace(defaults, steps=max(4, round(defaults.steps / 2)))
    if name == "Best quality":
        return dataclasses.replace(
            defaults,
            steps=min(MAX_STEPS, defaults.steps * 2),
            schedule="arccos",
            temperature=round(defaults.temperature * 0.9, 3),
        )
    if name == "Balanced":
        return defaults
    raise KeyError(f"no sampler preset {name!r}; known: {', '.join(PRESETS)}")


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


def _choices(labels: dict[str, str], values: tuple[str, ...], tip: str) -> QComboBox:
    """A combo showing plain labels; each item's data is the sampler's own name."""
    combo = QComboBox()
    for value in values:
        combo.addItem(labels.get(value, value), value)
    combo.setToolTip(tip)
    return combo


def _set_choice(combo: QComboBox, value: str) -> None:
    index = combo.findData(value)
    if index < 0:
        raise ValueError(f"unknown choice {value!r}")
    combo.setCurrentIndex(index)


class SamplerPanel(QWidget):
    """Model combo (filtered by medium), presets, and every :class:`SamplerSettings` field."""

    modelChanged = Signal(str)  # noqa: N815 - Qt signal naming  # model name, "" when the medium has none

    def __init__(self, registry: ModelRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._registry = registry
        self._medium = ""
        self._defaults = SamplerSettings()
        self._applying = False
        self.model_combo = QComboBox()
        self.preset = QComboBox()
        self.preset.addItems([*PRESETS, CUSTOM])
        self.preset.setToolTip(TIPS["preset"])
        self.steps = _spin(1, MAX_STEPS, TIPS["steps"])
        self.schedule = _choices(SCHEDULE_LABELS, SCHEDULES, TIPS["schedule"])
        self.selector = _choices(SELECTOR_LABELS, SELECTORS, TIPS["selector"])
        self.temperature = _double(0.0, 5.0, 0.05, TIPS["temperature"])
        self.choice_temperature = _double(0.0, 20.0, 0.5, TIPS["choice_temperature"])
        self.top_k = _spin(0, 65536, TIPS["top_k"])
        self.remask_fraction = _double(0.0, 0.9, 0.05, TIPS["remask_fraction"])
        self.guidance_scale = _double(0.0, 20.0, 0.5, TIPS["guidance"])
        self.seed = _spin(0, SEED_MAX, TIPS["seed"])
        self.random_seed = QPushButton("random")
        self.random_seed.setToolTip("A new random seed: the next result differs")
        self.variations = _spin(1, 16, TIPS["variations"])
        self._build()

    def _build(self) -> None:
        self.model_combo.currentIndexChanged.connect(self._on_model_index)
        self.random_seed.clicked.connect(self.randomize_seed)
        self.preset.activated.connect(lambda index: self.apply_preset(self.preset.itemText(index)))
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.random_seed)
        form = QFormLayout(self)
        for label, widget in (
            ("Model", self.model_combo),
            ("Preset", self.preset),
            ("Steps", self.steps),
            ("Reveal pace", self.schedule),
            ("Fill order", self.selector),
            ("Randomness of tokens", self.temperature),
            ("Randomness of choices", self.choice_temperature),
            ("Only the likeliest", self.top_k),
            ("Revise as it goes", self.remask_fraction),
            ("Follow the condition", self.guidance_scale),
        ):
            form.addRow(label, widget)
            form.labelForField(widget).setToolTip(widget.toolTip())
        form.addRow("Seed", seed_row)
        form.labelForField(seed_row).setToolTip(TIPS["seed"])
        form.addRow("Variations", self.variations)
        form.labelForField(self.variations).setToolTip(TIPS["variations"])
        self._knobs_changed_connect()
        self._set_knobs_enabled(False)

    def _knobs_changed_connect(self) -> None:
        for spin in (self.steps, self.top_k):
            spin.valueChanged.connect(self._sync_preset)
        for double in (self.temperature, self.choice_temperature, self.remask_fraction):
            double.valueChanged.connect(self._sync_preset)
        for combo in (self.schedule, self.selector):
            combo.currentIndexChanged.connect(self._sync_preset)

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
        """Show the manifest's sampling defaults in every knob (the Balanced preset)."""
        self._defaults = manifest.default_settings()
        self.show_settings(self._defaults)
        conditional = manifest.condition_input is not None
        self.guidance_scale.setEnabled(conditional)
        tip = TIPS["guidance"] if conditional else TIPS["guidance_off"]
        self.guidance_scale.setToolTip(tip)
        label = self._label_of(self.guidance_scale)
        if label is not None:
            label.setToolTip(tip)
            label.setEnabled(conditional)

    def _label_of(self, field: QWidget) -> QWidget | None:
        layout = self.layout()
        return layout.labelForField(field) if isinstance(layout, QFormLayout) else None

    def show_settings(self, settings: SamplerSettings) -> None:
        self._applying = True
        try:
            self.steps.setValue(settings.steps)
            _set_choice(self.schedule, settings.schedule)
            _set_choice(self.selector, settings.selector)
            self.temperature.setValue(settings.temperature)
            self.choice_temperature.setValue(settings.choice_temperature)
            self.top_k.setValue(settings.top_k)
            self.remask_fraction.setValue(settings.remask_fraction)
            self.guidance_scale.setValue(settings.guidance_scale)
            self.seed.setValue(settings.seed)
            self.variations.setValue(settings.variations)
        finally:
            self._applying = False
        self._sync_preset()

    def settings(self) -> SamplerSettings:
        """The knobs as an immutable value, ready for a request."""
        return SamplerSettings(
            steps=self.steps.value(),
            schedule=str(self.schedule.currentData()),
            selector=str(self.selector.currentData()),
            temperature=self.temperature.value(),
            choice_temperature=self.choice_temperature.value(),
            top_k=self.top_k.value(),
            remask_fraction=self.remask_fraction.value(),
            guidance_scale=self.guidance_scale.value() if self.guidance_scale.isEnabled() else 0.0,
            seed=self.seed.value(),
            variations=self.variations.value(),
        )

    # -- presets -------------------------------------------------------------------------

    def apply_preset(self, name: str) -> None:
        """Set the knobs a preset sets (Custom leaves them as they are)."""
        if name == CUSTOM:
            self._sync_preset()
            return
        target = preset_settings(name, self._defaults)
        current = self.settings()
        kept = {f: getattr(current, f) for f in ("seed", "variations", "guidance_scale")}
        self.show_settings(dataclasses.replace(target, **kept))

    def preset_name(self) -> str:
        """The preset the knobs match, else Custom."""
        current = self.settings()
        for name in PRESETS:
            target = preset_settings(name, self._defaults)
            if all(_same(getattr(current, f), getattr(target, f)) for f in _PRESET_FIELDS):
                return name
        return CUSTOM

    def _sync_preset(self) -> None:
        if not self._applying:
            self.preset.setCurrentText(self.preset_name())

    def randomize_seed(self) -> None:
        self.seed.setValue(random.randint(0, SEED_MAX))

    def _set_knobs_enabled(self, enabled: bool) -> None:
        for widget in (
            self.preset,
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


def _same(a: object, b: object) -> bool:
    """Equal, with floats compared at the spin boxes' three decimals."""
    if isinstance(a, int | float) and isinstance(b, int | float):
        return abs(a - b) < 5e-4
    return a == b
