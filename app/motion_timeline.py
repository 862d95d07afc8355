"""The motion timeline: a frame ruler, one row per body part, the mask painted by dragging.

Rows are ``full``, ``upper`` and ``lower`` (:data:`ROWS`). Dragging with the left
button on a row marks those frames of that part for regeneration (on "full":
both parts); the right button, or the eraser mode, clears them. Every drag is
one undo step of the :class:`~engine.media.motion_document.MotionDocument`, and
the frames between two mouse events are filled in, so a fast drag leaves no
gaps. Pressing or dragging on the ruler moves the playhead instead
(:attr:`MotionTimeline.frameRequested`).

Colours say what a frame is: grey for context (kept as it is), orange for
masked (will be regenerated), blue for frames an accepted generation wrote.
The widget only shows the document and forwards gestures to it; it redraws
when the document's ``mask_changed`` fires.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from engine.media.motion_document import FrameSpan, MotionDocument, part_columns

ROWS: tuple[str, ...] = ("full", "upper", "lower")
HEADER_WIDTH, RULER_HEIGHT, ROW_HEIGHT, ROW_GAP = 56, 22, 22, 3

CONTEXT_COLOR = QColor("#4a4f5a")
MASK_COLOR = QColor("#f08a24")
PARTIAL_MASK_COLOR = QColor("#9c6a3a")
GENERATED_COLOR = QColor("#3f8fd8")
PLAYHEAD_COLOR = QColor("#ff4d4d")
RULER_BACKGROUND = QColor("#2b2e35")
TEXT_COLOR = QColor("#d8dae0")
_NICE_STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000)


class MotionTimeline(QWidget):
    """The ruler and the three part rows of one document, fitted to the widget's width."""

    frameRequested = Signal(int)  # noqa: N815 - Qt signal naming
    strokeFinished = Signal()  # noqa: N815 - Qt signal naming

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document: MotionDocument | None = None
        self.playhead = 0
        self.erase = False
        """Eraser mode: the left button clears instead of marking."""
        self._stroke: tuple[str, bool, int] | None = None  # part, value, last frame
        self._scrubbing = False
        self.setMouseTracking(False)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self.sizeHint().height())
        self.setToolTip(
            "Drag on a row to mark frames for regeneration (right button: clear); "
            "drag on the ruler to scrub"
        )

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(600, RULER_HEIGHT + len(ROWS) * (ROW_HEIGHT + ROW_GAP) + ROW_GAP)

    # -- document -------------------------------------------------------------------------

    def set_document(self, document: MotionDocument | None) -> None:
        """Show another document (or none); listens to its mask changes."""
        if self.document is not None and self._on_mask_changed in self.document.mask_changed:
            self.document.mask_changed.remove(self._on_mask_changed)
        self.document = document
        self._stroke = None
        if document is not None:
            document.mask_changed.append(self._on_mask_changed)
        self.update()

    def set_playhead(self, frame: int) -> None:
        if frame != self.playhead:
            old, self.playhead = self.playhead, frame
            for column in (old, frame):
                self.update(self._column_rect(column).adjusted(-2, 0, 2, 0))

    def _on_mask_changed(self, span: FrameSpan) -> None:
        first, stop = span
        left = self._column_rect(first).left()
        right = self._column_rect(stop - 1).right()
        self.update(QRect(left - 1, 0, right - left + 3, self.height()))

    # -- geometry ---------------------------------------------------------------------------

    @property
    def n_frames(self) -> int:
        return self.document.n_frames if self.document is not None else 0

    def frame_width(self) -> float:
        return (self.width() - HEADER_WIDTH) / max(self.n_frames, 1)

    def frame_at(self, x: float) -> int:
        """The frame under ``x`` (clamped to the clip)."""
        frame = math.floor((x - HEADER_WIDTH) / self.frame_width())
        return min(max(frame, 0), max(self.n_frames - 1, 0))

    def row_at(self, y: float) -> str | None:
        """The part row under ``y``; None on the ruler."""
        if y < RULER_HEIGHT:
            return None
        index = int((y - RULER_HEIGHT) // (ROW_HEIGHT + ROW_GAP))
        return ROWS[min(index, len(ROWS) - 1)]

    def frame_point(self, frame: int, part: str) -> QPoint:
        """The centre of a frame's cell on a part row (what tests and a hand aim at)."""
        x = HEADER_WIDTH + (frame + 0.5) * self.frame_width()
        y = self._row_top(part) + ROW_HEIGHT / 2
        return QPoint(round(x), round(y))

    def ruler_point(self, frame: int) -> QPoint:
        x = HEADER_WIDTH + (frame + 0.5) * self.frame_width()
        return QPoint(round(x), RULER_HEIGHT // 2)

    def _row_top(self, part: str) -> int:
        return RULER_HEIGHT + ROW_GAP + ROWS.index(part) * (ROW_HEIGHT + ROW_GAP)

    def _column_rect(self, frame: int) -> QRect:
        x0 = HEADER_WIDTH + frame * self.frame_width()
        return QRect(math.floor(x0), 0, math.ceil(self.frame_width()) + 1, self.height())

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
                x0 = HEADER_WIDTH + (first + start) * width
                rect = QRectF(x0, top, (stop - start) * width + 0.5, ROW_HEIGHT)
                painter.fillRect(rect, STATE_COLORS[state])
            for start, stop, flag in _runs(written):
                if flag:
                    x0 = HEADER_WIDTH + (first + start) * width
                    bar = QRectF(x0, top + ROW_HEIGHT - 4, (stop - start) * width + 0.5, 4)
                    painter.fillRect(bar, GENERATED_COLOR)

    def _paint_ruler(self, painter: QPainter, first: int, last: int) -> None:
        step = _ruler_step(self.frame_width())
        painter.setPen(TEXT_COLOR)
        for frame in range((first // step) * step, last + 1, step):
            x = round(HEADER_WIDTH + frame * self.frame_width())
            painter.drawLine(x, RULER_HEIGHT - 6, x, RULER_HEIGHT)
            painter.drawText(QRect(x + 2, 0, 60, RULER_HEIGHT - 4), _LEFT, str(frame))

    def _paint_playhead(self, painter: QPainter) -> None:
        x = HEADER_WIDTH + (self.playhead + 0.5) * self.frame_width()
        painter.setPen(QPen(PLAYHEAD_COLOR, 2))
        painter.drawLine(round(x), 0, round(x), self.height())


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
