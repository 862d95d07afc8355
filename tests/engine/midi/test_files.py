"""Reading and writing Standard MIDI Files: exact round trips, the note index, bad input."""

from __future__ import annotations

from pathlib import Path

import mido
import pytest

from engine.media.midi import (
    MidiError,
    Score,
    apply_edit,
    load_score,
    map_voices,
    read_score,
    save_score,
)
from tests.engine.midi.midi_files import (
    TPB,
    bar_tick,
    chorale,
    midi_bytes,
    non_note_events,
    note_keys,
    save,
)


@pytest.mark.parametrize("midi_type", [0, 1])
def test_round_trip_is_byte_identical(tmp_path: Path, midi_type: int) -> None:
    data = midi_bytes(chorale(midi_type))
    score = read_score(data)
    out = tmp_path / "out.mid"
    save_score(score, out)
    assert out.read_bytes() == data
    # re-encoding the parsed messages (no original bytes kept) is identical too
    assert Score.from_midifile(score.midi).to_bytes() == data


@pytest.mark.parametrize("midi_type", [0, 1])
def test_an_empty_edit_rebuilds_the_same_file(midi_type: int) -> None:
    """The write-back path itself (not the stored bytes) keeps every message and tick."""
    score = read_score(midi_bytes(chorale(midi_type)))
    mapping = map_voices(score)
    holes: list[list[tuple[int, int]]] = [[], [], [], []]
    rebuilt = apply_edit(score, mapping, holes, [])
    assert rebuilt.to_bytes() == score.to_bytes()


def test_round_trip_keeps_running_status_bytes(tmp_path: Path) -> None:
    """A file mido would encode differently (running status, note-on velocity 0) stays exact."""
    header = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60"
    events = (
        b"\x00\x90\x3c\x40"
        + b"\x60\x3c\x00"
        + b"\x00\x3e\x40"
        + b"\x60\x3e\x00"
        + b"\x00\xff\x2f\x00"
    )
    data = header + b"MTrk" + len(events).to_bytes(4, "big") + events
    path = tmp_path / "running.mid"
    path.write_bytes(data)
    score = load_score(path)
    assert [(n.pitch, n.start, n.end) for n in score.notes] == [(60, 0, 96), (62, 96, 192)]
    save_score(score, tmp_path / "copy.mid")
    assert (tmp_path / "copy.mid").read_bytes() == data


def test_tempo_meter_key_program_and_meta_are_indexed() -> None:
    score = read_score(midi_bytes(chorale(1)))
    assert score.tempo_map == (
        (0, mido.bpm2tempo(100)),
        (bar_tick(5), mido.bpm2tempo(90)),
    )
    assert [(t.tick, t.numerator, t.denominator) for t in score.time_signatures] == [
        (0, 3, 4),
        (6 * TPB, 4, 4),
    ]
    kinds = {event[2].split("(")[0] for event in non_note_events(score)}
    assert {"MetaMessage", "Message"} <= kinds
    text = " ".join(event[2] for event in non_note_events(score))
    for needed in (
        "key_signature",
        "program_change",
        "control_change",
        "pitchwheel",
        "sysex",
        "marker",
    ):
        assert needed in text


def test_note_index_points_at_the_messages() -> None:
    score = read_score(midi_bytes(chorale(1)))
    for note in score.notes:
        on = score.midi.tracks[note.track][note.on_index]
        assert (on.type, on.note, on.velocity, on.channel) == (
            "note_on",
            note.pitch,
            note.velocity,
            note.channel,
        )
        assert note.off_index is not None
        off = score.midi.tracks[note.track][note.off_index]
        assert off.type == "note_off" and off.note == note.pitch
    velocities = {score.track_name(n.track): n.velocity for n in score.notes}
    assert velocities == {"Soprano": 90, "Alto": 70, "Tenor": 64, "Bass": 100}
    # type 0 holds the same notes, all in track 0
    flat = read_score(midi_bytes(chorale(0)))
    assert {k[1:] for k in note_keys(flat.notes)} == {k[1:] for k in note_keys(score.notes)}


def test_unterminated_note_lasts_to_the_end_of_its_track() -> None:
    track = mido.MidiTrack(
        [
            mido.Message("note_on", note=60, velocity=80, time=0),
            mido.MetaMessage("end_of_track", time=960),
        ]
    )
    midi = mido.MidiFile(type=0, ticks_per_beat=TPB, tracks=[track])
    (note,) = read_score(midi_bytes(midi)).notes
    assert (note.start, note.end, note.off_index) == (0, 960, None)


# --------------------------------------------------------------------------- bad input


def _only(messages: list[mido.Message | mido.MetaMessage], midi_type: int = 0) -> bytes:
    track = mido.MidiTrack(messages + [mido.MetaMessage("end_of_track", time=0)])
    return midi_bytes(mido.MidiFile(type=midi_type, ticks_per_beat=TPB, tracks=[track]))


def _note(channel: int = 0) -> list[mido.Message]:
    return [
        mido.Message("note_on", channel=channel, note=60, velocity=80, time=0),
        mido.Message("note_off", channel=channel, note=60, velocity=0, time=TPB),
    ]


def _tempo(bpm: float) -> list[mido.MetaMessage]:
    return [mido.MetaMessage("set_tempo", tempo=round(60e6 / bpm))]


def _type2() -> bytes:
    midi = mido.MidiFile(type=2, ticks_per_beat=TPB)
    midi.tracks.append(mido.MidiTrack(_note() + [mido.MetaMessage("end_of_track", time=0)]))
    return midi_bytes(midi)


BAD_FILES = {
    "empty": (b"", "empty file"),
    "text": (b"hello, not music\n", "not a MIDI file"),
    "truncated": (midi_bytes(chorale(1))[:200], "truncated"),
    "header only": (midi_bytes(chorale(1))[:14], "truncated"),
    "type 2": (_type2(), "type 2"),
    "no notes": (_only([mido.MetaMessage("text", text="silence")]), "no notes"),
    "only drums": (_only(_note(channel=9)), "only drums"),
    "slow tempo": (_only(_tempo(5) + _note()), "absurd tempo 5 BPM"),
    "fast tempo": (_only(_tempo(2000) + _note()), "absurd tempo 2000 BPM"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_input_is_one_line_midi_error(tmp_path: Path, case: str) -> None:
    data, message = BAD_FILES[case]
    path = tmp_path / "bad.mid"
    path.write_bytes(data)
    with pytest.raises(MidiError, match=message) as info:
        load_score(path)
    text = str(info.value)
    assert "\n" not in text and str(path) in text
    assert path.read_bytes() == data  # the input is never modified


def test_missing_file_is_a_midi_error(tmp_path: Path) -> None:
    with pytest.raises(MidiError, match="no such file"):
        load_score(tmp_path / "nope.mid")


def test_loading_leaves_the_file_untouched(tmp_path: Path) -> None:
    path = save(chorale(1), tmp_path / "in.mid")
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    load_score(path)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
