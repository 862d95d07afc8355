"""A built-in, sample-free additive synthesizer to audition scores (no sound font, no server).

Each note is a sum of a few harmonics with an ADSR envelope; every voice has
its own harmonic recipe and stereo position so the four lines stay apart by
ear. Drums (channel 10) are short decaying noise bursts. Times come from the
score's tempo map, so what you hear matches the file.

Audio is float32 in [-1, 1], shape [n] (mono) or [n, 2] (stereo), at 22050 Hz
by default; the length is the end of the last note plus the release.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine.media.midi.files import Score, write_midi_bytes

SAMPLE_RATE = 22050
AudioArray = npt.NDArray[np.float32]
"""float32 samples in [-1, 1]: [n] mono or [n, 2] stereo."""


@dataclass(frozen=True)
class Envelope:
    """ADSR in seconds (sustain is a level); release starts at the note's end."""

    attack: float = 0.015
    decay: float = 0.12
    sustain: float = 0.7
    release: float = 0.18


@dataclass(frozen=True)
class Timbre:
    """Relative amplitudes of harmonics 1, 2, 3, ... and a stereo pan in [-1, 1]."""

    harmonics: tuple[float, ...]
    pan: float = 0.0


TIMBRES = (
    Timbre((1.0, 0.35, 0.12, 0.05), pan=-0.3),  # soprano: bright flute-like
    Timbre((1.0, 0.5, 0.25, 0.1), pan=0.3),  # alto
    Timbre((1.0, 0.6, 0.4, 0.2, 0.1), pan=-0.15),  # tenor: reedier
    Timbre((1.0, 0.7, 0.3, 0.2, 0.1, 0.05), pan=0.15),  # bass: fuller
)


@dataclass(frozen=True)
class SynthNote:
    """A note in seconds; ``timbre`` indexes :data:`TIMBRES` (cyclic), ``drum`` plays noise."""

    start: float
    end: float
    pitch: int
    velocity: int
    timbre: int = 0
    drum: bool = False


def tick_seconds(score: Score, ticks: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Absolute ticks -> seconds through the score's tempo map."""
    tpb = score.ticks_per_beat
    change_ticks = np.array([t for t, _ in score.tempo_map], dtype=np.float64)
    tempos = np.array([tempo for _, tempo in score.tempo_map], dtype=np.float64) / 1e6
    segment_seconds = np.diff(change_ticks) * tempos[:-1] / tpb
    change_seconds = np.concatenate([[0.0], np.cumsum(segment_seconds)])
    at = np.asarray(ticks, dtype=np.float64)
    segment = np.clip(np.searchsorted(change_ticks, at, side="right") - 1, 0, None)
    return change_seconds[segment] + (at - change_ticks[segment]) * tempos[segment] / tpb


def score_notes(score: Score, note_voice: Sequence[int] | None = None) -> list[SynthNote]:
    """The score's notes in seconds.

    Timbre is the note's voice when ``note_voice`` (0 = soprano .. 3 = bass,
    -1 unmapped; e.g. ``VoiceMapping.note_voice``) is given, so a voice sounds
    the same whatever track it is on; otherwise (and for unmapped notes) it
    follows the order in which each (track, channel) first plays.
    """
    if not score.notes:
        return []
    starts = tick_seconds(score, [n.start for n in score.notes])
    ends = tick_seconds(score, [n.end for n in score.notes])
    voices = note_voice if note_voice is not None else [-1] * len(score.notes)
    lines: dict[tuple[int, int], int] = {}
    notes = []
    for note, voice, start, end in zip(score.notes, voices, starts, ends, strict=True):
        line = lines.setdefault((note.track, note.channel), len(lines))
        timbre = voice if voice >= 0 else line
        notes.append(
            SynthNote(float(start), float(end), note.pitch, note.velocity, timbre, note.is_drum)
        )
    return notes


def envelope(length: int, held: int, rate: int, env: Envelope) -> npt.NDArray[np.float64]:
    """ADSR gain over ``length`` samples; the key is held for ``held`` samples."""
    t = np.arange(length) / rate
    attack = np.minimum(t / max(env.attack, 1e-6), 1.0)
    decay = env.sustain + (1 - env.sustain) * np.exp(-np.maximum(t - env.attack, 0) / env.decay)
    gain = np.where(t < env.attack, attack, decay)
    held_s = held / rate
    level_at_release = float(np.interp(held_s, t, gain)) if length else 0.0
    after = np.clip(1 - (t - held_s) / max(env.release, 1e-6), 0.0, 1.0) * level_at_release
    return np.where(t < held_s, gain, after)


def _tone(note: SynthNote, rate: int, env: Envelope) -> npt.NDArray[np.float64]:
    held = max(1, round((note.end - note.start) * rate))
    length = held + round(env.release * rate)
    t = np.arange(length) / rate
    freq = 440.0 * 2 ** ((note.pitch - 69) / 12)
    timbre = TIMBRES[note.timbre % len(TIMBRES)]
    wave_ = np.zeros(length)
    for k, amp in enumerate(timbre.harmonics, start=1):
        if k * freq < rate / 2:  # no aliasing above Nyquist
            wave_ += amp * np.sin(2 * np.pi * k * freq * t)
    wave_ /= sum(timbre.harmonics)
    return wave_ * envelope(length, held, rate, env)


def _drum(note: SynthNote, rate: int) -> npt.NDArray[np.float64]:
    length = round(0.2 * rate)
    rng = np.random.default_rng(note.pitch)  # same hit, same sound
    return rng.uniform(-1, 1, length) * np.exp(-np.arange(length) / (0.03 * rate))


def _voiced(note: SynthNote, rate: int, env: Envelope) -> npt.NDArray[np.float64]:
    """One note's share of the mix, [n, 2]: its sound with velocity and stereo pan applied."""
    sound = _drum(note, rate) if note.drum else _tone(note, rate, env)
    pan = 0.0 if note.drum else TIMBRES[note.timbre % len(TIMBRES)].pan
    scaled = sound * (note.velocity / 127) * 0.3
    return scaled[:, None] * [1 - max(pan, 0), 1 + min(pan, 0)]


def _note_lengths(notes: Sequence[SynthNote], rate: int, env: Envelope) -> npt.NDArray[np.int64]:
    """Samples each note sounds, release tail included (what :func:`_voiced` returns)."""
    release, drum = round(env.release * rate), round(0.2 * rate)
    return np.array(
        [drum if n.drum else max(1, round((n.end - n.start) * rate)) + release for n in notes],
        dtype=np.int64,
    )


def render_notes(
    notes: Sequence[SynthNote],
    rate: int = SAMPLE_RATE,
    stereo: bool = False,
    env: Envelope | None = None,
) -> AudioArray:
    """Mix ``notes`` into float32 audio of length ``max(end) + release`` (peak at most 0.9)."""
    env = env or Envelope()
    total = round((max((n.end for n in notes), default=0.0) + env.release) * rate)
    out = np.zeros((total, 2))
    for note in notes:
        begin = round(note.start * rate)
        sound = _voiced(note, rate, env)[: max(0, total - begin)]
        out[begin : begin + len(sound)] += sound
    peak = float(np.abs(out).max()) if total else 0.0
    out *= 0.9 / peak if peak > 0.9 else 1.0
    return (out if stereo else out.mean(axis=1)).astype(np.float32)


def stream_notes(
    notes: Sequence[SynthNote],
    rate: int = SAMPLE_RATE,
    stereo: bool = False,
    env: Envelope | None = None,
    chunk: int = SAMPLE_RATE,
    length: int | None = None,
) -> Iterator[AudioArray]:
    """:func:`render_notes` in consecutive chunks of ``chunk`` samples, so playback starts at once.

    :func:`render_notes` scales by the true peak, known only once all is
    mixed. Here the gain starts at 1.0 and only ever drops: a chunk that would
    peak over 0.9 lowers it for itself and all that follows. So a score that
    never gets that loud (the usual quartet) streams exactly what
    :func:`render_notes` returns; a louder one is never clipped. ``length``
    (samples, default ``render_notes``'s) pads with silence or cuts.
    """
    env = env or Envelope()
    lengths = _note_lengths(notes, rate, env)
    begins = np.array([round(n.start * rate) for n in notes], dtype=np.int64)
    total = round((max((n.end for n in notes), default=0.0) + env.release) * rate)
    total = total if length is None else length
    gain = 1.0
    sounding: dict[int, npt.NDArray[np.float64]] = {}
    for lo in range(0, total, chunk):
        hi = min(lo + chunk, total)
        out = np.zeros((hi - lo, 2))
        for index in np.flatnonzero((begins < hi) & (begins + lengths > lo)).tolist():
            sound = sounding.get(index)
            if sound is None:
                sound = sounding[index] = _voiced(notes[index], rate, env)
            begin = int(begins[index])
            a, b = max(lo, begin), min(hi, begin + len(sound))
            out[a - lo : b - lo] += sound[a - begin : b - begin]
        for index in [i for i in sounding if begins[i] + lengths[i] <= hi]:
            del sounding[index]  # finished: free it
        peak = float(np.abs(out).max()) if len(out) else 0.0
        gain = min(gain, 0.9 / peak) if peak * gain > 0.9 else gain
        out *= gain
        yield (out if stereo else out.mean(axis=1)).astype(np.float32)


def render_score(
    score: Score,
    rate: int = SAMPLE_RATE,
    stereo: bool = False,
    env: Envelope | None = None,
    note_voice: Sequence[int] | None = None,
) -> AudioArray:
    """Render every note of ``score`` (drums as noise bursts) with times from its tempo map."""
    notes = [n for n in score_notes(score, note_voice) if n.end > n.start or n.drum]
    return render_notes(notes, rate, stereo, env)


def write_wav(path: str | Path, audio: npt.ArrayLike, rate: int = SAMPLE_RATE) -> None:
    """Write float audio ([n] or [n, channels], in [-1, 1]) as 16-bit PCM, atomically.

    Raises :class:`MidiError` when the file cannot be written (nothing is then changed).
    """
    write_midi_bytes(encode_wav(audio, rate), path)


def encode_wav(audio: npt.ArrayLike, rate: int = SAMPLE_RATE) -> bytes:
    """The bytes of a 16-bit PCM .wav file (stdlib ``wave``) of float audio in [-1, 1]."""
    samples = np.asarray(audio, dtype=np.float64)
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).round().astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()
