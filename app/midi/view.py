"""The piano roll widget: keyboard, bar ruler, mask lanes and notes, painted by hand.

Why hand-painted (a ``QAbstractScrollArea``) rather than ``QGraphicsScene``:
a roll is a few hundred rectangles on a regular grid, and the keyboard,
ruler and mask lanes must scroll in step with it; one paint routine with
one coordinate mapping keeps them aligned with no item bookkeeping.

The view renders a :class:`~engine.media.midi.document.RollDocument` and
forwards gestures to it (add, move, delete notes, paint the mask, select a
time range). It holds only view state: zoom, tool, current voice, selected
notes, and overlays (live preview, a variation being auditioned, playhead).

Viewport layout, top to bottom: four sticky *mask lanes* (soprano .. bass
cells over time; drag to paint a rectangle of cells), then the pitch rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
    QShowEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QAbstractScrollArea, QWidget

from app.midi.drawing import (
    BLACK,
    KEY_WIDTH,
    LANE_GAP,
    LANE_HEIGHT,
    LANES_HEIGHT,
    PITCH_HIGH,
    PITCH_LOW,
    RULER_HEIGHT,
    ZOOM_X,
    ZOOM_Y,
    Overlay,
    in_mask,
    paint_note,
    voice_color,
)
from app.midi.margins import Keyboard, Ruler
from app.midi.opening import NoteSpans
from engine.document import DocumentChanged
from engine.media.midi import N_VOICES
from engine.media.midi.document import RollDocument, RollNote
from engine.media.midi.grid import runs


class PianoRollView(QAbstractScrollArea):
    """Piano roll over a :class:`RollDocument`; see the module docstring."""

    TOOLS = ("notes", "mask")
    selectionChanged = Signal()  # noqa: N815 - Qt signal naming
    zoomChanged = Signal()  # noqa: N815 - Qt signal naming

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document: RollDocument | None = None
        self.step_px = 14.0
        self.key_px = 11.0
        self.tool = "notes"
        self.voice = 0
        self.selected: set[int] = set()
        self.overlay: Overlay | None = None
        self.playhead: float | None = None  # in steps
        self._spans: NoteSpans | None = None
        self._exposed = QRect()
        """The part of the viewport being repainted (notes outside it are skipped)."""
        self._drag: _Drag | None = None
        self._fit_pending = False
        self.keyboard = Keyboard(self, self)
        self.ruler = Ruler(self, self)
        self.setViewportMargins(KEY_WIDTH, RULER_HEIGHT, 0, 0)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setMouseTracking(False)
        self.horizontalScrollBar().valueChanged.connect(self._scrolled)
        self.verticalScrollBar().valueChanged.connect(self._scrolled)

    # -- document ---------------------------------------------------------------------

    def set_document(self, document: RollDocument, spans: NoteSpans | None = None) -> None:
        """Show ``document``; ``spans`` are its notes' (made in the loading worker)."""
        self.document = document
        self._spans = spans
        document.subscribe(self._on_document)
        self.selected.clear()
        self.overlay = None
        self._fit_pending = True
        self.fit_to_notes()

    def _on_document(self, event: DocumentChanged) -> None:
        if event.kind == "notes":
            self.selected.clear()  # indices change with every edit
            self._update_scrollbars()
        if event.kind in ("notes", "mask", "selection"):
            self._scrolled()

    def fit_to_notes(self) -> None:
        """Scale rows so the piece's pitch range (plus a margin) fills the roll, and centre it.

        Deferred until the viewport has its real size (the first resize after opening).
        """
        if self.document is None or not self.isVisible():
            return
        self._fit_pending = False
        low, high = self.spans().pitches or (60, 60)
        span = high - low + 7
        self.key_px = float(np.clip(self._roll_height() / span, *ZOOM_Y))
        self._update_scrollbars()
        self.centre_on_notes()
        self._scrolled()

    def centre_on_notes(self) -> None:
        """Scroll so the piece's pitch range is in view (a chorale spans about three octaves)."""
        pitches = self.spans().pitches if self.document is not None else None
        if pitches is None:
            return
        middle = (pitches[0] + pitches[1]) / 2
        target = (PITCH_HIGH - middle) * self.key_px - self._roll_height() / 2
        self.verticalScrollBar().setValue(round(target))

    # -- coordinates ------------------------------------------------------------------

    def _roll_height(self) -> int:
        return max(1, self.viewport().height() - LANES_HEIGHT)

    def step_x(self, step: float) -> float:
        return step * self.step_px - self.horizontalScrollBar().value()

    def x_step(self, x: float) -> float:
        return (x + self.horizontalScrollBar().value()) / self.step_px

    def pitch_y(self, pitch: float) -> float:
        """Top edge of ``pitch``'s row in viewport coordinates."""
        return LANES_HEIGHT + (PITCH_HIGH - pitch) * self.key_px - self.verticalScrollBar().value()

    def y_pitch(self, y: float) -> int:
        offset = (y - LANES_HEIGHT + self.verticalScrollBar().value()) / self.key_px
        return int(np.clip(PITCH_HIGH - int(np.floor(offset)), PITCH_LOW, PITCH_HIGH))

    def lane_y(self, voice: int) -> int:
        return voice * LANE_HEIGHT

    def cell_point(self, voice: int, step: float) -> QPoint:
        """The viewport point in the middle of mask-lane cell (voice, step)."""
        return QPoint(round(self.step_x(step + 0.5)), self.lane_y(voice) + LANE_HEIGHT // 2)

    def note_point(self, step: float, pitch: int) -> QPoint:
        """The viewport point at ``step`` in the middle of ``pitch``'s row."""
        return QPoint(round(self.step_x(step)), round(self.pitch_y(pitch) + self.key_px / 2))

    def scroll_to_step(self, step: float) -> None:
        self.horizontalScrollBar().setValue(round(step * self.step_px))

    # -- zoom and scroll --------------------------------------------------------------

    def zoom(self, factor_x: float = 1.0, factor_y: float = 1.0) -> None:
        """Zoom about the left edge (x) and the middle row (y), keeping what is there in view."""
        first_step = self.x_step(0)
        middle_pitch = self.y_pitch(LANES_HEIGHT + self._roll_height() / 2)
        self.step_px = float(np.clip(self.step_px * factor_x, *ZOOM_X))
        self.key_px = float(np.clip(self.key_px * factor_y, *ZOOM_Y))
        self._update_scrollbars()
        self.scroll_to_step(first_step)
        offset = (PITCH_HIGH - middle_pitch) * self.key_px - self._roll_height() / 2
        self.verticalScrollBar().setValue(round(offset))
        self.zoomChanged.emit()
        self._scrolled()

    def _update_scrollbars(self) -> None:
        steps = self.document.n_steps if self.document else 64
        width = steps * self.step_px + 4 * self.step_px
        height = (PITCH_HIGH - PITCH_LOW + 1) * self.key_px
        self.horizontalScrollBar().setRange(0, max(0, round(width - self.viewport().width())))
        self.horizontalScrollBar().setPageStep(self.viewport().width())
        self.horizontalScrollBar().setSingleStep(round(self.step_px * 4))
        self.verticalScrollBar().setRange(0, max(0, round(height - self._roll_height())))
        self.verticalScrollBar().setPageStep(self._roll_height())
        self.verticalScrollBar().setSingleStep(round(self.key_px * 3))

    def _scrolled(self, _value: int = 0) -> None:
        self.viewport().update()
        self.keyboard.update()
        self.ruler.update()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        rect = self.viewport().geometry()
        self.keyboard.setGeometry(rect.left() - KEY_WIDTH, rect.top(), KEY_WIDTH, rect.height())
        self.ruler.setGeometry(rect.left(), rect.top() - RULER_HEIGHT, rect.width(), RULER_HEIGHT)
        self._update_scrollbars()
        if self._fit_pending:
            self.fit_to_notes()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._fit_pending:
            self.fit_to_notes()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        """Ctrl+wheel zooms time, Ctrl+Shift+wheel zooms pitch, Shift+wheel scrolls time."""
        mods = event.modifiers()
        delta = event.angleDelta().y() or event.angleDelta().x()
        factor = 1.15 if delta > 0 else 1 / 1.15
        if mods & Qt.KeyboardModifier.ControlModifier:
            if mods & Qt.KeyboardModifier.ShiftModifier:
                self.zoom(factor_y=factor)
            else:
                self.zoom(factor_x=factor)
            event.accept()
        elif mods & Qt.KeyboardModifier.ShiftModifier:
            bar = self.horizontalScrollBar()
            bar.setValue(bar.value() - delta)
            event.accept()
        else:
            super().wheelEvent(event)

    # -- gestures ---------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self.document is None:
            return
        self.setFocus()
        pos = event.position()
        erase = event.button() == Qt.MouseButton.RightButton or bool(
            event.modifiers() & Qt.KeyboardModifier.AltModifier
        )
        step = int(np.floor(self.x_step(pos.x())))
        if pos.y() < LANES_HEIGHT:
            voice = min(N_VOICES - 1, int(pos.y() // LANE_HEIGHT))
            self._start_mask(voice, step, not erase)
        elif self.tool == "mask":
            self._start_mask(self.voice, step, not erase, lane=False)
        elif event.button() == Qt.MouseButton.LeftButton:
            self._press_notes(pos, event.modifiers())
        event.accept()

    def _start_mask(self, voice: int, step: int, value: bool, lane: bool = True) -> None:
        assert self.document is not None
        self._drag = _Drag("mask", voice, step, value=value, lane=lane)
        self.document.begin_mask_stroke()
        self.document.paint_rect((voice, voice + 1), (step, step + 1), value)

    def _press_notes(self, pos: QPointF, modifiers: Qt.KeyboardModifier) -> None:
        assert self.document is not None
        step, pitch = self.x_step(pos.x()), self.y_pitch(pos.y())
        hit = self.document.note_at(step, pitch)
        if hit is None:
            self.selected.clear()
            self.selectionChanged.emit()
            self.document.add_note(self.voice, pitch, int(np.floor(step)))
            return
        if modifiers & Qt.KeyboardModifier.ControlModifier:
            self.selected ^= {hit}
        elif hit not in self.selected:
            self.selected = {hit}
        self._drag = _Drag("move", 0, int(np.floor(step)), pitch=pitch)
        self.selectionChanged.emit()
        self.viewport().update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        drag = self._drag
        if drag is None or self.document is None:
            return
        pos = event.position()
        step = int(np.floor(self.x_step(pos.x())))
        if drag.kind == "mask":
            voice = (
                min(N_VOICES - 1, max(0, int(pos.y() // LANE_HEIGHT))) if drag.lane else drag.voice
            )
            lo, hi = sorted((drag.step, step))
            vlo, vhi = sorted((drag.voice, voice))
            self.document.paint_rect((vlo, vhi + 1), (lo, hi + 1), drag.value)
        else:
            drag.offset = (step - drag.step, self.y_pitch(pos.y()) - drag.pitch)
            self.viewport().update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        drag, self._drag = self._drag, None
        if drag is None or self.document is None:
            return
        if drag.kind == "mask":
            self.document.end_mask_stroke()
        elif drag.offset != (0, 0):
            self.document.move_notes(self.selected, *drag.offset)
        self.viewport().update()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.selected:
            assert self.document is not None
            self.document.delete_notes(self.selected)
            event.accept()
            return
        super().keyPressEvent(event)

    # -- painting -----------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        self._exposed = event.rect()
        painter = QPainter(self.viewport())
        painter.fillRect(self.viewport().rect(), QColor("#fbfbf8"))
        if self.document is not None:
            painter.setClipRect(0, LANES_HEIGHT, self.viewport().width(), self._roll_height())
            self._paint_rows(painter)
            self._paint_columns(painter, LANES_HEIGHT, self.viewport().height())
            self._paint_selection(painter)
            self._paint_mask_bands(painter)
            self._paint_notes(painter)
            self._paint_overlay(painter)
            painter.setClipping(False)
            self._paint_lanes(painter)
            self._paint_playhead(painter)
        painter.end()

    def visible_pitches(self) -> range:
        top = self.y_pitch(LANES_HEIGHT)
        bottom = self.y_pitch(self.viewport().height())
        return range(bottom, top + 1)

    def _visible_steps(self) -> range:
        assert self.document is not None
        first = max(0, int(self.x_step(0)))
        last = min(self.document.n_steps, int(self.x_step(self.viewport().width())) + 1)
        return range(first, last)

    def _paint_rows(self, painter: QPainter) -> None:
        width = self.viewport().width()
        for pitch in self.visible_pitches():
            y = self.pitch_y(pitch)
            if pitch % 12 in BLACK:
                painter.fillRect(QRectF(0, y, width, self.key_px), QColor("#ecece6"))
            if pitch % 12 == 0:
                painter.setPen(QPen(QColor("#c8c8c0"), 1))
                painter.drawLine(QPointF(0, y + self.key_px), QPointF(width, y + self.key_px))
        end = self.step_x(self.document.n_steps if self.document else 0)
        painter.fillRect(QRectF(end, 0, width, self.viewport().height()), QColor("#e2e2dc"))

    def _paint_columns(self, painter: QPainter, top: float, bottom: float) -> None:
        """Sixteenth, beat and bar lines (bars from the score's time signatures)."""
        assert self.document is not None
        bars = set(self.document.grid.bar_steps)
        for step in self._visible_steps():
            x = self.step_x(step)
            if step in bars:
                painter.setPen(QPen(QColor("#7d7d75"), 1.2))
            elif step % 4 == 0:
                painter.setPen(QPen(QColor("#c9c9c0"), 1))
            elif self.step_px >= 8:
                painter.setPen(QPen(QColor("#e6e6e0"), 1))
            else:
                continue
            painter.drawLine(QPointF(x, top), QPointF(x, bottom))

    def _paint_selection(self, painter: QPainter) -> None:
        assert self.document is not None
        if self.document.selection is None:
            return
        lo, hi = self.document.selection
        rect = QRectF(self.step_x(lo), 0, (hi - lo) * self.step_px, self.viewport().height())
        painter.fillRect(rect, QColor(80, 120, 220, 28))

    def voice_band(self, voice: int) -> tuple[int, int]:
        """The pitch span (low, high) a voice's mask band covers: its notes, plus a tone."""
        assert self.document is not None
        band = self.spans().bands[voice]
        if band is None:
            centre = (72, 65, 57, 50)[voice]
            return centre - 6, centre + 6
        return band[0] - 2, band[1] + 2

    def spans(self) -> NoteSpans:
        """The document's :class:`NoteSpans`, rebuilt when an edit made a new notes list."""
        assert self.document is not None
        if self._spans is None or self._spans.notes is not self.document.notes:
            self._spans = NoteSpans.of(self.document.notes)
        return self._spans

    def _paint_mask_bands(self, painter: QPainter) -> None:
        """Translucent columns over each voice's pitch span where its cells are masked."""
        assert self.document is not None
        for voice in range(N_VOICES):
            color = QColor(voice_color(voice))
            color.setAlpha(42)
            low, high = self.voice_band(voice)
            top, bottom = self.pitch_y(high), self.pitch_y(low - 1)
            for lo, hi in runs(self.document.mask[voice]):
                rect = QRectF(self.step_x(lo), top, (hi - lo) * self.step_px, bottom - top)
                painter.fillRect(rect, color)
                painter.setPen(QPen(voice_color(voice), 1, Qt.PenStyle.DashLine))
                painter.drawRect(rect)

    def _note_rect(self, note: RollNote) -> QRectF:
        width = max((note.end - note.start) * self.step_px, 3.0)
        return QRectF(self.step_x(note.start), self.pitch_y(note.pitch), width, self.key_px)

    def _paint_notes(self, painter: QPainter) -> None:
        assert self.document is not None
        hidden = self.overlay.mask if self.overlay is not None else None
        offset = self._drag.offset if self._drag and self._drag.kind == "move" else (0, 0)
        exposed = self._exposed  # a playhead strip repaints a few pixels, not the whole roll
        left, right = self.x_step(exposed.left() - 4), self.x_step(exposed.right() + 4)
        for note in self.spans().shown(left, right, self.selected):  # not all ten thousand
            if hidden is not None and in_mask(note, hidden):
                continue  # the overlay shows what replaces it
            fade = in_mask(note, self.document.mask)
            selected = note.index in self.selected
            self._paint_note(painter, note, fade=fade, selected=selected)
            if selected and offset != (0, 0):
                moved = RollNote(
                    -1,
                    note.voice,
                    note.pitch + offset[1],
                    note.start + offset[0],
                    note.end + offset[0],
                )
                self._paint_note(painter, moved, ghost=True)

    def _paint_note(self, painter: QPainter, note: RollNote, **look: bool) -> None:
        paint_note(painter, self._note_rect(note), note.voice, **look)

    def _paint_overlay(self, painter: QPainter) -> None:
        overlay = self.overlay
        if overlay is None:
            return
        for note in overlay.notes:
            color = QColor(voice_color(note.voice))
            painter.setBrush(QBrush(color.lighter(115)))
            painter.setPen(QPen(QColor("#202020"), 1.2, Qt.PenStyle.DashLine))
            painter.drawRoundedRect(self._note_rect(note).adjusted(0.5, 0.5, -0.5, -0.5), 2, 2)
        if overlay.hatched is not None:
            for voice in range(N_VOICES):
                low, high = self.voice_band(voice)
                top, bottom = self.pitch_y(high), self.pitch_y(low - 1)
                brush = QBrush(voice_color(voice).darker(120), Qt.BrushStyle.BDiagPattern)
                for lo, hi in runs(overlay.hatched[voice]):
                    rect = QRectF(self.step_x(lo), top, (hi - lo) * self.step_px, bottom - top)
                    painter.fillRect(rect, brush)

    def _paint_lanes(self, painter: QPainter) -> None:
        """The sticky mask lanes: one row of cells per voice, painted cells in the voice colour."""
        assert self.document is not None
        width = self.viewport().width()
        painter.fillRect(QRectF(0, 0, width, LANES_HEIGHT), QColor("#f1f1ec"))
        hatched = self.overlay.hatched if self.overlay is not None else None
        for voice in range(N_VOICES):
            y = self.lane_y(voice)
            tint = QColor(voice_color(voice))
            tint.setAlpha(22)
            painter.fillRect(QRectF(0, y, width, LANE_HEIGHT - 1), tint)
            for lo, hi in runs(self.document.mask[voice]):
                rect = QRectF(self.step_x(lo), y + 1, (hi - lo) * self.step_px, LANE_HEIGHT - 3)
                painter.fillRect(rect, voice_color(voice))
            if hatched is not None:
                brush = QBrush(QColor("#ffffff"), Qt.BrushStyle.BDiagPattern)
                for lo, hi in runs(hatched[voice]):
                    rect = QRectF(self.step_x(lo), y + 1, (hi - lo) * self.step_px, LANE_HEIGHT - 3)
                    painter.fillRect(rect, brush)
        self._paint_columns(painter, 0, LANES_HEIGHT - LANE_GAP)
        painter.fillRect(QRectF(0, LANES_HEIGHT - LANE_GAP, width, LANE_GAP), QColor("#d5d5cc"))

    def _paint_playhead(self, painter: QPainter) -> None:
        if self.playhead is None:
            return
        x = self.step_x(self.playhead)
        painter.setPen(QPen(QColor("#c0142b"), 2))
        painter.drawLine(QPointF(x, 0), QPointF(x, self.viewport().height()))

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(900, 520)


@dataclass
class _Drag:
    """A gesture in progress: painting mask cells or moving the selected notes."""

    kind: str  # "mask" or "move"
    voice: int
    step: int
    pitch: int = 0
    value: bool = True
    lane: bool = True
    offset: tuple[int, int] = (0, 0)  # (steps, semitones) of a move
