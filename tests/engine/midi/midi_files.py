"""Real MIDI files for the MIDI tests, built with mido (no binary fixtures in the repo).

``chorale()`` is a small 4-voice piece with everything a round trip must keep:
tempo changes, a 3/4 -> 4/4 meter change, a key signature, program changes,
controllers, pitch bend, sysex, text and marker meta, different velocities per
voice, and an alto note tied across the bar line 2|3.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import mido
import numpy as np

from engine.media.midi.files import NoteRecord, Score, absolute_ticks
from tests.tinymodels import write_tiny_model

TPB = 480
BAR_34 = 3 * TPB
BAR_44 = 4 * TPB
# Bars 1-2 are 3/4, bars 3.. are 4/4.
METER_CHANGE = 2 * BAR_34
VOICE_RANGES = {"Soprano": (67, 79), "Alto": (60, 72), "Tenor": (52, 64), "Bass": (40, 52)}
VOICE_VELOCITY = {"Soprano": 90, "Alto": 70, "Tenor": 64, "Bass": 100}
FACTS = {"pitch_min": 28, "pitch_max": 93, "rest_token": 66, "steps_per_quarter": 4}

Event = tuple[int, mido.Message | mido.MetaMessage]


def bar_tick(bar: int) -> int:
    """Start tick of 1-based ``bar`` in :func:`chorale` (3/4, 3/4, then 4/4)."""
    if bar <= 2:
        return (bar - 1) * BAR_34
    return METER_CHANGE + (bar - 3) * BAR_44


def to_track(events: Sequence[Event], end: int | None = None) -> mido.MidiTrack:
    """Absolute-tick events (stable-sorted) -> a track with delta times and end_of_track."""
    track, now = mido.MidiTrack(), 0
    for tick, msg in sorted(events, key=lambda e: e[0]):
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, (end or now) - now)))
    return track


def conductor(last_tick: int) -> list[Event]:
    meta = mido.MetaMessage
    return [
        (0, meta("track_name", name="Conductor")),
        (0, meta("set_tempo", tempo=mido.bpm2tempo(100))),
        (0, meta("time_signature", numerator=3, denominator=4)),
        (0, meta("key_signature", key="G")),
        (0, mido.Message("sysex", data=[0x7E, 0x7F, 0x09, 0x01])),
        (METER_CHANGE, meta("time_signature", numerator=4, denominator=4)),
        (METER_CHANGE, meta("marker", text="B section")),
        (bar_tick(5), meta("set_tempo", tempo=mido.bpm2tempo(90))),
        (last_tick, meta("text", text="fine")),
    ]


def voice_notes(name: str, bars: int, seed: int) -> list[tuple[int, int, int]]:
    """(start, end, pitch): quarter notes, plus the alto's half note across bar line 2|3."""
    rng = np.random.default_rng(seed)
    low, high = VOICE_RANGES[name]
    notes = []
    tick = 0
    while tick < bar_tick(bars + 1):
        length = TPB
        if name == "Alto" and tick == METER_CHANGE - TPB:
            length = 2 * TPB  # crosses into bar 3
        notes.append((tick, tick + length, int(rng.integers(low, high))))
        tick += length
    return notes


def voice_events(name: str, channel: int, bars: int, seed: int, program: int) -> list[Event]:
    velocity = VOICE_VELOCITY[name]
    events: list[Event] = [
        (0, mido.MetaMessage("track_name", name=name)),
        (0, mido.Message("program_change", channel=channel, program=program)),
        (0, mido.Message("control_change", channel=channel, control=7, value=100)),
    ]
    if name == "Soprano":
        events.append((TPB // 2, mido.Message("pitchwheel", channel=channel, pitch=512)))
        events.append((TPB, mido.Message("pitchwheel", channel=channel, pitch=0)))
    for start, end, pitch in voice_notes(name, bars, seed):
        on = mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)
        off = mido.Message("note_off", channel=channel, note=pitch, velocity=0)
        events += [(start, on), (end, off)]
    # offs before ons at equal ticks, as a sequencer writes them
    return sorted(events, key=lambda e: (e[0], e[1].type != "note_off"))


def chorale(
    midi_type: int = 1,
    bars: int = 6,
    order: Sequence[str] = ("Bass", "Alto", "Soprano", "Tenor"),
    drums: bool = False,
) -> mido.MidiFile:
    """The test chorale: type 1 (conductor + one track per voice, in ``order``) or type 0."""
    names = list(order)
    tracks = [
        voice_events(name, channel=i, bars=bars, seed=i + 1, program=52 + i)
        for i, name in enumerate(names)
    ]
    if drums:
        hits = [(t, t + 60) for t in range(0, bar_tick(bars + 1), TPB)]
        tracks.append(
            [(0, mido.MetaMessage("track_name", name="Drums"))]
            + [(a, mido.Message("note_on", channel=9, note=36, velocity=110)) for a, _ in hits]
            + [(b, mido.Message("note_off", channel=9, note=36, velocity=0)) for _, b in hits]
        )
    end = bar_tick(bars + 1)
    midi = mido.MidiFile(type=midi_type, ticks_per_beat=TPB)
    if midi_type == 0:
        merged = conductor(end) + [event for track in tracks for event in track]
        midi.tracks.append(to_track(merged, end))
    else:
        midi.tracks.append(to_track(conductor(end), end))
        midi.tracks.extend(to_track(track, end) for track in tracks)
    return midi


def midi_bytes(midi: mido.MidiFile) -> bytes:
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def save(midi: mido.MidiFile, path: Path) -> Path:
    midi.save(str(path))
    return path


def non_note_events(score: Score) -> list[tuple[int, int, str]]:
    """(track, absolute tick, repr) of every message that is not a note on/off."""
    events = []
    for i, track in enumerate(score.midi.tracks):
        for tick, msg in zip(absolute_ticks(track), track, strict=True):
            if msg.type not in ("note_on", "note_off", "end_of_track"):
                events.append((i, tick, repr(msg.copy(time=0))))
    return events


def note_keys(notes: Sequence[NoteRecord]) -> set[tuple[int, int, int, int, int, int]]:
    return {n.key() for n in notes}


def tiny_chorale_model(models_dir: Path, steps: int = 32, name: str = "tiny-chorale") -> Path:
    """A real (tiny, random) ONNX chorale model with the production token contract."""
    facts = {**FACTS, "window_steps": steps}
    return write_tiny_model(
        models_dir, name=name, medium="midi", vocab_size=67, shape=(4, steps), medium_facts=facts
    )


QUARTET = (
    ("Violin 1", 40, 74, 88),
    ("Violin 2", 40, 62, 69),
    ("Viola", 41, 55, 62),
    ("Violoncello", 42, 43, 55),
)
"""(track name, GM program, lowest, highest pitch) of :func:`quartet`'s parts (violin 2 narrow)."""


def quartet(
    bars: int = 8,
    signatures: Sequence[tuple[int, int, int]] = ((0, 4, 4),),
    parts: Sequence[tuple[str, int, int, int]] = QUARTET,
) -> mido.MidiFile:
    """A string-quartet-like type 1 file: named tracks with programs, eighth-note lines.

    ``signatures`` are (tick, numerator, denominator); the piece lasts ``bars``
    whole notes' worth of eighths, whatever the meter. Each part walks up and
    down its own (lowest, highest) range, so a test knows each part's register.
    """
    end = bars * BAR_44
    meta = mido.MetaMessage
    head: list[Event] = [(0, meta("track_name", name="Quartet"))]
    head += [(t, meta("time_signature", numerator=n, denominator=d)) for t, n, d in signatures]
    midi = mido.MidiFile(type=1, ticks_per_beat=TPB)
    midi.tracks.append(to_track(head, end))
    for channel, (name, program, low, high) in enumerate(parts):
        events: list[Event] = [
            (0, meta("track_name", name=name)),
            (0, mido.Message("program_change", channel=channel, program=program)),
        ]
        span = high - low
        for i, tick in enumerate(range(0, end, TPB // 2)):
            step = i % (2 * span)
            pitch = low + (step if step <= span else 2 * span - step)
            events.append((tick, mido.Message("note_on", channel=channel, note=pitch, velocity=80)))
            off = mido.Message("note_off", channel=channel, note=pitch, velocity=0)
            events.append((tick + TPB // 2, off))
        midi.tracks.append(
            to_track(sorted(events, key=lambda e: (e[0], e[1].type != "note_off")), end)
        )
    return midi
