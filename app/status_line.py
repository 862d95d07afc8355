"""Status text that never resizes the window and never outlives its tab or document.

Two things went wrong with plain labels: a long message set a label's minimum
width, which widened the window for good (and the size was saved); and a
message about one tab ("cancelled", from the MIDI tab) stayed on screen after
switching to another. :class:`ElidedLabel` shows one line cut with "…" to
whatever width it gets (the whole text is its tooltip); :class:`TabStatus`
keeps the window's status message and the generate bar's last word per tab.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QStatusBar, QWidget

from app.progress import GenerateBar

RESTORED_MS = 10_000
"""How long a message kept for a tab shows once the user comes back to it."""


class ElidedLabel(QLabel):
    """A one-line label whose text never asks for width: cut with "…", whole in the tooltip.

    :meth:`text` is the whole text, as set.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setToolTip(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt override
        super().setText(text)
        self.setToolTip(text)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(0, super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(0, super().sizeHint().height())

    def elided_text(self) -> str:
        """What is drawn at the current width."""
        width = self.contentsRect().width()
        mode = Qt.TextElideMode.ElideRight
        return self.fontMetrics().elidedText(self.text().replace("\n", " "), mode, width)

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(self.contentsRect(), align, self.elided_text())


class TabStatus:
    """The window's status message and the generate bar's last word, kept per tab.

    The window calls :meth:`switch` when the shown tab changes and :meth:`reset`
    when a tab opens a new document. A message for a tab that is not shown
    (a job on the MIDI tab fails while the Image tab is shown) waits for that
    tab; the bar's "cancelled" or "3 variations in 2.1 s" stays with the tab of
    the job it is about.
    """

    def __init__(self, status: QStatusBar, bar: GenerateBar, busy: Callable[[], bool]) -> None:
        self._status = status
        self._bar = bar
        self._busy = busy
        self._current = ""
        self._waiting: dict[str, str] = {}
        self._bar_words: dict[str, str] = {}

    @property
    def current(self) -> str:
        return self._current

    def switch(self, tab: str) -> None:
        """``tab`` is shown now: its own message (or none) and its own last bar word."""
        if tab == self._current:
            return
        if not self._busy():
            self._bar_words[self._current] = self._bar.text()
        self._current = tab
        self._status.clearMessage()
        waiting = self._waiting.pop(tab, "")
        if waiting:
            self._status.showMessage(waiting, RESTORED_MS)
        if not self._busy():
            self._bar.reset(self._bar_words.get(tab, "idle"))

    def show(self, tab: str, text: str, timeout_ms: int = 0) -> None:
        """Show ``text`` now if ``tab`` is shown, else when the user comes back to it."""
        if tab == self._current:
            self._status.showMessage(text, timeout_ms)
        else:
            self._waiting[tab] = text

    def job_ended(self, tab: str) -> None:
        """A job of ``tab`` ended: its bar word belongs to that tab, not the one shown."""
        if tab == self._current:
            return
        self._bar_words[tab] = self._bar.text()
        self._bar.reset(self._bar_words.get(self._current, "idle"))

    def reset(self, tab: str) -> None:
        """``tab`` has a new document: nothing said about the old one stays."""
        self._waiting.pop(tab, None)
        self._bar_words.pop(tab, None)
        if tab == self._current:
            self._status.clearMessage()
            if not self._busy():
                self._bar.reset("idle")
