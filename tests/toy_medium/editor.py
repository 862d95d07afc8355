"""The toy medium's editor: a table of token ids, the reference :class:`MediumEditor`.

It is what the window's tests drive, and the smallest editor to copy from:
:class:`~app.editor_base.DocumentHistory` gives it undo/redo and saved/modified
tracking from the document's revision; it repaints from the document's events.
Registered (as ``"tests.toy_medium.editor:TokenGridEditor"``) by
:mod:`tests.toy_medium.app_spec`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from app.editor_base import DocumentHistory, MediumEditor
from engine.document import HISTORY, DocumentChanged
from engine.jobs import Codec, GenerateResult, Progress
from engine.models import ModelManifest
from tests.toy_medium import spec
from tests.toy_medium.document import TokenGridDocument

_MASK_COLOR = QColor(255, 200, 120)


class TokenGridEditor(DocumentHistory, MediumEditor):
    """A table of token ids; clicking a cell toggles it in the editable mask."""

    medium = spec.SPEC.key
    file_extensions = spec.SPEC.extensions
    export_extensions = spec.SPEC.extensions

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document: TokenGridDocument | None = None
        self.preview: Progress | None = None
        self.result: GenerateResult | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self.table = QTableWidget()
        self.table.cellClicked.connect(self._toggle_cell)
        QVBoxLayout(self).addWidget(self.table)

    # documents
    def has_document(self) -> bool:
        return self.document is not None

    def set_document(self, document: TokenGridDocument) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.document = document
        self.mark_saved()
        self._unsubscribe = document.subscribe(self._on_change)
        self._refresh()
        self.stateChanged.emit()

    def open_path(self, path: Path) -> None:
        self.set_document(spec.open_document(path))

    def export_path(self, path: Path) -> None:
        assert self.document is not None
        np.save(path, self.document.token_grid)
        self.mark_saved()
        self.stateChanged.emit()

    def document_name(self) -> str:
        return "token grid"

    # generation
    def has_mask(self) -> bool:
        return self.document is not None and self.document.has_mask()

    def make_generate_payload(self, manifest: ModelManifest) -> tuple[Any, Codec]:
        if self.document is None or not self.document.has_mask():
            raise ValueError("paint a mask first")
        return self.document.snapshot(), spec.codec(manifest)

    def show_step(self, progress: Progress) -> None:
        """A real editor draws ``progress.step.tokens`` (of window ``progress.window``)."""
        self.preview = progress

    def clear_preview(self) -> None:
        self.preview = None

    def show_results(self, result: GenerateResult) -> None:
        self.preview = None
        self.result = result

    def accept(self, index: int) -> None:
        assert self.document is not None and self.result is not None
        self.document.accept(self.result.variations[index])
        self.result = None

    # view
    def _on_change(self, event: DocumentChanged) -> None:
        """Content events repaint; the history event ends every change, undo and redo."""
        if event.kind == HISTORY:
            self.stateChanged.emit()
        else:
            self._refresh()

    def _toggle_cell(self, row: int, column: int) -> None:
        if self.document is not None:
            box = (slice(row, row + 1), slice(column, column + 1))
            self.document.set_mask(box, not self.document.editable_mask[row, column])

    def _refresh(self) -> None:
        assert self.document is not None
        rows, columns = self.document.shape
        self.table.setRowCount(rows)
        self.table.setColumnCount(columns)
        for row in range(rows):
            for column in range(columns):
                item = QTableWidgetItem(str(self.document.token_grid[row, column]))
                if self.document.editable_mask[row, column]:
                    item.setBackground(QBrush(_MASK_COLOR))
                self.table.setItem(row, column, item)
