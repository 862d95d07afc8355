"""Play streams: the sink opens first, the synth renders in a thread, the GUI thread only feeds.

A fake sink stands in for QtMultimedia (headless machines have no audio device); it records
every byte the player pushes, which must be exactly the whole-piece render.
"""

from __future__ import annotations

import threading
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QObject, Signal

from app.midi.audio import AudioPlayer, pcm16, wait_in_thread
from app.midi.controller import render_range, stream_range
from app.midi.editor import PianoRollEditor
from engine.media.midi import load_score
from engine.media.midi.synth import SAMPLE_RATE, render_notes, score_notes, stream_notes
from tests.engine.midi.midi_files import chorale, save


class FakeSink(QObject):
    """Push-mode sink: takes ``per_tick`` bytes at a time and "plays" them at once."""

    stateChanged = Signal(object)  # noqa: N815 - Qt signal naming

    def __init__(self, per_tick: int = 1 << 20) -> None:
        super().__init__()
        self.data = bytearray()
        self.per_tick = per_tick
        self.stopped = False

    def start(self) -> FakeSink:
        return self

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)

    def bytesFree(self) -> int:  # noqa: N802 - Qt naming
        return self.per_tick

    def processedUSecs(self) -> int:  # noqa: N802 - Qt naming
        return round(len(self.data) / 2 / SAMPLE_RATE * 1e6)

    def stop(self) -> None:
        self.stopped = True


class IdleState:
    name = "IdleState"


@pytest.fixture
def editor(qtbot: Any, tmp_path: Path) -> Iterator[PianoRollEditor]:
    roll = PianoRollEditor()
    qtbot.addWidget(roll)
    roll.open_path(save(chorale(1, bars=6), tmp_path / "chorale.mid"))
    yield roll
    roll.player.stop()


def test_stream_joins_into_the_whole_render() -> None:
    score = load_score(Path("assets/samples/chorale.mid"))
    notes = score_notes(score)
    for stereo in (False, True):
        whole = render_notes(notes, stereo=stereo)
        chunks = list(stream_notes(notes, stereo=stereo, chunk=5000))
        assert all(len(chunk) == 5000 for chunk in chunks[:-1])
        assert np.array_equal(np.concatenate(chunks), whole)  # bit for bit


def test_loud_scores_stream_without_clipping() -> None:
    score = load_score(Path("assets/samples/chorale.mid"))
    loud = [n.__class__(n.start, n.end, n.pitch, 127, n.timbre) for n in score_notes(score)] * 3
    audio = np.concatenate(list(stream_notes(loud)))
    assert float(np.abs(audio).max()) <= 0.9 + 1e-6


def test_play_renders_in_a_thread_and_feeds_the_whole_piece(
    qtbot: Any, editor: PianoRollEditor
) -> None:
    sinks = [FakeSink()]
    editor.player.make_sink = lambda _rate, _parent: sinks[0]
    assert editor.document is not None
    expected, _ = render_range(editor.document.score, editor.document.grid)
    threads: set[str] = set()
    stream = stream_range(editor.document.score, editor.document.grid)

    def recording() -> Iterator[Any]:
        for chunk in stream.chunks:
            threads.add(threading.current_thread().name)
            yield chunk

    assert editor.player.play_stream(recording(), stream.samples, SAMPLE_RATE)
    assert editor.player.renderer is not None and editor.player.renderer.wait(30)
    qtbot.waitUntil(lambda: len(sinks[0].data) == 2 * len(expected), timeout=5000)
    assert threads == {"remask-audio"}
    assert bytes(sinks[0].data) == pcm16(expected)
    sinks[0].stateChanged.emit(IdleState())  # drained: playback ends by itself
    assert not editor.player.playing and sinks[0].stopped


def test_space_play_starts_at_once_and_moves_the_playhead(
    qtbot: Any, editor: PianoRollEditor
) -> None:
    editor.player.make_sink = lambda _rate, _parent: FakeSink(per_tick=4410)
    with qtbot.waitSignal(editor.player.playingChanged, timeout=1000):
        assert editor.play()
    qtbot.waitUntil(lambda: editor.view.playhead is not None and editor.view.playhead > 0)
    editor.toggle_play()
    assert not editor.player.playing and editor.view.playhead is None


def test_missing_device_is_reported_before_anything_is_rendered() -> None:
    def no_device(_rate: int, _parent: QObject) -> Any:
        raise RuntimeError("No audio output device: playback is off")

    player = AudioPlayer(make_sink=no_device)
    rendered: list[int] = []

    def chunks() -> Iterator[Any]:
        rendered.append(1)
        yield np.zeros(10, np.float32)

    messages: list[str] = []
    player.message.connect(messages.append)
    assert not player.play_stream(chunks(), 10, SAMPLE_RATE)
    assert messages == ["No audio output device: playback is off"] and rendered == []
    assert player.renderer is None and not player.playing


def test_looping_wraps_to_the_start(qtbot: Any) -> None:
    sink = FakeSink(per_tick=3000)
    player = AudioPlayer(make_sink=lambda _rate, _parent: sink)
    audio = np.linspace(-0.5, 0.5, 1000, dtype=np.float32)
    assert player.play(audio, SAMPLE_RATE, loop=True)
    qtbot.waitUntil(lambda: len(sink.data) >= 6000, timeout=5000)
    player.stop()
    assert bytes(sink.data[:4000]) == pcm16(audio) * 2


def test_wav_export_writes_off_the_gui_thread(editor: PianoRollEditor, tmp_path: Path) -> None:
    assert editor.document is not None
    out = tmp_path / "out.wav"
    editor.export_path(out)
    expected, _ = render_range(editor.document.score, editor.document.grid)
    with wave.open(str(out)) as wav:
        assert wav.readframes(wav.getnframes()) == pcm16(expected)


def test_wait_in_thread_returns_and_raises(qtbot: Any) -> None:
    assert wait_in_thread(lambda: threading.current_thread().name) == "remask-work"
    with pytest.raises(ValueError, match="boom"):
        wait_in_thread(lambda: (_ for _ in ()).throw(ValueError("boom")))
