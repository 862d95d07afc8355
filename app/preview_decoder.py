"""Live previews decoded off the GUI thread, newest step first, older ones dropped.

Decoding one step's tokens into pixels (the VQ decoder, :func:`preview_patch`)
takes around a hundred milliseconds on a small CPU: on the GUI thread, every
sampler step froze the window that long. :class:`LatestDecoder` runs those
jobs in one thread and keeps only the newest job per model window, so a slow
decode skips steps instead of queueing them; a GUI timer hands finished
results to the editor. :meth:`LatestDecoder.reset` drops everything submitted
before it (a new generation, a cancel, an accepted result).

``threaded=False`` runs each job at once on the calling thread (tests and
scripts; the app's window turns threading on, as it does for file loading).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QObject, QTimer

_log = logging.getLogger(__name__)

Deliver = Callable[[int, Any], None]
"""Called on the GUI thread with a job's key (the model window) and its result."""
POLL_MS = 15


class LatestDecoder:
    """One worker thread; per key, only the newest job waits (see the module docstring)."""

    def __init__(self, deliver: Deliver, parent: QObject, *, threaded: bool = False) -> None:
        self._deliver = deliver
        self.threaded = threaded
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: dict[int, tuple[int, Callable[[], Any]]] = {}
        self._done: list[tuple[int, int, Any]] = []
        self._epoch = 0
        self._running = False
        self._thread: threading.Thread | None = None
        self._timer = QTimer(parent)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._hand_over)

    def submit(self, key: int, work: Callable[[], Any]) -> None:
        """Run ``work`` for ``key``, replacing any job for that key not started yet."""
        if not self.threaded:
            result = _run(work)
            if result is not None:
                self._deliver(key, result)
            return
        with self._wake:
            self._pending[key] = (self._epoch, work)
            self._wake.notify()
        self._ensure_thread()
        self._timer.start()

    def reset(self) -> None:
        """Forget every job and result submitted so far (the one running finishes unseen)."""
        with self._lock:
            self._epoch += 1
            self._pending.clear()
            self._done.clear()

    @property
    def busy(self) -> bool:
        with self._lock:
            return bool(self._pending or self._done or self._running)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="remask-preview", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._pending:
                    if not self._wake.wait(timeout=5.0) and not self._pending:
                        self._thread = None
                        return  # idle: the thread ends, the next submit starts another
                key = next(iter(self._pending))
                epoch, work = self._pending.pop(key)
                self._running = True
            result = _run(work)
            with self._lock:
                self._running = False
                if result is not None and epoch == self._epoch:
                    self._done.append((epoch, key, result))

    def _hand_over(self) -> None:
        with self._lock:
            done, self._done = self._done, []
            epoch, idle = self._epoch, not (self._pending or self._running)
        for finished_epoch, key, result in done:
            if finished_epoch == epoch:
                self._deliver(key, result)
        if idle and not done:
            self._timer.stop()


def _run(work: Callable[[], Any]) -> Any:
    try:
        return work()
    except Exception:  # noqa: BLE001 - a preview must never break the generation
        _log.warning("live preview failed", exc_info=True)
        return None


def thread_previews(editors: Iterable[object]) -> None:
    """Turn threaded decoding on for every editor that has a :class:`LatestDecoder`."""
    for editor in editors:
        decoder = getattr(editor, "decoder", None)
        if isinstance(decoder, LatestDecoder):
            decoder.threaded = True
