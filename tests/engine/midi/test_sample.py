"""The shipped sample chorale opens, maps to 4 voices, and is rebuilt identically from music21."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.media.midi import load_score, map_voices, time_grid

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "assets" / "samples" / "chorale.mid"


def test_sample_chorale_is_a_four_voice_piece() -> None:
    score = load_score(SAMPLE)
    mapping = map_voices(score)
    assert [p.label if p else None for p in mapping.parts] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert len(score.tempo_map) == 1 and round(60e6 / score.tempo_map[0][1]) == 72
    grid = time_grid(score)
    assert grid.bar_steps[:3] == (0, 4, 20)  # a one-beat pickup, then 4/4 bars
    assert SAMPLE.stat().st_size < 8_000


def test_sample_is_rebuilt_byte_for_byte(tmp_path: Path) -> None:
    pytest.importorskip("music21")
    from engine.train.samples import build_sample

    out = build_sample(tmp_path / "chorale.mid")
    assert out.read_bytes() == SAMPLE.read_bytes()
