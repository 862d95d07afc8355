"""Quantisation to sixteenths, bars from the time-signature map, the token grid, window plans."""

from __future__ import annotations

import mido
import numpy as np
import pytest

from engine.media.midi import (
    MidiError,
    TokenContract,
    map_voices,
    plan_windows,
    read_score,
    region_mask,
    time_grid,
    token_grid,
)
from engine.media.midi.grid import TimeSignature, bar_start_ticks
from tests.engine.midi.midi_files import TPB, bar_tick, chorale, midi_bytes, to_track, voice_notes


def test_bars_follow_the_meter_map() -> None:
    grid = time_grid(read_score(midi_bytes(chorale(1, bars=6))))
    # bars 1-2 in 3/4 (12 steps), bars 3-6 in 4/4 (16 steps)
    assert grid.bar_steps == (0, 12, 24, 40, 56, 72)
    assert grid.n_steps == 88 and grid.n_bars == 6
    assert grid.bars_to_steps(2, 3) == (12, 40)
    assert grid.bars_to_steps(6, 6) == (72, 88)
    assert grid.tick(12) == bar_tick(2)


@pytest.mark.parametrize("tpb", [96, 480, 960])
def test_a_step_is_a_sixteenth_whatever_the_resolution(tpb: int) -> None:
    grid = bar_start_ticks([TimeSignature(0, 6, 8), TimeSignature(3 * tpb, 2, 4)], tpb, 6 * tpb)
    assert grid == [0, 3 * tpb, 5 * tpb, 7 * tpb]


def test_meter_change_in_mid_bar_starts_a_new_bar() -> None:
    starts = bar_start_ticks([TimeSignature(0, 4, 4), TimeSignature(6 * TPB, 3, 4)], TPB, 12 * TPB)
    assert starts == [0, 4 * TPB, 6 * TPB, 9 * TPB, 12 * TPB]


def test_region_outside_the_piece_is_an_error() -> None:
    grid = time_grid(read_score(midi_bytes(chorale(1, bars=6))))
    with pytest.raises(MidiError, match="outside the piece, whose bars are 1-6"):
        grid.bars_to_steps(5, 7)
    with pytest.raises(MidiError, match="numbered from 1"):
        region_mask(grid, (0, 2), [0])
    mask = region_mask(grid, (3, 4), [1, 2])
    assert mask.shape == (4, 88) and mask.sum() == 2 * 32
    assert mask[1:3, 24:56].all()


def test_token_grid_holds_pitches_and_rests() -> None:
    score = read_score(midi_bytes(chorale(1, bars=6)))
    grid = time_grid(score)
    tokens = token_grid(score, map_voices(score).note_voice, grid, TokenContract())
    assert tokens.shape == (4, 88) and tokens.dtype == np.int64
    for voice, name in enumerate(("Soprano", "Alto", "Tenor", "Bass")):
        for start, end, pitch in voice_notes(name, bars=6, seed=(3, 2, 4, 1)[voice]):
            steps = slice(grid.step(start), grid.step(end))
            assert (tokens[voice, steps] == pitch - 28).all()


def test_out_of_range_pitches_fold_by_octaves_and_gaps_are_rests() -> None:
    events: list[tuple[int, mido.Message | mido.MetaMessage]] = []
    for pitch, start in [(100, 0), (20, 2 * TPB)]:
        events += [
            (start, mido.Message("note_on", note=pitch, velocity=80)),
            (start + TPB, mido.Message("note_off", note=pitch, velocity=0)),
        ]
    score = read_score(
        midi_bytes(mido.MidiFile(type=0, ticks_per_beat=TPB, tracks=[to_track(events)]))
    )
    grid = time_grid(score)
    tokens = token_grid(score, [0, 0], grid, TokenContract())
    assert list(tokens[0, :12]) == [88 - 28] * 4 + [66] * 4 + [32 - 28] * 4
    assert (tokens[1:] == 66).all()
    assert TokenContract().fold(7) == 31 and TokenContract().fold(127) == 91


def test_a_short_region_gets_one_window_with_context_on_both_sides() -> None:
    columns = np.zeros(200, dtype=bool)
    columns[100:116] = True
    (window,) = plan_windows(columns, steps=64)
    assert (window.edit_from, window.edit_to) == (100, 116)
    assert window.start <= 100 and window.start + 64 >= 116
    assert window.start % 4 == 0 and 100 - window.start >= 16 and window.start + 64 - 116 >= 16


def test_windows_are_clamped_to_the_piece_and_short_pieces_use_one_padded_window() -> None:
    columns = np.zeros(200, dtype=bool)
    columns[:8] = True
    assert plan_windows(columns, steps=64)[0].start == 0
    columns = np.zeros(200, dtype=bool)
    columns[190:] = True
    assert plan_windows(columns, steps=64)[0].start == 136
    assert plan_windows(np.ones(40, dtype=bool), steps=64)[0].start == 0


def test_a_long_region_is_covered_by_successive_windows_with_left_context() -> None:
    columns = np.zeros(300, dtype=bool)
    columns[20:260] = True
    windows = plan_windows(columns, steps=64)
    assert len(windows) > 1
    covered = np.zeros(300, dtype=bool)
    for before, after in zip(windows, windows[1:], strict=False):
        assert after.edit_from == before.edit_to  # no gaps, no overlaps
        assert after.edit_from - after.start >= 16  # a quarter of the window is context
    for window in windows:
        assert window.start <= window.edit_from and window.edit_to <= window.start + 64
        covered[window.edit_from : window.edit_to] = True
    assert (covered == columns).all()
