"""The one protocol every medium's document implements: revision, undo/redo and one event type.

Editors and views of every medium talk to their document the same way
(after napari's evented layers): they read its state, call its edit methods,
and :meth:`~Document.subscribe` one callback that receives a
:class:`DocumentChanged` after each change. Saved/modified tracking needs
nothing but :attr:`~Document.revision` (see :mod:`engine.undo`), so no editor
reaches into a document's history.

:class:`HistoryDocument` implements the protocol over one
:class:`~engine.undo.UndoStack`; a document only says which event each
undone or redone target means, in :meth:`HistoryDocument._touched`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from engine.undo import Bbox, Touched, UndoStack

HISTORY = "history"
"""The event kind sent when only Undo/Redo availability or the revision changed."""


@dataclass(frozen=True)
class DocumentChanged:
    """What changed in a document, sent to every subscriber after the change.

    ``kind`` names what changed in the medium's own words (``"mask"``,
    ``"pixels"``, ``"notes"``, ``"motion"``, ``"reset"``, ``"selection"``) or is
    :data:`HISTORY`; ``region`` is the box of the document's array that changed
    (rows and columns, voices and steps, frames and parts), None for "all of it"
    or "not a place"; ``revision`` is the document's revision after the change.
    """

    kind: str
    region: Bbox | None
    revision: int


Subscriber = Callable[[DocumentChanged], None]


class Document(Protocol):
    """What an editor needs of any medium's document."""

    @property
    def revision(self) -> int:
        """Names the current state; equal to a remembered value exactly when unchanged since."""
        ...

    @property
    def can_undo(self) -> bool: ...

    @property
    def can_redo(self) -> bool: ...

    def undo(self) -> bool:
        """Revert the newest step; False when there is none."""
        ...

    def redo(self) -> bool:
        """Re-apply the newest undone step; False when there is none."""
        ...

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` after every change; returns the call that unsubscribes it."""
        ...


class HistoryDocument:
    """:class:`Document` over one :class:`~engine.undo.UndoStack` in ``self.history``.

    Call :meth:`_start_history` in ``__init__``. Edits go through the stack; the
    stack reverts them on undo, and :meth:`_touched` tells subscribers what each
    reverted target means. A ``"history"`` event follows every stored step,
    undo and redo, after the content events, so a subscriber that reads the
    document then sees it whole.
    """

    history: UndoStack

    def _start_history(self, history: UndoStack) -> None:
        self.history = history
        self._subscribers: list[Subscriber] = []
        self._replaying = False
        history.changed.append(self._history_changed)

    # -- protocol --------------------------------------------------------------------

    @property
    def revision(self) -> int:
        """See :attr:`engine.undo.UndoStack.revision`."""
        return self.history.revision

    @property
    def can_undo(self) -> bool:
        return self.history.can_undo

    @property
    def can_redo(self) -> bool:
        return self.history.can_redo

    def undo(self) -> bool:
        """Revert the newest step; False when there is none."""
        return self._replay(self.history.undo)

    def redo(self) -> bool:
        """Re-apply the newest undone step; False when there is none."""
        return self._replay(self.history.redo)

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    # -- for documents ---------------------------------------------------------------

    def _notify(self, kind: str, region: Bbox | None = None) -> None:
        """Send one :class:`DocumentChanged` to every subscriber."""
        event = DocumentChanged(kind, region, self.revision)
        for subscriber in list(self._subscribers):
            subscriber(event)

    def _replayed(self, touched: Touched) -> None:
        """Tell subscribers what an undo or redo changed (one event per target by default)."""
        for target, box in touched.items():
            self._touched(target, box)

    def _touched(self, target: str, box: Bbox | None) -> None:
        """Tell subscribers that ``box`` of ``target`` changed (None: all of it)."""
        self._notify(target, box)

    def _replay(self, move: Callable[[], Touched | None]) -> bool:
        self._replaying = True
        try:
            touched = move()
        finally:
            self._replaying = False
        if touched is None:
            return False
        self._replayed(touched)
        self._notify(HISTORY)
        return True

    def _history_changed(self) -> None:
        if not self._replaying:  # undo and redo send it after their content events
            self._notify(HISTORY)
