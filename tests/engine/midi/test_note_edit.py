"""Hand edits of single notes (the piano roll's add / move / delete) keep everything else exact."""

from __future__ import annotations

from engine.media.midi import map_voices, read_score
from engine.media.midi.edit import PlacedNote, replace_notes
from engine.media.midi.voices import VoiceTarget
from tests.engine.midi.midi_files import TPB, chorale, midi_bytes, non_note_events, note_keys


def test_remove_and_add_touch_only_the_named_notes() -> None:
    score = read_score(midi_bytes(chorale(1, bars=4)))
    victim = score.notes[5]
    target = VoiceTarget(victim.track, victim.channel)
    moved = PlacedNote(
        target, victim.pitch + 2, victim.velocity, victim.start + TPB // 4, victim.end
    )
    edited = replace_notes(score, [5], [moved])
    before = note_keys(score.notes) - {victim.key()}
    expected = before | {
        (victim.track, victim.channel, moved.pitch, moved.velocity, moved.start, moved.end)
    }
    assert note_keys(edited.notes) == expected
    assert non_note_events(edited) == non_note_events(score)


def test_new_note_on_an_existing_same_pitch_note_is_shortened() -> None:
    score = read_score(midi_bytes(chorale(1, bars=2)))
    kept = score.notes[0]
    target = VoiceTarget(kept.track, kept.channel)
    clash = PlacedNote(target, kept.pitch, 64, kept.start, kept.end + TPB)
    edited = replace_notes(score, [], [clash])
    assert note_keys(score.notes) <= note_keys(edited.notes)
    added = note_keys(edited.notes) - note_keys(score.notes)
    assert added == {(kept.track, kept.channel, kept.pitch, 64, kept.end, kept.end + TPB)}


def test_removing_every_note_of_a_voice_keeps_the_other_voices() -> None:
    score = read_score(midi_bytes(chorale(1, bars=2)))
    mapping = map_voices(score)
    alto = mapping.notes_of(1)
    edited = replace_notes(score, alto, [])
    assert note_keys(edited.notes) == note_keys(score.notes) - {score.notes[i].key() for i in alto}
