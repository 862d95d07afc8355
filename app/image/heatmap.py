"""The confidence heat-map's controls and what it is drawn from, kept past the result.

The sampler's last step says, for every generated token, how sure the model
was of it (:attr:`engine.sampling.types.Step.confidence`, one row per
variation). :class:`HeatSource` keeps that per model window, so the map can be
drawn for the variation being looked at, after the live preview is gone and
after an Accept, until the next generation or a Discard. :class:`HeatControls`
is the toggle, an opacity slider and a legend whose colours are the ones
:func:`engine.media.image.edit.heat_patch` paints (red unsure to green sure).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPixmap
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QWidget

from app.image.canvas import DEFAULT_HEAT_OPACITY, ImageCanvas
from engine.media.image.codec import ImageCodec, ImagePayload
from engine.media.image.edit import heat_patch
from engine.sampling.types import FloatArray

LEGEND_SIZE = (64, 12)


@dataclass
class HeatSource:
    """The last step's confidence [variations, tokens] of each window of one generation."""

    codec: ImageCodec
    windows: dict[int, tuple[ImagePayload, FloatArray]] = field(default_factory=dict)
    which: int = 0
    """The variation drawn (the one selected, or accepted)."""

    def record(self, window: int, payload: ImagePayload, confidence: FloatArray) -> None:
        self.windows[window] = (payload, confidence)

    def draw(self, canvas: ImageCanvas, window: int | None = None) -> None:
        """Paint window ``window`` (default: all) for variation :attr:`which` into ``canvas``."""
        chosen = self.windows if window is None else {window: self.windows[window]}
        for index, (payload, confidence) in chosen.items():
            which = min(self.which, len(confidence) - 1)
            heat = heat_patch(self.codec, payload, ranked(confidence), which)
            canvas.set_heat(heat.rgba, heat.top, heat.left, *heat.cell, window=index)


def ranked(confidence: FloatArray) -> FloatArray:
    """Each decided token's rank among the decided ones of its row, in (0, 1].

    A VQ model's token probabilities are small (a median near 0.01 over 512
    codes), so on the raw scale every token would be red. Ranked, the map
    shows what it is for: where the model was least and most sure in this
    result. Kept tokens (+inf) and undecided ones (0) stay as they are.
    """
    out = np.array(confidence, dtype=np.float32, copy=True)
    for row in out:
        decided = np.isfinite(row) & (row > 0)
        count = int(decided.sum())
        if count:
            order = np.argsort(np.argsort(row[decided], kind="stable"), kind="stable")
            row[decided] = (order + 1) / count
    return out


def legend_pixmap(width: int = LEGEND_SIZE[0], height: int = LEGEND_SIZE[1]) -> QPixmap:
    """Red (low confidence) to green (high), as ``heat_patch`` mixes them."""
    pixmap = QPixmap(width, height)
    gradient = QLinearGradient(0, 0, width, 0)
    gradient.setColorAt(0.0, QColor(255, 0, 0))
    gradient.setColorAt(1.0, QColor(0, 255, 0))
    painter = QPainter(pixmap)
    painter.fillRect(0, 0, width, height, gradient)
    painter.end()
    return pixmap


class HeatControls(QWidget):
    """Toggle, opacity and legend, side by side on the settings bar."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.toggle = QCheckBox("Confidence")
        self.toggle.setToolTip(
            "Colour each generated token by how sure the model was of it, ranked within "
            "the result: red where it was least sure, green where it was surest (dark: "
            "not decided yet). Stays after the result, for the variation selected"
        )
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(DEFAULT_HEAT_OPACITY * 100))
        self.opacity.setFixedWidth(60)
        self.opacity.setToolTip("Heat-map opacity: lower to see the result beneath")
        self.legend = QWidget()
        swatch = QLabel()
        swatch.setPixmap(legend_pixmap())
        row = QHBoxLayout(self.legend)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(3)
        for part in (QLabel("low"), swatch, QLabel("high")):
            row.addWidget(part)
        self.legend.setToolTip("Model confidence, ranked within the result: low (red) to high")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.setSpacing(4)
        for widget in (self.toggle, self.opacity, self.legend):
            layout.addWidget(widget)
        self.toggle.toggled.connect(self._show_parts)
        self._show_parts(False)

    def _show_parts(self, on: bool) -> None:
        """Opacity and legend only mean something while the map is on."""
        self.opacity.setVisible(on)
        self.legend.setVisible(on)
