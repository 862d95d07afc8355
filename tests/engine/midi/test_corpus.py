"""A file the chorale model never saw, made from music21's corpus at test time (nothing committed).

Monteverdi's madrigal 3.1 has five parts. Repainting two of them with the
shipped model must write music against the parts that sound with them: when
the model was shown only the two chosen parts (empty soprano and bass rows),
it wrote rests in most of the region.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.media.midi import (
    Score,
    TimeGrid,
    load_score,
    repaint_bars,
    resolve_voices,
    time_grid,
)
from engine.models import load_manifest
from engine.paths import bundled_models_dir
from engine.runtime import load_transformer
from engine.sampling.types import SamplerSettings

MADRIGAL = "monteverdi/madrigal.3.1.mxl"


@pytest.fixture(scope="module")
def madrigal(tmp_path_factory: pytest.TempPathFactory) -> Score:
    music21 = pytest.importorskip("music21")
    path = tmp_path_factory.mktemp("corpus") / "madrigal.mid"
    music21.corpus.parse(MADRIGAL).write("midi", fp=path)
    return load_score(path)


def sounding_share(score: Score, tracks: set[int], grid: TimeGrid, lo: int, hi: int) -> float:
    """Share of the steps ``lo..hi`` where a note of ``tracks`` sounds."""
    ticks = [grid.tick(step) for step in range(lo, hi)]
    notes = [n for n in score.notes if n.track in tracks]
    return float(np.mean([any(n.start <= t < n.end for n in notes) for t in ticks]))


def test_two_parts_of_a_madrigal_are_repainted_against_the_others(madrigal: Score) -> None:
    manifest = load_manifest(bundled_models_dir() / "chorale-satb")
    logits_fn = load_transformer(manifest).logits_fn()
    grid = time_grid(madrigal)
    shares = []
    for first in (11, 19, 27):
        lo, hi = grid.bars_to_steps(first, first + 1)
        span = (grid.tick(lo), grid.tick(hi))
        mapping, voices = resolve_voices(madrigal, ["alto", "tenor"], span)
        chosen = {part.track for v, part in enumerate(mapping.parts) if part and v in voices}
        context = [part for v, part in enumerate(mapping.parts) if part and v not in voices]
        assert len(chosen) == 2 and len(context) == 2
        settings = SamplerSettings(steps=8, seed=1)
        bars = (first, first + 1)
        (result,) = repaint_bars(madrigal, bars, voices, logits_fn, manifest, settings, mapping)
        shares.append(sounding_share(result, chosen, grid, lo, hi))
        kept = {n.key() for n in madrigal.notes if n.track not in chosen}
        assert kept <= {n.key() for n in result.notes}
    assert np.mean(shares) >= 0.5, shares  # the original sings in 97 %; against empty rows: ~0
