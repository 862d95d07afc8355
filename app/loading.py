"""Opening files off the GUI thread: decode in a worker, with progress and Cancel, then install.

Opening is two halves. The *decode* (a 9000² PNG, a long BVH, a project with
its history) runs in a worker thread: the medium's reader, then whatever the
editor can build from its result without touching a widget (the canvas's RGBA
buffers, a piano roll's document and step times). The *install* (the editor
swaps the prepared objects in) runs on the GUI thread once the decode
succeeded, and is kept short: the window must not stall while a file opens.
Until then nothing of the open document is touched, so a refused or cancelled
file leaves it exactly as it was. Cancel cannot stop a decoder mid-file, so it
drops the result when it arrives.

If the install itself fails (a view that cannot show the document), the
editor's document, path and saved state are put back (:func:`kept_on_failure`).

Tests and scripts may run :class:`Loader` synchronously (``threaded=False``):
the same two halves, one after the other, on the calling thread.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from app.editor_base import MediumEditor
from engine.media.registry import medium as medium_spec

_log = logging.getLogger(__name__)

Decode = Callable[[], Any]
Install = Callable[[Any], None]
Failed = Callable[[BaseException], object]
_KEPT = ("document", "path", "_saved_revision")
"""Editor attributes an open replaces; put back when an install fails."""
LOADING_SWITCH_S = 0.001
"""The interpreter's GIL hand-over interval while a decoder runs (Python's default is 5 ms).

A pure-Python reader (mido on a long piece) holds the GIL for a whole slice
each time the GUI thread asks for it; on a busy machine the window's ticks
then wait about twice as long. Restored when the last load ends."""


@dataclass
class LoadJob:
    """One open under way: what it opens, and what to do with the result."""

    title: str
    decode: Decode
    install: Install
    failed: Failed
    cancelled: bool = False


class Loader(QObject):
    """Runs one load at a time; :attr:`busy` while a decode runs.

    ``threaded=False`` decodes on the calling thread (tests, the CLI); the
    window's real loader is threaded.
    """

    _decoded = Signal(object, object, object)  # job, result, error: queued to the GUI thread
    finished = Signal()
    """Emitted after a load ended (installed, refused or cancelled)."""

    def __init__(self, parent: QWidget, *, threaded: bool = False) -> None:
        super().__init__(parent)
        self.threaded = threaded
        self.job: LoadJob | None = None
        self.progress: QProgressDialog | None = None
        self._queue: list[LoadJob] = []
        self._switch_s: float | None = None
        """The switch interval to restore once no load runs (see :data:`LOADING_SWITCH_S`)."""
        self._parent = parent
        self._decoded.connect(self._on_decoded, Qt.ConnectionType.QueuedConnection)

    @property
    def busy(self) -> bool:
        return self.job is not None

    def load(self, title: str, decode: Decode, install: Install, failed: Failed) -> bool:
        """Open something: True when it opened (threaded: when the load started or queued).

        Loads run one at a time, in order (files named on the command line).
        """
        job = LoadJob(title, decode, install, failed)
        if not self.threaded:
            return self._finish(job, *_run(decode))
        self._queue.append(job)
        if self.job is None:
            self._start_next()
        return True

    def _start_next(self) -> None:
        if not self._queue:
            self._restore_switch()
            return
        job = self._queue.pop(0)
        self.job = job
        if self._switch_s is None:
            self._switch_s = sys.getswitchinterval()
            sys.setswitchinterval(LOADING_SWITCH_S)
        self._show_progress(job)
        threading.Thread(target=self._work, args=(job,), name="remask-load", daemon=True).start()

    def _restore_switch(self) -> None:
        if self._switch_s is not None:
            sys.setswitchinterval(self._switch_s)
            self._switch_s = None

    def cancel(self) -> None:
        """Drop the running load's result when it comes; the document stays as it is."""
        if self.job is not None:
            self.job.cancelled = True
            self._end()
            self.finished.emit()
            self._start_next()

    def _work(self, job: LoadJob) -> None:
        result, error = _run(job.decode)
        self._decoded.emit(job, result, error)

    def _on_decoded(self, job: LoadJob, result: Any, error: BaseException | None) -> None:
        if job.cancelled:
            _log.info("load of %s cancelled; its result is dropped", job.title)
            return
        self._end()
        self._finish(job, result, error)
        self._start_next()

    def _finish(self, job: LoadJob, result: Any, error: BaseException | None) -> bool:
        """Install or report; True when installed."""
        try:
            if error is not None:
                _log.debug("opening %s failed", job.title, exc_info=error)
                job.failed(error)
                return False
            try:
                job.install(result)
            except Exception as exc:  # noqa: BLE001 - reported like a decoder's error
                _log.debug("installing %s failed", job.title, exc_info=True)
                job.failed(exc)
                return False
            return True
        finally:
            self.finished.emit()

    def _show_progress(self, job: LoadJob) -> None:
        dialog = QProgressDialog(f"Opening {job.title}…", "Cancel", 0, 0, self._parent)
        dialog.setWindowTitle("Opening")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)  # no edits while it loads
        dialog.setMinimumDuration(300)  # a quick open shows no dialog at all
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(self.cancel)
        self.progress = dialog

    def _end(self) -> None:
        self.job = None
        if self.progress is not None:
            self.progress.canceled.disconnect(self.cancel)
            self.progress.close()
            self.progress.deleteLater()
            self.progress = None


def _run(decode: Decode) -> tuple[Any, BaseException | None]:
    """Run a decoder; any error (MemoryError and RecursionError included) is returned."""
    try:
        return decode(), None
    except Exception as exc:  # noqa: BLE001 - the GUI thread reports it as one line
        return None, exc


def decode_file(editor: MediumEditor, medium: str, path: Path) -> object:
    """The worker half of opening a medium file: the medium's reader, then what the editor
    prepares from its result (:meth:`MediumEditor.prepare_decoded`), when the editor can take
    it (:meth:`MediumEditor.open_decoded`); else nothing (it reads on install)."""
    if not editor.decodes_off_thread():
        return None
    return editor.prepare_decoded(path, medium_spec(medium).open_document(path))


def install_file(editor: MediumEditor, path: Path, decoded: object) -> None:
    """The GUI half: the editor takes the decoded file, or everything is put back."""
    with kept_on_failure(editor):
        if editor.decodes_off_thread():
            editor.open_decoded(path, decoded)
        else:
            editor.open_path(path)


@contextmanager
def kept_on_failure(editor: Any) -> Iterator[None]:
    """Put the editor's document, path and saved state back if the block raises."""
    kept = {name: getattr(editor, name) for name in _KEPT if hasattr(editor, name)}
    try:
        yield
    except BaseException:
        if getattr(editor, "document", None) is not kept.get("document"):
            _restore(editor, kept)
        raise


def _restore(editor: Any, kept: dict[str, Any]) -> None:
    document = kept.get("document")
    if document is not None and hasattr(editor, "set_document"):
        try:
            editor.set_document(document)
        except Exception:  # noqa: BLE001 - the old document showed before; log, keep going
            _log.exception("could not show the previous document again")
    for name, value in kept.items():
        setattr(editor, name, value)
    editor.stateChanged.emit()
