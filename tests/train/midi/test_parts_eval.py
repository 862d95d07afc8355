"""The part evaluation's measures on hand-made notes, and one real run over a real file."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.media.midi import read_score
from engine.models import load_manifest
from engine.runtime import load_transformer
from engine.sampling.types import SamplerSettings
from engine.train.midi import parts_eval
from engine.train.midi.part_metrics import (
    RegionContext,
    crossing,
    dissonance,
    merged_on_grid,
    region_counts,
    shares,
)
from tests.engine.midi.midi_files import TPB, midi_bytes, quartet, tiny_chorale_model

STEP = TPB / 4


def test_dissonance_counts_seconds_tritones_and_sevenths_against_every_part() -> None:
    part = [[60], [60], []]
    others = [[[62], [67], [64]], [[66], [72], []]]
    assert dissonance(part, others) == (4, 2)  # C-D and C-F# clash; C-G and C-C do not


def test_crossing_compares_tops_with_the_part_above_and_bottoms_with_the_part_below() -> None:
    part = [[64], [70], [50, 64], []]
    above = [[67], [69], [72], [80]]
    below = [[55], [55], [52], [40]]
    assert crossing(part, above, below) == (3, 2)  # above at step 1, below at step 2


def test_region_counts_and_pooled_shares() -> None:
    context = RegionContext(0, 4 * TPB, STEP, (((0, 4 * TPB, 48),),), None, None, 55, 67)
    new = [(0, TPB, 60), (TPB, 2 * TPB, 70), (3 * TPB, 4 * TPB, 54)]
    original = [(0, 4 * TPB, 60)]
    counts = region_counts(new, context)
    figures = shares(counts, region_counts(original, context, new=False))
    assert counts.notes == 3 and counts.new_notes == 3 and counts.out_of_range == 2
    assert figures["notes_per_beat_ratio"] == 3.0
    assert figures["sounding"] == 0.75 and figures["out_of_range"] == pytest.approx(2 / 3)
    assert figures["dissonance"] == pytest.approx(8 / 12)  # B-flat (7th), F-sharp (tritone)


def test_a_grid_without_onsets_merges_repeated_notes() -> None:
    repeated = [(0, TPB // 2, 60), (TPB // 2, TPB, 60), (TPB, 2 * TPB, 62)]
    assert merged_on_grid(repeated, 0, 2 * TPB, STEP) == [(0, TPB, 60), (TPB, 2 * TPB, 62)]


def test_one_run_measures_every_method_on_a_real_file(tmp_path: Path) -> None:
    """A tiny real model repaints regions of a quartet; the baselines and the original are
    measured on the same regions, split by meter and part count."""
    manifest = load_manifest(tiny_chorale_model(tmp_path, steps=32))
    run = parts_eval.repaint_runner(
        load_transformer(manifest).logits_fn(), manifest, SamplerSettings(steps=2, seed=1)
    )
    score = read_score(midi_bytes(quartet(bars=10, signatures=((0, 3, 4),))))
    totals = parts_eval.evaluate_piece(score, 4, run)
    assert {key[:2] for key in totals} == {("3/4", 4)}
    assert {key[2] for key in totals} == set(parts_eval.METHODS)
    text, rows = parts_eval.table(totals)
    by_method = {row["method"]: row for row in rows if row["meter"] == "3/4"}
    assert by_method["original"]["notes_per_beat_ratio"] == 1.0
    # a random tiny model strays anywhere unless held to the range (widened by a tone)
    assert by_method["model"]["out_of_range"] > 0.5
    assert by_method["model+ranges"]["out_of_range"] < 0.4
    assert by_method["hold"]["notes_per_beat_ratio"] < 0.2  # one note per region
    assert by_method["copy-bar"]["out_of_range"] == 0.0
    assert "| 3/4 | 4 | model+ranges |" in text


def test_corpus_pieces_keep_names_programs_and_the_pickup(tmp_path: Path) -> None:
    """A two-part score with a one-beat upbeat: named tracks, and bar 0 is the pickup."""
    music21 = pytest.importorskip("music21")
    from engine.media.midi import find_parts, load_score, time_grid
    from engine.train.midi.corpus_midi import score_to_midi

    score = music21.stream.Score()
    for name, instrument, pitch in (
        ("Violin I", music21.instrument.Violin(), "E5"),
        ("Cello", music21.instrument.Violoncello(), "C3"),
    ):
        part = music21.stream.Part()
        part.partName = name
        part.insert(0, instrument)
        pickup = music21.stream.Measure(number=0)
        pickup.append(music21.meter.TimeSignature("4/4"))
        pickup.append(music21.note.Note(pitch, quarterLength=1))
        pickup.paddingLeft = 3
        full = music21.stream.Measure(number=1)
        full.append(music21.note.Note(pitch, quarterLength=4))
        part.append([pickup, full])
        score.insert(0, part)
    path = tmp_path / "upbeat.mid"
    score_to_midi(score).save(str(path))
    loaded = load_score(path)
    assert [p.label for p in find_parts(loaded)] == ["Violin I", "Cello"]
    grid = time_grid(loaded)
    assert grid.first_bar == 0 and grid.bars_to_steps(1, 1) == (4, 20)
    programs = [m.program for t in loaded.midi.tracks for m in t if m.type == "program_change"]
    assert programs == [40, 42]
