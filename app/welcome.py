"""The welcome screen of a medium page: open a file, or a bundled sample.

Shown until a document is open, and for good on a medium whose editor failed
to load (then its buttons are disabled and say why). The blurb is the
medium's own, from :mod:`engine.media.registry`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from engine.media.registry import medium
from engine.paths import bundle_root


def samples_dir() -> Path:
    return bundle_root() / "assets" / "samples"


def find_sample(extensions: tuple[str, ...], folder: Path | None = None) -> Path | None:
    """The first sample file (by name) with one of ``extensions``, or None."""
    folder = samples_dir() if folder is None else folder
    if not folder.is_dir():
        return None
    matches = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in extensions)
    return matches[0] if matches else None


class WelcomePage(QWidget):
    """Two buttons and a line of text; it only forwards intent to the window."""

    openRequested = Signal(str)  # noqa: N815 - Qt signal naming  # medium
    sampleRequested = Signal(str)  # noqa: N815 - Qt signal naming  # path

    def __init__(
        self,
        medium: str,
        title: str,
        sample: Path | None,
        editor_available: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.medium = medium
        self.sample = sample
        self.open_button = QPushButton("Open a file…")
        self.sample_button = QPushButton(
            f"Open sample ({sample.name})" if sample else "Open sample"
        )
        self.note = QLabel()
        self._build(title, editor_available)

    def _build(self, title: str, editor_available: bool) -> None:
        heading = QLabel(f"<h2>{title}</h2>")
        blurb = QLabel(_blurb(self.medium))
        self.note.setText("" if editor_available else f"The {title} editor failed to load.")
        self.open_button.setEnabled(editor_available)
        self.sample_button.setVisible(self.sample is not None)
        self.sample_button.setEnabled(editor_available)
        self.open_button.clicked.connect(lambda: self.openRequested.emit(self.medium))
        self.sample_button.clicked.connect(lambda: self.sampleRequested.emit(str(self.sample)))
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        for widget in (heading, blurb, self.open_button, self.sample_button, self.note):
            layout.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)


def _blurb(key: str) -> str:
    try:
        return medium(key).blurb
    except KeyError:  # a page a test adds for a medium the registry does not know
        return ""
