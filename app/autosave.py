"""Autosave and crash recovery: no more than a few seconds of work is lost to a crash or a kill.

While the app runs, every change restarts a short timer; when the user has
been idle for :data:`AUTOSAVE_DELAY_MS`, each modified document (or one that
offers variations no project file holds: they cost minutes of sampling) is
written as a project (:mod:`engine.project`) into the user data folder's ``autosave/``,
as ``<pid>-<medium>.remask``. The snapshot is taken on the GUI thread (arrays
copied, nothing encoded) and written by one worker thread, atomically, so a
kill mid-write leaves the previous autosave whole. A clean save, a discarded
document or a clean exit removes the file; a lock file ``<pid>.lock`` marks
the session as running.

On the next start, autosaves whose process no longer runs are what a crash
left behind: :meth:`Autosaver.offer_recovery` asks "Recover unsaved work?".
Yes opens each as a modified document (the file becomes this session's
autosave); No deletes them. The question is :attr:`Autosaver.ask_recover`, so
tests answer it without a modal box.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from app.engine_worker import one_line
from app.registry import medium_title
from engine.atomic import pid_alive, write_atomic
from engine.paths import APP_NAME
from engine.project import SUFFIX, ProjectSnapshot, read_project, snapshot_project

if TYPE_CHECKING:
    from app.main_window import MainWindow

_log = logging.getLogger(__name__)

AUTOSAVE_DELAY_MS = 3000
"""Idle time after the last change before modified documents are written."""
_AUTOSAVE_NAME = re.compile(r"^(\d+)-([a-z_][a-z0-9_]*)" + re.escape(SUFFIX) + "$")
_LOCK_NAME = re.compile(r"^(\d+)\.lock$")


def autosave_folder() -> Path:
    """``autosave/`` in the user data folder (``~/.local/share/remask/autosave`` on Linux)."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / "autosave"


@dataclass(frozen=True)
class Orphan:
    """An autosave left by a session that did not exit cleanly."""

    path: Path
    medium: str
    name: str
    """The document's name as its project says (the file name when unreadable)."""

    @property
    def label(self) -> str:
        return f"{self.name} ({medium_title(self.medium)})"


def ask_recover(parent: QWidget | None, labels: Sequence[str]) -> bool:
    """The modal question: Yes recovers every listed document, No deletes them."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Recover unsaved work?")
    box.setText(recover_text(labels))
    box.setInformativeText("Yes opens them as unsaved documents; No deletes them for good.")
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    box.setDefaultButton(QMessageBox.StandardButton.Yes)
    box.exec()
    return box.clickedButton() is box.button(QMessageBox.StandardButton.Yes)


def recover_text(labels: Sequence[str]) -> str:
    listed = "\n".join(f"  • {label}" for label in labels)
    return f"remask did not exit cleanly last time. Recover unsaved work?\n{listed}"


class Autosaver(QObject):
    """Writes the window's modified documents after idle time; offers recovery at start."""

    written = Signal(str)
    """A medium's autosave was written (emitted on the GUI thread; for tests and logs)."""
    _wrote = Signal(str)

    def __init__(self, window: MainWindow, folder: Path, delay_ms: int = AUTOSAVE_DELAY_MS) -> None:
        super().__init__(window)
        self.window = window
        self.folder = folder
        self.ask_recover: Callable[[Sequence[str]], bool] = lambda labels: ask_recover(
            window, labels
        )
        """Asked with the recoverable documents; the default is a modal box."""
        self.pid = os.getpid()
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(delay_ms)
        self.timer.timeout.connect(self.save_now)
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="remask-autosave")
        self._pending: list[Future[None]] = []
        self._closed = False
        self._wrote.connect(self.written)
        folder.mkdir(parents=True, exist_ok=True)
        self.lock = folder / f"{self.pid}.lock"
        write_atomic(self.lock, f"{self.pid}\n".encode())
        for page in window.pages.values():
            if page.editor is not None:
                page.editor.stateChanged.connect(self.schedule)

    def path_for(self, medium: str) -> Path:
        return self.folder / f"{self.pid}-{medium}{SUFFIX}"

    # -- saving --------------------------------------------------------------------------------

    def schedule(self) -> None:
        """A change: (re)start the idle timer."""
        self.timer.start()

    def save_now(self) -> None:
        """Queue a write of every document with unsaved work; any other loses its autosave."""
        files = self.window.project_files
        for page in self.window.pages.values():
            if not (page.is_modified() or files.offer_unsaved(page)):
                self.forget(page.medium)
                continue
            try:
                snapshot = snapshot_project(files.project_of(page))
            except Exception:  # noqa: BLE001 - a medium without projects is not autosaved
                _log.debug("no autosave of %s", page.medium, exc_info=True)
                continue
            self._submit(self._write, snapshot, page.medium)

    def _write(self, snapshot: ProjectSnapshot, medium: str) -> None:
        try:
            snapshot.write(self.path_for(medium))
        except Exception:  # noqa: BLE001 - a full disk must not take the session down
            _log.warning("autosave of %s failed", medium, exc_info=True)
            return
        self._wrote.emit(medium)

    def forget(self, medium: str) -> None:
        """Remove the medium's autosave (after the writes queued before, in order)."""
        self._submit(_unlink, self.path_for(medium))

    def _submit(self, job: Callable[..., None], *args: object) -> None:
        if self._closed:
            return
        self._pending = [f for f in self._pending if not f.done()]
        self._pending.append(self._worker.submit(job, *args))

    def wait(self) -> None:
        """Block until queued writes are done (tests, and a clean exit)."""
        for future in list(self._pending):
            future.result()

    def finish(self) -> None:
        """Clean exit: every document was saved or discarded, so the autosaves and lock go."""
        self.timer.stop()
        for page in self.window.pages.values():
            self.forget(page.medium)
        self._submit(_unlink, self.lock)
        self._closed = True
        self._worker.shutdown(wait=True)

    # -- recovery ------------------------------------------------------------------------------

    def orphans(self) -> list[Orphan]:
        """Autosaves of sessions that no longer run, newest first; stale locks are removed."""
        found: list[tuple[float, Orphan]] = []
        for entry in sorted(self.folder.iterdir()):
            lock = _LOCK_NAME.match(entry.name)
            if lock and not _alive(int(lock.group(1))):
                _unlink(entry)
            match = _AUTOSAVE_NAME.match(entry.name)
            if match is None or _alive(int(match.group(1))):
                continue
            orphan = Orphan(entry, match.group(2), _project_name(entry))
            found.append((entry.stat().st_mtime, orphan))
        return [orphan for _, orphan in sorted(found, key=lambda item: -item[0])]

    def offer_recovery(self) -> int:
        """Ask about orphaned autosaves; returns how many documents were recovered.

        One document per medium can be open, so the newest autosave of each
        medium is recovered and older ones stay for the next start.
        """
        orphans = self.orphans()
        if not orphans:
            return 0
        if not self.ask_recover([orphan.label for orphan in orphans]):
            for orphan in orphans:
                _unlink(orphan.path)
            return 0
        newest = {orphan.medium: orphan for orphan in reversed(orphans)}
        return sum(self._recover(orphan) for orphan in newest.values())

    def _recover(self, orphan: Orphan) -> bool:
        window = self.window
        try:
            project = read_project(orphan.path)
            window.project_files.install(project, None, modified=True)
        except Exception as exc:  # noqa: BLE001 - a broken autosave is reported, then dropped
            window.show_error(f"Cannot recover {orphan.label}", one_line(exc))
            _unlink(orphan.path)
            return False
        os.replace(orphan.path, self.path_for(project.medium))  # now this session's autosave
        return True


def install_autosave(window: MainWindow, folder: Path | None = None) -> Autosaver:
    """Give ``window`` an autosaver over ``folder`` (default: :func:`autosave_folder`)."""
    autosaver = Autosaver(window, folder if folder is not None else autosave_folder())
    window.project_files.autosave = autosaver
    return autosaver


def _project_name(path: Path) -> str:
    """The document name a project's manifest gives, without reading the rest of it."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = json.loads(archive.read("manifest.json")).get("name")
    except Exception:  # noqa: BLE001 - an unreadable autosave is still listed, by file name
        return path.name
    return name if isinstance(name, str) and name else path.name


def _alive(pid: int) -> bool:
    """Whether the autosaving process ``pid`` still runs; where that cannot be told its
    autosaves count as orphans, so a crash is still offered for recovery."""
    return pid_alive(pid, unknown=False)


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
