"""The piano roll's dialogs and status lines: which parts to open, which bars to mask."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.media.midi import N_VOICES, UNMAPPED, Part, TimeGrid, suggested_parts
from engine.media.midi.document import VOICE_NAMES, RollDocument
from engine.media.midi.meter import meter_notes


def opened_status(document: RollDocument) -> str:
    """What the status line says on opening; it names grey notes when some parts are left out."""
    text = (
        f"{document.grid.n_bars} bars, {len(document.notes)} notes · "
        "drag in the coloured lanes (or use the Mask tool) to mark what to repaint"
    )
    if any(note.voice == UNMAPPED for note in document.notes):
        text += " · grey notes are outside the four voices (played, kept, unheard by the model)"
    for line in meter_notes(document.score, document.grid):
        text += f" · {line}"
    return text


def ask_parts(parts: Sequence[Part], parent: QWidget | None = None) -> list[str] | None:
    """Ask which (up to) four parts of a larger file become soprano, alto, tenor and bass."""
    dialog = PartsDialog(parts, parent)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return dialog.chosen()


class PartsDialog(QDialog):
    """A checklist of the file's parts; OK needs one to four of them."""

    def __init__(self, parts: Sequence[Part], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose up to four parts")
        self.parts = list(parts)
        self.list = QListWidget()
        suggested = suggested_parts(self.parts)  # closest to S/A/T/B, not simply the first four
        for part in self.parts:
            item = QListWidgetItem(part.describe())
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Checked if part in suggested else Qt.CheckState.Unchecked
            )
            self.list.addItem(item)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.list.itemChanged.connect(self._check)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("This file has more than four parts. Which become S, A, T, B?"))
        layout.addWidget(self.list)
        layout.addWidget(self.buttons)

    def chosen(self) -> list[str]:
        return [
            str(part.number)
            for index, part in enumerate(self.parts)
            if self.list.item(index).checkState() == Qt.CheckState.Checked
        ]

    def _check(self, _item: QListWidgetItem) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(1 <= len(self.chosen()) <= N_VOICES)


def ask_bars(
    document: RollDocument, parent: QWidget | None = None
) -> tuple[int, int, list[int]] | None:
    """Ask for bars (the score's numbers) and voices (the parts' names); None if cancelled."""
    dialog = BarsDialog(document.grid, document.voice_labels, parent)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return dialog.choice()


class BarsDialog(QDialog):
    """First bar, last bar and voices to add to the mask."""

    def __init__(
        self,
        grid: TimeGrid,
        voice_labels: Sequence[str] = VOICE_NAMES,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Select bars")
        self.first = QSpinBox()
        self.last = QSpinBox()
        for box in (self.first, self.last):  # the score's numbers: a pickup is bar 0
            box.setRange(grid.first_bar, grid.last_bar)
        self.first.setValue(max(1, grid.first_bar))
        self.last.setValue(min(2, grid.last_bar))
        self.voices = [QCheckBox(name) for name in voice_labels]
        for check in self.voices[1:3]:
            check.setChecked(True)
        row = QHBoxLayout()
        for check in self.voices:
            row.addWidget(check)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("From bar", self.first)
        form.addRow("To bar", self.last)
        form.addRow("Voices", row)
        form.addRow(buttons)

    def choice(self) -> tuple[int, int, list[int]]:
        first, last = sorted((self.first.value(), self.last.value()))
        return first, last, [v for v, box in enumerate(self.voices) if box.isChecked()]
