"""Write repainted voices back into a copy of the MIDI file, leaving the rest bit-exact.

Only note messages of the repainted voices inside the region are touched:

* a note wholly inside the region is removed;
* a note crossing the region border is cut at the border: the part outside
  keeps its original note-on (start, velocity) or note-off, and the cut side
  gets a copy of the original message moved to the border tick;
* generated notes are added on the voice's track and channel.

Every other message keeps its absolute tick and its relative order, so notes
outside the region and all non-note events (tempo, meters, keys, programs,
controllers, sysex, unknown meta) are written back as they were. At equal
ticks new note-offs go before the original events and new note-ons after
them, so no note is cut short or doubled by event order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import mido

from engine.media.midi.files import NoteRecord, Score, absolute_ticks
from engine.media.midi.voices import VoiceMapping, VoiceTarget

Interval = tuple[int, int]
_OFF, _KEEP, _ON, _LAST = 0, 1, 2, 3  # sort order of events sharing a tick


@dataclass(frozen=True)
class NewNote:
    """A generated note for ``voice``; ticks absolute, ``end`` exclusive."""

    voice: int
    pitch: int
    start: int
    end: int


def subtract(span: Interval, holes: Sequence[Interval]) -> list[Interval]:
    """The parts of ``span`` outside every interval of ``holes`` (sorted, disjoint)."""
    pieces, cursor = [], span[0]
    for lo, hi in holes:
        if hi <= cursor or lo >= span[1]:
            continue
        if lo > cursor:
            pieces.append((cursor, lo))
        cursor = max(cursor, hi)
    if cursor < span[1]:
        pieces.append((cursor, span[1]))
    return pieces


@dataclass
class _TrackEdit:
    """Messages to drop (by position) and to add (tick, order, message) in one track."""

    drop: set[int] = field(default_factory=set)
    add: list[tuple[int, int, mido.Message]] = field(default_factory=list)


class _Editor:
    """Collects edits per track, then builds the new file in one pass."""

    def __init__(self, score: Score) -> None:
        self.score = score
        self.edits: dict[int, _TrackEdit] = {}
        self.new_tracks: dict[str, int] = {}

    def track_edit(self, track: int) -> _TrackEdit:
        return self.edits.setdefault(track, _TrackEdit())

    def cut(self, note: NoteRecord, keep: Sequence[Interval]) -> None:
        """Replace ``note`` by the pieces ``keep``.

        The original note-on (off) stays where it is when a piece still starts
        (ends) there, so simultaneous messages keep their order; moved borders
        get copies of the original messages (same type, channel, velocity).
        """
        edit = self.track_edit(note.track)
        messages = self.score.midi.tracks[note.track]
        on_msg = messages[note.on_index]
        off_msg = (
            messages[note.off_index] if note.off_index is not None else _off_like(on_msg, None)
        )
        if not keep or keep[0][0] != note.start:
            edit.drop.add(note.on_index)
        if note.off_index is not None and (not keep or keep[-1][1] != note.end):
            edit.drop.add(note.off_index)
        for lo, hi in keep:
            if lo != note.start:
                edit.add.append((lo, _ON, on_msg))
            if hi != note.end:
                edit.add.append((hi, _OFF, off_msg))

    def insert(
        self,
        target: VoiceTarget,
        pitch: int,
        velocity: int,
        span: Interval,
        off_style: str,
    ) -> None:
        track = self._track_of(target)
        on_msg = mido.Message("note_on", channel=target.channel, note=pitch, velocity=velocity)
        edit = self.track_edit(track)
        edit.add.append((span[0], _ON, on_msg))
        edit.add.append((span[1], _OFF, _off_like(on_msg, off_style)))

    def _track_of(self, target: VoiceTarget) -> int:
        if target.track is not None:
            return target.track
        if target.name not in self.new_tracks:
            self.new_tracks[target.name] = len(self.score.midi.tracks) + len(self.new_tracks)
        return self.new_tracks[target.name]

    def build(self) -> mido.MidiFile:
        midi = mido.MidiFile(type=self.score.midi.type, ticks_per_beat=self.score.ticks_per_beat)
        midi.tracks = [self._rebuild(i, track) for i, track in enumerate(self.score.midi.tracks)]
        for name, index in sorted(self.new_tracks.items(), key=lambda item: item[1]):
            header = [(0, _KEEP, mido.MetaMessage("track_name", name=name))]
            midi.tracks.append(_assemble(header + self._additions(index), None))
        return midi

    def _additions(self, track: int) -> list[tuple[int, int, mido.Message | mido.MetaMessage]]:
        edit = self.edits.get(track, _TrackEdit())
        return [(tick, order, msg) for tick, order, msg in edit.add]

    def _rebuild(self, index: int, track: mido.MidiTrack) -> mido.MidiTrack:
        if index not in self.edits:
            return track  # untouched tracks are the very same messages
        edit = self.edits[index]
        ticks = absolute_ticks(track)
        events: list[tuple[int, int, mido.Message | mido.MetaMessage]] = []
        end_of_track = None
        for i, (tick, msg) in enumerate(zip(ticks, track, strict=True)):
            if msg.type == "end_of_track":
                end_of_track = (tick, msg)
            elif i not in edit.drop:
                events.append((tick, _KEEP, msg))
        return _assemble(events + self._additions(index), end_of_track)


def _off_like(on_msg: mido.Message, style: str | None) -> mido.Message:
    """A note-off for ``on_msg`` in the track's style (note_off, or note_on velocity 0)."""
    if style == "note_on":
        return on_msg.copy(velocity=0, time=0)
    return mido.Message("note_off", channel=on_msg.channel, note=on_msg.note, velocity=0)


def off_style(track: Iterable[mido.Message | mido.MetaMessage]) -> str:
    """How a track writes note-offs: ``"note_on"`` (velocity 0) or ``"note_off"``."""
    zero_on = sum(1 for m in track if m.type == "note_on" and m.velocity == 0)
    explicit = sum(1 for m in track if m.type == "note_off")
    return "note_on" if zero_on > explicit else "note_off"


def _assemble(
    events: list[tuple[int, int, mido.Message | mido.MetaMessage]],
    end_of_track: tuple[int, mido.MetaMessage] | None,
) -> mido.MidiTrack:
    """Sort by (tick, order) - stable, so kept messages keep their order - and re-delta."""
    events = sorted(events, key=lambda e: (e[0], e[1]))
    last = events[-1][0] if events else 0
    eot_tick, eot = end_of_track if end_of_track else (last, mido.MetaMessage("end_of_track"))
    events.append((max(eot_tick, last), _LAST, eot))
    track, now = mido.MidiTrack(), 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - now))
        now = tick
    return track


def apply_edit(
    score: Score,
    mapping: VoiceMapping,
    holes: Sequence[Sequence[Interval]],
    new_notes: Sequence[NewNote],
) -> Score:
    """A new Score: voices' notes cut out of ``holes[voice]`` and ``new_notes`` added.

    Generated notes that would overlap a kept note of the same pitch on the
    same track and channel are shortened to avoid it (two such notes cannot be
    told apart in MIDI, and the kept one must stay exact).
    """
    editor = _Editor(score)
    kept = _cut_voices(editor, mapping, holes)
    velocities = [mapping.velocity(score, v) for v in range(len(mapping.targets))]
    for new in new_notes:
        target = mapping.targets[new.voice]
        blocked = sorted(kept.get((target.track, target.channel, new.pitch), []))
        style = "note_off" if target.track is None else off_style(score.midi.tracks[target.track])
        for span in subtract((new.start, new.end), blocked):
            editor.insert(target, new.pitch, velocities[new.voice], span, style)
    return Score.from_midifile(editor.build(), name=score.name)


def _cut_voices(
    editor: _Editor, mapping: VoiceMapping, holes: Sequence[Sequence[Interval]]
) -> dict[tuple[int | None, int, int], list[Interval]]:
    """Cut the holes out of mapped notes; return what sounds per (track, channel, pitch)."""
    kept: dict[tuple[int | None, int, int], list[Interval]] = {}
    for note, voice in zip(editor.score.notes, mapping.note_voice, strict=True):
        whole = [(note.start, note.end)]
        keep = subtract(whole[0], holes[voice]) if voice >= 0 else whole
        if keep != whole:
            editor.cut(note, keep)
        kept.setdefault((note.track, note.channel, note.pitch), []).extend(keep)
    return kept


@dataclass(frozen=True)
class PlacedNote:
    """A note to write at an explicit place (a hand edit): where it goes, pitch, velocity, ticks."""

    target: VoiceTarget
    pitch: int
    velocity: int
    start: int
    end: int


def replace_notes(score: Score, remove: Iterable[int], add: Sequence[PlacedNote]) -> Score:
    """A new Score without the notes ``remove`` (indices into ``score.notes``) and with ``add``.

    Used by hand edits (add, move, delete a note in the piano roll), which name
    single notes rather than a region of voices. Everything else is written
    back exactly, as in :func:`apply_edit`; an added note that would overlap a
    kept note of the same pitch on the same track and channel is shortened.
    """
    editor = _Editor(score)
    removed = set(remove)
    kept: dict[tuple[int | None, int, int], list[Interval]] = {}
    for index, note in enumerate(score.notes):
        if index in removed:
            editor.cut(note, [])
        else:
            kept.setdefault((note.track, note.channel, note.pitch), []).append(
                (note.start, note.end)
            )
    for new in add:
        target = new.target
        blocked = sorted(kept.get((target.track, target.channel, new.pitch), []))
        style = "note_off" if target.track is None else off_style(score.midi.tracks[target.track])
        for span in subtract((new.start, new.end), blocked):
            editor.insert(target, new.pitch, new.velocity, span, style)
    return Score.from_midifile(editor.build(), name=score.name)
