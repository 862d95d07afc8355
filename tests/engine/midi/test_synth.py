"""The built-in additive synth: audible, the right length from the tempo map, valid WAV files."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from engine.media.midi import map_voices, read_score
from engine.media.midi.synth import (
    SAMPLE_RATE,
    Envelope,
    SynthNote,
    render_notes,
    render_score,
    score_notes,
    tick_seconds,
    write_wav,
)
from tests.engine.midi.midi_files import TPB, bar_tick, chorale, midi_bytes


def test_tick_seconds_follows_tempo_changes() -> None:
    score = read_score(midi_bytes(chorale(1, bars=6)))
    change = bar_tick(5)  # 100 BPM before, 90 BPM after
    expected = change / TPB * 0.6 + 2 * 60 / 90
    assert np.isclose(tick_seconds(score, [change + 2 * TPB])[0], expected)
    assert tick_seconds(score, [0])[0] == 0.0


def test_render_score_is_audible_and_as_long_as_the_music_plus_release() -> None:
    score = read_score(midi_bytes(chorale(1, bars=3, drums=True)))
    audio = render_score(score, stereo=True)
    end = float(tick_seconds(score, [score.end_tick()])[0])
    assert audio.dtype == np.float32 and audio.ndim == 2 and audio.shape[1] == 2
    assert abs(len(audio) / SAMPLE_RATE - (end + Envelope().release)) < 2 / SAMPLE_RATE
    assert np.abs(audio).max() <= 0.9 + 1e-6
    seconds = np.array_split(audio.mean(axis=1), int(end))
    assert all(np.sqrt(np.mean(chunk**2)) > 1e-3 for chunk in seconds)  # no silent second


def test_notes_start_on_time_and_release_to_silence() -> None:
    env = Envelope(attack=0.01, decay=0.05, sustain=0.5, release=0.1)
    audio = render_notes([SynthNote(0.5, 1.0, 69, 100)], rate=8000, env=env)
    assert len(audio) == round(1.1 * 8000)
    assert np.abs(audio[: int(0.49 * 8000)]).max() == 0.0
    assert np.abs(audio[int(0.6 * 8000) : int(0.9 * 8000)]).max() > 0.05
    assert np.abs(audio[-10:]).max() < 1e-2


def test_write_wav_round_trips_through_the_wave_module(tmp_path: Path) -> None:
    audio = render_notes([SynthNote(0.0, 0.2, 60, 90, timbre=1)], stereo=True)
    write_wav(tmp_path / "a.wav", audio)
    with wave.open(str(tmp_path / "a.wav"), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, SAMPLE_RATE)
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    assert len(frames) == len(audio)
    assert np.allclose(frames / 32767, audio, atol=1 / 32767)
    mono = render_notes([SynthNote(0.0, 0.1, 60, 90)])
    write_wav(tmp_path / "m.wav", mono, SAMPLE_RATE)
    with wave.open(str(tmp_path / "m.wav"), "rb") as wav:
        assert wav.getnchannels() == 1 and wav.getnframes() == len(mono)


def test_an_empty_note_list_renders_only_the_release() -> None:
    assert len(render_notes([])) == round(Envelope().release * SAMPLE_RATE)


def test_voices_keep_their_timbre_whatever_their_track() -> None:
    score = read_score(midi_bytes(chorale(1, bars=1)))
    mapping = map_voices(score)
    by_voice = {
        n.timbre
        for n, v in zip(score_notes(score, mapping.note_voice), mapping.note_voice, strict=True)
        if v == 0
    }
    assert by_voice == {0}
    assert len(render_score(score, note_voice=mapping.note_voice)) == len(render_score(score))
