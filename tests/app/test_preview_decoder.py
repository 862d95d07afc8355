"""Live previews decode in a thread, newest step first; the GUI thread only draws them."""

from __future__ import annotations

import threading
import time
from typing import Any

from PySide6.QtCore import QObject

from app.preview_decoder import LatestDecoder, thread_previews


def test_only_the_newest_job_per_key_runs_and_reset_drops_the_rest(qtbot: Any) -> None:
    delivered: list[tuple[int, Any]] = []
    ran: list[str] = []
    release = threading.Event()
    owner = QObject()
    decoder = LatestDecoder(lambda key, result: delivered.append((key, result)), owner)
    thread_previews([type("Editor", (), {"decoder": decoder})()])
    assert decoder.threaded

    def job(name: str, wait: bool = False) -> Any:
        def work() -> str:
            if wait:
                release.wait(5)
            ran.append(threading.current_thread().name)
            return name

        return work

    decoder.submit(0, job("first", wait=True))  # blocks the worker a while
    time.sleep(0.05)
    decoder.submit(0, job("stale"))  # replaced before it starts
    decoder.submit(0, job("newest"))
    decoder.submit(1, job("other window"))
    release.set()
    qtbot.waitUntil(lambda: not decoder.busy and len(delivered) == 3, timeout=5000)
    assert sorted(delivered) == [(0, "first"), (0, "newest"), (1, "other window")]
    assert set(ran) == {"remask-preview"}
    decoder.submit(0, job("dropped", wait=True))
    release.clear()
    decoder.reset()
    release.set()
    qtbot.wait(100)
    assert len(delivered) == 3


def test_synchronous_mode_delivers_at_once_and_swallows_failures() -> None:
    delivered: list[tuple[int, Any]] = []
    decoder = LatestDecoder(lambda key, result: delivered.append((key, result)), QObject())
    decoder.submit(2, lambda: "now")
    decoder.submit(3, lambda: 1 / 0)  # logged, not raised: a preview never breaks a job
    assert delivered == [(2, "now")]
