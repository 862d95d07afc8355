"""File ▸ Save Project, Save Project As… and opening ``.remask`` files, for every medium's page.

A project (:mod:`engine.project`) keeps the work: the document with its mask,
its undo history, the model and sampler settings, and the variations on offer
(an editor that has them is :class:`OffersVariations`; reopening offers them
again with the same one selected). Export (PNG, MIDI, BVH)
stays the way to hand the content to other programs. Save writes the page's
project file again (asking where the first time); the document is then clean
(:meth:`DocumentHistory.mark_saved`) and the window title shows the project's
name. Opening a project decodes it off the GUI thread like any file
(:mod:`app.loading`) and installs it into its medium's editor.

The window keeps one :class:`ProjectFiles`; its actions are the window's
``save_project_action`` and ``save_project_as_action`` (bound by
:mod:`app.shortcuts`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from PySide6.QtWidgets import QFileDialog

from app.engine_worker import one_line
from app.loading import kept_on_failure
from engine.project import (
    SUFFIX,
    KeptVariations,
    Project,
    ProjectError,
    read_project,
    snapshot_project,
)

if TYPE_CHECKING:
    from app.autosave import Autosaver
    from app.main_window import MainWindow
    from app.medium_page import MediumPage

_log = logging.getLogger(__name__)

PROJECT_FILTER = f"remask project (*{SUFFIX})"


def is_project(path: Path) -> bool:
    return path.suffix.lower() == SUFFIX


@runtime_checkable
class OffersVariations(Protocol):
    """An editor whose offer of variations a project keeps (the image, MIDI and motion pages)."""

    def kept_variations(self) -> KeptVariations[Any, Any] | None:
        """The variations on offer and the selected one (None: no offer open)."""

    def restore_variations(self, kept: KeptVariations[Any, Any]) -> None:
        """Offer ``kept`` again over the document just shown."""


def kept_variations(editor: object) -> KeptVariations[Any, Any] | None:
    """What ``editor`` offers, for a project; None for an editor that keeps no variations."""
    return editor.kept_variations() if isinstance(editor, OffersVariations) else None


class ProjectFiles:
    """Which project file each page's document belongs to, and the actions on it."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.autosave: Autosaver | None = None
        """Set by :func:`app.autosave.install_autosave`; told when a document is saved."""
        self.ask_project_path: Callable[[MediumPage], Path | None] = self._save_dialog
        """Where to save a page's project (None: cancelled); a file dialog, replaced in tests."""
        self._files: dict[str, tuple[object, Path]] = {}
        """Per medium: the document a project file holds, and that file."""
        self._offers: dict[str, tuple[int, ...]] = {}
        """Per medium: the offer of variations last saved or opened (see :func:`_offer_key`)."""

    # -- state -------------------------------------------------------------------------------

    def path_of(self, page: MediumPage) -> Path | None:
        """The project file of the page's document (None when it came from elsewhere)."""
        saved = self._files.get(page.medium)
        if saved is None or page.editor is None:
            return None
        document, path = saved
        return path if getattr(page.editor, "document", None) is document else None

    def title(self, page: MediumPage) -> str:
        """The name the window title shows: the project's file name, else the document's."""
        path = self.path_of(page)
        return path.name if path is not None else page.document_label()

    def offer_unsaved(self, page: MediumPage) -> bool:
        """Whether the page offers variations that no project file holds as they are now."""
        key = _offer_key(kept_variations(page.editor))
        return bool(key) and self._offers.get(page.medium) != key

    def project_of(self, page: MediumPage) -> Project:
        """The page's document as a project, with the model and settings when its page shows."""
        editor = page.editor
        document = getattr(editor, "document", None)
        if editor is None or document is None:
            raise ProjectError("nothing to save: open a document first")
        sampler = self.window.sampler
        model = sampler.current_model() if sampler.medium == page.medium else None
        return Project(
            medium=page.medium,
            document=document,
            name=editor.document_name(),
            model=model.name if model is not None else None,
            sampler=sampler.settings() if model is not None else None,
            variations=kept_variations(editor),
        )

    # -- saving ------------------------------------------------------------------------------

    def save(self, page: MediumPage | None = None, *, ask: bool = False) -> bool:
        """Save Project (``ask``: Save Project As…); True when the document is saved."""
        page = page if page is not None else self.window.current_page()
        if page.editor is None or not page.editor.has_document():
            return False
        path = None if ask else self.path_of(page)
        if path is None:
            path = self.ask_project_path(page)
        if path is None:
            return False
        return self.save_to(page, path)

    def save_to(self, page: MediumPage, path: Path) -> bool:
        """Write the page's project to ``path`` atomically; False (and a dialog) on failure."""
        editor = page.editor
        if not is_project(path):
            path = path.with_name(path.name + SUFFIX)
        try:
            project = self.project_of(page)
            snapshot_project(project).write(path)
        except Exception as exc:  # noqa: BLE001 - any writer error becomes one line for the user
            _log.debug("saving %s failed", path, exc_info=True)
            self.window.show_error(f"Cannot save {path.name}", one_line(exc))
            return False
        assert editor is not None
        self._files[page.medium] = (getattr(editor, "document", None), path)
        self._offers[page.medium] = _offer_key(project.variations)
        mark_saved = getattr(editor, "mark_saved", None)
        if callable(mark_saved):
            mark_saved()
        if self.autosave is not None:
            self.autosave.forget(page.medium)
        self.window.recent.add(path)
        editor.stateChanged.emit()
        self.window.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    def _save_dialog(self, page: MediumPage) -> Path | None:
        current = self.path_of(page)
        if current is None:
            stem = Path(page.document_label() or "untitled").stem
            current = Path(self.window._window_state.last_folder()) / f"{stem}{SUFFIX}"
        path, _ = QFileDialog.getSaveFileName(
            self.window, "Save Project", str(current), PROJECT_FILTER
        )
        return Path(path) if path else None

    # -- opening -----------------------------------------------------------------------------

    def open_project(self, path: Path) -> bool:
        """Open a project file: decoded off the GUI thread, then installed into its page."""
        window = self.window
        editors = {medium: page.editor for medium, page in window.pages.items()}
        return window.loader.load(
            path.name,
            lambda: _read_prepared(path, editors),
            lambda opened: self._opened(opened, path),
            lambda error: window._open_failed(path, one_line(error)),
        )

    def _opened(self, opened: tuple[Project, object | None], path: Path) -> None:
        project, prepared = opened
        self.install(project, path, prepared=prepared)
        self.window.recent.add(path)

    def install(
        self,
        project: Project,
        path: Path | None,
        *,
        modified: bool = False,
        prepared: object | None = None,
    ) -> None:
        """Show ``project`` in its medium's page (after asking about unsaved changes there).

        ``path`` is the project file (None for a recovered autosave); ``modified``
        leaves the document marked unsaved (a recovery: nothing of it is on disk);
        ``prepared`` is what the editor's ``prepare_document`` built off the GUI thread.
        """
        window = self.window
        page = window.pages.get(project.medium)
        if page is None or page.editor is None:
            raise ProjectError(f"this window has no {project.medium} editor")
        editor = page.editor
        if not window.may_discard([editor]):
            return
        with kept_on_failure(editor):
            _show(editor, project, prepared)
        if path is not None:
            self._files[page.medium] = (project.document, path)
            self._offers[page.medium] = _offer_key(kept_variations(editor))
        if modified:
            getattr(editor, "mark_unsaved", lambda: None)()
        page.sync()
        window.show_medium(page.medium)
        self._restore_sampler(project)
        editor.stateChanged.emit()

    def _restore_sampler(self, project: Project) -> None:
        sampler = self.window.sampler
        if project.model is None or project.model not in sampler.model_names():
            return
        sampler.select_model(project.model)
        if project.sampler is not None:
            sampler.show_settings(project.sampler)


def _offer_key(kept: KeptVariations[Any, Any] | None) -> tuple[int, ...]:
    """Which offer ``kept`` is: its items (by identity, as the editor holds them) and the
    selected one; ``()`` for none."""
    return () if kept is None else (*map(id, kept.items), kept.shown)


def _read_prepared(path: Path, editors: dict[str, Any]) -> tuple[Project, object | None]:
    """In the loading worker: read the project, then let its editor build what showing
    the document needs (display buffers of a large picture, a long roll's note spans),
    so the GUI thread only swaps them in."""
    project = read_project(path)
    editor = editors.get(project.medium)
    prepare = getattr(editor, "prepare_document", None)
    return project, (prepare(project.document) if prepare is not None else None)


def _show(editor: Any, project: Project, prepared: object | None = None) -> None:
    """Hand the document to the editor; its path becomes the source's name, for exports."""
    if prepared is None:
        editor.set_document(project.document)
    else:
        editor.set_document(project.document, prepared)
    if hasattr(editor, "path") and project.name:
        editor.path = Path(project.name)
    if project.variations is not None and isinstance(editor, OffersVariations):
        editor.restore_variations(project.variations)
