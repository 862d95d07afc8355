"""Play rendered synth audio through QtMultimedia, or say why it cannot be played.

Why lazy: ``PySide6.QtMultimedia`` links against the platform's sound stack
(PulseAudio/PipeWire on Linux); on a headless machine or a system without it
the import itself fails. The app must still start, edit and export, so the
module is imported on first play, and every failure (no module, no device,
unsupported format) becomes one status message instead of an exception.

Audio is float32 mono in [-1, 1] (``engine.media.midi.synth``); it is converted to
16-bit PCM in a ``QBuffer`` and fed to a ``QAudioSink``. A timer reports the
play position so the editor can move its playhead; looping restarts the
buffer when the sink runs dry.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, QTimer, Signal

from engine.media.midi.synth import AudioArray

_log = logging.getLogger(__name__)
TICK_MS = 30


def pcm16(audio: AudioArray) -> bytes:
    """float audio [n] in [-1, 1] -> little-endian 16-bit PCM bytes."""
    samples = np.clip(np.asarray(audio, dtype=np.float64), -1.0, 1.0)
    return (samples * 32767).round().astype("<i2").tobytes()


def _multimedia() -> Any:
    """The QtMultimedia module (raises ImportError/OSError where the sound stack is missing)."""
    from PySide6 import QtMultimedia

    return QtMultimedia


class AudioPlayer(QObject):
    """Plays one clip at a time.

    Signals: :attr:`positionChanged` (seconds from the clip's start plus the
    ``offset`` given to :meth:`play`), :attr:`playingChanged`, and
    :attr:`message` (one line for the status bar when playback is impossible).
    """

    positionChanged = Signal(float)  # noqa: N815 - Qt signal naming
    playingChanged = Signal(bool)  # noqa: N815 - Qt signal naming
    message = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._sink: Any = None
        self._buffer: QBuffer | None = None
        self._data = QByteArray()
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
        """Start ``audio`` (stopping what plays); False, with a message, when it cannot."""
        self.stop()
        self.loop = loop
        try:
            sink = self._make_sink(rate)
        except (ImportError, OSError, RuntimeError) as exc:
            return self._fail(f"Playback unavailable: {exc}")
        if sink is None:
            return False
        self._data = QByteArray(pcm16(audio))
        self._offset, self._duration = offset, len(audio) / rate
        self._sink = sink
        sink.stateChanged.connect(self._on_state)
        self._restart()
        self._timer.start()
        self.playingChanged.emit(True)
        return True

    def _make_sink(self, rate: int) -> Any:
        """A sink on the default output for mono 16-bit ``rate`` Hz, or None (with a message)."""
        qm = _multimedia()
        device = qm.QMediaDevices.defaultAudioOutput()
        if device.isNull():
            self._fail("No audio output device: playback is off (export a WAV to listen)")
            return None
        fmt = qm.QAudioFormat()
        fmt.setSampleRate(rate)
        fmt.setChannelCount(1)
        fmt.setSampleFormat(qm.QAudioFormat.SampleFormat.Int16)
        if not device.isFormatSupported(fmt):
            self._fail(f"The audio device cannot play {rate} Hz mono 16-bit audio")
            return None
        return qm.QAudioSink(device, fmt, self)

    def _restart(self) -> None:
        buffer = QBuffer(self)
        buffer.setData(self._data)
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        old, self._buffer = self._buffer, buffer
        self._sink.start(buffer)
        if old is not None:
            old.deleteLater()

    def _on_state(self, state: Any) -> None:
        qm = _multimedia()
        if state == qm.QAudio.State.IdleState:  # ran out of data: the clip ended
            if self.loop:
                self._sink.stop()
                self._restart()
            else:
                self.stop()

    def _tick(self) -> None:
        if self._sink is not None:
            played = self._sink.processedUSecs() / 1e6
            if self._duration > 0:
                played %= self._duration
            self.positionChanged.emit(self._offset + played)

    def stop(self) -> None:
        """Stop playing (no-op when idle)."""
        self._timer.stop()
        sink, self._sink = self._sink, None
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
