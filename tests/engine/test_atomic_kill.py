"""Fault test: SIGKILL at random moments of real saves leaves the old or the new file, never part.

A real subprocess (``tests.engine.atomic_worker``) saves PNG, MIDI, BVH and WAV
through the engine's writers in a loop, alternating two known versions; this
test kills it with SIGKILL after a seeded random delay, then checks the target
is byte for byte one of the two versions, and that once the next save has run
no temporary of a killed process is left in the folder.
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.atomic import TEMP_MARK, is_temp_name, write_atomic

ROOT = Path(__file__).resolve().parents[2]
FORMATS = ("png", "mid", "bvh", "wav")
KILLS_PER_FORMAT = 20
MAX_DELAY_S = 0.03
DEADLINE_S = 240.0

pytestmark = pytest.mark.skipif(os.name != "posix", reason="needs fork and SIGKILL")


class Worker:
    """The worker subprocess, with line reads that time out instead of hanging the suite."""

    def __init__(self, folder: Path) -> None:
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.engine.atomic_worker", str(folder)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._pending = b""

    def readline(self, timeout: float = 60.0) -> str:
        assert self.process.stdout is not None
        end = time.monotonic() + timeout
        while b"\n" not in self._pending:
            left = end - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(left, 0))
            assert ready, "the worker stopped answering"
            chunk = os.read(self.process.stdout.fileno(), 4096)
            assert chunk, f"the worker exited ({self.process.poll()})"
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode()

    def start_saving(self, fmt: str, target: Path) -> int:
        """Fork a child saving ``target`` in a loop; its pid once its first save is complete."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{fmt} {target}\n".encode())
        self.process.stdin.flush()
        word, pid = self.readline().split()
        assert word == "ready"
        return int(pid)

    def close(self) -> None:
        self.process.kill()
        self.process.wait(10)


def _kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    for _ in range(1000):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.005)
    raise AssertionError(f"process {pid} did not go away")


def _temps(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if is_temp_name(name))


def _pid_of(temp: str) -> int:
    return int(temp.rsplit(TEMP_MARK, 1)[1].split("-")[0])


def test_sigkill_during_saves_leaves_the_old_or_the_new_file(tmp_path: Path) -> None:
    worker = Worker(tmp_path / "work")
    rng = random.Random(21)
    started = time.monotonic()
    interrupted = dict.fromkeys(FORMATS, 0)
    try:
        assert worker.readline() == "versions"
        for fmt in FORMATS:
            folder = tmp_path / fmt
            folder.mkdir()
            target = folder / f"saved.{fmt}"
            versions = {
                (tmp_path / "work" / "versions" / f"{label}.{fmt}").read_bytes() for label in "ab"
            }
            assert len(versions) == 2
            for _ in range(KILLS_PER_FORMAT):
                pid = worker.start_saving(fmt, target)
                stale = [name for name in _temps(folder) if _pid_of(name) != pid]
                assert stale == [], "a save left a killed process's temporary behind"
                time.sleep(rng.uniform(0, MAX_DELAY_S))
                _kill(pid)
                assert target.read_bytes() in versions, f"{fmt}: a kill left a partial file"
                interrupted[fmt] += bool(_temps(folder))
                assert time.monotonic() - started < DEADLINE_S
            write_atomic(target, min(versions))  # the next save sweeps the last kill's litter
            assert _temps(folder) == []
            assert target.read_bytes() == min(versions)
    finally:
        worker.close()
    print("kills that interrupted a write, per format:", interrupted)
