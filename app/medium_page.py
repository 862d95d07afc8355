"""A medium's tab in the main window: its welcome page until a document is open, then its editor.

Which pages exist, in which order, comes from :mod:`app.registry`; a page's
title, file types and blurb from :mod:`engine.media.registry`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtWidgets import QStackedWidget

from app.editor_base import MediumEditor, load_editor_class
from app.registry import app_media, medium_title
from app.welcome import WelcomePage, find_sample
from engine.media.registry import medium as medium_spec

EditorFactory = Callable[[], MediumEditor]
"""Builds a medium's editor; an editor class itself is one."""


class MediumPage(QStackedWidget):
    """A medium's tab: its welcome screen until a document is open, then its editor."""

    def __init__(self, medium: str, editor: MediumEditor | None) -> None:
        super().__init__()
        self.medium = medium
        self.title = medium_title(medium)
        self.editor = editor
        self.extensions = editor.file_extensions if editor else _extensions(medium)
        self.welcome = WelcomePage(
            medium, self.title, find_sample(self.extensions), editor is not None
        )
        self.addWidget(self.welcome)
        if editor is not None:
            self.addWidget(editor)
            editor.stateChanged.connect(self.sync)
        self.sync()

    def sync(self) -> None:
        showing_editor = self.editor is not None and self.editor.has_document()
        self.setCurrentWidget(self.editor if showing_editor and self.editor else self.welcome)

    def document_label(self) -> str:
        """The open document's name for titles and questions ("" with none open)."""
        if self.editor is None or not self.editor.has_document():
            return ""
        return self.editor.document_name() or f"untitled {self.title}"

    def is_modified(self) -> bool:
        return self.editor is not None and self.editor.is_modified()


def _extensions(medium: str) -> tuple[str, ...]:
    try:
        return medium_spec(medium).extensions
    except KeyError:
        return ()


def build_pages(editors: Mapping[str, EditorFactory | None]) -> list[MediumPage]:
    """One page per medium with an app side, in tab order, then one per extra key of ``editors``.

    ``editors`` overrides a medium's registered editor (``None``: its welcome page only).
    """
    media = [spec.key for spec in app_media()]
    media += [key for key in editors if key not in media]
    pages = []
    for medium in media:
        factory = editors[medium] if medium in editors else load_editor_class(medium)
        pages.append(MediumPage(medium, factory() if factory else None))
    return pages
