"""Each part's pitch range, from its own notes and its instrument, as a sampling constraint.

Why: the chorale model knows SATB voices, not a second violin or a madrigal's
quinto, and left alone it lets a repainted part drift out of its register (a
second violin 15 semitones above its part; 5 % of new notes outside the
part's range in string quartets). The range comes from the file:

1. the voice's own notes *outside the repaint region*, widened by
   :data:`WIDEN` semitones on each side (a part may reach a step further than
   the bars we see), clipped to its instrument's compass but never narrower
   than the notes themselves;
2. with fewer than :data:`MIN_NOTES` such notes (the whole part is repainted),
   its instrument's range, from the track name or else the General MIDI program;
3. else the usual choir range of the voice it fills (:data:`VOICE_RANGES`).

:func:`range_bias` turns the ranges into a logit bias the one shared sampler
adds before it draws (``-inf`` for pitches out of range; rests always allowed).

Instrument ranges (:data:`INSTRUMENTS`) are practical orchestral compasses
from S. Adler, *The Study of Orchestration* (3rd ed., Norton 2002), range
charts of each instrument (violin G3-E7, viola C3-E6, cello C2-A5, double
bass E1-G4 sounding, flute C4-C7, oboe B-flat3-A6, clarinet E3-C7 sounding in
A/B-flat alike here, bassoon B-flat1-E-flat5, horn B1-F5, trumpet F#3-D6,
trombone E2-F5, tuba D1-F4); choir voices from the usual SATB choral ranges
(e.g. Wikipedia, "Voice type": soprano C4-A5, alto F3-D5, tenor C3-A4, bass
E2-E4), a tone wider at each end, since part-writing of Bach's and earlier
time often reaches it. General MIDI program numbers (0-based) are those of
the GM 1 sound set (MIDI Manufacturers Association, 1991).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.media.midi.files import Score
from engine.media.midi.grid import N_VOICES, TimeGrid, TokenContract, note_steps
from engine.media.midi.voices import Part, VoiceMapping
from engine.sampling.types import BoolArray, FloatArray

WIDEN = 2
"""Semitones a part's observed range is widened by on each side."""
MIN_NOTES = 4
"""Fewest notes outside the region that make a range worth trusting over the instrument's."""


@dataclass(frozen=True)
class PitchRange:
    """MIDI pitches ``low..high`` (inclusive) and where they came from (shown to users)."""

    low: int
    high: int
    source: str

    def contains(self, pitch: int) -> bool:
        return self.low <= pitch <= self.high


@dataclass(frozen=True)
class Instrument:
    """One row of :data:`INSTRUMENTS`: a name pattern, GM programs, the compass."""

    name: str
    pattern: str  # regex searched in the casefolded track name
    programs: tuple[int, ...]
    low: int
    high: int


INSTRUMENTS = (
    Instrument("violin", r"violin|violino|\bvl[n]?\b|geige", (40,), 55, 100),
    Instrument("viola", r"viola\b|\bvla\b|bratsche", (41,), 48, 88),
    Instrument("cello", r"cello|\bvc\b", (42,), 36, 81),
    Instrument("double bass", r"contrabass|double bass|kontrabass|contrabbasso", (43,), 28, 67),
    Instrument("flute", r"flute|flauto|\bfl\b", (73,), 60, 96),
    Instrument("oboe", r"oboe", (68,), 58, 93),
    Instrument("clarinet", r"clarinet", (71,), 52, 96),
    Instrument("bassoon", r"bassoon|fagott", (70,), 34, 75),
    Instrument("horn", r"\bhorn|corno", (60,), 35, 77),
    Instrument("trumpet", r"trumpet|tromba", (56,), 54, 86),
    Instrument("trombone", r"trombone|posaune", (57,), 40, 77),
    Instrument("tuba", r"tuba", (58,), 26, 65),
    Instrument("soprano", r"soprano|sopran|canto|cantus|treble|discant", (), 58, 83),
    Instrument("alto", r"alto|altus|contralto", (), 51, 76),
    Instrument("tenor", r"tenor", (), 46, 71),
    Instrument("bass voice", r"bass|basso|bassus", (), 38, 66),
)
"""Instruments and voice types recognised by track name (first match wins, so the double
bass comes before the bass voice) or by General MIDI program."""

VOICE_RANGES = tuple(
    next(i for i in INSTRUMENTS if i.name == name)
    for name in ("soprano", "alto", "tenor", "bass voice")
)
"""Fallback per voice (0 = soprano) when a part has neither notes nor a known instrument."""


def find_instrument(name: str, program: int | None) -> Instrument | None:
    """The instrument a track name names, else the one its GM program is; None if neither."""
    folded = name.casefold()
    for instrument in INSTRUMENTS:
        if re.search(instrument.pattern, folded):
            return instrument
    if program is None:
        return None
    return next((i for i in INSTRUMENTS if program in i.programs), None)


def part_program(score: Score, part: Part) -> int | None:
    """The first General MIDI program change of the part's track (and channel); None if none."""
    for msg in score.midi.tracks[part.track]:
        if msg.type == "program_change" and part.channel in (None, msg.channel):
            return int(msg.program)
    return None


def part_instrument(score: Score, part: Part | None) -> Instrument | None:
    """What :func:`find_instrument` says of a part (None for split voices: no part)."""
    if part is None:
        return None
    return find_instrument(score.track_name(part.track) or part.label, part_program(score, part))


def outside_pitches(
    score: Score, mapping: VoiceMapping, cell_mask: BoolArray, grid: TimeGrid, voice: int
) -> list[int]:
    """Pitches of ``voice``'s notes that touch none of its region cells."""
    pitches = []
    for index in mapping.notes_of(voice):
        start, stop = note_steps(score.notes[index], grid)
        if not cell_mask[voice, start : max(stop, start + 1)].any():
            pitches.append(score.notes[index].pitch)
    return pitches


def voice_range(pitches: Sequence[int], instrument: Instrument | None, voice: int) -> PitchRange:
    """The range rule of the module docstring for one voice."""
    if len(pitches) >= MIN_NOTES:
        low, high = min(pitches) - WIDEN, max(pitches) + WIDEN
        if instrument is not None:
            low = min(max(low, instrument.low), min(pitches))
            high = max(min(high, instrument.high), max(pitches))
        return PitchRange(low, high, "file")
    if instrument is not None:
        return PitchRange(instrument.low, instrument.high, instrument.name)
    fallback = VOICE_RANGES[voice]
    return PitchRange(fallback.low, fallback.high, fallback.name)


def voice_ranges(
    score: Score, mapping: VoiceMapping, cell_mask: BoolArray, grid: TimeGrid
) -> tuple[PitchRange, ...]:
    """One :class:`PitchRange` per voice (0 = soprano) for repainting ``cell_mask`` [4, n]."""
    return tuple(
        voice_range(
            outside_pitches(score, mapping, cell_mask, grid, voice),
            part_instrument(score, mapping.parts[voice]),
            voice,
        )
        for voice in range(N_VOICES)
    )


def range_bias(
    ranges: Sequence[PitchRange], contract: TokenContract, vocab_size: int
) -> FloatArray:
    """float32 [4, V]: 0 for allowed tokens, ``-inf`` for pitches outside a voice's range.

    Rests and tokens that are no pitch stay allowed. A range that misses the
    model's pitches entirely (a piccolo above a chorale model) constrains nothing:
    the grid folds such parts by octaves, and banning every pitch would leave only rests.
    """
    bias = np.zeros((N_VOICES, vocab_size), dtype=np.float32)
    pitches = np.arange(contract.pitch_min, contract.pitch_max + 1)
    for voice, pitch_range in enumerate(ranges):
        allowed = (pitches >= pitch_range.low) & (pitches <= pitch_range.high)
        if allowed.any():
            bias[voice, : len(pitches)] = np.where(allowed, 0.0, -np.inf)
    return bias
