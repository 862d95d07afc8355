"""Opening MIDI files through the window's threaded loader: the piano roll's document, note
spans, step times and status line are made in the loading worker, arrive whole, and a cancelled
or refused open leaves the piece on screen as it was."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mido
import numpy as np
import pytest
from PySide6.QtCore import QSettings

from app.bench import long_piece
from app.engine_worker import EngineBridge
from app.loading import LOADING_SWITCH_S
from app.main_window import MainWindow
from app.midi.dialogs import opened_status
from app.midi.editor import PianoRollEditor
from app.midi.opening import NoteSpans, step_times
from engine.media.midi import N_VOICES, load_score
from engine.media.midi.document import RollDocument, RollNote
from engine.models import ModelRegistry
from tests.app.helpers import (
    LOAD_TIMEOUT_MS,
    held_prepare,
    open_and_wait,
    page_editor,
    shown_window,
)
from tests.engine.midi.midi_files import chorale, save


@pytest.fixture
def window(qtbot: Any, qsettings: QSettings, tmp_path: Path) -> Iterator[MainWindow]:
    registry = ModelRegistry.discover([tmp_path / "no-models"])
    editors = {"image": None, "motion": None, "midi": PianoRollEditor}
    main = shown_window(qtbot, registry, EngineBridge(registry), qsettings, editors)
    main.loader.threaded = True
    yield main
    main.close()


@pytest.fixture
def piece(tmp_path: Path) -> Path:
    """Two minutes of four-voice chorale: over six hundred notes."""
    return long_piece(tmp_path, minutes=2)


def record_threads(monkeypatch: pytest.MonkeyPatch, name: str) -> list[str]:
    """Wrap ``PianoRollEditor.<name>`` to note the thread each call ran on."""
    threads: list[str] = []
    original = getattr(PianoRollEditor, name)

    def wrapper(self: PianoRollEditor, *args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return original(self, *args)

    monkeypatch.setattr(PianoRollEditor, name, wrapper)
    return threads


def test_a_long_piece_opens_whole_with_its_roll_made_in_the_worker(
    qtbot: Any, window: MainWindow, piece: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepared = record_threads(monkeypatch, "prepare_decoded")
    installed = record_threads(monkeypatch, "open_decoded")
    editor = open_and_wait(qtbot, window, piece, PianoRollEditor)
    assert prepared == ["remask-load"] and installed == ["MainThread"]
    expected = RollDocument(load_score(piece))
    document = editor.document
    assert document is not None and len(document.notes) > 600
    assert document.notes == expected.notes and document.n_steps == expected.n_steps
    assert editor.view.document is document and editor.view.spans().notes is document.notes
    assert np.array_equal(editor._step_times, step_times(expected))
    assert editor.status.text() == opened_status(expected)
    for voice in range(N_VOICES):
        pitches = [note.pitch for note in expected.notes if note.voice == voice]
        assert editor.view.voice_band(voice) == (min(pitches) - 2, max(pitches) + 2)


def test_more_parts_than_voices_asks_on_the_gui_thread_then_builds_the_chosen(
    qtbot: Any, window: MainWindow, tmp_path: Path
) -> None:
    midi = chorale(1, bars=4)
    extra = mido.MidiTrack(midi.tracks[1])
    extra[0] = mido.MetaMessage("track_name", name="Descant")
    midi.tracks.append(extra)
    path = save(midi, tmp_path / "five.mid")
    editor = page_editor(window, PianoRollEditor)
    asked: list[str] = []

    def choose(parts: Any) -> list[str]:
        asked.append(threading.current_thread().name)
        return ["2", "3", "4", "5"]

    editor.choose_parts = choose
    open_and_wait(qtbot, window, path, PianoRollEditor)
    assert asked == ["MainThread"] and editor.document is not None
    assert editor.document.parts == ["2", "3", "4", "5"]
    assert editor.document.notes == RollDocument(load_score(path), ["2", "3", "4", "5"]).notes
    assert editor.view.spans().notes is editor.document.notes


@pytest.mark.parametrize("outcome", ["cancelled", "refused"])
def test_a_cancelled_or_refused_open_leaves_the_piece_as_it_was(
    qtbot: Any,
    window: MainWindow,
    piece: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    outcome: str,
) -> None:
    editor = open_and_wait(
        qtbot, window, save(chorale(1, bars=6), tmp_path / "short.mid"), PianoRollEditor
    )
    document = editor.document
    assert document is not None
    document.mask_bars(2, 3, [0, 2])
    notes, mask, status = list(document.notes), document.mask.copy(), editor.status.text()
    release, ended = held_prepare(
        monkeypatch, PianoRollEditor, "no room for the roll" if outcome == "refused" else None
    )
    switch = sys.getswitchinterval()
    assert window.open_path(piece) and window.loader.busy
    assert sys.getswitchinterval() == LOADING_SWITCH_S  # the GUI thread gets the GIL sooner
    if outcome == "cancelled":
        window.loader.cancel()
        assert not window.loader.busy
    release.set()
    qtbot.waitUntil(lambda: bool(ended) and not window.loader.busy, timeout=LOAD_TIMEOUT_MS)
    qtbot.wait(100)  # a dropped (or refused) result reaches the GUI thread
    assert sys.getswitchinterval() == switch
    assert editor.document is document and editor.view.document is document
    assert document.notes == notes and np.array_equal(document.mask, mask)
    assert editor.view.spans().notes is document.notes and editor.is_modified()
    assert editor.document_name() == "short.mid" and editor.status.text() == status
    if outcome == "refused":
        assert "no room for the roll" in window.last_error


def test_note_spans_find_what_walking_every_note_finds() -> None:
    rng = np.random.default_rng(3)
    starts = rng.uniform(0, 400, 600)
    notes = [
        RollNote(i, int(rng.integers(-1, N_VOICES)), int(rng.integers(30, 90)), s, s + length)
        for i, (s, length) in enumerate(zip(starts, rng.uniform(0.5, 12, 600), strict=True))
    ]
    spans = NoteSpans.of(notes)
    for left, right, selected in ((0, 50, set()), (120.5, 121, {3, 599}), (390, 999, {0})):
        walked = [n for n in notes if not (n.end < left or n.start > right) or n.index in selected]
        assert spans.shown(left, right, selected) == walked
    for voice in range(N_VOICES):
        pitches = [n.pitch for n in notes if n.voice == voice]
        assert spans.bands[voice] == (min(pitches), max(pitches))
    assert spans.pitches == (min(n.pitch for n in notes), max(n.pitch for n in notes))
    assert NoteSpans.of([]).pitches is None and NoteSpans.of([]).bands == (None,) * N_VOICES
