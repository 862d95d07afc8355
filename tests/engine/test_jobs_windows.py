"""The generic multi-window runner (engine.jobs) with a tiny real ONNX model.

A test codec chains windows over a token sequence: window k's first half is
the second half of what window k-1 generated *in the same variation*, and
its second half is generated. Every encoded problem is recorded, so the
tests can prove from the tokens themselves that state flows window to window
and variation by variation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.jobs import (
    WINDOW_SEED_STRIDE,
    Cancelled,
    ConditionalLogits,
    GenerateRequest,
    Progress,
    SingleWindow,
    TokenProblem,
    WindowedCodec,
    as_windowed,
    run_generation,
    run_model_generation,
    run_model_windows,
    run_windows,
    window_settings,
)
from engine.models import load_manifest
from engine.runtime import load_transformer
from engine.sampling import sample
from engine.sampling.types import LogitsFn, SamplerSettings, TokenArray
from tests.tinymodels import write_tiny_model
from tests.toy_medium.document import TokenGridCodec, TokenGridPayload

LENGTH = 16  # tokens per model window
HALF = LENGTH // 2
GRID = (2, LENGTH // 2)  # the same window as a grid, for the token-grid codec
VOCAB = 12
MASK_ID = VOCAB


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConditionalLogits]:
    folder = write_tiny_model(
        tmp_path_factory.mktemp("models"), "chain", vocab_size=VOCAB, shape=(LENGTH,)
    )
    yield load_transformer(load_manifest(folder))


@dataclass(frozen=True)
class ChainPayload:
    """The known start of a sequence (HALF tokens) and how many windows to chain."""

    start: TokenArray
    windows: int


@dataclass
class ChainCodec:
    """Window k = [last HALF tokens generated so far | HALF masked tokens].

    A variation's state is the tuple of token rows generated so far (starting
    with the payload's start); every call is recorded.
    """

    encoded: list[TokenProblem] = field(default_factory=list)
    applied: list[TokenArray] = field(default_factory=list)
    finished: int = 0
    stop_after_window: int | None = None
    stopped: bool = False

    def window_count(self, payload: ChainPayload) -> int:
        return payload.windows

    def initial_state(self, payload: ChainPayload) -> tuple[TokenArray, ...]:
        return (payload.start,)

    def encode_window(
        self, payload: ChainPayload, states: Sequence[Any], window: int
    ) -> TokenProblem:
        context = np.stack([state[-1][-HALF:] for state in states])  # [B, HALF]
        tokens = np.concatenate([context, np.full_like(context, MASK_ID)], axis=1)
        editable = np.zeros(tokens.shape, dtype=bool)
        editable[:, HALF:] = True
        problem = TokenProblem(tokens, editable, (LENGTH,))
        self.encoded.append(problem)
        return problem

    def apply_window(
        self, payload: ChainPayload, states: Sequence[Any], window: int, tokens: TokenArray
    ) -> list[Any]:
        self.applied.append(tokens.copy())
        if window == self.stop_after_window:
            self.stopped = True
        return [(*state, row.copy()) for state, row in zip(states, tokens, strict=True)]

    def finish(self, payload: ChainPayload, states: Sequence[Any]) -> list[Any]:
        self.finished += 1
        return [np.concatenate([row[HALF:] for row in state[1:]]) for state in states]


def chain_request(codec: Any, windows: int = 3, variations: int = 3, seed: int = 4) -> Any:
    start = np.arange(HALF, dtype=np.int64) % VOCAB
    start.flags.writeable = False
    settings = SamplerSettings(steps=3, variations=variations, seed=seed, temperature=4.0)
    # (a flat distribution, so the variations drift apart and their states really differ)
    return GenerateRequest(1, "chain", settings, ChainPayload(start, windows), codec)


def test_a_three_window_chain_encodes_each_window_from_the_previous_ones_tokens(
    model: ConditionalLogits,
) -> None:
    codec = ChainCodec()
    assert isinstance(codec, WindowedCodec) and as_windowed(codec) is codec
    request = chain_request(codec)
    seen: list[Progress] = []
    results, tokens = run_model_windows(request, model, MASK_ID, seen.append, lambda: False)

    assert len(codec.encoded) == len(codec.applied) == 3 and codec.finished == 1
    start = request.payload.start
    np.testing.assert_array_equal(codec.encoded[0].tokens[:, :HALF], np.stack([start] * 3))
    for k in (1, 2):  # window k's known tokens are exactly window k-1's generated ones, per row
        np.testing.assert_array_equal(
            codec.encoded[k].tokens[:, :HALF], codec.applied[k - 1][:, HALF:]
        )
    for problem, final in zip(codec.encoded, codec.applied, strict=True):
        known = ~problem.editable_mask
        np.testing.assert_array_equal(final[known], problem.tokens[known])  # kept bit-exact
        assert final[problem.editable_mask].max() < VOCAB  # every masked token decided
    np.testing.assert_array_equal(tokens, codec.applied[-1])
    # the variations differ after window 0, so windows 1 and 2 got three different problems
    assert len({row.tobytes() for row in codec.encoded[1].tokens}) == 3
    assert len({row.tobytes() for row in codec.encoded[2].tokens}) == 3
    for b, result in enumerate(results):  # variation b is made of its own windows only
        expected = np.concatenate([final[b, HALF:] for final in codec.applied])
        np.testing.assert_array_equal(result, expected)

    assert [(p.window, p.windows) for p in seen] == [(k, 3) for k in range(3) for _ in range(3)]
    assert [p.step.index for p in seen] == [1, 2, 3] * 3
    assert seen[-1].done and not seen[-2].done and seen[-1].fraction == 1.0
    assert seen[3].fraction == pytest.approx((1 + 1 / 3) / 3)
    assert seen[3].problem is codec.encoded[1]
    for progress in seen:  # the states a window started from hold that many generated rows
        assert all(len(state) == progress.window + 1 for state in progress.states)


def test_each_window_is_one_batched_sampler_run_with_its_own_seed(
    model: ConditionalLogits,
) -> None:
    batches: list[tuple[int, ...]] = []

    class Counting:
        def logits_fn(self, condition: int | None = None) -> LogitsFn:
            inner = model.logits_fn(condition)

            def run(tokens: TokenArray) -> Any:
                batches.append(tokens.shape)
                return inner(tokens)

            return run

    codec = ChainCodec()
    results, _ = run_model_windows(
        chain_request(codec, variations=4), Counting(), MASK_ID, lambda _p: None, lambda: False
    )
    assert batches == [(4, LENGTH)] * 9  # 3 windows x 3 steps, all 4 variations in each call
    assert len(results) == 4
    # window k samples with its own seed: the sampler's own run of window 1 reproduces it
    settings = window_settings(chain_request(codec, variations=4).settings, 1)
    assert settings.seed == 4 + WINDOW_SEED_STRIDE
    problem = codec.encoded[1]
    steps = list(
        sample(model.logits_fn(), problem.tokens, problem.editable_mask, MASK_ID, settings)
    )
    np.testing.assert_array_equal(steps[-1].tokens, codec.applied[1])


def test_a_window_may_ask_for_its_own_step_count(model: ConditionalLogits) -> None:
    """A codec that needs fewer steps for a window (a refinement) says so in its problem."""

    class ShortSecondWindow(ChainCodec):
        def encode_window(
            self, payload: ChainPayload, states: Sequence[Any], window: int
        ) -> TokenProblem:
            problem = super().encode_window(payload, states, window)
            return replace(problem, steps=2) if window == 1 else problem

    totals: list[tuple[int, int]] = []
    run_model_windows(
        chain_request(ShortSecondWindow()),
        model,
        MASK_ID,
        lambda p: totals.append((p.window, p.step.total)),
        lambda: False,
    )
    assert sorted(set(totals)) == [(0, 3), (1, 2), (2, 3)]


def test_cancel_between_windows_decodes_nothing_and_leaves_the_payload(
    model: ConditionalLogits,
) -> None:
    codec = ChainCodec(stop_after_window=0)
    request = chain_request(codec)
    start = request.payload.start.copy()
    with pytest.raises(Cancelled):
        run_model_windows(request, model, MASK_ID, lambda _p: None, lambda: codec.stopped)
    assert len(codec.encoded) == 1 and len(codec.applied) == 1  # window 1 was never encoded
    assert codec.finished == 0
    np.testing.assert_array_equal(request.payload.start, start)


def test_cancel_between_steps_of_a_later_window(model: ConditionalLogits) -> None:
    codec = ChainCodec()
    request = chain_request(codec)
    start = request.payload.start.copy()
    seen: list[tuple[int, int]] = []
    with pytest.raises(Cancelled):
        run_model_windows(
            request,
            model,
            MASK_ID,
            lambda p: seen.append((p.window, p.step.index)),
            lambda: (1, 2) in seen,
        )
    assert seen == [(0, 1), (0, 2), (0, 3), (1, 1), (1, 2)]
    assert len(codec.encoded) == 2 and len(codec.applied) == 1 and codec.finished == 0
    np.testing.assert_array_equal(request.payload.start, start)


def test_a_stale_job_encodes_nothing(model: ConditionalLogits) -> None:
    codec = ChainCodec()
    with pytest.raises(Cancelled):
        run_model_windows(chain_request(codec), model, MASK_ID, lambda _p: None, lambda: True)
    assert not codec.encoded and not codec.applied and codec.finished == 0


def test_a_codec_must_return_one_state_per_variation(model: ConditionalLogits) -> None:
    class Short(ChainCodec):
        def apply_window(self, *args: Any) -> list[Any]:
            return super().apply_window(*args)[:1]

    with pytest.raises(ValueError, match="1 states for 3 variations"):
        run_model_windows(chain_request(Short()), model, MASK_ID, lambda _p: None, lambda: False)


def test_an_edit_without_windows_is_an_error(model: ConditionalLogits) -> None:
    with pytest.raises(ValueError, match="nothing to generate"):
        run_model_windows(
            chain_request(ChainCodec(), windows=0), model, MASK_ID, lambda _p: None, lambda: False
        )


# --------------------------------------------------------------------------- single window


@dataclass
class CountingGridCodec(TokenGridCodec):
    """The token-grid codec, counting its calls."""

    def __init__(self) -> None:
        super().__init__(GRID, VOCAB)
        self.calls: list[tuple[str, tuple[int, ...]]] = []

    def encode(self, payload: TokenGridPayload) -> TokenProblem:
        self.calls.append(("encode", payload.token_grid.shape))
        return super().encode(payload)

    def decode(self, payload: TokenGridPayload, tokens: TokenArray) -> list[TokenArray]:
        self.calls.append(("decode", tokens.shape))
        return super().decode(payload, tokens)


def grid_payload() -> TokenGridPayload:
    grid = np.arange(LENGTH).reshape(GRID) % VOCAB
    mask = np.zeros(GRID, dtype=bool)
    mask[:, 1:5] = True
    return TokenGridPayload.of(grid, mask)


def test_a_single_window_codec_runs_as_before(model: ConditionalLogits) -> None:
    """Encode once, sample [N] for B variations with the seed as given, decode [B, N] once."""
    codec = CountingGridCodec()
    assert not isinstance(codec, WindowedCodec) and isinstance(as_windowed(codec), SingleWindow)
    payload = grid_payload()
    settings = SamplerSettings(steps=4, variations=3, seed=9)
    request = GenerateRequest(2, "chain", settings, payload, codec)
    seen: list[Progress] = []
    results, tokens = run_model_windows(request, model, MASK_ID, seen.append, lambda: False)
    assert codec.calls == [("encode", GRID), ("decode", (3, LENGTH))]
    problem = TokenGridCodec(GRID, VOCAB).encode(payload)
    direct = list(
        sample(model.logits_fn(), problem.tokens, problem.editable_mask, MASK_ID, settings, GRID)
    )
    np.testing.assert_array_equal(tokens, direct[-1].tokens)
    assert [(p.window, p.windows, p.states) for p in seen] == [(0, 1, (None,) * 3)] * 4
    assert [p.step.index for p in seen] == [s.index for s in direct]
    keep = ~payload.editable_mask
    for grid, row in zip(results, tokens, strict=True):
        np.testing.assert_array_equal(grid[keep], payload.token_grid[keep])
        generated = np.where(payload.editable_mask, row.reshape(GRID), payload.token_grid)
        np.testing.assert_array_equal(grid, generated)


def test_step_reporting_runners_match_the_progress_runners(model: ConditionalLogits) -> None:
    """run_generation / run_model_generation keep their signatures and report bare steps."""
    settings = SamplerSettings(steps=3, variations=2, seed=1)
    request = GenerateRequest(3, "chain", settings, grid_payload(), TokenGridCodec(GRID, VOCAB))
    steps: list[Any] = []
    by_model = run_model_generation(request, model, MASK_ID, steps.append, lambda: False)
    by_fn = run_generation(request, model.logits_fn(), MASK_ID, lambda _s: None, lambda: False)
    with_progress = run_windows(request, model.logits_fn(), MASK_ID, lambda _p: None, lambda: False)
    assert [s.index for s in steps] == [1, 2, 3] and all(hasattr(s, "still_masked") for s in steps)
    for other in (by_fn, with_progress):
        np.testing.assert_array_equal(other[1], by_model[1])
        for a, b in zip(other[0], by_model[0], strict=True):
            np.testing.assert_array_equal(a, b)


def test_window_settings_keep_window_zero_as_given() -> None:
    settings = SamplerSettings(seed=11, steps=5)
    assert window_settings(settings, 0) is settings
    assert window_settings(settings, 2) == SamplerSettings(
        seed=11 + 2 * WINDOW_SEED_STRIDE, steps=5
    )


def test_a_conditioned_window_gets_its_condition_and_guidance(tmp_path: Path) -> None:
    folder = write_tiny_model(
        tmp_path, "cond", vocab_size=VOCAB, shape=(LENGTH,), with_condition=True
    )
    inner = load_transformer(load_manifest(folder))
    asked: list[int | None] = []

    class Recording:
        def logits_fn(self, condition: int | None = None) -> LogitsFn:
            asked.append(condition)
            return inner.logits_fn(condition)

    class Conditioned(ChainCodec):
        def encode_window(self, *args: Any) -> TokenProblem:
            problem = super().encode_window(*args)
            return TokenProblem(problem.tokens, problem.editable_mask, problem.grid_shape, 2)

    request = chain_request(Conditioned())
    settings = SamplerSettings(steps=2, variations=3, guidance_scale=1.5)
    guided = GenerateRequest(1, "cond", settings, request.payload, request.codec)
    run_model_windows(guided, Recording(), MASK_ID, lambda _p: None, lambda: False)
    assert asked == [2, None]  # made once per condition and reused for all three windows
