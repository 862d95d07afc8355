"""Generate / Cancel buttons and a progress bar that reads "step i / n" or
"window w/W · step i/n" when the edit runs several model windows."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QVBoxLayout, QWidget


class GenerateBar(QWidget):
    """Shows generation state; the window drives it and listens to its two buttons."""

    generateClicked = Signal()  # noqa: N815 - Qt signal naming
    cancelClicked = Signal()  # noqa: N815 - Qt signal naming

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.generate_button = QPushButton("Generate")
        self.generate_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self._build()
        self.reset("idle")

    def _build(self) -> None:
        self.generate_button.clicked.connect(self.generateClicked)
        self.cancel_button.clicked.connect(self.cancelClicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button, 1)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)

    def start(self, total_steps: int) -> None:
        """A job was submitted; the real step count arrives with the first step."""
        self.progress.setRange(0, max(1, total_steps))
        self.progress.setValue(0)
        self.progress.setFormat("starting…")
        self.cancel_button.setEnabled(True)

    def show_step(self, index: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(index)
        self.progress.setFormat(f"step {index} / {total}")

    def show_progress(self, window: int, windows: int, index: int, total: int) -> None:
        """Step ``index`` of ``total`` in window ``window`` (0-based) of ``windows``.

        The bar fills over the whole edit, each window an equal share.
        """
        if windows <= 1:
            self.show_step(index, total)
            return
        self.progress.setRange(0, max(1, windows * total))
        self.progress.setValue(window * total + index)
        self.progress.setFormat(f"window {window + 1}/{windows} · step {index}/{total}")

    def reset(self, text: str) -> None:
        """Idle again (done, cancelled or failed), with a short word on how it ended."""
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat(text)
        self.cancel_button.setEnabled(False)

    def finish(self, text: str) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.progress.setFormat(text)
        self.cancel_button.setEnabled(False)

    def text(self) -> str:
        """The progress text as shown (``%v``-style placeholders are not used)."""
        return self.progress.format()
