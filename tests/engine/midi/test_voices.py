"""Mapping scores to soprano/alto/tenor/bass: tracks, channels, one polyphonic track, >4 parts."""

from __future__ import annotations

import re

import mido
import pytest

from engine.media.midi import (
    UNMAPPED,
    MidiError,
    Part,
    Score,
    context_parts,
    find_parts,
    map_voices,
    read_score,
    resolve_voices,
    sounds_through,
    suggested_parts,
)
from tests.engine.midi.midi_files import TPB, bar_tick, chorale, midi_bytes, to_track, voice_events
from tests.engine.midi.midi_files import quartet as quartet_file


def _voice_labels(score: Score) -> list[str | None]:
    mapping = map_voices(score)
    return [part.label if part else None for part in mapping.parts]


def test_four_tracks_are_ordered_by_mean_pitch() -> None:
    score = read_score(midi_bytes(chorale(1, order=("Bass", "Alto", "Soprano", "Tenor"))))
    assert _voice_labels(score) == ["Soprano", "Alto", "Tenor", "Bass"]
    mapping = map_voices(score)
    for note, voice in zip(score.notes, mapping.note_voice, strict=True):
        assert score.track_name(note.track).lower() == ("soprano", "alto", "tenor", "bass")[voice]
    assert [t.track for t in mapping.targets] == [3, 2, 4, 1]


def test_four_channels_of_a_type0_file() -> None:
    score = read_score(midi_bytes(chorale(0, order=("Tenor", "Soprano", "Bass", "Alto"))))
    # channels follow the order: tenor 1, soprano 2, bass 3, alto 4 (1-based as users see them)
    assert _voice_labels(score) == ["channel 2", "channel 4", "channel 1", "channel 3"]
    assert [t.channel for t in map_voices(score).targets] == [1, 3, 0, 2]


def _chord_track(chords: list[list[int]], hold: int = TPB) -> bytes:
    events: list[tuple[int, mido.Message | mido.MetaMessage]] = []
    for i, chord in enumerate(chords):
        for pitch in chord:
            events.append((i * hold, mido.Message("note_on", note=pitch, velocity=80)))
            events.append(((i + 1) * hold, mido.Message("note_off", note=pitch, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1].type != "note_off"))
    return midi_bytes(mido.MidiFile(type=0, ticks_per_beat=TPB, tracks=[to_track(events)]))


def test_single_polyphonic_track_is_split_by_pitch_order() -> None:
    chords = [[72, 67, 64, 48], [74, 65, 59, 43], [76, 67, 60, 48]]
    score = read_score(_chord_track(chords))
    mapping = map_voices(score)
    assert mapping.mode == "split"
    for note, voice in zip(score.notes, mapping.note_voice, strict=True):
        chord = chords[note.start // TPB]
        assert voice == sorted(chord, reverse=True).index(note.pitch)


def test_split_keeps_held_notes_in_their_voice() -> None:
    """A held soprano keeps its voice while the others move under it."""
    events: list[tuple[int, mido.Message | mido.MetaMessage]] = []
    for pitch, start, end in [(72, 0, 4 * TPB), (60, 0, TPB), (64, TPB, 2 * TPB), (48, 0, 2 * TPB)]:
        events += [
            (start, mido.Message("note_on", note=pitch, velocity=80)),
            (end, mido.Message("note_off", note=pitch, velocity=0)),
        ]
    events.sort(key=lambda e: (e[0], e[1].type != "note_off"))
    score = read_score(
        midi_bytes(mido.MidiFile(type=0, ticks_per_beat=TPB, tracks=[to_track(events)]))
    )
    voice_of = dict(zip((n.pitch for n in score.notes), map_voices(score).note_voice, strict=True))
    assert voice_of[72] == 0 and voice_of[48] == 3
    assert voice_of[64] in (1, 2) and voice_of[60] in (1, 2)


def test_fewer_parts_map_to_the_nearest_voices_and_missing_ones_get_new_tracks() -> None:
    midi = chorale(1, order=("Soprano", "Bass"))
    score = read_score(midi_bytes(midi))
    mapping = map_voices(score)
    assert [p.label if p else None for p in mapping.parts] == ["Soprano", None, None, "Bass"]
    assert mapping.targets[1].track is None and mapping.targets[2].track is None
    used = {n.channel for n in score.notes}
    assert mapping.targets[1].channel not in used | {9}
    assert mapping.targets[1].channel != mapping.targets[2].channel


def test_more_than_four_parts_need_a_choice() -> None:
    order = ("Soprano", "Alto", "Tenor", "Bass", "Soprano")
    score = read_score(midi_bytes(chorale(1, order=order)))
    assert len(find_parts(score)) == 5
    with pytest.raises(MidiError, match="5 parts found, choose up to 4") as info:
        map_voices(score)
    assert re.search(r"\(e\.g\. --voices (1,2,3,4|2,3,4,5)\)", str(info.value))  # one soprano
    madrigal = read_score(midi_bytes(chorale(1, order=("Soprano", *order[:-1]))))
    numbers = [p.number for p in suggested_parts(find_parts(madrigal))]
    assert numbers[1:] == [3, 4, 5] and numbers[0] in (1, 2)  # the bass, listed last, is in
    assert "1: 'Soprano' (track 1" in str(info.value) and "5: 'Soprano' (track 5" in str(info.value)
    mapping, voices = resolve_voices(score, ["2", "3", "4", "5"])
    assert voices == [0, 1, 2, 3]
    assert all(
        v == UNMAPPED for n, v in zip(score.notes, mapping.note_voice, strict=True) if n.track == 1
    )
    with pytest.raises(MidiError, match="unknown part 'Flute'"):
        resolve_voices(score, ["Flute"])
    mapping, voices = resolve_voices(score, ["alto", "TENOR"])  # >4 parts: names pick tracks
    assert voices == [1, 2]  # repainted; a soprano and the bass sound beside them as context
    assert [p.label if p else None for p in mapping.parts] == ["Soprano", "Alto", "Tenor", "Bass"]
    with pytest.raises(MidiError, match="'soprano' names 2 parts .*1: 'Soprano'.*5: 'Soprano'"):
        resolve_voices(score, ["soprano", "alto"])
    mapping, voices = resolve_voices(score, ["5", "alto"])  # numbers tell the two apart
    repainted = [mapping.parts[v] for v in voices]
    assert sorted(p.track for p in repainted if p is not None) == [2, 5]
    context = [p.track for v, p in enumerate(mapping.parts) if v not in voices and p is not None]
    assert sorted(context) == [3, 4]  # tenor and bass: the rows soprano and alto leave free


def test_suggested_parts_prefer_the_layout_nearest_satb_and_on_near_ties_the_first() -> None:
    def parts(*means: float) -> list[Part]:
        return [Part(n, f"part {n}", n, None, (), m) for n, m in enumerate(means, start=1)]

    madrigal = parts(69.2, 69.6, 63.8, 60.6, 51.3)  # Canto, Quinto, Alto, Tenor, Basso
    assert [p.number for p in suggested_parts(madrigal)] == [1, 3, 4, 5]  # 0.4 apart: Canto
    high_first = parts(80.0, 69.6, 63.8, 60.6, 51.3)
    assert [p.number for p in suggested_parts(high_first)] == [2, 3, 4, 5]  # 10 apart: nearest


def test_context_parts_fill_the_rows_the_chosen_parts_leave_free() -> None:
    order = ("Soprano", "Alto", "Tenor", "Bass", "Soprano")
    score = read_score(midi_bytes(chorale(1, order=order)))
    parts = find_parts(score)
    soprano, alto, tenor, bass, second_soprano = parts
    assert context_parts(score, [alto, tenor, soprano]) == [bass]  # not the second soprano
    picked = context_parts(score, [bass])
    assert len(picked) == 3 and {p.label for p in picked} == {"Soprano", "Alto", "Tenor"}
    assert context_parts(score, [alto, tenor]) in ([soprano, bass], [bass, second_soprano])
    assert context_parts(score, parts[:4]) == []


def _bass_resting_from_bar_3() -> Score:
    """Five parts (two sopranos); the bass stops at bar 3 and rests to the end (bar 4)."""
    midi = chorale(1, bars=4, order=("Soprano", "Alto", "Tenor", "Bass", "Soprano"))
    rest_from = bar_tick(3)
    events = [
        (tick, msg)
        for tick, msg in voice_events("Bass", channel=3, bars=4, seed=4, program=55)
        if not (msg.type == "note_on" and tick >= rest_from)
        and not (msg.type == "note_off" and tick > rest_from)
    ]
    midi.tracks[4] = to_track(events, bar_tick(5))
    return read_score(midi_bytes(midi))


def test_context_prefers_parts_that_sound_in_the_region() -> None:
    score = _bass_resting_from_bar_3()
    bass = next(p for p in find_parts(score) if p.label == "Bass")
    assert sounds_through(score, bass, (bar_tick(1), bar_tick(3)))
    assert not sounds_through(score, bass, (bar_tick(3), bar_tick(5)))
    labels = [p.label if p else None for p in resolve_voices(score, ["alto", "tenor"])[0].parts]
    assert labels == ["Soprano", "Alto", "Tenor", "Bass"]  # no region: the layout nearest SATB
    mapping, voices = resolve_voices(score, ["alto", "tenor"], (bar_tick(3), bar_tick(5)))
    labels = [p.label if p else None for p in mapping.parts]
    assert labels == ["Soprano", "Soprano", "Alto", "Tenor"]
    assert voices == [2, 3]  # the resting bass gives way to the second soprano
    mapping, _ = resolve_voices(score, ["alto", "tenor"], (bar_tick(1), bar_tick(3)))
    assert "Bass" in [p.label for p in mapping.parts if p]  # where it sings, it is context


def test_a_part_named_in_a_file_of_four_keeps_the_others_as_context() -> None:
    score = read_score(midi_bytes(chorale(0, order=("Tenor", "Soprano", "Bass", "Alto"))))
    mapping, voices = resolve_voices(score, ["channel 2"])  # the soprano's channel
    assert voices == [0]
    assert all(part is not None for part in mapping.parts)


def test_voice_names_pick_voices_of_the_default_mapping() -> None:
    score = read_score(midi_bytes(chorale(1)))
    mapping, voices = resolve_voices(score, ["tenor", "a"])
    assert voices == [1, 2]
    assert [p.label if p else None for p in mapping.parts] == ["Soprano", "Alto", "Tenor", "Bass"]
    with pytest.raises(MidiError, match="unknown voice in 'alto,fagott'"):
        resolve_voices(score, ["alto", "fagott"])
    quartet = chorale(1)
    for track in quartet.tracks[1:3]:  # two parts of one name, as "Piano" twice in a song
        track[0] = mido.MetaMessage("track_name", name="Violin", time=track[0].time)
    with pytest.raises(MidiError, match="^'violin' names 2 parts"):  # not "unknown voice"
        resolve_voices(read_score(midi_bytes(quartet)), ["violin"])


def test_drums_are_never_a_part() -> None:
    score = read_score(midi_bytes(chorale(1, drums=True)))
    assert len(find_parts(score)) == 4
    mapping = map_voices(score)
    drums = [v for n, v in zip(score.notes, mapping.note_voice, strict=True) if n.channel == 9]
    assert drums and set(drums) == {UNMAPPED}


def test_quartet_parts_by_name_number_or_voice_mixed() -> None:
    """--voices takes the file's names in any case, 1-based numbers and voice names together."""
    score = read_score(midi_bytes(quartet_file()))
    by_name = resolve_voices(score, ["violin 2", "VIOLA"])
    assert by_name[1] == [1, 2]
    assert [p.label if p else None for p in by_name[0].parts] == [
        "Violin 1",
        "Violin 2",
        "Viola",
        "Violoncello",
    ]
    assert resolve_voices(score, ["2", "3"])[1] == [1, 2]
    assert resolve_voices(score, ["soprano", "Violoncello"])[1] == [0, 3]
    with pytest.raises(MidiError, match="'cello' is no part or voice") as info:
        resolve_voices(score, ["alto", "cello"])
    message = str(info.value)
    assert "4: 'Violoncello'" in message and "Voices: soprano, alto, tenor, bass" in message


def test_a_quartet_part_with_double_stops_is_one_line_among_the_others() -> None:
    """Naming a violin that plays a double stop now and then repaints that violin alone."""
    midi = quartet_file()
    track = midi.tracks[2]  # Violin 2
    chord = [mido.Message("note_on", channel=1, note=60, velocity=80, time=0)]
    chord.append(mido.Message("note_off", channel=1, note=60, velocity=0, time=TPB // 2))
    at = next(i for i, msg in enumerate(track) if msg.type == "note_on")
    track[at + 1 : at + 1] = chord  # sounds with the part's first note
    score = read_score(midi_bytes(midi))
    mapping, voices = resolve_voices(score, ["Violin 2"])
    assert voices == [1] and mapping.mode == "parts"
    assert [p.label if p else None for p in mapping.parts][1] == "Violin 2"
