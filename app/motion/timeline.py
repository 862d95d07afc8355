"""The motion timeline: a frame ruler, one row per body part, the mask painted by dragging.

Rows are ``full``, ``upper`` and ``lower`` (:data:`ROWS`). Dragging with the left
button on a row marks those frames of that part for regeneration (on "full":
both parts); the right button, or the eraser mode, clears them. Every drag is
one undo step of the :class:`~engine.media.motion.document.MotionDocument`, and
the frames between two mouse events are filled in, so a fast drag leaves no
gaps. Pressing or dragging on the ruler moves the playhead instead
(:attr:`MotionTimeline.frameRequested`).

Colours say what a frame is: grey for context (kept as it is), orange for
masked (will be regenerated), blue for frames an accepted generation wrote.
The widget only shows the document and forwards gestures to it; it redraws
when the document sends a ``"mask"`` event.

Zoom and scroll are view state, kept here and nowhere else: at zoom 1 the whole
clip fits the width; Ctrl+wheel zooms about the mouse, the wheel (or
Shift+wheel, or the scroll bar) scrolls, double-clicking the ruler fits the clip
again. Every frame <-> x conversion goes through :meth:`MotionTimeline.x_of` and
:meth:`MotionTimeline.frame_at`, so strokes, scrubbing, the ruler and the
playhead agree at any zoom.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QScrollBar, QSizePolicy, QWidget

from engine.document import DocumentChanged
from engine.media.motion.document import FrameSpan, MotionDocument, frame_span, part_columns

ROWS: tuple[str, ...] = ("full", "upper", "lower")
HEADER_WIDTH, RULER_HEIGHT, ROW_HEIGHT, ROW_GAP = 56, 22, 22, 3
SCROLL_HEIGHT = 12
MAX_FRAME_WIDTH = 40.0
"""Zooming in stops when a frame is this many pixels wide (easy to hit, a few dozen in view)."""
ZOOM_STEP = 1.25
"""Zoom factor per wheel notch or key press."""

CONTEXT_COLOR = QColor("#4a4f5a")
MASK_COLOR = QColor("#f08a24")
PARTIAL_MASK_COLOR = QColor("#9c6a3a")
GENERATED_COLOR = QColor("#3f8fd8")
PLAYHEAD_COLOR = QColor("#ff4d4d")
RULER_BACKGROUND = QColor("#2b2e35")
TEXT_COLOR = QColor("#d8dae0")
_NICE_STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000)


class MotionTimeline(QWidget):
    """The ruler and the three part rows of one document, fitted to the width or zoomed in."""

    frameRequested = Signal(int)  # noqa: N815 - Qt signal naming
    strokeFinished = Signal()  # noqa: N815 - Qt signal naming

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document: MotionDocument | None = None
        self._unsubscribe: Callable[[], None] = lambda: None
        self.playhead = 0
        self.erase = False
        """Eraser mode: the left button clears instead of marking."""
        self.zoom = 1.0
        """Frame width relative to fitting the whole clip (1: all of it in view)."""
        self.view_start = 0.0
        """The frame (fractional) at the left edge of the rows."""
        self._stroke: tuple[str, bool, int] | None = None  # part, value, last frame
        self._scrubbing = False
        self.scrollbar = QScrollBar(Qt.Orientation.Horizontal, self)
        self.scrollbar.valueChanged.connect(self._on_scrolled)
        self.setMouseTracking(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # a click makes the editor's keys work
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self.sizeHint().height())
        self.setToolTip(
            "Drag on a row to mark frames for regeneration (right button: clear); "
            "drag on the ruler to scrub; Ctrl+wheel zooms, the wheel scrolls, "
            "double-click the ruler to fit the clip"
        )
        self._sync_scrollbar()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        rows = len(ROWS) * (ROW_HEIGHT + ROW_GAP) + ROW_GAP
        return QSize(600, RULER_HEIGHT + rows + SCROLL_HEIGHT)

    # -- document -------------------------------------------------------------------------

    def set_document(self, document: MotionDocument | None) -> None:
        """Show another document (or none); listens to its mask changes."""
        self._unsubscribe()
        self.document = document
        self._stroke = None
        if document is not None:
            self._unsubscribe = document.subscribe(self._on_change)
        self.fit()

    def set_playhead(self, frame: int) -> None:
        """Move the playhead; zoomed in, the view scrolls just enough to keep it in sight."""
        if frame == self.playhead:
            return
        old, self.playhead = self.playhead, frame
        if self._scroll_to_show(frame):
            return  # scrolling repainted everything
        for column in (old, frame):
            self.update(self._column_rect(column).adjusted(-2, 0, 2, 0))

    def _on_change(self, event: DocumentChanged) -> None:
        if event.kind == "mask":
            self._repaint_frames(frame_span(event.region, self.n_frames))

    def _repaint_frames(self, span: FrameSpan) -> None:
        first, stop = span
        left = self._column_rect(first).left()
        right = self._column_rect(stop - 1).right()
        self.update(QRect(left - 1, 0, right - left + 3, self.height()))

    # -- geometry ---------------------------------------------------------------------------

    @property
    def n_frames(self) -> int:
        return self.document.n_frames if self.document is not None else 0

    def track_width(self) -> int:
        """Pixels the rows get (the widget less the row headers)."""
        return max(self.width() - HEADER_WIDTH, 1)

    def frame_width(self) -> float:
        """Pixels per frame at the current zoom."""
        return self.track_width() / max(self.n_frames, 1) * self.zoom

    def visible_frames(self) -> float:
        """How many frames the rows show at the current zoom."""
        return self.track_width() / self.frame_width()

    def max_zoom(self) -> float:
        """The zoom at which a frame is :data:`MAX_FRAME_WIDTH` pixels wide (at least 1)."""
        return max(1.0, MAX_FRAME_WIDTH * max(self.n_frames, 1) / self.track_width())

    def x_of(self, frame: float) -> float:
        """The x of a frame's left edge (fractional frames for centres)."""
        return HEADER_WIDTH + (frame - self.view_start) * self.frame_width()

    def frame_at(self, x: float) -> int:
        """The frame under ``x`` (clamped to the clip)."""
        frame = math.floor(self.view_start + (x - HEADER_WIDTH) / self.frame_width())
        return min(max(frame, 0), max(self.n_frames - 1, 0))

    def row_at(self, y: float) -> str | None:
        """The part row under ``y``; None on the ruler."""
        if y < RULER_HEIGHT:
            return None
        index = int((y - RULER_HEIGHT) // (ROW_HEIGHT + ROW_GAP))
        return ROWS[min(index, len(ROWS) - 1)]

    def frame_point(self, frame: int, part: str) -> QPoint:
        """The centre of a frame's cell on a part row (what tests and a hand aim at)."""
        y = self._row_top(part) + ROW_HEIGHT / 2
        return QPoint(round(self.x_of(frame + 0.5)), round(y))

    def ruler_point(self, frame: int) -> QPoint:
        return QPoint(round(self.x_of(frame + 0.5)), RULER_HEIGHT // 2)

    def _row_top(self, part: str) -> int:
        return RULER_HEIGHT + ROW_GAP + ROWS.index(part) * (ROW_HEIGHT + ROW_GAP)

    def _column_rect(self, frame: int) -> QRect:
        x0 = self.x_of(frame)
        return QRect(math.floor(x0), 0, math.ceil(self.frame_width()) + 1, self.height())

    # -- zoom and scroll (view state only) ------------------------------------------------

    def set_view(self, zoom: float, start: float) -> None:
        """Show frames from ``start`` at ``zoom``, both clamped so the clip fills the rows."""
        self.zoom = min(max(zoom, 1.0), self.max_zoom())
        self.view_start = min(max(start, 0.0), max(self.n_frames - self.visible_frames(), 0.0))
        self._sync_scrollbar()
        self.update()

    def fit(self) -> None:
        """The whole clip in view again."""
        self.set_view(1.0, 0.0)

    def zoom_at(self, x: float, factor: float) -> None:
        """Zoom by ``factor`` keeping the frame under ``x`` where it is (the mouse's anchor)."""
        offset = min(max(x, HEADER_WIDTH), self.width()) - HEADER_WIDTH
        anchor = self.view_start + offset / self.frame_width()
        zoom = min(max(self.zoom * factor, 1.0), self.max_zoom())
        new_width = self.track_width() / max(self.n_frames, 1) * zoom
        self.set_view(zoom, anchor - offset / new_width)

    def zoom_by(self, factor: float) -> None:
        """Zoom about the playhead when it is in view, else about the middle (keyboard zoom)."""
        x = self.x_of(self.playhead + 0.5)
        if not HEADER_WIDTH <= x <= self.width():
            x = HEADER_WIDTH + self.track_width() / 2
        self.zoom_at(x, factor)

    def scroll_by(self, frames: float) -> None:
        self.set_view(self.zoom, self.view_start + frames)

    def _scroll_to_show(self, frame: int) -> bool:
        """Scroll the least that brings ``frame`` into view; True if the view moved."""
        first, shown = self.view_start, self.visible_frames()
        start = min(max(first, frame + 1 - shown), float(frame))
        if start == first:
            return False
        self.set_view(self.zoom, start)
        return True

    def _sync_scrollbar(self) -> None:
        """The bar counts pixels of the zoomed clip; it is off when the clip fits."""
        width = self.frame_width()
        content = max(self.n_frames, 1) * width
        self.scrollbar.blockSignals(True)
        self.scrollbar.setRange(0, max(round(content - self.track_width()), 0))
        self.scrollbar.setPageStep(self.track_width())
        self.scrollbar.setSingleStep(max(round(width), 1))
        self.scrollbar.setValue(round(self.view_start * width))
        self.scrollbar.blockSignals(False)
        self.scrollbar.setEnabled(self.zoom > 1.0)

    def _on_scrolled(self, value: int) -> None:
        last_start = max(self.n_frames - self.visible_frames(), 0.0)
        self.view_start = min(max(value / self.frame_width(), 0.0), last_start)
        self.update()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        """Keep the zoom (relative to fitting) and the left frame; clamp both to the new width."""
        super().resizeEvent(event)
        self.scrollbar.setGeometry(
            HEADER_WIDTH, self.height() - SCROLL_HEIGHT, self.track_width(), SCROLL_HEIGHT
        )
        self.set_view(self.zoom, self.view_start)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        """Ctrl+wheel zooms about the mouse; the wheel or Shift+wheel scrolls when zoomed in."""
        delta = event.angleDelta().y() or event.angleDelta().x()
        notches = delta / 120
        if self.document is None or not notches:
            event.ignore()
        elif event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_at(event.position().x(), ZOOM_STEP**notches)
            event.accept()
        elif self.zoom > 1.0:
            self.scroll_by(-notches * self.visible_frames() / 8)
            event.accept()
        else:
            event.ignore()  # nothing to scroll: let a parent have it

    # -- mouse ------------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self.document is None or event.position().x() < HEADER_WIDTH:
            return
        part = self.row_at(event.position().y())
        frame = self.frame_at(event.position().x())
        if part is None:
            self._scrubbing = True
            self.frameRequested.emit(frame)
            return
        right = event.button() == Qt.MouseButton.RightButton
        value = not (right or self.erase)
        self._stroke = (part, value, frame)
        self.document.begin_stroke("clear frames" if not value else "mark frames")
        self.document.set_mask(frame, frame, part, value)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        frame = self.frame_at(event.position().x())
        if self._scrubbing:
            self.frameRequested.emit(frame)
        elif self._stroke is not None and self.document is not None:
            part, value, last = self._stroke
            self.document.set_mask(last, frame, part, value)  # fills frames skipped between events
            self._stroke = (part, value, frame)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._stroke is not None and self.document is not None:
            self.mouseMoveEvent(event)
            self._stroke = None
            self.document.end_stroke()
            self.strokeFinished.emit()
        self._scrubbing = False

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        """Double-clicking the ruler fits the clip; on a row it is a press like any other."""
        if self.row_at(event.position().y()) is None and event.position().x() >= HEADER_WIDTH:
            self.fit()
        else:
            self.mousePressEvent(event)

    # -- painting ---------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.fillRect(event.rect(), RULER_BACKGROUND)
        if self.document is not None:
            first = self.frame_at(event.rect().left() - 1)
            last = self.frame_at(event.rect().right() + 1)
            self._paint_rows(painter, first, last)
            self._paint_ruler(painter, first, last)
            self._paint_playhead(painter)
        self._paint_headers(painter)
        painter.end()

    def _paint_headers(self, painter: QPainter) -> None:
        painter.fillRect(QRect(0, 0, HEADER_WIDTH, self.height()), RULER_BACKGROUND)
        painter.setPen(TEXT_COLOR)
        painter.drawText(QRect(4, 0, HEADER_WIDTH - 6, RULER_HEIGHT), _LEFT, "frame")
        for part in ROWS:
            rect = QRect(4, self._row_top(part), HEADER_WIDTH - 6, ROW_HEIGHT)
            painter.drawText(rect, _LEFT, part)

    def _paint_rows(self, painter: QPainter, first: int, last: int) -> None:
        """Fill each row as runs of equal state (a 3000-frame clip is a handful of rects).

        Generated frames also get a blue bar along the row's foot, so a range that is
        masked again (to try once more) still shows that the model wrote it.
        """
        assert self.document is not None
        width = self.frame_width()
        for part in ROWS:
            top = self._row_top(part)
            states = row_states(self.document, part)[first : last + 1]
            generated = self.document.generated[first : last + 1, part_columns(part)]
            written = np.asarray(generated.any(axis=1), dtype=np.int8)
            for start, stop, state in _runs(states):
                x0 = self.x_of(first + start)
                rect = QRectF(x0, top, (stop - start) * width + 0.5, ROW_HEIGHT)
                painter.fillRect(rect, STATE_COLORS[state])
            for start, stop, flag in _runs(written):
                if flag:
                    x0 = self.x_of(first + start)
                    bar = QRectF(x0, top + ROW_HEIGHT - 4, (stop - start) * width + 0.5, 4)
                    painter.fillRect(bar, GENERATED_COLOR)

    def _paint_ruler(self, painter: QPainter, first: int, last: int) -> None:
        step = _ruler_step(self.frame_width())
        painter.setPen(TEXT_COLOR)
        for frame in range((first // step) * step, last + 1, step):
            x = round(self.x_of(frame))
            painter.drawLine(x, RULER_HEIGHT - 6, x, RULER_HEIGHT)
            painter.drawText(QRect(x + 2, 0, 60, RULER_HEIGHT - 4), _LEFT, str(frame))

    def _paint_playhead(self, painter: QPainter) -> None:
        x = self.x_of(self.playhead + 0.5)
        painter.setPen(QPen(PLAYHEAD_COLOR, 2))
        painter.drawLine(round(x), 0, round(x), self.height() - SCROLL_HEIGHT)


_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter


CONTEXT, GENERATED, PARTIAL, MASKED = range(4)
STATE_COLORS = (CONTEXT_COLOR, GENERATED_COLOR, PARTIAL_MASK_COLOR, MASK_COLOR)


def row_states(document: MotionDocument, part: str) -> npt.NDArray[np.int8]:
    """Per frame of a row: MASKED beats PARTIAL (one of full's two parts) beats GENERATED."""
    columns = part_columns(part)
    mask, generated = document.mask[:, columns], document.generated[:, columns]
    states = np.where(generated.any(axis=1), GENERATED, CONTEXT)
    states = np.where(mask.any(axis=1), PARTIAL, states)
    return np.where(mask.all(axis=1), MASKED, states).astype(np.int8)


def _runs(states: npt.NDArray[np.int8]) -> list[tuple[int, int, int]]:
    """``(start, stop, state)`` of each run of equal values."""
    if states.size == 0:
        return []
    edges = np.flatnonzero(np.diff(states)) + 1
    starts = np.concatenate([[0], edges])
    stops = np.concatenate([edges, [states.size]])
    return [(int(a), int(b), int(states[a])) for a, b in zip(starts, stops, strict=True)]


def _ruler_step(frame_width: float) -> int:
    """Frames between labelled ticks, so labels are at least ~48 px apart."""
    for step in _NICE_STEPS:
        if step * frame_width >= 48:
            return step
    return _NICE_STEPS[-1]
