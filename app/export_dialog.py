"""File ▸ Export…: where a document goes, never over the file it came from unless asked.

The dialog proposes ``<stem>-edited<ext>`` in the source file's folder (the
first such name not taken: ``-edited-2``, ``-edited-3``…), so one Enter can
never overwrite the original; choosing an existing file asks first (Qt's
overwrite confirmation, kept on explicitly). :class:`SourceFiles` remembers
which file each editor's document was opened from or last exported to in its
own format, tied to that document object so a new or reopened document does
not inherit it.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtWidgets import QDialog, QFileDialog, QWidget

from app.editor_base import MediumEditor

EDITED = "-edited"
_EDITED_TAIL = re.compile(rf"{EDITED}(-\d+)?$")


def proposed_path(source: Path, extensions: tuple[str, ...]) -> Path:
    """``<stem>-edited<ext>`` beside ``source``: the first such name that is not taken.

    The extension is the source's when the editor writes it, else the editor's
    first one. A source already named ``…-edited`` or ``…-edited-N`` counts up
    from it instead of growing ``-edited-edited``.
    """
    suffix = source.suffix if source.suffix.lower() in extensions else extensions[0]
    base = _EDITED_TAIL.sub("", source.stem) + EDITED
    candidate = source.with_name(base + suffix)
    number = 2
    while candidate.exists() or candidate == source:
        candidate = source.with_name(f"{base}-{number}{suffix}")
        number += 1
    return candidate


def save_dialog(parent: QWidget | None, title: str, start: Path, name_filter: str) -> QFileDialog:
    """A save dialog on ``start`` that asks before replacing a file (never without asking)."""
    dialog = QFileDialog(parent, title, str(start.parent), name_filter)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setFileMode(QFileDialog.FileMode.AnyFile)
    dialog.setOption(QFileDialog.Option.DontConfirmOverwrite, False)
    if start.suffix:
        dialog.setDefaultSuffix(start.suffix.lstrip("."))
    dialog.selectFile(start.name)
    return dialog


def ask_export_path(
    parent: QWidget | None, editor: MediumEditor, source: Path | None, folder: str
) -> Path | None:
    """Run the export dialog for ``editor``'s document; the chosen path, or None (cancelled).

    ``source`` is where the document came from (None: a new document, or one
    from a project; the proposal then uses its name in ``folder``).
    """
    name = editor.document_name() or "untitled"
    base = source if source is not None else Path(folder or Path.home()) / name
    if not base.suffix:
        base = base.with_suffix(editor.export_extensions[0])
    start = proposed_path(base, editor.export_extensions)
    dialog = save_dialog(parent, f"Export {name}", start, editor.export_filter())
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    files = dialog.selectedFiles()
    return Path(files[0]) if files else None


def is_native(editor: MediumEditor, path: Path) -> bool:
    """Written in a format the editor also opens (a .png, a .mid), not a render (a .wav)."""
    return path.suffix.lower() in editor.file_extensions


class SourceFiles:
    """The file each editor's current document was opened from or last exported to."""

    def __init__(self) -> None:
        self._files: dict[int, tuple[object, Path]] = {}

    def remember(self, editor: MediumEditor, path: Path) -> None:
        self._files[id(editor)] = (getattr(editor, "document", None), Path(path))

    def path_of(self, editor: MediumEditor) -> Path | None:
        """None when the editor's document has changed since (a new clip, another file)."""
        saved = self._files.get(id(editor))
        if saved is None:
            return None
        document, path = saved
        return path if getattr(editor, "document", None) is document else None
