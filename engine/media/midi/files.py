"""Standard MIDI Files in and out, with an index of notes that allows exact write-back.

Why mido: it is pure Python (nothing to compile for the bundle), works at the
message level and keeps every tick exact. pretty_midi converts times to seconds
(rounding on the way back) and drops events it does not model; symusic is a
compiled dependency. Editing only a few notes must leave everything else in the
file as it was, and that needs message-level access.

A :class:`Score` keeps the original :class:`mido.MidiFile` untouched, the exact
bytes it was read from, and an index of :class:`NoteRecord` (track, channel,
pitch, velocity, start and end tick, and the positions of the note-on/off
messages in their track). Edits (see ``midi_edit``) build a new file from the
original messages, so an unchanged note keeps its ticks, pitch, velocity,
channel and track, and every non-note event stays.
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import mido
from mido.midifiles.meta import KeySignatureError

from engine.atomic import write_atomic
from engine.media.midi.limits import MAX_FILE_BYTES, MAX_QUARTERS

DRUM_CHANNEL = 9
"""Channel 10 (0-based 9) is General MIDI percussion: never mapped to voices or repainted."""
MIN_BPM = 10.0
MAX_BPM = 1000.0
DEFAULT_TEMPO = 500_000  # microseconds per quarter note (120 BPM), the SMF default


class MidiError(ValueError):
    """A MIDI file remask cannot use; the message is one line a user can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


@dataclass(frozen=True)
class NoteRecord:
    """One note as found in the file; ticks are absolute, ``end`` exclusive.

    ``on_index``/``off_index`` are message positions in ``midi.tracks[track]``;
    ``off_index`` is None for a note never switched off (it lasts to the end of its track).
    """

    track: int
    channel: int
    pitch: int
    velocity: int
    start: int
    end: int
    on_index: int
    off_index: int | None

    @property
    def is_drum(self) -> bool:
        return self.channel == DRUM_CHANNEL

    def key(self) -> tuple[int, int, int, int, int, int]:
        """What "bit-exact" compares: track, channel, pitch, velocity, start, end."""
        return (
            self.track,
            self.channel,
            self.pitch,
            self.velocity,
            self.start,
            self.end,
        )


@dataclass(frozen=True)
class TimeSignature:
    tick: int
    numerator: int
    denominator: int


@dataclass(frozen=True, eq=False)
class Score:
    """A MIDI file plus its note index. Treat as immutable: edits return a new Score.

    ``source`` holds the exact bytes read, so saving an unedited score is
    byte-identical even for files whose encoding mido would normalise
    (running status, note-off style); it is None for edited scores.
    """

    midi: mido.MidiFile
    notes: tuple[NoteRecord, ...]
    tempo_map: tuple[tuple[int, int], ...]
    time_signatures: tuple[TimeSignature, ...]
    source: bytes | None = None
    name: str = ""

    @staticmethod
    def from_midifile(midi: mido.MidiFile, source: bytes | None = None, name: str = "") -> Score:
        """Index ``midi`` (which must not be changed afterwards)."""
        notes = tuple(index_notes(midi))
        return Score(midi, notes, read_tempo_map(midi), read_time_signatures(midi), source, name)

    @property
    def ticks_per_beat(self) -> int:
        return int(self.midi.ticks_per_beat)

    @property
    def midi_type(self) -> int:
        return int(self.midi.type)

    @property
    def pitched_notes(self) -> list[int]:
        """Indices of notes that are not drums."""
        return [i for i, note in enumerate(self.notes) if not note.is_drum]

    def end_tick(self) -> int:
        """Where the last note ends (0 without notes)."""
        return max((note.end for note in self.notes), default=0)

    def track_name(self, track: int) -> str:
        """The first ``track_name`` meta message of ``track`` ("" if it has none)."""
        for msg in self.midi.tracks[track]:
            if msg.type == "track_name":
                return str(msg.name)
        return ""

    def to_bytes(self) -> bytes:
        """The file's bytes: the original ones when unedited, else mido's encoding."""
        if self.source is not None:
            return self.source
        buffer = io.BytesIO()
        self.midi.save(file=buffer)
        return buffer.getvalue()


# --------------------------------------------------------------------------- reading


def absolute_ticks(track: Iterable[mido.Message | mido.MetaMessage]) -> list[int]:
    """The absolute tick of each message of a track (delta times summed)."""
    ticks, now = [], 0
    for msg in track:
        now += int(msg.time)
        ticks.append(now)
    return ticks


def _is_note_on(msg: mido.Message | mido.MetaMessage) -> bool:
    return bool(msg.type == "note_on" and msg.velocity > 0)


def _is_note_off(msg: mido.Message | mido.MetaMessage) -> bool:
    return bool(msg.type == "note_off" or (msg.type == "note_on" and msg.velocity == 0))


def _track_notes(track_index: int, track: mido.MidiTrack) -> Iterator[NoteRecord]:
    """Pair note-ons with note-offs first-in first-out per (channel, pitch).

    FIFO is what most sequencers do with overlapping same-pitch notes; a stray
    note-off is ignored and an unterminated note lasts to the end of the track.
    """
    ticks = absolute_ticks(track)
    open_notes: dict[tuple[int, int], deque[int]] = {}
    for index, msg in enumerate(track):
        if _is_note_on(msg):
            open_notes.setdefault((msg.channel, msg.note), deque()).append(index)
        elif _is_note_off(msg) and open_notes.get((msg.channel, msg.note)):
            on = open_notes[(msg.channel, msg.note)].popleft()
            yield _record(track_index, track[on], ticks[on], ticks[index], on, index)
    end = ticks[-1] if ticks else 0
    for queue in open_notes.values():
        for on in queue:
            yield _record(track_index, track[on], ticks[on], end, on, None)


def _record(
    track: int, on_msg: mido.Message, start: int, end: int, on: int, off: int | None
) -> NoteRecord:
    return NoteRecord(track, on_msg.channel, on_msg.note, on_msg.velocity, start, end, on, off)


def index_notes(midi: mido.MidiFile) -> list[NoteRecord]:
    """Every note of every track, ordered by start tick, then track and message position."""
    notes = [note for i, track in enumerate(midi.tracks) for note in _track_notes(i, track)]
    return sorted(notes, key=lambda n: (n.start, n.track, n.on_index))


def _meta_events(midi: mido.MidiFile, kind: str) -> list[tuple[int, mido.MetaMessage]]:
    """(tick, message) of one meta type over all tracks, in tick order."""
    events = []
    for track in midi.tracks:
        events += [
            (t, msg)
            for t, msg in zip(absolute_ticks(track), track, strict=True)
            if msg.type == kind
        ]
    return sorted(events, key=lambda event: event[0])


def read_tempo_map(midi: mido.MidiFile) -> tuple[tuple[int, int], ...]:
    """(tick, microseconds per quarter) changes, starting with tick 0 (120 BPM if unset)."""
    by_tick = {t: int(msg.tempo) for t, msg in _meta_events(midi, "set_tempo")}
    changes = list(by_tick.items())  # the last one at a tick wins, as in a merged playback
    if not changes or changes[0][0] > 0:
        changes.insert(0, (0, DEFAULT_TEMPO))
    return tuple(changes)


def read_time_signatures(midi: mido.MidiFile) -> tuple[TimeSignature, ...]:
    """Time-signature changes, starting with tick 0 (4/4 if unset)."""
    by_tick = {
        t: TimeSignature(t, msg.numerator, msg.denominator)
        for t, msg in _meta_events(midi, "time_signature")
    }
    changes = list(by_tick.values())  # one per tick: type 1 files often repeat it in every track
    if not changes or changes[0].tick > 0:
        changes.insert(0, TimeSignature(0, 4, 4))
    return tuple(changes)


def _parse(data: bytes, name: str) -> mido.MidiFile:
    """mido's parse with its many failure types turned into one :class:`MidiError`."""
    if not data:
        raise MidiError(f"{name}: empty file (0 bytes), not a MIDI file")
    if not data.startswith(b"MThd"):
        raise MidiError(f"{name}: not a MIDI file (no 'MThd' header)")
    try:
        return mido.MidiFile(file=io.BytesIO(data), clip=True)
    except EOFError:
        raise MidiError(f"{name}: truncated MIDI file (ends inside a chunk)") from None
    except (OSError, ValueError, KeyError, IndexError, TypeError, KeySignatureError) as exc:
        raise MidiError(f"{name}: damaged MIDI file ({exc})") from None


def _check_header(midi: mido.MidiFile, name: str) -> None:
    if midi.type == 2:
        raise MidiError(
            f"{name}: MIDI type 2 (independent sequences) is not supported; use type 0 or 1"
        )
    if midi.type not in (0, 1):
        raise MidiError(f"{name}: damaged MIDI file (format {midi.type}; only 0, 1 and 2 exist)")
    division = int(midi.ticks_per_beat)
    if division <= 0 or division & 0x8000:
        raise MidiError(f"{name}: SMPTE or zero time division ({division}) is not supported")


def _check_length(midi: mido.MidiFile, name: str) -> None:
    """Refuse a piece longer than :data:`MAX_QUARTERS` from its ticks, before any grid exists."""
    last = max((sum(int(msg.time) for msg in track) for track in midi.tracks), default=0)
    quarters = last / int(midi.ticks_per_beat)
    if quarters > MAX_QUARTERS:
        raise MidiError(
            f"{name}: the piece lasts {quarters:,.0f} quarter notes, more than the "
            f"{MAX_QUARTERS:,} remask reads (limits.MAX_QUARTERS: its note grid would not fit "
            "in memory)"
        )


def _check_content(score: Score, name: str) -> None:
    if not score.notes:
        raise MidiError(f"{name}: the file has no notes")
    if not score.pitched_notes:
        raise MidiError(f"{name}: the file has only drums (channel 10), nothing to repaint")
    for tick, tempo in score.tempo_map:
        bpm = 60e6 / tempo if tempo > 0 else float("inf")
        if not MIN_BPM <= bpm <= MAX_BPM:
            raise MidiError(
                f"{name}: absurd tempo {bpm:.4g} BPM at tick {tick} "
                f"(expected {MIN_BPM:g}..{MAX_BPM:g} BPM)"
            )


def read_score(data: bytes, name: str = "<bytes>") -> Score:
    """Parse and check SMF bytes; every problem is a one-line :class:`MidiError`."""
    midi = _parse(data, name)
    _check_header(midi, name)
    _check_length(midi, name)
    score = Score.from_midifile(midi, source=bytes(data), name=name)
    _check_content(score, name)
    return score


def load_score(path: str | Path) -> Score:
    """Read a ``.mid`` file (opened read-only; the file is never modified)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise MidiError(
                f"{path}: {size / 2**20:.0f} MiB is more than the {MAX_FILE_BYTES // 2**20} MiB "
                "remask reads (limits.MAX_FILE_BYTES)"
            )
        data = path.read_bytes()
    except IsADirectoryError:
        raise MidiError(f"{path}: is a folder, not a MIDI file") from None
    except FileNotFoundError:
        raise MidiError(f"{path}: no such file") from None
    except OSError as exc:
        raise MidiError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return read_score(data, name=str(path))


def save_score(score: Score, path: str | Path) -> None:
    """Write ``score``; an unedited score is written back byte for byte.

    The write is atomic (:mod:`engine.atomic`): a failed or killed save leaves
    the old file whole, which matters most when saving over the file opened.
    """
    write_midi_bytes(score.to_bytes(), path)


def write_midi_bytes(data: bytes, path: str | Path) -> None:
    """Write file bytes atomically; an OS error is one :class:`MidiError` line."""
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise MidiError(f"{path}: cannot write: {exc.strerror or exc}") from None
