"""What the piano roll's pieces share: its geometry, voice colours, overlays, thumbnails."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPen, QPixmap

from engine.media.midi import N_VOICES
from engine.media.midi.document import RollNote
from engine.sampling.types import BoolArray

VOICE_COLORS = (QColor("#d9482b"), QColor("#e89a0c"), QColor("#1f9d63"), QColor("#2f74c9"))
"""Soprano red, alto amber, tenor green, bass blue: distinct in hue and in lightness."""
UNMAPPED_COLOR = QColor("#8a8a8a")
PITCH_LOW, PITCH_HIGH = 21, 108  # the piano's range
KEY_WIDTH, RULER_HEIGHT, LANE_HEIGHT, LANE_GAP = 64, 26, 15, 6
LANES_HEIGHT = N_VOICES * LANE_HEIGHT + LANE_GAP
ZOOM_X = (3.0, 64.0)
ZOOM_Y = (5.0, 30.0)
NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
BLACK = {1, 3, 6, 8, 10}


def pitch_name(pitch: int) -> str:
    """``60`` -> ``"C4"`` (scientific pitch notation, middle C = C4)."""
    return f"{NAMES[pitch % 12]}{pitch // 12 - 1}"


def voice_color(voice: int) -> QColor:
    return VOICE_COLORS[voice] if 0 <= voice < N_VOICES else UNMAPPED_COLOR


def swatch(color: QColor) -> QIcon:
    """A small filled square: the voice colour legend on its toolbar button."""
    pixmap = QPixmap(12, 12)
    pixmap.fill(color)
    return QIcon(pixmap)


@dataclass
class Overlay:
    """Drawn over the document without changing it.

    ``notes`` replace the notes of ``mask`` cells (a live preview or a
    variation); ``hatched`` marks region cells still undecided.
    """

    notes: tuple[RollNote, ...]
    mask: BoolArray
    hatched: BoolArray | None = None


def in_mask(note: RollNote, mask: BoolArray) -> bool:
    """Whether a cell of ``mask`` lies under ``note`` (in its voice, over its steps)."""
    lo = int(note.start)
    hi = max(int(np.ceil(note.end)), lo + 1)
    return 0 <= note.voice < N_VOICES and bool(mask[note.voice, lo:hi].any())


def variation_pixmap(
    notes: Sequence[RollNote], cells: BoolArray, size: QSize | None = None
) -> QPixmap:
    """A small picture of the notes inside ``cells``' time span, for the variations strip."""
    size = size or QSize(132, 56)
    pixmap = QPixmap(size)
    pixmap.fill(QColor("#fbfbf8"))
    columns = np.flatnonzero(cells.any(axis=0))
    if not len(columns) or not notes:
        return pixmap
    lo, hi = int(columns[0]), int(columns[-1]) + 1
    shown = [n for n in notes if n.end > lo and n.start < hi]
    if not shown:
        return pixmap
    top = max(n.pitch for n in shown) + 1
    bottom = min(n.pitch for n in shown) - 1
    sx = size.width() / max(1, hi - lo)
    sy = size.height() / max(1, top - bottom + 1)
    painter = QPainter(pixmap)
    for note in shown:
        in_region = 0 <= note.voice < N_VOICES and bool(
            cells[note.voice, max(lo, int(note.start)) : max(int(np.ceil(note.end)), 1)].any()
        )
        color = QColor(voice_color(note.voice))
        color.setAlpha(235 if in_region else 60)
        rect = QRectF(
            (note.start - lo) * sx,
            (top - note.pitch) * sy,
            (note.end - note.start) * sx,
            max(sy, 2),
        )
        painter.fillRect(rect, color)
    painter.end()
    return pixmap


def paint_note(
    painter: QPainter,
    rect: QRectF,
    voice: int,
    *,
    fade: bool = False,
    selected: bool = False,
    ghost: bool = False,
) -> None:
    """One note box in its voice's colour: faded under the mask, outlined when selected,
    dashed as the ghost of a move in progress."""
    color = QColor(voice_color(voice))
    fill = QColor(color)
    fill.setAlpha(70 if fade or ghost else 230)
    painter.setBrush(QBrush(fill))
    if selected:
        painter.setPen(QPen(QColor("#111111"), 2))
    elif ghost:
        painter.setPen(QPen(color.darker(130), 1.2, Qt.PenStyle.DashLine))
    else:
        painter.setPen(QPen(color.darker(150), 1))
    painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 2, 2)
