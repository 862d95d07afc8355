"""The interface every medium editor implements, so the main window stays medium-agnostic.

An editor is a ``QWidget`` page (image canvas, piano roll, motion timeline)
over a plain document object from ``engine.media``. The window only ever:

- opens and exports files through it,
- asks it for a generation payload and codec for the chosen model,
- forwards live sampler progress (window and step) and the final result to it,
- forwards Undo/Redo to it,
- asks it whether the document has unsaved changes before the document is lost,
- listens to :attr:`MediumEditor.stateChanged` to enable Generate/Undo/Redo and
  to mark the window title of a modified document.

Each medium's editor class is named by its :class:`app.registry.AppMediumSpec`
(``"app.image.editor:ImageEditor"``) and loaded by :func:`load_editor_class`.
Adding a medium editor therefore needs no change in the window: subclass
:class:`MediumEditor` and name the class in the medium's ``app/<key>/spec.py``
(see ``docs/adding-a-medium.md``).
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from app.registry import app_medium, medium_title, resolve
from engine.document import Document
from engine.jobs import Codec, GenerateResult, Progress
from engine.models import ModelManifest

_log = logging.getLogger(__name__)


class DocumentHistory:
    """Undo/redo and saved/modified tracking for an editor over one :class:`Document`.

    Mix in before :class:`MediumEditor`. The editor calls :meth:`mark_saved`
    when it opens a document and when it saves one; the document is modified
    exactly when its revision differs from that one (undoing back to it
    included). The views repaint from the document's events, so there is
    nothing editor-specific to do here.
    """

    document: Document | None
    _saved_revision: int | None = None

    def mark_saved(self) -> None:
        """Remember the document's current revision as the saved one."""
        self._saved_revision = self.document.revision if self.document is not None else None

    def mark_unsaved(self) -> None:
        """Treat the document as modified until saved (a recovered autosave is on no disk)."""
        self._saved_revision = None

    def is_modified(self) -> bool:
        """True when the document differs from when it was opened or last saved."""
        return self.document is not None and self.document.revision != self._saved_revision

    def undo(self) -> bool:
        return self.document is not None and self.document.undo()

    def redo(self) -> bool:
        return self.document is not None and self.document.redo()

    def can_undo(self) -> bool:
        return self.document is not None and self.document.can_undo

    def can_redo(self) -> bool:
        return self.document is not None and self.document.can_redo


class MediumEditor(QWidget):
    """Base class of the Image, MIDI and Motion editors (and the test token editor).

    Subclasses set the class attributes and implement every abstract method;
    instantiating one that misses any raises ``TypeError``. (``ABCMeta`` cannot
    be mixed into Shiboken's metaclass: it neither checks instantiation nor
    survives ``issubclass``. So ``__init__`` does the check itself.) Emit
    :attr:`stateChanged` whenever :meth:`has_document`, :meth:`has_mask`,
    :meth:`can_undo`, :meth:`can_redo`, :meth:`is_modified` or
    :meth:`document_name` may have changed.
    """

    stateChanged = Signal()  # noqa: N815 - Qt signal naming

    medium: ClassVar[str] = ""
    """A key of :mod:`engine.media.registry` (``"image"``): selects the models offered."""
    file_extensions: ClassVar[tuple[str, ...]] = ()
    """Lower-case extensions, with the dot, that :meth:`open_path` reads: ``(".png", ".jpg")``."""
    export_extensions: ClassVar[tuple[str, ...]] = ()
    """Extensions :meth:`export_path` writes; the first is the default."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        missing = sorted(
            name
            for name in dir(type(self))
            if getattr(getattr(type(self), name, None), "__isabstractmethod__", False)
        )
        if missing:
            raise TypeError(f"{type(self).__name__} does not implement {', '.join(missing)}")
        if not self.medium:
            raise TypeError(f"{type(self).__name__} must set the class attribute 'medium'")

    # -- documents ---------------------------------------------------------------

    @abstractmethod
    def has_document(self) -> bool:
        """True once a file or sample is open (the page leaves its welcome screen)."""

    @abstractmethod
    def open_path(self, path: Path) -> None:
        """Load a file into a new document.

        Raise any exception with a one-line message on failure (shown in a
        dialog); the current document must then be left untouched, so parse
        fully before replacing anything. History is cleared on success.
        """

    def open_decoded(self, path: Path, decoded: object) -> None:
        """Take what the medium's ``open_document`` read from ``path`` (in a worker thread).

        Override it, and the window decodes files off the GUI thread
        (:mod:`app.loading`); this default reads ``path`` again with :meth:`open_path`.
        As there, leave the current document untouched when raising.
        """
        self.open_path(path)

    def prepare_decoded(self, path: Path, decoded: object) -> object:
        """Build, in the loading thread, what :meth:`open_decoded` will swap in.

        Anything slow that follows from the file alone (display buffers, derived
        structures) belongs here, so the GUI thread's half stays short. It runs in
        a worker: read no widget, change nothing of the editor; raise to refuse the
        file (the open document stays). The default passes the reader's result on.
        """
        del path
        return decoded

    def prepare_document(self, document: object) -> object | None:
        """Build, in the loading thread, what showing an already decoded ``document``
        (a project's) needs; it becomes ``set_document``'s second argument. Same rules
        as :meth:`prepare_decoded`; None (the default) means nothing to prepare.
        """
        del document
        return None

    @classmethod
    def decodes_off_thread(cls) -> bool:
        """Whether :meth:`open_decoded` is overridden, so decoding may leave the GUI thread."""
        return cls.open_decoded is not MediumEditor.open_decoded

    @abstractmethod
    def export_path(self, path: Path) -> None:
        """Write the document (PNG, MIDI, BVH, chosen by ``path``'s extension); raise on failure."""

    def document_name(self) -> str:
        """Shown in the window title; the opened file's name by default conventions."""
        return ""

    @abstractmethod
    def is_modified(self) -> bool:
        """True when the document differs from when it was opened or last saved.

        Saving is an export to the medium's own format (see each editor); a
        render to another format (a MIDI score to .wav) is not. Derive it from
        the undo history: remember the history's revision at open and save, so
        undoing back to it makes the document clean again. False with no document.
        """

    # -- generation ----------------------------------------------------------------

    @abstractmethod
    def has_mask(self) -> bool:
        """True when something is marked for regeneration (enables Generate)."""

    @abstractmethod
    def make_generate_payload(self, manifest: ModelManifest) -> tuple[Any, Codec]:
        """An immutable snapshot of document + mask and the codec that turns it into tokens.

        Called on the GUI thread; the payload crosses to the engine thread, so
        copy arrays (never hand out live ones). ``manifest`` gives the model's
        token shape and medium facts. Raise ``ValueError("paint a mask first")``
        (or another one-line ValueError) when a generation makes no sense.

        The codec is a :class:`~engine.jobs.MediumCodec` (one model window) or
        an :class:`~engine.jobs.WindowedCodec` (an edit of several windows,
        run in order by the worker as *one* request, each window seeing what
        the earlier ones generated); either way exactly one result arrives.
        """

    @abstractmethod
    def show_step(self, progress: Progress) -> None:
        """Show a live preview of one sampler step as an overlay; never write the document.

        ``progress.step`` is the sampler's :class:`~engine.sampling.types.Step`
        of window ``progress.window`` (0-based) of ``progress.windows``: its
        ``tokens`` [B, N] are that window's tokens (mask id where undecided).
        ``progress.problem`` is the window's encoded problem (the known tokens
        of still-masked positions) and ``progress.states`` the per-variation
        states the window started from, in the codec's own terms (what earlier
        windows generated). A one-window codec gives window 0 of 1.
        """

    @abstractmethod
    def clear_preview(self) -> None:
        """Remove the live preview (the job was cancelled or failed)."""

    @abstractmethod
    def show_results(self, result: GenerateResult) -> None:
        """Offer ``result.variations`` (from this editor's codec) to choose from.

        Accepting one variation must be one undo step; discarding all leaves
        the document as it was. Until then the document is untouched.
        """

    # -- history -----------------------------------------------------------------------

    @abstractmethod
    def undo(self) -> bool:
        """Undo the newest step of this editor's history; False when there was none."""

    @abstractmethod
    def redo(self) -> bool:
        """Redo the newest undone step; False when there was none."""

    def can_undo(self) -> bool:
        return True

    def can_redo(self) -> bool:
        return True

    # -- helpers for the window --------------------------------------------------------

    @classmethod
    def file_filter(cls) -> str:
        """A Qt file-dialog filter for :attr:`file_extensions`."""
        return file_filter(medium_title(cls.medium), cls.file_extensions)

    @classmethod
    def export_filter(cls) -> str:
        return file_filter(medium_title(cls.medium), cls.export_extensions)


def file_filter(title: str, extensions: tuple[str, ...]) -> str:
    """``"Image (*.png *.jpg)"``; Qt matches patterns case-insensitively on most platforms."""
    return f"{title} ({' '.join('*' + ext for ext in extensions)})"


def load_editor_class(medium: str) -> type[MediumEditor] | None:
    """The editor class the medium's app spec names, or None when it cannot be used.

    A medium with no app side has no editor. One whose editor fails to import is
    a bug: it is logged with its traceback and the medium falls back to its
    welcome page, so one broken editor does not take the whole window down.
    """
    spec = app_medium(medium)
    if spec is None:
        return None
    try:
        editor_class = resolve(spec.editor)
    except Exception:  # noqa: BLE001 - a broken editor must not take down the window
        _log.exception("the %s editor (%s) failed to load", medium, spec.editor)
        return None
    if not (isinstance(editor_class, type) and issubclass(editor_class, MediumEditor)):
        _log.error("%s is not a MediumEditor subclass", spec.editor)
        return None
    return editor_class


def medium_for_path(path: Path, extensions: dict[str, tuple[str, ...]]) -> str | None:
    """Which medium opens ``path``, by its lower-cased extension."""
    suffix = path.suffix.lower()
    for medium, suffixes in extensions.items():
        if suffix in suffixes:
            return medium
    return None
