"""The welcome screen of a medium page: open a file, or a bundled sample.

Shown until a document is open, and for good on a medium whose editor is not
part of this build yet (then its buttons are disabled and say why).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from engine.paths import bundle_root

_BLURBS: dict[str, str] = {
    "image": "Paint over part of a picture and let the model fill it in.",
    "midi": "Mark bars or voices of a piece and let the model rewrite them.",
    "motion": "Select frames or body parts of a clip and let the model re-animate them.",
    "tokens": "Edit a raw token grid (for model debugging).",
}


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
        blurb = QLabel(_BLURBS.get(self.medium, ""))
        self.note.setText(
            "" if editor_available else f"The {title} editor is not part of this build yet."
        )
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
