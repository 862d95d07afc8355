"""The question asked before unsaved changes are lost: Save Project…, Export…, Discard or Cancel.

The window asks it on close and Quit (for every modified document at once) and
before a document is replaced (Open over it, "New clip"). It is a plain
function of the document names so the window can take any other answerer;
tests give one that answers at once, since a modal box would block them.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from PySide6.QtWidgets import QMessageBox, QWidget

Button = QMessageBox.StandardButton


class Choice(enum.Enum):
    """What to do with modified documents."""

    SAVE = "save"
    """Save each one as a project (``.remask``: document, mask, settings, undo history), then
    go ahead if all were saved."""
    EXPORT = "export"
    """Export each one (a file dialog each), then go ahead if all were saved."""
    DISCARD = "discard"
    """Go ahead; the changes are lost."""
    CANCEL = "cancel"
    """Do nothing: the window and every document stay as they are."""


_CHOICES = {Button.Save: Choice.SAVE, Button.Discard: Choice.DISCARD}
_EXPORT_BUTTON = "export"


def unsaved_box(parent: QWidget | None, names: Sequence[str]) -> QMessageBox:
    """The message box (not shown yet): the documents named, Save Project… as default (it keeps
    the undo history; Export… writes the plain file), Esc cancels."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Unsaved changes")
    box.setText(unsaved_text(names))
    box.setInformativeText(
        "Save Project… keeps each one with its mask and undo history; Export… writes the plain"
        " file; Discard loses the changes."
    )
    box.setStandardButtons(Button.Save | Button.Discard | Button.Cancel)
    box.button(Button.Save).setText("Save Project…")
    export = box.addButton("Export…", QMessageBox.ButtonRole.ActionRole)
    export.setObjectName(_EXPORT_BUTTON)
    box.setDefaultButton(Button.Save)
    box.setEscapeButton(Button.Cancel)
    return box


def unsaved_text(names: Sequence[str]) -> str:
    """``“a.png” has unsaved changes.`` or a bulleted list for several documents."""
    if len(names) == 1:
        return f"“{names[0]}” has unsaved changes."
    listed = "\n".join(f"  • {name}" for name in names)
    return f"{len(names)} documents have unsaved changes:\n{listed}"


def choice_of(box: QMessageBox) -> Choice:
    """The answer a finished box gave (closing it any other way is Cancel)."""
    clicked = box.clickedButton()
    if clicked is None:
        return Choice.CANCEL
    if clicked.objectName() == _EXPORT_BUTTON:
        return Choice.EXPORT
    return _CHOICES.get(box.standardButton(clicked), Choice.CANCEL)


def ask_unsaved(parent: QWidget | None, names: Sequence[str]) -> Choice:
    """Show :func:`unsaved_box` modally and return the answer."""
    box = unsaved_box(parent, names)
    box.exec()
    return choice_of(box)
