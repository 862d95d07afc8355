"""Build the sample MIDI a new user can open at once: a Bach chorale from music21's corpus.

``python -m engine.train.samples`` writes ``assets/samples/chorale.mid``. It
lives in ``engine/train`` because it needs music21 (a training/build
dependency, not a runtime one); torch is not needed.

The file is written with mido rather than music21's MIDI writer so its layout
is the one remask handles best and documents: type 1, a conductor track
(tempo, key, meter), then one track per voice on its own channel with a
program change and a track name. A pickup bar gets its own short meter (e.g.
1/4) so bar 1 of the file is the pickup and later bar lines fall where the
score has them.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import mido

DEFAULT_WORK = "bach/bwv66.6"
DEFAULT_BPM = 72.0
TICKS_PER_BEAT = 480
CHOIR_AAHS = 52  # General MIDI program 53, 0-based
VELOCITIES = (84, 72, 72, 76)


@dataclass(frozen=True)
class PartNotes:
    """One voice: its name and (start, duration, pitch) in quarter notes."""

    name: str
    notes: tuple[tuple[Fraction, Fraction, int], ...]


@dataclass(frozen=True)
class ChoraleFacts:
    parts: tuple[PartNotes, ...]
    key: str  # mido key name, e.g. "F#m"
    numerator: int
    denominator: int
    pickup: Fraction  # quarter notes before the first full bar (0 without pickup)


def _mido_key(key: object) -> str:
    """music21 Key -> mido key name ('F#m', 'Bb')."""
    tonic = str(key.tonic.name).replace("-", "b")  # type: ignore[attr-defined]
    return tonic + ("m" if key.mode == "minor" else "")  # type: ignore[attr-defined]


def read_chorale(work: str = DEFAULT_WORK) -> ChoraleFacts:
    """Parse ``work`` from music21's own corpus (ties merged, grace notes dropped)."""
    from music21 import corpus

    score = corpus.parse(work)
    parts: list[PartNotes] = []
    for part in score.parts:
        stripped = part.stripTies()
        notes = tuple(
            (Fraction(n.offset), Fraction(n.quarterLength), int(n.pitch.midi))
            for n in stripped.flatten().notes
            if n.quarterLength > 0 and hasattr(n, "pitch")
        )
        parts.append(PartNotes(str(part.partName or f"Voice {len(parts) + 1}"), notes))
    meter = score.recurse().getElementsByClass("TimeSignature")[0]
    first = score.parts[0].getElementsByClass("Measure")[0]
    pickup = Fraction(first.paddingLeft) and Fraction(first.duration.quarterLength)
    signature = score.recurse().getElementsByClass("KeySignature")[0]
    key = signature if hasattr(signature, "tonic") else signature.asKey()
    return ChoraleFacts(tuple(parts), _mido_key(key), meter.numerator, meter.denominator, pickup)


def _track(
    events: Sequence[tuple[int, int, mido.Message | mido.MetaMessage]],
) -> mido.MidiTrack:
    """Absolute (tick, order, message) -> a track with delta times and end_of_track."""
    track, now = mido.MidiTrack(), 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def _conductor(facts: ChoraleFacts, bpm: float) -> mido.MidiTrack:
    meta = mido.MetaMessage
    events: list[tuple[int, int, mido.Message | mido.MetaMessage]] = [
        (0, 0, meta("track_name", name="Chorale")),
        (0, 1, meta("set_tempo", tempo=mido.bpm2tempo(bpm))),
        (0, 2, meta("key_signature", key=facts.key)),
    ]
    full = (facts.numerator, facts.denominator)
    if facts.pickup:
        quarters = facts.pickup * facts.denominator / 4
        pickup_meter = (int(quarters), facts.denominator) if quarters.denominator == 1 else full
        events.append(
            (
                0,
                3,
                meta(
                    "time_signature",
                    numerator=pickup_meter[0],
                    denominator=pickup_meter[1],
                ),
            )
        )
        events.append(
            (
                int(facts.pickup * TICKS_PER_BEAT),
                3,
                meta("time_signature", numerator=full[0], denominator=full[1]),
            )
        )
    else:
        events.append((0, 3, meta("time_signature", numerator=full[0], denominator=full[1])))
    return _track(events)


def _voice_track(part: PartNotes, channel: int) -> mido.MidiTrack:
    events: list[tuple[int, int, mido.Message | mido.MetaMessage]] = [
        (0, 0, mido.MetaMessage("track_name", name=part.name)),
        (0, 1, mido.Message("program_change", channel=channel, program=CHOIR_AAHS)),
    ]
    velocity = VELOCITIES[channel % len(VELOCITIES)]
    for start, length, pitch in part.notes:
        on, off = int(start * TICKS_PER_BEAT), int((start + length) * TICKS_PER_BEAT)
        events.append((off, 2, mido.Message("note_off", channel=channel, note=pitch, velocity=0)))
        events.append(
            (
                on,
                3,
                mido.Message("note_on", channel=channel, note=pitch, velocity=velocity),
            )
        )
    return _track(events)


def chorale_midi(facts: ChoraleFacts, bpm: float = DEFAULT_BPM) -> mido.MidiFile:
    """A type 1 file: conductor track, then one track per voice on channels 1..4."""
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.append(_conductor(facts, bpm))
    midi.tracks.extend(_voice_track(part, channel) for channel, part in enumerate(facts.parts))
    return midi


def default_output() -> Path:
    return Path(__file__).resolve().parents[2] / "assets" / "samples" / "chorale.mid"


def build_sample(
    out: Path | None = None, work: str = DEFAULT_WORK, bpm: float = DEFAULT_BPM
) -> Path:
    """Write the sample chorale; returns its path."""
    out = out or default_output()
    out.parent.mkdir(parents=True, exist_ok=True)
    chorale_midi(read_chorale(work), bpm).save(str(out))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "-o",
        "--out",
        type=Path,
        default=None,
        help="default: assets/samples/chorale.mid",
    )
    parser.add_argument(
        "--work",
        default=DEFAULT_WORK,
        help="a music21 corpus path (default %(default)s)",
    )
    parser.add_argument("--bpm", type=float, default=DEFAULT_BPM)
    args = parser.parse_args(argv)
    print(build_sample(args.out, args.work, args.bpm))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
