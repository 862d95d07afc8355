"""Schedules and position selectors on their own, without a model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.sampling import SCHEDULE_FNS, SCHEDULES, SELECTOR_FNS, SELECTORS
from engine.sampling.schedules import get_schedule, masked_counts, reveal_counts
from engine.sampling.selectors import (
    SelectionContext,
    dilated_order,
    get_selector,
    halton_order,
    select_confidence,
    select_halton,
)


def test_registries_match_the_names_the_settings_accept() -> None:
    assert tuple(SCHEDULE_FNS) == SCHEDULES
    assert tuple(SELECTOR_FNS) == SELECTORS


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_starts_fully_masked_ends_empty_and_never_rises(name: str) -> None:
    schedule = get_schedule(name)
    values = schedule(np.linspace(0.0, 1.0, 101))
    assert values[0] == pytest.approx(1.0)
    assert values[-1] == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.diff(values) <= 1e-12)


def test_schedule_formulas() -> None:
    half = np.array([0.5])
    assert SCHEDULE_FNS["cosine"](half)[0] == pytest.approx(np.cos(np.pi / 4))
    assert SCHEDULE_FNS["arccos"](half)[0] == pytest.approx(2 / 3)
    assert SCHEDULE_FNS["linear"](np.array([0.25]))[0] == pytest.approx(0.75)


def test_cosine_is_most_cautious_at_first_then_arccos_then_linear() -> None:
    first = {name: reveal_counts(fn, 10, 1000)[0] for name, fn in SCHEDULE_FNS.items()}
    assert first["cosine"] < first["arccos"] < first["linear"]


def test_counts_follow_the_schedule_when_there_is_room() -> None:
    assert reveal_counts(SCHEDULE_FNS["linear"], 10, 1000).tolist() == [100] * 10
    counts = masked_counts(SCHEDULE_FNS["cosine"], 4, 100)
    expected = [100] + [int(np.floor(100 * np.cos(np.pi / 2 * t / 4))) for t in (1, 2, 3)] + [0]
    assert counts.tolist() == expected


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(SCHEDULES),
    steps=st.integers(1, 40),
    n_editable=st.integers(0, 400),
)
def test_reveal_counts_cover_every_token_at_least_one_per_step(
    name: str, steps: int, n_editable: int
) -> None:
    counts = reveal_counts(get_schedule(name), steps, n_editable)
    remaining = masked_counts(get_schedule(name), steps, n_editable)
    assert len(counts) == min(steps, n_editable)
    assert counts.sum() == n_editable
    assert np.all(counts >= 1)
    assert remaining[0] == n_editable
    assert remaining[-1] == 0


@pytest.mark.parametrize("bad_steps", [0, -3])
def test_schedule_rejects_fewer_than_one_step(bad_steps: int) -> None:
    with pytest.raises(ValueError, match="steps"):
        reveal_counts(SCHEDULE_FNS["cosine"], bad_steps, 10)


def test_unknown_names_are_rejected_with_the_known_ones_listed() -> None:
    with pytest.raises(ValueError, match="cosine"):
        get_schedule("quadratic")
    with pytest.raises(ValueError, match="halton"):
        get_selector("greedy")


shapes = st.one_of(
    st.tuples(st.integers(1, 70)),
    st.tuples(st.integers(1, 12), st.integers(1, 12)),
    st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)),
)


@settings(max_examples=60, deadline=None)
@given(shape=shapes)
def test_spatial_orders_are_permutations_of_the_grid(shape: tuple[int, ...]) -> None:
    n = int(np.prod(shape))
    assert sorted(halton_order(shape).tolist()) == list(range(n))
    assert sorted(dilated_order(shape).tolist()) == list(range(n))


def test_halton_order_1d_is_van_der_corput_base_2() -> None:
    assert halton_order((8,)).tolist() == [0, 4, 2, 6, 1, 5, 3, 7]


def test_halton_order_2d_uses_bases_2_and_3() -> None:
    # Points 0..3 of Halton(2, 3): (0, 0), (1/2, 1/3), (1/4, 2/3), (3/4, 1/9) on a 4 x 6 grid.
    expected_cells = [(0, 0), (2, 2), (1, 4), (3, 0)]
    expected = [row * 6 + col for row, col in expected_cells]
    assert halton_order((4, 6))[:4].tolist() == expected


def test_halton_order_spreads_early_positions_over_the_grid() -> None:
    first = halton_order((16, 16))[:16]
    rows, cols = np.divmod(first, 16)
    quadrant_counts = np.bincount((rows // 8) * 2 + cols // 8, minlength=4)
    assert quadrant_counts.min() >= 3
    assert _min_distance(rows, cols) >= 2  # raster order would put them side by side


def _min_distance(rows: np.ndarray, cols: np.ndarray) -> float:
    gaps = np.hypot(rows[:, None] - rows[None], cols[:, None] - cols[None])
    np.fill_diagonal(gaps, np.inf)
    return float(gaps.min())


def test_dilated_order_1d_halves_the_stride() -> None:
    assert dilated_order((8,)).tolist() == [0, 4, 2, 6, 1, 3, 5, 7]
    assert dilated_order((6,)).tolist() == [0, 4, 2, 1, 3, 5]


def test_dilated_order_2d_refines_a_lattice_in_both_axes() -> None:
    # (0, 0) first, then the stride-2 lattice (0, 2), (2, 0), (2, 2), then the rest.
    assert dilated_order((4, 4))[:4].tolist() == [0, 2, 8, 10]
    rows, cols = np.divmod(dilated_order((16, 16))[:16], 16)
    assert _min_distance(rows, cols) == 4  # the stride-4 lattice comes first


def _context(step: int = 1, total: int = 4, shape: tuple[int, ...] = (12,), tau: float = 4.5):
    return SelectionContext(step=step, total=total, grid_shape=shape, choice_temperature=tau)


@settings(max_examples=120, deadline=None)
@given(
    name=st.sampled_from(SELECTORS),
    data=st.data(),
    n=st.integers(1, 40),
    seed=st.integers(0, 2**16),
)
def test_every_selector_returns_distinct_candidates_deterministically(
    name: str, data: st.DataObject, n: int, seed: int
) -> None:
    candidates = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    count = data.draw(st.integers(0, int(candidates.sum())))
    confidence = np.random.default_rng(seed).random(n)
    selector = get_selector(name)
    context = _context(shape=(n,))
    picked = selector(confidence, candidates, count, context, np.random.default_rng(seed))
    again = selector(confidence, candidates, count, context, np.random.default_rng(seed))
    assert len(picked) == count == len(set(picked.tolist()))
    assert candidates[picked].all()
    assert picked.tolist() == again.tolist()


def test_selectors_refuse_more_positions_than_candidates() -> None:
    candidates = np.array([True, False, True])
    for name in SELECTORS:
        with pytest.raises(ValueError, match="cannot pick 3 of 2"):
            get_selector(name)(
                np.ones(3), candidates, 3, _context(shape=(3,)), np.random.default_rng()
            )


def test_confidence_without_noise_keeps_the_most_confident() -> None:
    confidence = np.array([0.2, 0.9, 0.5, 0.95, 0.1])
    candidates = np.array([True, True, True, False, True])
    picked = select_confidence(
        confidence, candidates, 2, _context(tau=0.0), np.random.default_rng(0)
    )
    assert sorted(picked.tolist()) == [1, 2]


def test_confidence_noise_anneals_to_zero_on_the_last_step() -> None:
    confidence = np.linspace(0.1, 0.9, 9)
    candidates = np.ones(9, dtype=bool)
    early, last = set(), set()
    for seed in range(30):
        rng = np.random.default_rng(seed)
        early.add(tuple(sorted(select_confidence(confidence, candidates, 3, _context(1, 4), rng))))
        rng = np.random.default_rng(seed)
        last.add(tuple(sorted(select_confidence(confidence, candidates, 3, _context(4, 4), rng))))
    assert len(early) > 1
    assert last == {(6, 7, 8)}


def test_halton_selector_follows_the_order_skipping_non_candidates() -> None:
    candidates = np.ones(8, dtype=bool)
    candidates[[4, 6]] = False
    picked = select_halton(
        np.zeros(8), candidates, 3, _context(shape=(8,)), np.random.default_rng()
    )
    assert picked.tolist() == [0, 2, 1]


def test_random_selector_is_roughly_uniform() -> None:
    selector = get_selector("random")
    candidates = np.array([True, False, True, True, True])
    rng = np.random.default_rng(7)
    hits = np.zeros(5, dtype=int)
    for _ in range(2000):
        hits[selector(np.zeros(5), candidates, 1, _context(shape=(5,)), rng)] += 1
    assert hits[1] == 0
    assert np.all((hits[[0, 2, 3, 4]] > 400) & (hits[[0, 2, 3, 4]] < 600))
