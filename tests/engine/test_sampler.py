"""The sampler end to end: its invariant under every setting, its options, its checks."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.sampling import SCHEDULES, SELECTORS, SamplerSettings, Step, sample
from engine.sampling.distribution import guided_logits
from engine.sampling.schedules import get_schedule, masked_counts
from tests.tinymodels import build_tiny_transformer

VOCAB = 8
MASK_ID = VOCAB


class TableModel:
    """A deterministic stand-in for a transformer, recording every call.

    Logits are a fixed random table per position plus a term that depends on
    the left neighbour's token (mask id included), so predictions change as
    the context fills in. Rows of a batch are computed independently (gathers
    only), as a real model's are.
    """

    def __init__(self, n_tokens: int, seed: int = 0, spread: float = 1.0) -> None:
        rng = np.random.default_rng(seed)
        self.position_logits = rng.normal(0.0, spread, (n_tokens, VOCAB))
        self.neighbour_logits = rng.normal(0.0, spread, (VOCAB + 1, VOCAB))
        self.calls: list[np.ndarray] = []

    def __call__(self, tokens: np.ndarray) -> np.ndarray:
        assert tokens.dtype == np.int64 and tokens.ndim == 2
        self.calls.append(tokens.copy())
        left = np.roll(tokens, 1, axis=1)
        logits = self.position_logits[None] + self.neighbour_logits[left]
        return logits.astype(np.float32)


@dataclass(frozen=True)
class Case:
    tokens: np.ndarray  # [N] or [B, N]
    editable: np.ndarray
    grid_shape: tuple[int, ...]
    settings: SamplerSettings
    with_uncond: bool

    @property
    def n_tokens(self) -> int:
        return int(self.tokens.shape[-1])


def run(case: Case, **changes: object) -> tuple[list[Step], TableModel, TableModel]:
    model = TableModel(case.n_tokens, seed=1)
    uncond = TableModel(case.n_tokens, seed=2)
    steps = list(
        sample(
            model,
            case.tokens,
            case.editable,
            MASK_ID,
            replace(case.settings, **changes),  # type: ignore[arg-type]
            grid_shape=case.grid_shape,
            uncond_logits_fn=uncond if case.with_uncond else None,
        )
    )
    return steps, model, uncond


@st.composite
def cases(draw: st.DrawFn) -> Case:
    grid_shape = draw(
        st.one_of(st.tuples(st.integers(1, 40)), st.tuples(st.integers(1, 6), st.integers(1, 6)))
    )
    n = int(np.prod(grid_shape))
    variations = draw(st.integers(1, 3))
    per_row = variations > 1 and draw(st.booleans())
    shape = (variations, n) if per_row else (n,)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    editable = rng.random(shape) < draw(st.floats(0.0, 1.0))
    tokens = rng.integers(0, VOCAB, shape)
    tokens[editable] = rng.integers(0, 3 * VOCAB, int(editable.sum()))  # masked anyway
    sampler_settings = SamplerSettings(
        steps=draw(st.integers(1, 10)),
        schedule=draw(st.sampled_from(SCHEDULES)),
        selector=draw(st.sampled_from(SELECTORS)),
        temperature=draw(st.floats(0.3, 2.5)),
        choice_temperature=draw(st.sampled_from([0.0, 1.0, 4.5])),
        top_k=draw(st.sampled_from([0, 1, 2, 5, VOCAB + 3])),
        remask_fraction=draw(st.sampled_from([0.0, 0.0, 0.2, 0.6, 1.0])),
        guidance_scale=draw(st.sampled_from([0.0, 0.5, 3.0])),
        seed=draw(st.integers(0, 10_000)),
        variations=variations,
    )
    return Case(tokens, editable, grid_shape, sampler_settings, draw(st.booleans()))


@settings(max_examples=80, deadline=None)
@given(case=cases())
def test_sampler_invariants_hold_for_every_selector_schedule_and_option(case: Case) -> None:
    steps, model, uncond = run(case)
    batch = case.settings.variations
    editable = np.broadcast_to(case.editable, (batch, case.n_tokens))
    kept = np.broadcast_to(case.tokens, (batch, case.n_tokens))[~editable]
    per_row = editable.sum(axis=1)
    if not per_row.any():
        assert steps == [] and model.calls == [] and uncond.calls == []
        return
    total = min(case.settings.steps, int(per_row[per_row > 0].min()))
    schedule = get_schedule(case.settings.schedule)
    expected_masked = [
        masked_counts(schedule, total, int(n)) if n else [0] * (total + 1) for n in per_row
    ]

    assert [s.index for s in steps] == list(range(1, total + 1))
    assert all(s.total == total for s in steps) and steps[-1].done
    for step in steps:
        _assert_step_is_consistent(step, editable, kept)
        for row in range(batch):
            assert step.still_masked[row].sum() == expected_masked[row][step.index]

    # One batched call per step; the uncond model only when guidance is on.
    assert len(model.calls) == total
    assert all(call.shape == (batch, case.n_tokens) for call in model.calls)
    guided = case.with_uncond and case.settings.guidance_scale > 0
    assert len(uncond.calls) == (total if guided else 0)
    for call in model.calls + uncond.calls:
        assert np.array_equal(call[~editable], kept)  # the model always sees the kept tokens

    final = steps[-1]
    assert not final.still_masked.any()
    assert final.tokens.min() >= 0 and final.tokens.max() < VOCAB

    if case.settings.remask_fraction == 0:
        _assert_monotone(steps, model.calls)

    again, _, _ = run(case)
    assert all(np.array_equal(a.tokens, b.tokens) for a, b in zip(steps, again, strict=True))
    assert all(
        np.array_equal(a.confidence, b.confidence) for a, b in zip(steps, again, strict=True)
    )

    if _has_room_for_diversity(case, per_row):
        other, _, _ = run(case, seed=case.settings.seed + 1000)
        assert not np.array_equal(other[-1].tokens, final.tokens)

    if batch > 1 and case.editable.ndim == 1:
        last = batch - 1
        alone, _, _ = run(case, seed=case.settings.seed + last, variations=1)
        assert all(
            np.array_equal(a.tokens[0], s.tokens[last]) for a, s in zip(alone, steps, strict=True)
        )


def _assert_step_is_consistent(step: Step, editable: np.ndarray, kept: np.ndarray) -> None:
    assert np.array_equal(step.tokens[~editable], kept)
    assert not (step.still_masked & ~editable).any()
    assert np.array_equal(step.tokens == MASK_ID, step.still_masked)
    assert np.all(np.isposinf(step.confidence[~editable]))
    assert np.all(step.confidence[step.still_masked] == 0)
    decided = editable & ~step.still_masked
    assert np.all((step.confidence[decided] > 0) & (step.confidence[decided] <= 1))
    assert np.all(step.tokens[decided] < VOCAB) and np.all(step.tokens[decided] >= 0)


def _assert_monotone(steps: list[Step], calls: list[np.ndarray]) -> None:
    """Without remasking a decided token stays decided and unchanged."""
    for before, after in itertools.pairwise(steps):
        assert not (after.still_masked & ~before.still_masked).any()
        decided = ~before.still_masked
        assert np.array_equal(after.tokens[decided], before.tokens[decided])
    for step, next_call in zip(steps, calls[1:], strict=False):
        assert np.array_equal(next_call, step.tokens)  # the model sees the previous step


def _has_room_for_diversity(case: Case, per_row: np.ndarray) -> bool:
    """Enough freely sampled tokens that two seeds agreeing everywhere is (near) impossible.

    Guidance multiplies the logits' spread by about ``1 + scale``, so a guided case needs a
    temperature that much higher to be as spread out as an unguided one at 1.0.
    """
    spread_out = case.settings.top_k == 0 or case.settings.top_k >= 5
    guided = case.with_uncond and case.settings.guidance_scale > 0
    sharpening = 1.0 + case.settings.guidance_scale if guided else 1.0
    warm = case.settings.temperature >= sharpening
    return spread_out and warm and int(per_row.min()) >= 12


def _problem(n: int = 24, editable_every: int = 1) -> tuple[np.ndarray, np.ndarray]:
    tokens = np.arange(n, dtype=np.int64) % VOCAB
    editable = np.arange(n) % editable_every == 0
    tokens[editable] = MASK_ID
    return tokens, editable


def _flat_logits(batch: np.ndarray) -> np.ndarray:
    """Uniform logits that never look at the tokens (for inputs a table model would reject)."""
    return np.zeros((*batch.shape, VOCAB), dtype=np.float32)


def _final(model: object, tokens: np.ndarray, editable: np.ndarray, **options: object) -> Step:
    settings_ = SamplerSettings(**options)  # type: ignore[arg-type]
    *_, last = sample(model, tokens, editable, MASK_ID, settings_)  # type: ignore[arg-type]
    return last


@pytest.mark.parametrize("selector", SELECTORS)
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_different_seeds_give_different_results(selector: str, schedule: str) -> None:
    tokens, editable = _problem(24, editable_every=2)
    model = TableModel(24, seed=3)
    common = {"selector": selector, "schedule": schedule, "steps": 4}
    first = _final(model, tokens, editable, seed=0, **common)
    second = _final(model, tokens, editable, seed=1, **common)
    assert not np.array_equal(first.tokens, second.tokens)


@pytest.mark.parametrize("selector", SELECTORS)
def test_variation_b_of_seed_s_is_variation_0_of_seed_s_plus_b(selector: str) -> None:
    tokens, editable = _problem(20, editable_every=3)
    model = TableModel(20, seed=4)
    options = {"selector": selector, "steps": 5, "remask_fraction": 0.3}
    batched = _final(model, tokens, editable, seed=10, variations=3, **options)
    for b in range(3):
        alone = _final(model, tokens, editable, seed=10 + b, **options)
        assert np.array_equal(batched.tokens[b], alone.tokens[0])
        assert np.array_equal(batched.confidence[b], alone.confidence[0])
    assert len({row.tobytes() for row in batched.tokens}) == 3


def test_near_zero_temperature_picks_the_most_likely_token() -> None:
    tokens, editable = _problem(16)
    model = TableModel(16, seed=5)
    model.neighbour_logits[:] = 0.0  # context-free, so the argmax is known in advance
    final = _final(model, tokens, editable, temperature=1e-4, steps=3)
    assert np.array_equal(final.tokens[0], model.position_logits.argmax(axis=1))


def test_top_k_1_is_greedy_whatever_the_temperature() -> None:
    tokens, editable = _problem(16)
    model = TableModel(16, seed=6)
    model.neighbour_logits[:] = 0.0
    final = _final(model, tokens, editable, temperature=5.0, top_k=1, steps=3, variations=3)
    assert np.all(final.tokens == model.position_logits.argmax(axis=1))


def test_top_k_keeps_samples_among_the_k_most_likely() -> None:
    tokens, editable = _problem(32)
    model = TableModel(32, seed=7, spread=0.1)  # nearly flat: without top-k anything goes
    model.neighbour_logits[:] = 0.0
    final = _final(model, tokens, editable, temperature=3.0, top_k=2, steps=4, variations=4)
    top_two = np.argsort(model.position_logits, axis=1)[:, -2:]
    assert np.all((final.tokens[..., None] == top_two[None]).any(axis=-1))
    loose = _final(model, tokens, editable, temperature=3.0, steps=4, variations=4)
    assert not np.all((loose.tokens[..., None] == top_two[None]).any(axis=-1))


def test_guidance_convention() -> None:
    cond, uncond = np.array([[2.0, 0.0]]), np.array([[1.0, 0.5]])
    assert np.allclose(guided_logits(cond, uncond, 0.0), cond)
    assert np.allclose(guided_logits(cond, uncond, 2.0), [[4.0, -1.0]])


def test_guidance_pushes_towards_what_the_condition_adds() -> None:
    tokens, editable = _problem(32)

    def uncond(batch: np.ndarray) -> np.ndarray:
        return np.zeros((*batch.shape, VOCAB), dtype=np.float32)

    def cond(batch: np.ndarray) -> np.ndarray:
        logits = uncond(batch)
        logits[..., 3] = 0.5  # a mild preference for token 3
        return logits

    def share_of_3(scale: float) -> float:
        step = list(
            sample(
                cond,
                tokens,
                editable,
                MASK_ID,
                SamplerSettings(guidance_scale=scale, variations=4),
                None,
                uncond,
            )
        )[-1]
        return float(np.mean(step.tokens == 3))

    assert share_of_3(0.0) < 0.5
    assert share_of_3(20.0) > 0.95


def test_guidance_scale_0_never_calls_the_unconditional_model() -> None:
    tokens, editable = _problem(8)
    model, uncond = TableModel(8), TableModel(8, seed=9)
    list(sample(model, tokens, editable, MASK_ID, SamplerSettings(steps=3), None, uncond))
    assert len(model.calls) == 3 and uncond.calls == []


def test_float32_logits_of_large_magnitude_stay_finite() -> None:
    tokens, editable = _problem(8)

    def huge(batch: np.ndarray) -> np.ndarray:
        logits = np.full((*batch.shape, VOCAB), 3.0e4, dtype=np.float32)
        logits[..., 5] = 3.0e4 + 2.0
        return logits

    final = _final(huge, tokens, editable, temperature=0.5, steps=2)
    assert np.all(np.isfinite(final.confidence[0, editable]))
    assert np.mean(final.tokens[0, editable] == 5) > 0.5


def test_a_mask_id_inside_the_vocabulary_is_never_drawn() -> None:
    mask_id = 3
    tokens = np.array([0, 1, 2, 4, 5, 6, 7, 0], dtype=np.int64)
    editable = np.array([True, False, True, True, False, True, True, True])

    def loves_3(batch: np.ndarray) -> np.ndarray:
        logits = np.zeros((*batch.shape, VOCAB), dtype=np.float32)
        logits[..., 3] = 10.0
        return logits

    final = list(
        sample(loves_3, tokens, editable, mask_id, SamplerSettings(steps=3, variations=3))
    )[-1]
    assert not np.any(final.tokens == mask_id)
    assert not final.still_masked.any()


def test_remasking_takes_back_the_least_confident_tokens() -> None:
    tokens, editable = _problem(30)
    model = TableModel(30, seed=11)
    options = SamplerSettings(steps=4, remask_fraction=0.5, schedule="linear")
    steps = list(sample(model, tokens, editable, MASK_ID, options))
    first = steps[0]
    decided = np.flatnonzero(~first.still_masked[0])
    seen_by_step_2 = model.calls[1][0]
    remasked = decided[seen_by_step_2[decided] == MASK_ID]
    assert len(remasked) == len(decided) // 2
    lowest = decided[np.argsort(first.confidence[0, decided], kind="stable")][: len(remasked)]
    assert sorted(remasked.tolist()) == sorted(lowest.tolist())


def test_remasking_resamples_and_still_finishes_on_schedule() -> None:
    tokens, editable = _problem(40)
    model = TableModel(40, seed=12, spread=0.3)
    options = SamplerSettings(steps=6, remask_fraction=0.5, selector="random", seed=5)
    steps = list(sample(model, tokens, editable, MASK_ID, options))
    masked = [int(s.still_masked.sum()) for s in steps]
    assert masked == masked_counts(get_schedule("cosine"), 6, 40)[1:].tolist()
    for before, seen in zip(steps, model.calls[1:], strict=False):
        decided = ~before.still_masked[0]
        taken_back = decided & (seen[0] == MASK_ID)
        assert taken_back.sum() == int(0.5 * decided.sum())  # floor(fraction * generated)
    decided_first = ~steps[0].still_masked[0]
    assert np.any(steps[0].tokens[0, decided_first] != steps[-1].tokens[0, decided_first])


def test_nothing_editable_yields_nothing_and_calls_nothing() -> None:
    model = TableModel(6)
    tokens = np.arange(6, dtype=np.int64)
    assert list(sample(model, tokens, np.zeros(6, dtype=bool), MASK_ID, SamplerSettings())) == []
    assert model.calls == []


def test_more_steps_than_tokens_runs_one_step_per_token() -> None:
    tokens, editable = _problem(12, editable_every=4)  # 3 editable tokens
    steps = list(sample(TableModel(12), tokens, editable, MASK_ID, SamplerSettings(steps=12)))
    assert [(s.index, s.total) for s in steps] == [(1, 3), (2, 3), (3, 3)]
    assert [int(s.still_masked.sum()) for s in steps] == [2, 1, 0]


def test_per_variation_masks_share_one_step_count() -> None:
    tokens = np.tile(np.arange(10, dtype=np.int64) % VOCAB, (3, 1))
    editable = np.zeros((3, 10), dtype=bool)
    editable[0, :6] = True
    editable[1, 2:4] = True  # two editable tokens: two steps for everyone
    steps = list(
        sample(TableModel(10), tokens, editable, MASK_ID, SamplerSettings(steps=8, variations=3))
    )
    assert len(steps) == 2
    assert [s.still_masked.sum(axis=1).tolist() for s in steps] == [[4, 1, 0], [0, 0, 0]]
    assert np.array_equal(steps[-1].tokens[2], tokens[2])


def test_editable_tokens_may_hold_anything_since_they_are_masked() -> None:
    tokens, editable = _problem(8)
    tokens[editable] = 10_000
    model = TableModel(8)
    final = _final(model, tokens, editable, steps=2)
    assert model.calls[0].max() == MASK_ID
    assert final.tokens.max() < VOCAB


def test_steps_are_fresh_copies() -> None:
    tokens, editable = _problem(16)
    reference = [
        s.tokens
        for s in sample(TableModel(16), tokens, editable, MASK_ID, SamplerSettings(steps=4))
    ]
    mutated = []
    for step in sample(TableModel(16), tokens, editable, MASK_ID, SamplerSettings(steps=4)):
        mutated.append(step.tokens.copy())
        step.tokens[:] = 0
        step.still_masked[:] = False
        step.confidence[:] = 0
    assert all(np.array_equal(a, b) for a, b in zip(reference, mutated, strict=True))


def test_the_callers_arrays_are_left_alone() -> None:
    tokens = np.array([1, 2, 3, 4], dtype=np.int64)
    editable = np.array([True, False, True, False])
    list(sample(TableModel(4), tokens, editable, MASK_ID, SamplerSettings(steps=2)))
    assert tokens.tolist() == [1, 2, 3, 4] and editable.tolist() == [True, False, True, False]


BAD_SETTINGS = [
    ({"schedule": "quadratic"}, "unknown schedule"),
    ({"selector": "greedy"}, "unknown selector"),
    ({"steps": 0}, "steps"),
    ({"temperature": 0.0}, "temperature"),
    ({"temperature": -1.0}, "temperature"),
    ({"variations": 0}, "variations"),
    ({"top_k": -1}, "top_k"),
    ({"remask_fraction": 1.5}, "remask_fraction"),
    ({"guidance_scale": -0.5}, "guidance_scale"),
    ({"choice_temperature": -1.0}, "choice_temperature"),
    ({"seed": -1}, "seed"),
]


@pytest.mark.parametrize(("changes", "message"), BAD_SETTINGS)
def test_bad_settings_are_rejected_before_any_step(
    changes: dict[str, object], message: str
) -> None:
    tokens, editable = _problem(6)
    model = TableModel(6)
    with pytest.raises(ValueError, match=message):
        sample(model, tokens, editable, MASK_ID, SamplerSettings(**changes))  # type: ignore[arg-type]
    assert model.calls == []


def test_bad_inputs_are_rejected_with_clear_messages() -> None:
    tokens, editable = _problem(6, editable_every=2)
    model = TableModel(6)
    ok = SamplerSettings(steps=2)
    with pytest.raises(ValueError, match="differ in shape"):
        sample(model, tokens, editable[:5], MASK_ID, ok)
    with pytest.raises(ValueError, match="boolean"):
        sample(model, tokens, editable.astype(np.int64), MASK_ID, ok)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="variations=2"):
        sample(
            model,
            np.stack([tokens] * 3),
            np.stack([editable] * 3),
            MASK_ID,
            replace(ok, variations=2),
        )
    with pytest.raises(ValueError, match="grid_shape"):
        sample(model, tokens, editable, MASK_ID, ok, grid_shape=(4, 2))
    kept_mask = tokens.copy()
    kept_mask[1] = MASK_ID
    with pytest.raises(ValueError, match="equals the mask id"):
        sample(model, kept_mask, editable, MASK_ID, ok)


def test_kept_tokens_outside_the_vocabulary_fail_at_the_first_step() -> None:
    tokens, editable = _problem(6, editable_every=2)
    tokens[1] = VOCAB + 5
    with pytest.raises(ValueError, match=r"\[0, 8\)"):
        list(sample(_flat_logits, tokens, editable, MASK_ID, SamplerSettings(steps=2)))


def test_logits_of_the_wrong_shape_are_reported() -> None:
    tokens, editable = _problem(6)

    def flat(batch: np.ndarray) -> np.ndarray:
        return np.zeros((batch.shape[0], VOCAB), dtype=np.float32)

    with pytest.raises(ValueError, match=r"\[B, N, V\]"):
        list(sample(flat, tokens, editable, MASK_ID, SamplerSettings(steps=2)))


@pytest.mark.parametrize("selector", SELECTORS)
def test_runs_on_a_real_onnx_graph_with_guidance(selector: str) -> None:
    vocab, grid = 12, (4, 8)
    length = grid[0] * grid[1]
    model = build_tiny_transformer(vocab, length, seed=3, with_condition=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    calls: list[tuple[int, int]] = []

    def logits_for(condition: int):
        def logits_fn(batch: np.ndarray) -> np.ndarray:
            calls.append((condition, batch.shape[0]))
            cond = np.full(batch.shape[0], condition, dtype=np.int64)
            return session.run(["logits"], {"tokens": batch, "condition": cond})[0]

        return logits_fn

    rng = np.random.default_rng(0)
    tokens = rng.integers(0, vocab, length)
    region = np.zeros(grid, dtype=bool)
    region[1:3, 2:6] = True  # a rectangle in the middle of the grid
    editable = region.ravel()
    options = SamplerSettings(
        steps=5, selector=selector, guidance_scale=0.5, temperature=2.0, variations=2, seed=1
    )
    steps = list(sample(logits_for(1), tokens, editable, vocab, options, grid, logits_for(0)))

    assert len(steps) == 5 and calls == [(1, 2), (0, 2)] * 5
    final = steps[-1]
    assert np.all(final.tokens[:, ~editable] == tokens[~editable])
    assert not final.still_masked.any()
    assert final.tokens.min() >= 0 and final.tokens.max() < vocab
    assert not np.array_equal(final.tokens[0], final.tokens[1])


def test_logit_bias_bans_tokens_per_position_and_is_checked() -> None:
    """A -inf bias never lets its token be drawn; a finite zero bias changes nothing."""
    n = 12
    tokens = np.zeros(n, dtype=np.int64)
    editable = np.ones(n, dtype=bool)
    chosen = SamplerSettings(steps=4, seed=5, variations=3, temperature=3.0)
    bias = np.zeros((n, VOCAB))
    bias[:6, 3:] = -np.inf  # first half: tokens 0..2 only
    bias[6:, :5] = -np.inf  # second half: tokens 5..7 only
    final = list(sample(TableModel(n), tokens, editable, MASK_ID, chosen, logit_bias=bias))[-1]
    assert (final.tokens[:, :6] < 3).all() and (final.tokens[:, 6:] >= 5).all()
    plain = list(sample(TableModel(n), tokens, editable, MASK_ID, chosen))[-1]
    zero = list(
        sample(TableModel(n), tokens, editable, MASK_ID, chosen, logit_bias=np.zeros((n, VOCAB)))
    )[-1]
    np.testing.assert_array_equal(plain.tokens, zero.tokens)
    with pytest.raises(ValueError, match="logit_bias must be"):
        sample(
            TableModel(n), tokens, editable, MASK_ID, chosen, logit_bias=np.zeros((n + 1, VOCAB))
        )
    with pytest.raises(ValueError, match="logit_bias has"):
        list(sample(TableModel(n), tokens, editable, MASK_ID, chosen, logit_bias=np.zeros((n, 3))))
