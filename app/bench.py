"""``make bench``, app side: how long the window's event loop stalls while it works.

A 10 ms :class:`QTimer` records how late each of its ticks fires; the worst
lateness is the longest the window could not repaint or answer a key. It is
measured while playing a ten-minute MIDI piece (the sink is simulated at real
time: bench machines have no sound card) and a minute of motion, while
generating with the bundled image model, and while opening a long MIDI file
and a large picture (three times each: the worst try counts, each try is
listed, with the GUI thread's CPU time in the worst gap, which is what a quiet
machine would show). The target is no stall over 50 ms. For comparison, the
time the old Play spent rendering in the GUI thread is printed too. Engine
code stays Qt-free; this module is the app's.

Run: ``QT_QPA_PLATFORM=offscreen python -m app.bench`` (``make bench``).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEventLoop, QObject, QSettings, QTimer, Signal
from PySide6.QtWidgets import QApplication

TICK_MS = 10
TARGET_MS = 50.0
PIECE_MINUTES = 10
LOAD_TRIES = 3
"""Each file is opened this often (the first open also pays for first paints and imports)."""


@dataclass
class StallMeter:
    """Worst and 99th-percentile lateness of a 10 ms timer, in milliseconds.

    Beside each lateness it keeps the GUI thread's CPU time over the same gap:
    on a busy shared machine the wall-clock stall is several times the work
    the thread did, and that work is what a quiet machine would show.
    """

    late_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    _last: float = 0.0
    _last_cpu: float = 0.0

    def tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        if self._last:
            self.late_ms.append(max(0.0, (now - self._last) * 1000 - TICK_MS))
            self.cpu_ms.append((cpu - self._last_cpu) * 1000)
        self._last, self._last_cpu = now, cpu

    @property
    def worst(self) -> float:
        return max(self.late_ms, default=0.0)

    @property
    def worst_cpu(self) -> float:
        """The GUI thread's CPU milliseconds during the worst gap."""
        return self.cpu_ms[int(np.argmax(self.late_ms))] if self.late_ms else 0.0

    @property
    def p99(self) -> float:
        return float(np.percentile(self.late_ms, 99)) if self.late_ms else 0.0


@contextmanager
def measuring() -> Iterator[StallMeter]:
    meter = StallMeter()
    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(meter.tick)
    timer.start()
    try:
        yield meter
    finally:
        timer.stop()


def spin_until(done: Callable[[], bool], timeout_s: float) -> bool:
    """Run the event loop until ``done()`` (checked every 5 ms) or the timeout."""
    loop = QEventLoop()
    poll = QTimer()
    deadline = time.perf_counter() + timeout_s
    poll.timeout.connect(lambda: loop.quit() if done() or time.perf_counter() > deadline else None)
    poll.start(5)
    loop.exec()
    poll.stop()
    return done()


class RealTimeSink(QObject):
    """A push-mode sink with no device that drains 16-bit mono at ``rate`` samples a second."""

    stateChanged = Signal(object)  # noqa: N815 - Qt signal naming

    def __init__(self, rate: int, buffer_s: float = 0.5) -> None:
        super().__init__()
        self.rate = rate
        self.capacity = round(rate * 2 * buffer_s)
        self.written = 0
        self.underruns = 0
        self._started = time.perf_counter()

    def start(self) -> RealTimeSink:
        self._started = time.perf_counter()
        return self

    def _played(self) -> int:
        due = int((time.perf_counter() - self._started) * self.rate) * 2
        if due > self.written + self.rate // 5:  # 100 ms past what it was given: a dropout
            self.underruns += 1
            self._started += (due - self.written) / 2 / self.rate  # sound resumes from here
        return min(due, self.written)

    def bytesFree(self) -> int:  # noqa: N802 - Qt naming
        return max(0, self.capacity - (self.written - self._played()))

    def write(self, data: bytes) -> int:
        self.written += len(data)
        return len(data)

    def processedUSecs(self) -> int:  # noqa: N802 - Qt naming
        return round(self._played() / 2 / self.rate * 1e6)

    def stop(self) -> None:
        pass


def long_piece(folder: Path, minutes: float = PIECE_MINUTES) -> Path:
    """The bundled chorale repeated to ``minutes`` minutes (four voices throughout)."""
    import mido

    from app.welcome import samples_dir

    source = mido.MidiFile(str(samples_dir() / "chorale.mid"))
    out = mido.MidiFile(ticks_per_beat=source.ticks_per_beat, type=source.type)
    span = max(sum(message.time for message in track) for track in source.tracks)
    repeats = max(1, round(minutes * 60 / source.length))
    for track in source.tracks:
        body = [message for message in track if message.type != "end_of_track"]
        notes = [message for message in body if not message.is_meta]
        new = mido.MidiTrack()
        previous = 0  # ticks the last copy took, so each copy starts one span later
        for repeat in range(repeats):
            part = body if repeat == 0 else notes
            for index, message in enumerate(part):
                shift = span - previous if repeat and index == 0 else 0
                new.append(message.copy(time=message.time + shift))
            previous = sum(message.time for message in part)
        new.append(mido.MetaMessage("end_of_track", time=0))
        out.tracks.append(new)
    path = folder / "long.mid"
    out.save(str(path))
    return path


def big_picture(folder: Path, side: int = 4096) -> Path:
    from engine.media.image.export import save_image
    from engine.media.image.files import LoadedImage

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (side // 64, side // 64, 3), dtype=np.uint8)
    rgb = np.kron(rgb, np.ones((64, 64, 1), dtype=np.uint8))  # blocky: compresses, decodes slowly
    path = folder / "big.png"
    save_image(LoadedImage.from_rgb(rgb), path)
    return path


def make_window(folder: Path) -> object:
    from app.main_window import MainWindow
    from app.preview_decoder import thread_previews
    from app.unsaved import Choice

    settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings)
    window.confirm_discard = lambda _names: Choice.DISCARD
    window.loader.threaded = True
    thread_previews(page.editor for page in window.pages.values())
    window.resize(1200, 800)
    window.show()
    spin_until(lambda: False, 0.3)
    return window


@dataclass(frozen=True)
class Opening:
    """One open of a file: how long it took and the stalls while it loaded and showed."""

    seconds: float
    worst: float
    p99: float
    worst_cpu: float


def bench_loading(window: object, path: Path, medium: str) -> Opening:
    """Open ``path`` through the window's threaded loader, until the first paint after it."""
    editor = window.pages[medium].editor  # type: ignore[attr-defined]
    before = getattr(editor, "document", None)
    started = time.perf_counter()
    with measuring() as meter:
        window.open_path(path)  # type: ignore[attr-defined]
        opened = spin_until(lambda: getattr(editor, "document", None) is not before, 120)
        spin_until(lambda: False, 0.2)  # the first paint of the new document
    assert opened, f"{path.name} did not open"
    seconds = time.perf_counter() - started - 0.2
    return Opening(seconds, meter.worst, meter.p99, meter.worst_cpu)


def loading_row(what: str, tries: list[Opening]) -> str:
    """The worst try, each try's worst stall, and the GUI thread's CPU in the worst gap."""
    worst = max(tries, key=lambda opening: opening.worst)
    each = "/".join(f"{opening.worst:.0f}" for opening in tries)
    note = f"({worst.seconds:.2f} s; tries {each} ms; GUI CPU {worst.worst_cpu:.0f} ms)"
    return _row(what, worst.worst, worst.p99, note)


def bench_playback(window: object, seconds: float = 6.0) -> tuple[float, float, int]:
    """(worst ms, p99 ms, dropouts) over ``seconds`` of Play from the start of the piece."""
    from app.midi.editor import PianoRollEditor

    editor = window.pages["midi"].editor  # type: ignore[attr-defined]
    assert isinstance(editor, PianoRollEditor)
    window.show_medium("midi")  # type: ignore[attr-defined]
    sink = RealTimeSink(44100)

    def open_sink(rate: int, _parent: object) -> RealTimeSink:
        sink.rate, sink.capacity = rate, round(rate * 2 * 0.5)
        return sink

    editor.player.make_sink = open_sink
    with measuring() as meter:
        assert editor.play(), editor.player.last_message
        spin_until(lambda: False, seconds)
    editor.player.stop()
    return meter.worst, meter.p99, sink.underruns


def bench_motion_playback(window: object, seconds: float = 4.0) -> tuple[float, float] | None:
    """(worst ms, p99 ms) playing a minute of motion on the motion model's rig (None: no model)."""
    from app.motion.clips import rest_pose
    from engine.media.motion.document import MotionDocument

    editor = window.pages["motion"].editor  # type: ignore[attr-defined]
    models = window.registry.for_medium("motion")  # type: ignore[attr-defined]
    if editor is None or not models:
        return None
    rig = editor.codec_factory(models[0]).skeleton_template()
    clip = rest_pose(rig, round(60 * rig.fps))
    swing = 20 * np.sin(np.arange(clip.n_frames) / rig.fps * 2 * np.pi)[:, None]
    clip = clip.with_motion(clip.motion + swing * (np.arange(clip.n_channels) % 3 == 0))
    editor.set_document(MotionDocument(clip, "bench.bvh"))
    window.show_medium("motion")  # type: ignore[attr-defined]
    spin_until(lambda: False, 0.3)
    with measuring() as meter:
        editor.play()
        spin_until(lambda: False, seconds)
    editor.pause()
    return meter.worst, meter.p99


def old_play_render_s(window: object) -> float:
    """What Play used to block the GUI for: the whole piece rendered before the first sound."""
    from app.midi.controller import render_range

    editor = window.pages["midi"].editor  # type: ignore[attr-defined]
    started = time.perf_counter()
    render_range(editor.document.score, editor.document.grid)
    return time.perf_counter() - started


def bench_generation(window: object, path: Path) -> tuple[float, float, float] | None:
    """(seconds, worst ms, p99 ms) generating 2 variations of a hole with the image model."""
    from app.image.editor import ImageEditor

    editor = window.pages["image"].editor  # type: ignore[attr-defined]
    assert isinstance(editor, ImageEditor)
    before = editor.document
    window.open_path(path)  # type: ignore[attr-defined]
    spin_until(lambda: editor.document is not before, 60)
    window.sampler.set_medium("image")  # type: ignore[attr-defined]
    if window.sampler.current_model() is None:  # type: ignore[attr-defined]
        return None
    assert editor.document is not None
    height, width = editor.document.shape
    editor.document.fill_rectangle((width * 0.3, height * 0.3), (width * 0.6, height * 0.6))
    editor.heat_box.setChecked(True)
    window.sampler.variations.setValue(2)  # type: ignore[attr-defined]
    done: list[bool] = []
    window.bridge.finished.connect(lambda _result: done.append(True))  # type: ignore[attr-defined]
    started = time.perf_counter()
    with measuring() as meter:
        window.generate()  # type: ignore[attr-defined]
        spin_until(lambda: bool(done) and bool(editor.variations), 300)
    return time.perf_counter() - started, meter.worst, meter.p99


def _row(what: str, worst: float, p99: float, note: str = "") -> str:
    verdict = "ok" if worst <= TARGET_MS else "OVER"
    return f"  {what:<34} worst {worst:7.1f} ms  p99 {p99:6.1f} ms  {verdict:<4} {note}"


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    print(f"event-loop stalls (a {TICK_MS} ms timer's lateness; target <= {TARGET_MS:g} ms)")
    with tempfile.TemporaryDirectory(prefix="remask-bench-") as tmp:
        folder = Path(tmp)
        window = make_window(folder)
        piece = long_piece(folder)
        tries = [bench_loading(window, piece, "midi") for _ in range(LOAD_TRIES)]
        print(loading_row(f"open a {PIECE_MINUTES}-minute MIDI", tries))
        worst, p99, dropouts = bench_playback(window)
        print(_row("play it (first 6 s)", worst, p99, f"({dropouts} dropouts)"))
        print(f"  {'(old Play: GUI blocked rendering)':<34} {old_play_render_s(window):7.2f} s")
        motion = bench_motion_playback(window)
        if motion is None:
            print("  play motion: no motion model installed (make models), skipped")
        else:
            print(_row("play a minute of motion (4 s)", *motion))
        picture = big_picture(folder)
        tries = [bench_loading(window, picture, "image") for _ in range(LOAD_TRIES)]
        print(loading_row("open a 4096x4096 PNG", tries))
        from app.welcome import samples_dir

        generated = bench_generation(window, samples_dir() / "photo.png")
        if generated is None:
            print("  generate: no image model installed (make models), skipped")
        else:
            seconds, worst, p99 = generated
            print(_row("generate 2 image variations", worst, p99, f"({seconds:.2f} s)"))
        window.bridge.shutdown()  # type: ignore[attr-defined]
        window.close()  # type: ignore[attr-defined]
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
