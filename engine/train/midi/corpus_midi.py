"""music21 corpus pieces as Standard MIDI Files that keep what a score knows (evaluation only).

Why not music21's own MIDI writer: it expands repeats (and fails on some
quartets' repeat marks), drops part names in some versions, and writes a
pickup as a full bar, so the bar lines of the file no longer match the score.
This writer keeps, per part, a named track with its General MIDI program, and
writes a time signature for every bar whose real length differs from its
signature (a pickup becomes 1/4 before 4/4, as notation programs export it),
so :func:`engine.media.midi.grid.time_grid` numbers bars as the score does.

The string quartets of Haydn, Mozart and Beethoven, Monteverdi's madrigals and
Joplin are this project's evaluation material: never train on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import mido

TPB = 480
EVALUATION_ONLY = ("haydn", "mozart", "beethoven", "monteverdi", "joplin")


@dataclass(frozen=True)
class Bar:
    """One bar of the score: its start and length in quarter notes, its written meter."""

    offset: Fraction
    length: Fraction
    numerator: int
    denominator: int


def _ticks(quarters: Fraction | float) -> int:
    return round(Fraction(quarters) * TPB)


def score_bars(part: Any) -> list[Bar]:
    """The bars of ``part`` (a music21 Part): real lengths, written meters."""
    bars, meter = [], (4, 4)
    for measure in part.getElementsByClass("Measure"):
        if measure.timeSignature is not None:
            meter = (measure.timeSignature.numerator, measure.timeSignature.denominator)
        length = Fraction(measure.duration.quarterLength).limit_denominator(96)
        bars.append(Bar(Fraction(measure.offset).limit_denominator(96), length, *meter))
    return bars


def _signature(bar: Bar) -> tuple[int, int]:
    """The time signature that gives ``bar`` its real length (a pickup: 1/4, 3/8, ...)."""
    written = Fraction(bar.numerator * 4, bar.denominator)
    if bar.length == written:
        return bar.numerator, bar.denominator
    for denominator in (bar.denominator, 8, 16, 32):
        numerator = bar.length * denominator / 4
        if numerator.denominator == 1 and numerator >= 1:
            return int(numerator), denominator
    return bar.numerator, bar.denominator


def conductor_track(bars: list[Bar], tempo_bpm: float = 100.0) -> mido.MidiTrack:
    """Tempo and a time signature wherever the real bar length or the meter changes."""
    events: list[tuple[int, mido.MetaMessage]] = [
        (0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm)))
    ]
    current = None
    for bar in bars:
        signature = _signature(bar)
        if signature != current:
            events.append((_ticks(bar.offset), _time_signature(*signature)))
            current = signature
    return _track(events)


def _time_signature(numerator: int, denominator: int) -> mido.MetaMessage:
    return mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator)


def _track(events: list[tuple[int, Any]]) -> mido.MidiTrack:
    track, now = mido.MidiTrack(), 0
    ordered = sorted(events, key=lambda e: (e[0], e[1].type == "note_on"))  # offs first
    for tick, msg in ordered:
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def part_track(part: Any, channel: int) -> mido.MidiTrack:
    """One named track with the part's program; ties joined; chords as their notes."""
    instrument = part.getInstrument(returnDefault=True)
    program = instrument.midiProgram if instrument.midiProgram is not None else 0
    name = part.partName or instrument.instrumentName or f"Part {channel + 1}"
    events: list[tuple[int, Any]] = [
        (0, mido.MetaMessage("track_name", name=str(name))),
        (0, mido.Message("program_change", channel=channel, program=int(program))),
    ]
    for element in part.flatten().stripTies().notes:
        start = _ticks(Fraction(element.offset).limit_denominator(96))
        end = start + max(1, _ticks(Fraction(element.quarterLength).limit_denominator(96)))
        for pitch in element.pitches:
            note = int(pitch.midi)
            events.append((start, mido.Message("note_on", channel=channel, note=note, velocity=80)))
            events.append((end, mido.Message("note_off", channel=channel, note=note, velocity=0)))
    return _track(events)


def score_to_midi(score: Any) -> mido.MidiFile:
    """A music21 Score as a type 1 file: conductor track, then one track per part."""
    parts = list(score.parts)
    midi = mido.MidiFile(type=1, ticks_per_beat=TPB)
    midi.tracks.append(conductor_track(score_bars(parts[0])))
    for channel, part in enumerate(parts):
        midi.tracks.append(part_track(part, channel if channel < 9 else channel + 1))
    return midi


def write_corpus_piece(name: str, path: Path) -> Path:
    """Parse ``name`` from music21's corpus and write it to ``path`` as MIDI."""
    import music21

    score_to_midi(music21.corpus.parse(name)).save(str(path))
    return path
