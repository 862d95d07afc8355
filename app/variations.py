"""A strip of generated variations: pick one to audition, then Accept it or Discard all.

Medium-agnostic on purpose: it shows N thumbnails (any ``QPixmap``: an image
crop, a piano-roll snippet, a pose) and reports intent through signals. The
editor that owns it decides what "preview", "accept" and "discard" mean for
its document, so the image and motion editors can reuse it unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QWidget,
)


class VariationsStrip(QWidget):
    """Thumbnails as exclusive toggle buttons plus Accept and Discard all.

    Hidden while empty. Selecting a thumbnail emits :attr:`selected`; Accept
    emits :attr:`acceptRequested` with the selected index; Discard all emits
    :attr:`discardRequested`. The strip clears itself after either, since the
    choice is over.
    """

    selected = Signal(int)
    acceptRequested = Signal(int)  # noqa: N815 - Qt signal naming
    discardRequested = Signal()  # noqa: N815 - Qt signal naming

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.buttons: list[QToolButton] = []
        self._group = QButtonGroup(self)
        self._group.setExclusive(True)
        self._group.idClicked.connect(self.select)
        self.title = QLabel("Variations:")
        self.accept_button = QPushButton("Accept")
        self.accept_button.setToolTip("Write the selected variation into the piece (one undo step)")
        self.discard_button = QPushButton("Discard all")
        self.accept_button.clicked.connect(self._accept)
        self.discard_button.clicked.connect(self._discard)
        self._row = QHBoxLayout()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.title)
        layout.addLayout(self._row)
        layout.addStretch(1)
        layout.addWidget(self.accept_button)
        layout.addWidget(self.discard_button)
        self.setVisible(False)

    @property
    def count(self) -> int:
        return len(self.buttons)

    def current(self) -> int:
        """The selected index, -1 when none."""
        return self._group.checkedId()

    def set_variations(self, thumbnails: Sequence[QPixmap], labels: Sequence[str] = ()) -> None:
        """Show one button per thumbnail and select the first."""
        self.clear()
        for index, pixmap in enumerate(thumbnails):
            label = labels[index] if index < len(labels) else f"{index + 1}"
            self._add_button(index, pixmap, label)
        self.setVisible(bool(thumbnails))
        if thumbnails:
            self.select(0)

    def _add_button(self, index: int, pixmap: QPixmap, label: str) -> None:
        button = QToolButton()
        button.setCheckable(True)
        button.setIcon(QIcon(pixmap))
        button.setIconSize(pixmap.size() if not pixmap.isNull() else QSize(96, 48))
        button.setText(label)
        button.setToolTip(f"Variation {label}: click to preview")
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        self._group.addButton(button, index)
        self._row.addWidget(button)
        self.buttons.append(button)

    def select(self, index: int) -> None:
        """Check ``index`` and announce it (also what a click does)."""
        if 0 <= index < self.count:
            self.buttons[index].setChecked(True)
            self.selected.emit(index)

    def clear(self) -> None:
        for button in self.buttons:
            self._group.removeButton(button)
            button.deleteLater()
        self.buttons = []
        self.setVisible(False)

    def _accept(self) -> None:
        index = self.current()
        if index >= 0:
            self.clear()
            self.acceptRequested.emit(index)

    def _discard(self) -> None:
        self.clear()
        self.discardRequested.emit()
