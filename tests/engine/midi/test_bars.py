"""Bar numbers as the score prints them (pickups, meter changes) and what the grid cannot hold."""

from __future__ import annotations

import mido
import pytest

from engine.media.midi import MidiError, load_score, read_score, region_mask, time_grid
from engine.media.midi.meter import bar_beats, meter_notes
from tests.engine.midi.midi_files import BAR_44, TPB, midi_bytes, quartet


def test_a_short_opening_bar_is_the_pickup_bar_0() -> None:
    """1/4 then 4/4 (how notation programs export an upbeat): bars 0, 1, 2, ..."""
    score = read_score(midi_bytes(quartet(bars=4, signatures=((0, 1, 4), (TPB, 4, 4)))))
    grid = time_grid(score)
    assert grid.first_bar == 0 and grid.bar_steps[:3] == (0, 4, 20)
    assert grid.bars_to_steps(0, 0) == (0, 4)
    assert grid.bars_to_steps(1, 2) == (4, 36)
    assert grid.bar_at(3) == 0 and grid.bar_at(4) == 1 and grid.bar_at(19.5) == 1
    assert grid.last_bar == grid.n_bars - 1
    with pytest.raises(MidiError, match="numbered from 0 \\(0 is the pickup\\)"):
        grid.bars_to_steps(-1, 2)


def test_meter_changes_mid_piece_keep_counting() -> None:
    """4/4, 3/4 from tick 2 bars in, 6/8 later: numbers run on, steps follow each meter."""
    signatures = ((0, 4, 4), (2 * BAR_44, 3, 4), (2 * BAR_44 + 2 * 3 * TPB, 6, 8))
    grid = time_grid(read_score(midi_bytes(quartet(bars=6, signatures=signatures))))
    assert grid.first_bar == 1
    assert grid.bar_steps[:6] == (0, 16, 32, 44, 56, 68)
    assert grid.bars_to_steps(3, 4) == (32, 56)
    assert region_mask(grid, (5, 5), [0])[0].sum() == 12  # a 6/8 bar is 12 sixteenths


def test_a_full_first_bar_is_bar_1() -> None:
    grid = time_grid(read_score(midi_bytes(quartet(bars=3, signatures=((0, 3, 4),)))))
    assert grid.first_bar == 1 and grid.bars_to_steps(1, 1) == (0, 12)


def test_the_sample_chorale_numbers_its_pickup_0() -> None:
    grid = time_grid(load_score("assets/samples/chorale.mid"))
    assert grid.first_bar == 0 and grid.bars_to_steps(1, 1) == (4, 20)


def test_meters_the_grid_cannot_hold_are_named() -> None:
    signatures = ((0, 4, 4), (BAR_44, 9, 8), (BAR_44 + 9 * TPB // 2, 5, 32))
    score = read_score(midi_bytes(quartet(bars=4, signatures=signatures)))
    notes = meter_notes(score, time_grid(score))
    assert any(line.startswith("9/8 from bar 2") and "dotted beats" in line for line in notes)
    assert any(line.startswith("5/32 from bar 3") and "2.5 sixteenths" in line for line in notes)
    assert meter_notes(read_score(midi_bytes(quartet(bars=2))), time_grid(score)) == []


def test_triplets_are_named() -> None:
    midi = quartet(bars=2)
    track = midi.tracks[1]
    for msg in track:
        if msg.type in ("note_on", "note_off") and msg.time == TPB // 2:
            msg.time = TPB // 3  # shifts every later onset in the track off the sixteenths
            break
    score = read_score(midi_bytes(midi))
    (line,) = meter_notes(score, time_grid(score))
    assert "start between sixteenths (triplets or finer)" in line
    assert isinstance(midi, mido.MidiFile)


def test_beats_follow_each_bars_meter() -> None:
    """Quarters in 4/4, halves in 2/2, dotted quarters in 6/8, eighths in 5/8."""
    signatures = ((0, 4, 4), (BAR_44, 2, 2), (2 * BAR_44, 6, 8), (2 * BAR_44 + 3 * TPB, 5, 8))
    score = read_score(midi_bytes(quartet(bars=4, signatures=signatures)))
    grid = time_grid(score)
    assert bar_beats(score, grid)[:4] == [4, 8, 6, 2]
