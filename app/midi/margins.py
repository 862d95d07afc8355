"""The piano roll's margins: the keyboard (pitch axis) and the bar ruler (time axis).

Both scroll in step with :class:`app.midi.view.PianoRollView`, whose coordinate
mapping they use; the ruler also sets the document's time selection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QWidget

from app.midi.drawing import BLACK, LANE_GAP, LANE_HEIGHT, LANES_HEIGHT, pitch_name, voice_color
from engine.media.midi import N_VOICES, VOICES, TimeGrid
from engine.media.midi.document import RollDocument, StepRange
from engine.media.midi.meter import bar_beats


class RollGeometry(Protocol):
    """What the margins read of the roll they scroll with (``PianoRollView`` provides it).

    A protocol rather than the view class, so this module does not import the view that
    imports it.
    """

    document: RollDocument | None
    key_px: float
    playhead: float | None

    def step_x(self, step: float) -> float: ...

    def x_step(self, x: float) -> float: ...

    def pitch_y(self, pitch: float) -> float: ...

    def visible_pitches(self) -> range: ...


class Keyboard(QWidget):
    """Piano keys along the pitch axis, lane labels above them; scrolls with the roll."""

    def __init__(self, view: RollGeometry, parent: QWidget) -> None:
        super().__init__(parent)
        self.view = view

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        view = self.view
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#ffffff"))
        painter.setClipRect(0, LANES_HEIGHT, self.width(), self.height() - LANES_HEIGHT)
        if view.document is not None:
            for pitch in view.visible_pitches():
                self._paint_key(painter, pitch)
        painter.setClipping(False)
        self._paint_lane_labels(painter)
        painter.end()

    def _paint_key(self, painter: QPainter, pitch: int) -> None:
        y, h = self.view.pitch_y(pitch), self.view.key_px
        black = pitch % 12 in BLACK
        if black:
            painter.fillRect(QRectF(0, y, self.width() * 0.62, h), QColor("#2b2b2b"))
        painter.setPen(QPen(QColor("#c4c4c4"), 1))
        if pitch % 12 in (0, 5):  # the boundary under C and F between two white keys
            painter.drawLine(QPointF(0, y + h), QPointF(self.width(), y + h))
        if not black and (pitch % 12 == 0 or h >= 13):
            painter.setPen(QColor("#333333") if pitch % 12 == 0 else QColor("#888888"))
            font = painter.font()
            font.setPointSizeF(max(6.5, min(9.0, h * 0.75)))
            font.setBold(pitch % 12 == 0)
            painter.setFont(font)
            painter.drawText(
                QRectF(0, y - 1, self.width() - 4, h + 2),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                pitch_name(pitch),
            )

    def _paint_lane_labels(self, painter: QPainter) -> None:
        font = painter.font()
        font.setPointSizeF(8)
        font.setBold(True)
        painter.setFont(font)
        document = self.view.document
        labels = document.voice_labels if document else [v.capitalize() for v in VOICES]
        for voice in range(N_VOICES):
            rect = QRectF(0, voice * LANE_HEIGHT, self.width(), LANE_HEIGHT - 1)
            painter.fillRect(rect, voice_color(voice))
            painter.setPen(QColor("#ffffff"))
            text = _fitted(painter, labels[voice], self.width() - 10)
            painter.drawText(rect.adjusted(4, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, text)
            font.setPointSizeF(8)
            painter.setFont(font)
        painter.fillRect(
            QRectF(0, LANES_HEIGHT - LANE_GAP, self.width(), LANE_GAP), QColor("#d5d5cc")
        )


def _fitted(painter: QPainter, text: str, width: float) -> str:
    """``text`` in a font shrunk (down to 6 pt) to fit ``width``, elided if still too long:
    a part's own name ("2nd Violin") is longer than the voice names the margin was made for."""
    font = painter.font()
    while painter.fontMetrics().horizontalAdvance(text) > width and font.pointSizeF() > 6.0:
        font.setPointSizeF(font.pointSizeF() - 0.5)
        painter.setFont(font)
    return painter.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, int(width) + 6)


class Ruler(QWidget):
    """Bar numbers and beats over time; drag to select a time range, click to clear it."""

    def __init__(self, view: RollGeometry, parent: QWidget) -> None:
        super().__init__(parent)
        self.view = view
        self._anchor: int | None = None

    def _step(self, x: float) -> int:
        return round(self.view.x_step(x))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self.view.document is not None:
            self._anchor = self._step(event.position().x())
            self.view.document.set_selection(None)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._anchor is not None and self.view.document is not None:
            step = self._step(event.position().x())
            self.view.document.set_selection((self._anchor, step))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        self._anchor = None

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        view = self.view
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#ececea"))
        document = view.document
        if document is not None:
            self._paint_selection(painter, document.selection)
            self._paint_bars(painter, document.grid, bar_beats(document.score, document.grid))
            if view.playhead is not None:
                x = view.step_x(view.playhead)
                painter.setPen(QPen(QColor("#c0142b"), 2))
                painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        painter.setPen(QColor("#b5b5ad"))
        painter.drawLine(0, self.height() - 1, self.width(), self.height() - 1)
        painter.end()

    def _paint_selection(self, painter: QPainter, selection: StepRange | None) -> None:
        if selection is not None:
            lo, hi = selection
            x0, x1 = self.view.step_x(lo), self.view.step_x(hi)
            painter.fillRect(QRectF(x0, 0, x1 - x0, self.height()), QColor(80, 120, 220, 90))

    def _paint_bars(self, painter: QPainter, grid: TimeGrid, beats: Sequence[int]) -> None:
        """Bar lines and numbers as the score has them (a pickup is 0), beats as ticks (dotted
        quarters in 6/8)."""
        view, bar_steps = self.view, grid.bar_steps
        ends = [*bar_steps[1:], grid.n_steps]
        font = painter.font()
        font.setPointSizeF(8.5)
        painter.setFont(font)
        for index, (start, end) in enumerate(zip(bar_steps, ends, strict=True)):
            number = grid.bar_number(index)
            x = view.step_x(start)
            if x > self.width() or view.step_x(end) < 0:
                continue
            painter.setPen(QPen(QColor("#55554f"), 1))
            painter.drawLine(QPointF(x, 4), QPointF(x, self.height()))
            painter.drawText(QPointF(x + 3, 13), str(number))
            painter.setPen(QPen(QColor("#9b9b93"), 1))
            for beat in range(start + beats[index], end, beats[index]):
                bx = view.step_x(beat)
                painter.drawLine(QPointF(bx, self.height() - 7), QPointF(bx, self.height()))
