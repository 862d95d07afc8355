"""Which notes of a score are soprano, alto, tenor and bass.

A *part* is what a user thinks of as one line of the file: a track (type 1
with several note tracks), else a channel (type 0 or one note track with
several channels), else the single note track itself. Drums (channel 10)
are never part of a part.

* Up to 4 parts: ordered by mean pitch (highest = soprano) and fitted to the
  voices whose usual ranges they match best (2 parts -> soprano and bass).
  Missing voices are empty; generated notes for them go to a new track (type
  1 with track parts) or a free channel.
* One polyphonic part: split note by note; at each onset the sounding notes
  are ranked by pitch and the new ones take the free voices that fit.
* More than 4 parts: the caller names the parts to use (track name or the
  number shown in the error); otherwise :class:`MidiError` lists them.
* Repainting named parts (:func:`resolve_voices`): voices they leave free
  show other parts as context (:func:`context_parts`), so new notes are
  written against the music that sounds with them, not against empty rows.

The result is a per-note voice assignment, so every later step (grid,
repaint, write-back) works the same whatever the file's layout.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from engine.media.midi.files import DRUM_CHANNEL, MidiError, NoteRecord, Score
from engine.media.midi.grid import N_VOICES, UNMAPPED, VOICES

VOICE_CENTERS = (70.0, 64.0, 57.0, 50.0)
"""Middle of the usual SATB ranges (MIDI pitch), used to fit fewer than 4 parts or notes."""
DEFAULT_VELOCITY = 80
MAX_CONTEXT_CANDIDATES = 12
LAYOUT_TIE = 1.0
"""Semitones (summed over the four parts) within which two part layouts count as equally good."""
"""Parts weighed for context (sounding ones first): C(12, 3) = 220 ways to fill 3 voices."""
_VOICE_ALIASES = {name: i for i, name in enumerate(VOICES)} | {
    name[0]: i for i, name in enumerate(VOICES)
}


@dataclass(frozen=True)
class Part:
    """One line of the file. ``number`` is 1-based, as shown to users."""

    number: int
    label: str
    track: int
    channel: int | None  # None: all non-drum channels of the track
    note_indices: tuple[int, ...]
    mean_pitch: float

    def describe(self) -> str:
        where = (
            f"track {self.track}"
            if self.channel is None
            else f"track {self.track} channel {self.channel + 1}"
        )
        return f"{self.number}: '{self.label}' ({where}, {len(self.note_indices)} notes)"


@dataclass(frozen=True)
class VoiceTarget:
    """Where generated notes of a voice go; ``track`` None means a new track named ``name``."""

    track: int | None
    channel: int
    name: str = ""


@dataclass(frozen=True)
class VoiceMapping:
    """``note_voice[i]`` is the voice (0 = soprano .. 3 = bass) of ``score.notes[i]`` or -1."""

    note_voice: tuple[int, ...]
    targets: tuple[VoiceTarget, ...]
    parts: tuple[Part | None, ...]  # the part feeding each voice; None when missing or split
    mode: str  # "parts" or "split"

    def notes_of(self, voice: int) -> list[int]:
        return [i for i, v in enumerate(self.note_voice) if v == voice]

    def velocity(self, score: Score, voice: int) -> int:
        """The voice's median velocity (what generated notes get), 80 for an empty voice."""
        velocities = [score.notes[i].velocity for i in self.notes_of(voice)]
        return int(np.median(velocities)) if velocities else DEFAULT_VELOCITY


# --------------------------------------------------------------------------- parts


def _mean_pitch(score: Score, indices: Sequence[int]) -> float:
    return float(np.mean([score.notes[i].pitch for i in indices]))


def _part_label(score: Score, track: int, channel: int | None) -> str:
    if channel is not None:
        return f"channel {channel + 1}"
    return score.track_name(track).strip() or f"track {track}"


def find_parts(score: Score) -> list[Part]:
    """The parts of ``score`` in file order (see the module docstring)."""
    pitched = score.pitched_notes
    tracks = sorted({score.notes[i].track for i in pitched})
    groups: list[tuple[int, int | None, list[int]]]
    if len(tracks) > 1:
        groups = [(t, None, [i for i in pitched if score.notes[i].track == t]) for t in tracks]
    else:
        channels = sorted({score.notes[i].channel for i in pitched})
        by_channel: list[int | None] = [*channels] if len(channels) > 1 else [None]
        groups = [
            (
                tracks[0],
                c,
                [i for i in pitched if c is None or score.notes[i].channel == c],
            )
            for c in by_channel
        ]
    return [
        Part(n, _part_label(score, t, c), t, c, tuple(idx), _mean_pitch(score, idx))
        for n, (t, c, idx) in enumerate(groups, start=1)
    ]


class UnknownPartError(MidiError):
    """A ``--voices`` selector that names no part of the file."""

    def __init__(self, message: str, selector: str = "") -> None:
        super().__init__(message)
        self.selector = selector


def _match_part(parts: Sequence[Part], selector: str) -> Part:
    """The part a number or a track name names; two parts of one name are an error, not a guess."""
    wanted = selector.strip().casefold()
    found = [p for p in parts if wanted in (str(p.number), p.label.casefold())]
    if len(found) == 1:
        return found[0]
    if found:
        listing = "; ".join(p.describe() for p in found)
        raise MidiError(f"{selector!r} names {len(found)} parts ({listing}): use their numbers")
    listing = "; ".join(p.describe() for p in parts)
    raise UnknownPartError(f"unknown part {selector!r}: the file has {listing}", selector)


def select_parts(score: Score, selectors: Sequence[str] | None) -> list[Part]:
    """The parts to map: all of them when at most 4, else the ones ``selectors`` name."""
    parts = find_parts(score)
    if not selectors:
        if len(parts) > N_VOICES:
            listing = "; ".join(p.describe() for p in parts)
            example = ",".join(str(p.number) for p in suggested_parts(parts))
            raise MidiError(
                f"{len(parts)} parts found, choose up to 4 (e.g. --voices {example}): {listing}"
            )
        return parts
    chosen = list(dict.fromkeys(_match_part(parts, s) for s in selectors))
    if len(chosen) > N_VOICES:
        raise MidiError(
            f"{len(chosen)} parts chosen, at most 4 fit the soprano/alto/tenor/bass grid"
        )
    return chosen


# --------------------------------------------------------------------------- fitting


def _best_fit(pitches: Sequence[float], free: Sequence[int]) -> tuple[float, list[int]]:
    """(distance to the voices' centres, voices) of the best order-keeping assignment."""
    best: tuple[float, tuple[int, ...]] | None = None
    for combo in itertools.combinations(sorted(free), len(pitches)):
        cost = sum(abs(p - VOICE_CENTERS[v]) for p, v in zip(pitches, combo, strict=True))
        if best is None or cost < best[0]:
            best = (cost, combo)
    return (best[0], list(best[1])) if best else (0.0, [])


def fit_to_voices(pitches: Sequence[float], free: Sequence[int]) -> list[int]:
    """Voices for ``pitches`` (sorted high to low) among ``free`` voices, keeping pitch order.

    Chooses the order-preserving assignment closest to the voices' usual
    ranges; with as many pitches as voices it is simply the rank.
    """
    return _best_fit(pitches, free)[1]


def _outer_notes(new: list[int], room: int) -> list[int]:
    """Keep the highest and lowest notes when more start than there are free voices."""
    if len(new) <= room:
        return new
    top = (room + 1) // 2
    return new[:top] + new[len(new) - (room - top) :]


def split_polyphonic(score: Score, indices: Sequence[int]) -> dict[int, int]:
    """Voice per note of one polyphonic part: rank by pitch per onset, held notes keep theirs."""
    assigned: dict[int, int] = {}
    by_onset: dict[int, list[int]] = {}
    for i in indices:
        by_onset.setdefault(score.notes[i].start, []).append(i)
    sounding: list[int] = []
    for onset in sorted(by_onset):
        sounding = [i for i in sounding if score.notes[i].end > onset]
        free = [v for v in range(N_VOICES) if v not in {assigned[i] for i in sounding}]
        new = sorted(by_onset[onset], key=lambda i: -score.notes[i].pitch)
        kept = _outer_notes(new, len(free))
        voices = fit_to_voices([score.notes[i].pitch for i in kept], free)
        assigned.update(zip(kept, voices, strict=True))
        sounding += kept
    return assigned


def _is_polyphonic(notes: Sequence[NoteRecord]) -> bool:
    ordered = sorted(notes, key=lambda n: n.start)
    latest_end = -1
    for note in ordered:
        if note.start < latest_end:
            return True
        latest_end = max(latest_end, note.end)
    return False


# --------------------------------------------------------------------------- targets


def _free_channels(score: Score) -> list[int]:
    used = {msg.channel for track in score.midi.tracks for msg in track if hasattr(msg, "channel")}
    return [c for c in range(16) if c != DRUM_CHANNEL and c not in used]


def _part_channel(score: Score, part: Part) -> int:
    if part.channel is not None:
        return part.channel
    return Counter(score.notes[i].channel for i in part.note_indices).most_common(1)[0][0]


def _targets(
    score: Score, parts: Sequence[Part | None], track_parts: bool
) -> tuple[VoiceTarget, ...]:
    """Existing voices write to their part; missing ones to a new track or a free channel."""
    present = [p for p in parts if p is not None]
    free = _free_channels(score)
    targets = []
    for voice, part in enumerate(parts):
        if part is not None:
            targets.append(VoiceTarget(part.track, _part_channel(score, part)))
            continue
        channel = free.pop(0) if free else _part_channel(score, present[-1])
        new_track = track_parts and score.midi_type == 1
        track = None if new_track else present[0].track
        targets.append(VoiceTarget(track, channel, VOICES[voice].capitalize()))
    return tuple(targets)


def map_voices(score: Score, parts: Sequence[str] | None = None) -> VoiceMapping:
    """Map the score (or the named ``parts``) to soprano, alto, tenor and bass."""
    return map_parts(score, select_parts(score, parts))


def _splits(score: Score, chosen: Sequence[Part]) -> bool:
    """Whether ``chosen`` is one polyphonic part, to be split note by note into the voices."""
    return len(chosen) == 1 and _is_polyphonic([score.notes[i] for i in chosen[0].note_indices])


def map_parts(score: Score, chosen: Sequence[Part]) -> VoiceMapping:
    """Map the ``chosen`` parts (at most 4, from :func:`find_parts`) to the four voices."""
    note_voice = [UNMAPPED] * len(score.notes)
    if _splits(score, chosen):
        for i, voice in split_polyphonic(score, chosen[0].note_indices).items():
            note_voice[i] = voice
        target = VoiceTarget(chosen[0].track, _part_channel(score, chosen[0]))
        return VoiceMapping(tuple(note_voice), (target,) * N_VOICES, (None,) * N_VOICES, "split")
    ordered = sorted(chosen, key=lambda p: -p.mean_pitch)
    voices = fit_to_voices([p.mean_pitch for p in ordered], range(N_VOICES))
    by_voice: list[Part | None] = [None] * N_VOICES
    for part, voice in zip(ordered, voices, strict=True):
        by_voice[voice] = part
        for i in part.note_indices:
            note_voice[i] = voice
    track_parts = any(p.channel is None for p in chosen) and len({p.track for p in chosen}) > 1
    return VoiceMapping(
        tuple(note_voice),
        _targets(score, by_voice, track_parts),
        tuple(by_voice),
        "parts",
    )


def parse_voice_names(names: Sequence[str]) -> list[int] | None:
    """Voice indices when every name is a voice (soprano or s, ...); None when none is."""
    found = [_VOICE_ALIASES.get(n.strip().casefold()) for n in names]
    if all(v is not None for v in found):
        return sorted({v for v in found if v is not None})
    return None


TickSpan = tuple[int, int]
"""Ticks ``[start, end)`` of a region."""


def _sounding_ticks(score: Score, part: Part, span: TickSpan) -> int:
    """Ticks of ``span`` covered by ``part``'s notes (overlapping notes count twice)."""
    start, end = span
    notes = (score.notes[i] for i in part.note_indices)
    return sum(max(0, min(n.end, end) - max(n.start, start)) for n in notes)


def sounds_through(score: Score, part: Part, span: TickSpan) -> bool:
    """Whether ``part`` sounds during at least half of ``span``."""
    return 2 * _sounding_ticks(score, part, span) >= span[1] - span[0]


def _layout_cost(parts: Iterable[Part]) -> float:
    """How far ``parts``, mapped by pitch order, sit from the S/A/T/B centres."""
    pitches = sorted((p.mean_pitch for p in parts), reverse=True)
    return _best_fit(pitches, range(N_VOICES))[0]


def suggested_parts(parts: Sequence[Part]) -> list[Part]:
    """The four parts (of the first 12) that sit closest to soprano/alto/tenor/bass, in file order.

    What to offer when a file has more parts than voices: a madrigal's bass
    is often listed last, and taking the first four would drop it. Layouts
    within :data:`LAYOUT_TIE` of the best count as equal and the earliest
    parts win, since scores list a principal part (Canto) before its double.
    """
    candidates = list(parts)[:MAX_CONTEXT_CANDIDATES]
    layouts = list(itertools.combinations(candidates, min(N_VOICES, len(candidates))))
    costs = [_layout_cost(layout) for layout in layouts]
    first_good = next(i for i, cost in enumerate(costs) if cost <= min(costs) + LAYOUT_TIE)
    return list(layouts[first_good])


def context_parts(score: Score, chosen: Sequence[Part], span: TickSpan | None = None) -> list[Part]:
    """Parts not chosen that fill the voices the chosen ones leave free.

    The model harmonises what it sees: repainting the alto and tenor of a
    madrigal against empty rows would ignore the parts sounding with them
    (it then mostly wrote rests). Of all the ways to fill the free voices,
    the one with the most parts sounding through the region ``span`` wins (a
    resting bass tells the model nothing), then the one whose four parts sit
    closest to soprano/alto/tenor/bass: choosing S, A and T leaves the bass's
    row to the bass, not to a second soprano.
    """
    rest = [p for p in find_parts(score) if p not in chosen]
    heard = {p.number: span is not None and sounds_through(score, p, span) for p in rest}
    rest = sorted(rest, key=lambda p: not heard[p.number])[:MAX_CONTEXT_CANDIDATES]
    room = min(max(0, N_VOICES - len(chosen)), len(rest))
    if not room:
        return []

    def rank(combo: Iterable[Part]) -> tuple[int, float]:
        members = list(combo)
        return -sum(heard[p.number] for p in members), _layout_cost([*chosen, *members])

    return list(min(itertools.combinations(rest, room), key=rank))


def unheard_parts(score: Score, mapping: VoiceMapping, span: TickSpan) -> list[Part]:
    """Parts sounding in ``span`` that are in no voice: kept as they are, but unseen by the model.

    A four-voice model cannot hear a fifth part, so new notes may clash with
    it; the CLI says so rather than leave the user to find out by ear.
    """
    mapped = {i for i, voice in enumerate(mapping.note_voice) if voice != UNMAPPED}
    return [
        part
        for part in find_parts(score)
        if not mapped.intersection(part.note_indices) and _sounding_ticks(score, part, span) > 0
    ]


CHORDAL_SHARE = 0.25
"""Share of a part's notes sounding with another of its own notes above which a part named
beside others is split into voices: a piano's right hand, not a violin's few double stops."""


def _chordal(score: Score, chosen: Sequence[Part], n_parts: int) -> bool:
    """Whether one chosen part is to be split: it is the file's only part, or mostly chords.

    A string quartet's second violin with a double stop now and then is one line
    to repaint against the other three, not four voices of its own.
    """
    if n_parts == 1:
        return True
    notes = sorted((score.notes[i] for i in chosen[0].note_indices), key=lambda n: n.start)
    overlapping, latest_end = 0, -1
    for note in notes:
        overlapping += note.start < latest_end
        latest_end = max(latest_end, note.end)
    return overlapping >= CHORDAL_SHARE * len(notes)


def _map_chosen_parts(
    score: Score, chosen: Sequence[Part], span: TickSpan | None
) -> tuple[VoiceMapping, list[int]]:
    """Repaint ``chosen``; free voices show context parts (one chordal part is split)."""
    if _splits(score, chosen) and _chordal(score, chosen, len(find_parts(score))):
        return map_parts(score, chosen), list(range(N_VOICES))
    mapping = map_parts(score, [*chosen, *context_parts(score, chosen, span)])
    return mapping, [v for v, part in enumerate(mapping.parts) if part in chosen]


def _voices_as_parts(score: Score, selectors: Sequence[str]) -> list[str]:
    """Selectors with each voice name (not also a part's name) replaced by the number of the
    part the default mapping puts in that voice, so ``soprano,Viola`` mixes both kinds."""
    parts, mapping = find_parts(score), map_voices(score)
    labels = {p.label.casefold() for p in parts}
    out = []
    for selector in selectors:
        folded = selector.strip().casefold()
        voice = _VOICE_ALIASES.get(folded)
        part = mapping.parts[voice] if voice is not None and folded not in labels else None
        out.append(selector if part is None else str(part.number))
    return out


def _unknown_selector(score: Score, selectors: Sequence[str], exc: UnknownPartError) -> MidiError:
    """The error for a selector that is neither a part (name or number) nor a voice."""
    listing = "; ".join(p.describe() for p in find_parts(score))
    return MidiError(
        f"unknown voice in {','.join(selectors)!r}: {exc.selector!r} is no part or voice. "
        f"Parts (by name, case-insensitive, or number): {listing}. "
        f"Voices: {', '.join(VOICES)}"
    )


def resolve_voices(
    score: Score, selectors: Sequence[str] | None, span: TickSpan | None = None
) -> tuple[VoiceMapping, list[int]]:
    """The mapping and the voices to repaint for a CLI-style ``--voices`` list.

    Each selector is a part, by its name as the file has it (any case) or its
    1-based number, or a voice (soprano, alto, tenor, bass, or s/a/t/b: the
    part the default mapping puts there). Voice names alone pick voices of the
    default mapping; files with more than 4 parts need parts named, voice
    names then naming tracks. Voices the parts leave free show other parts as
    context, those sounding through the region ``span`` (ticks) first
    (:func:`context_parts`).
    """
    if not selectors:
        return map_voices(score), list(range(N_VOICES))
    n_parts = len(find_parts(score))
    voices = parse_voice_names(selectors)
    if voices is not None and n_parts <= N_VOICES:
        return map_voices(score), voices
    named = _voices_as_parts(score, selectors) if n_parts <= N_VOICES else list(selectors)
    try:
        chosen = select_parts(score, named)
    except UnknownPartError as exc:
        if n_parts <= N_VOICES:
            raise _unknown_selector(score, selectors, exc) from None
        raise
    return _map_chosen_parts(score, chosen, span)
