"""Play synth audio through QtMultimedia as it is rendered, or say at once why it cannot be played.

Why lazy: ``PySide6.QtMultimedia`` links against the platform's sound stack
(PulseAudio/PipeWire on Linux); on a headless machine or a system without it
the import itself fails. The app must still start, edit and export, so the
module is imported on first play, and every failure (no module, no device,
unsupported format) becomes one status message instead of an exception.

Why streaming: rendering a ten-minute piece takes seconds. The sink is opened
first (so a missing device is reported before any rendering), then a
:class:`ChunkRenderer` thread renders chunk after chunk (float32 mono in
[-1, 1], :func:`engine.media.midi.synth.stream_notes`) into 16-bit PCM while
the GUI thread's timer pushes what is ready into the sink's free space. Sound
starts after the first chunk; the window never waits for the rest. Looping
replays the rendered bytes from the start without stopping the sink.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import numpy as np
from PySide6.QtCore import QEventLoop, QObject, QTimer, Signal

from engine.media.midi.synth import AudioArray

_log = logging.getLogger(__name__)
TICK_MS = 30
"""How often the sink is topped up and the playhead moved (about the screen's frame rate)."""
SINK_SECONDS = 0.5
"""The sink's buffer: long enough to ride over a busy GUI tick, short enough to stop at once."""

T = TypeVar("T")
SinkFactory = Callable[[int, QObject], Any]
"""Opens an output for mono 16-bit audio at a rate; None after reporting why it cannot."""


def pcm16(audio: AudioArray) -> bytes:
    """float audio [n] in [-1, 1] -> little-endian 16-bit PCM bytes."""
    samples = np.clip(np.asarray(audio, dtype=np.float64), -1.0, 1.0)
    return (samples * 32767).round().astype("<i2").tobytes()


def _multimedia() -> Any:
    """The QtMultimedia module (raises ImportError/OSError where the sound stack is missing)."""
    from PySide6 import QtMultimedia

    return QtMultimedia


class ChunkRenderer:
    """Renders audio chunks into PCM bytes in a daemon thread; any thread may read what is done.

    The chunks' iterator runs only in that thread, so whatever work it does
    (the synth) never touches the GUI thread. :meth:`stop` ends it after the
    chunk in progress.
    """

    def __init__(self, chunks: Iterator[AudioArray]) -> None:
        self._lock = threading.Lock()
        self._data = bytearray()
        self._stop = threading.Event()
        self._done = threading.Event()
        self.error = ""
        """One line when rendering failed (the bytes so far stay readable)."""
        self._thread = threading.Thread(
            target=self._run, args=(chunks,), name="remask-audio", daemon=True
        )
        self._thread.start()

    def _run(self, chunks: Iterator[AudioArray]) -> None:
        try:
            for chunk in chunks:
                if self._stop.is_set():
                    return
                data = pcm16(chunk)
                with self._lock:
                    self._data += data
        except Exception as exc:  # noqa: BLE001 - a failed render becomes a status line
            _log.warning("audio render failed", exc_info=True)
            self.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        finally:
            self._done.set()

    @property
    def done(self) -> bool:
        """Every chunk is rendered (or rendering stopped or failed)."""
        return self._done.is_set()

    @property
    def size(self) -> int:
        with self._lock:
            return len(self._data)

    def read(self, offset: int, most: int) -> bytes:
        """Up to ``most`` rendered bytes from ``offset`` (fewer, or none, while rendering)."""
        with self._lock:
            return bytes(self._data[offset : offset + most])

    def stop(self) -> None:
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until rendering ends; True when it did (tests, benchmarks)."""
        return self._done.wait(timeout)


def wait_in_thread(work: Callable[[], T]) -> T:
    """``work()`` run in a thread while this one keeps its event loop: the window repaints,
    playback and timers go on; input waits until the work is done, so nothing the user
    does can change what is being written. Its exception, if any, is raised here.
    """
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller below
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="remask-work", daemon=True).start()
    loop = QEventLoop()
    poll = QTimer()
    poll.timeout.connect(lambda: loop.quit() if done.is_set() else None)
    poll.start(10)
    while not done.is_set():
        loop.exec(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
    poll.stop()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


def default_sink(rate: int, parent: QObject) -> Any:
    """A sink on the default output for mono 16-bit ``rate`` Hz (raises where impossible)."""
    qm = _multimedia()
    device = qm.QMediaDevices.defaultAudioOutput()
    if device.isNull():
        raise RuntimeError("No audio output device: playback is off (export a WAV to listen)")
    fmt = qm.QAudioFormat()
    fmt.setSampleRate(rate)
    fmt.setChannelCount(1)
    fmt.setSampleFormat(qm.QAudioFormat.SampleFormat.Int16)
    if not device.isFormatSupported(fmt):
        raise RuntimeError(f"The audio device cannot play {rate} Hz mono 16-bit audio")
    sink = qm.QAudioSink(device, fmt, parent)
    sink.setBufferSize(round(rate * 2 * SINK_SECONDS))
    return sink


def _idle(state: Any) -> bool:
    """True for ``QAudio.State.IdleState`` (the sink ran out of data), by name: no import."""
    return getattr(state, "name", str(state)).endswith("IdleState")


class AudioPlayer(QObject):
    """Plays one clip at a time, streaming it from a :class:`ChunkRenderer`.

    Signals: :attr:`positionChanged` (seconds from the clip's start plus the
    ``offset`` given to :meth:`play_stream`), :attr:`playingChanged`, and
    :attr:`message` (one line for the status bar when playback is impossible).
    ``make_sink`` opens the output (tests give a fake one).
    """

    positionChanged = Signal(float)  # noqa: N815 - Qt signal naming
    playingChanged = Signal(bool)  # noqa: N815 - Qt signal naming
    message = Signal(str)

    def __init__(self, parent: QObject | None = None, make_sink: SinkFactory | None = None) -> None:
        super().__init__(parent)
        self.make_sink: SinkFactory = make_sink or default_sink
        self._sink: Any = None
        self._device: Any = None
        self.renderer: ChunkRenderer | None = None
        self._written = 0  # bytes of this pass through the clip handed to the sink
        self._offset = 0.0
        self._duration = 0.0
        self.loop = False
        self.last_message = ""
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)

    @property
    def playing(self) -> bool:
        return self._sink is not None

    def play(self, audio: AudioArray, rate: int, offset: float = 0.0, loop: bool = False) -> bool:
        """Play audio already rendered (see :meth:`play_stream`)."""
        return self.play_stream([audio], len(audio), rate, offset, loop)

    def play_stream(
        self,
        chunks: Iterable[AudioArray],
        samples: int,
        rate: int,
        offset: float = 0.0,
        loop: bool = False,
    ) -> bool:
        """Start playing ``chunks`` (``samples`` long in all), rendered in a thread as they play.

        The output is opened first: False, with a message, before anything is
        rendered when it cannot be. Stops what was playing.
        """
        self.stop()
        self.loop = loop
        try:
            sink = self.make_sink(rate, self)
        except (ImportError, OSError, RuntimeError) as exc:
            prefix = "" if isinstance(exc, RuntimeError) else "Playback unavailable: "
            return self._fail(f"{prefix}{exc}")
        if sink is None:
            return False
        self._offset, self._duration = offset, samples / rate
        self.renderer = ChunkRenderer(iter(chunks))
        self._sink, self._written = sink, 0
        sink.stateChanged.connect(self._on_state)
        self._device = sink.start()  # push mode: _feed writes what is rendered
        self._timer.start()
        self.playingChanged.emit(True)
        return True

    def _feed(self) -> None:
        """Top the sink up with rendered bytes; wrap to the start when looping."""
        renderer = self.renderer
        assert renderer is not None
        free = int(self._sink.bytesFree())
        while free > 0:
            data = renderer.read(self._written, free)
            if not data:
                if not (self.loop and renderer.done and self._written > 0):
                    return
                self._written = 0  # the whole clip went in: again from the top
                continue
            written = int(self._device.write(data))
            if written <= 0:
                return
            self._written += written
            free -= written

    def _finished(self) -> bool:
        """Everything is rendered and handed to the sink (and no loop asks for more)."""
        renderer = self.renderer
        return (
            renderer is not None
            and renderer.done
            and not self.loop
            and self._written >= renderer.size
        )

    def _on_state(self, state: Any) -> None:
        if _idle(state) and self._finished():  # idle before the end is an underrun: wait
            self.stop()

    def _tick(self) -> None:
        if self._sink is None or self.renderer is None:
            return
        if self.renderer.error:
            error = self.renderer.error
            self.stop()
            self._fail(f"Playback stopped: {error}")
            return
        self._feed()
        played = self._sink.processedUSecs() / 1e6
        if self._duration > 0:
            played = played % self._duration if self.loop else min(played, self._duration)
        self.positionChanged.emit(self._offset + played)

    def stop(self) -> None:
        """Stop playing and rendering (no-op when idle)."""
        self._timer.stop()
        if self.renderer is not None:
            self.renderer.stop()
        sink, self._sink, self._device = self._sink, None, None
        if sink is None:
            return
        sink.stateChanged.disconnect(self._on_state)
        sink.stop()
        sink.deleteLater()
        self.playingChanged.emit(False)

    def _fail(self, message: str) -> bool:
        _log.info("%s", message)
        self.last_message = message
        self.message.emit(message)
        return False
