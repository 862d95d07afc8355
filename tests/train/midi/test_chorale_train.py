"""A few real training steps, ONNX export parity, weight reloading and the NLL evaluator."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from engine.train.common import (  # noqa: E402
    INT8_SUFFIX,
    INT8_TOLERANCE,
    is_int8,
    masked_loss,
    maybe_bf16,
    onnx_initializers,
    relative_error,
    seed_everything,
    torch_logits_fn,
)
from engine.train.midi import chorale  # noqa: E402
from engine.train.midi import data as cd  # noqa: E402
from engine.train.midi import evaluate as chorale_eval  # noqa: E402

STEPS = 16


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    """Tiny models: one thread; two OpenMP threads crawl when the cores are busy."""
    torch.set_num_threads(1)


def _pieces() -> list[cd.IntGrid]:
    """A handful of real chorales when the shared data is staged, else synthetic ones."""
    try:
        return cd.load_split(cd.default_data_dir(), "train")[:8]
    except FileNotFoundError:
        rng = np.random.default_rng(0)
        base = rng.integers(20, 50, (8, 4, 1))
        held = np.repeat(rng.integers(-3, 4, (8, 4, 12)), 4, axis=2)
        return list((base + held).astype(np.int64))


def _data_or_skip() -> Path:
    try:
        return cd.npz_path(cd.default_data_dir())
    except FileNotFoundError:
        pytest.skip("JSB data not staged at ../shared/data (music/jsb_chorales)")


@pytest.fixture(scope="module")
def tiny_model() -> chorale.ChoraleTransformer:
    seed_everything(0)
    return chorale.ChoraleTransformer(chorale.tiny_config(STEPS)).eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, tiny_model) -> Path:
    folder = tmp_path_factory.mktemp("chorale")
    chorale.export(tiny_model, folder)
    chorale.write_manifest(folder, tiny_model.cfg, {"steps": 4})
    return folder


def test_token_contract_round_trip() -> None:
    piece = np.array([[72.0, 64.0, 55.0, 48.0], [np.nan, 28.0, 93.0, 36.0]])
    grid = cd.pitches_to_tokens(piece)
    assert grid.shape == (4, 2)
    assert grid[:, 0].tolist() == [44, 36, 27, 20]
    assert grid[:, 1].tolist() == [cd.REST_TOKEN, 0, 65, 8]
    assert (cd.VOCAB_SIZE, cd.MASK_ID, cd.REST_TOKEN) == (67, 67, 66)


def test_batches_respect_padding_and_masks() -> None:
    rng = np.random.default_rng(0)
    sampler = cd.WindowSampler(_pieces(), STEPS, pad_prob=0.5)
    inputs, targets, mask = cd.training_batch(sampler, rng, 64)
    assert inputs.shape == targets.shape == mask.shape == (64, 4 * STEPS)
    assert (inputs[mask] == cd.MASK_ID).all() and (inputs[~mask] == targets[~mask]).all()
    assert mask.any(1).all()
    assert targets.min() >= 0 and targets.max() <= cd.REST_TOKEN


def test_frame_masks_hide_whole_frames_or_a_proper_voice_subset() -> None:
    rng = np.random.default_rng(3)
    masks = np.stack([cd.frame_mask(rng, 64) for _ in range(400)])
    per_frame = masks.sum(1)  # masked voices per frame: 0 or 4, or 1..4 where partly shown
    assert masks.any((1, 2)).all()
    assert (per_frame == 0).any() and (per_frame == 4).any()
    partly = (per_frame > 0) & (per_frame < 4)
    share = partly.sum() / (per_frame > 0).sum()
    assert 0.1 < share < 0.3, share  # about partial_prob x 3/4 of the masked frames
    rates = (per_frame > 0).mean(1)
    assert rates.min() < 0.1 and rates.max() > 0.9  # rate r spans (0, 1]


def test_frame_share_sets_the_share_of_frame_masks() -> None:
    def frame_like(mask: np.ndarray) -> bool:
        """Mostly whole frames masked, and some frame wholly shown."""
        per_frame = mask.sum(0)
        whole = (per_frame == 4).sum() / max(int((per_frame > 0).sum()), 1)
        return bool(whole >= 0.7 and (per_frame == 0).any())

    def share_frame_like(share: float) -> float:
        rng = np.random.default_rng(0)
        return float(np.mean([frame_like(cd.random_mask(rng, 64, share)) for _ in range(600)]))

    assert share_frame_like(0.0) < 0.15  # measured 0.09
    assert 0.4 < share_frame_like(0.5) < 0.6  # measured 0.52
    assert share_frame_like(1.0) > 0.85  # measured 0.91


def test_loss_decreases_on_fixed_batch() -> None:
    seed_everything(0)
    model = chorale.ChoraleTransformer(chorale.tiny_config(STEPS))
    rng = np.random.default_rng(1)
    batch = cd.training_batch(cd.WindowSampler(_pieces(), STEPS), rng, 16)
    inputs, targets, mask = (torch.from_numpy(a) for a in batch)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        with maybe_bf16(True):
            logits = model(inputs)
        loss = masked_loss(logits, targets, mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses


def test_train_loop_runs_a_few_steps() -> None:
    settings = replace(chorale.TRAIN_DEFAULTS, max_steps=3, batch=4, warmup_steps=2, threads=1)
    pieces = _pieces()
    model, stats = chorale.train(
        chorale.tiny_config(STEPS), pieces, pieces, settings, log=lambda s: None, frame_share=0.5
    )
    assert stats["steps"] == 3 and not model.training
    assert stats["frame_share"] == 0.5


@pytest.mark.parametrize("batch", [1, 3])
def test_onnx_matches_torch(exported: Path, tiny_model, batch: int) -> None:
    rng = np.random.default_rng(batch)
    tokens = rng.integers(0, cd.MASK_ID + 1, (batch, 4 * STEPS)).astype(np.int64)
    session = ort.InferenceSession(
        str(exported / "transformer.onnx"), providers=["CPUExecutionProvider"]
    )
    got = session.run(["logits"], {"tokens": tokens})[0]
    with torch.no_grad():
        want = tiny_model(torch.from_numpy(tokens)).numpy()
    assert got.shape == (batch, 4 * STEPS, cd.VOCAB_SIZE) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)


def test_load_torch_model_round_trip(exported: Path) -> None:
    module = chorale.load_torch_model(exported)
    rng = np.random.default_rng(7)
    tokens = rng.integers(0, cd.MASK_ID + 1, (2, 4 * STEPS)).astype(np.int64)
    session = ort.InferenceSession(
        str(exported / "transformer.onnx"), providers=["CPUExecutionProvider"]
    )
    with torch.no_grad():
        mine = module(torch.from_numpy(tokens)).numpy()
    np.testing.assert_allclose(
        mine, session.run(["logits"], {"tokens": tokens})[0], atol=1e-4, rtol=0
    )


def test_manifest_schema(exported: Path) -> None:
    import json

    manifest = json.loads((exported / "manifest.json").read_text())
    assert manifest["schema_version"] == 1 and manifest["medium"] == "midi"
    assert manifest["tokens"] == {"vocab_size": 67, "mask_id": 67, "shape": [4, STEPS]}
    facts = manifest["medium_facts"]
    assert facts["voices"] == ["soprano", "alto", "tenor", "bass"]
    assert (facts["pitch_min"], facts["pitch_max"], facts["rest_token"]) == (28, 93, 66)
    assert facts["window_steps"] == STEPS and facts["steps_per_quarter"] == 4


def test_uniform_logits_give_log_vocab_per_cell() -> None:
    def uniform(tokens: np.ndarray) -> np.ndarray:
        return np.zeros((*tokens.shape, cd.VOCAB_SIZE), dtype=np.float32)

    windows, scored = cd.tile_pieces(_pieces()[:3], STEPS)
    result = chorale_eval.orderless_nll(uniform, windows, scored, orderings=2, group=3)
    assert result.cells == int(scored.sum())
    assert result.nats_per_cell == pytest.approx(math.log(67), abs=1e-12)
    assert result.nats_per_frame == pytest.approx(4 * math.log(67), abs=1e-12)


def test_group_one_equals_exact_chain_rule(tiny_model) -> None:
    """With one cell per call the estimate is the exact chain rule for that ordering."""
    windows, scored = cd.tile_pieces(_pieces()[:1], STEPS)
    windows, scored = windows[:1], scored[:1]

    def fn(tokens: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return tiny_model(torch.from_numpy(tokens)).numpy()

    rng = np.random.default_rng(3)
    total = chorale_eval.one_ordering(fn, windows.reshape(1, -1), scored.reshape(1, -1), 1, rng)
    flat, ok = windows.reshape(-1), scored.reshape(-1)
    order = np.argsort(np.where(ok, np.random.default_rng(3).random(flat.size), np.inf))[: ok.sum()]
    current, expect = np.where(ok, cd.MASK_ID, flat), 0.0
    for cell in order:
        logits = fn(current[None])[0, cell].astype(np.float64)
        expect -= logits[flat[cell]] - np.log(np.exp(logits - logits.max()).sum()) - logits.max()
        current[cell] = flat[cell]
    assert total == pytest.approx(expect, rel=1e-6)


def _module_fn(model: chorale.ChoraleTransformer):
    def fn(tokens: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(tokens)).numpy()

    return fn


def test_frame_windows_are_centred_on_quarters_and_inside_the_piece() -> None:
    starts = chorale_eval.frame_window_starts(40, 16)
    assert starts[0] == 0 and starts[-1] == 24  # clipped at both ends
    assert (starts % 4 == 0).all()
    frames = np.arange(40)
    assert ((frames >= starts) & (frames < starts + 16)).all()
    assert starts[20] == 12  # 20 - 8, already on a quarter
    assert (chorale_eval.frame_window_starts(10, 16) == 0).all()  # shorter than a window


def test_framewise_matches_a_frame_by_frame_reference(tiny_model) -> None:
    """Coconet's FrameEvaluator written out frame by frame agrees with the batched one.

    Pieces shorter than, equal to and longer than the window; earlier voices of a frame are
    filled with the model's argmax, earlier frames with the truth.
    """
    fn = _module_fn(tiny_model)
    rng = np.random.default_rng(5)
    pieces = [rng.integers(0, cd.REST_TOKEN + 1, (4, n)).astype(np.int64) for n in (12, 16, 28)]
    temperatures = (1.0, 2.5)
    got = chorale_eval.framewise_lls(
        fn, pieces, STEPS, np.random.default_rng(9), batch=5, temperatures=temperatures
    )

    ref_rng, expect = np.random.default_rng(9), []
    for piece in pieces:
        length = piece.shape[1]
        rank = np.empty(length, dtype=np.int64)
        rank[ref_rng.permutation(length)] = np.arange(length)
        voice_order = np.argsort(ref_rng.random((length, 4)), axis=1)
        padded = np.full((4, max(length, STEPS)), cd.REST_TOKEN, dtype=np.int64)
        padded[:, :length] = piece
        for t in range(length):
            start = int(chorale_eval.frame_window_starts(padded.shape[1], STEPS)[t])
            window = padded[:, start : start + STEPS].copy()
            for col in range(STEPS):
                if start + col < length and rank[start + col] >= rank[t]:
                    window[:, col] = cd.MASK_ID
            total = np.zeros(len(temperatures))
            for v in voice_order[t]:
                logits = fn(window.reshape(1, -1))[0, v * STEPS + t - start].astype(np.float64)
                for i, temperature in enumerate(temperatures):
                    z = logits / temperature
                    total[i] += (z - z.max() - np.log(np.exp(z - z.max()).sum()))[piece[v, t]]
                window[v, t - start] = int(logits.argmax())
            expect.append(total)
    np.testing.assert_allclose(got, np.array(expect).T, rtol=1e-5)


def test_framewise_ensemble_is_per_frame_in_probability_space(tiny_model) -> None:
    pieces = [_pieces()[0][:, :24], _pieces()[1][:, :16]]
    fn = _module_fn(tiny_model)
    heard: list[str] = []
    result = chorale_eval.framewise_nll(fn, pieces, STEPS, orderings=3, seed=1, log=heard.append)
    assert len(heard) == 3 and heard[0].startswith("ordering 1/3: ")
    rng = np.random.default_rng(1)
    lls = np.stack([chorale_eval.framewise_lls(fn, pieces, STEPS, rng)[0] for _ in range(3)])
    expect = -np.mean(np.log(np.exp(lls).mean(axis=0)))
    assert result.nats_per_frame == pytest.approx(expect, rel=1e-9)
    assert result.nats_per_frame_log_mean == pytest.approx(-lls.mean(), rel=1e-9)
    per_frame = -np.log(np.exp(lls).mean(axis=0))
    by_piece = (per_frame[:24].mean() + per_frame[24:].mean()) / 2
    assert result.nats_per_frame_piece_mean == pytest.approx(by_piece, rel=1e-9)
    assert result.stderr_frames_as_units == pytest.approx(per_frame.std() / np.sqrt(40))
    assert result.nats_per_frame < result.nats_per_frame_log_mean  # Jensen, strictly here
    assert (result.frames, result.pieces, result.orderings) == (40, 2, 3)
    assert result.stderr_over_pieces > 0 and result.stderr_piece_mean > 0


def test_a_temperature_divides_the_logits(tiny_model) -> None:
    """Scoring logits x 2 at T = 2 is scoring the logits at T = 1; T = 1 is framewise_nll."""
    pieces = [_pieces()[0][:, :20]]
    fn = _module_fn(tiny_model)

    def doubled(tokens: np.ndarray) -> np.ndarray:
        return fn(tokens) * 2

    plain = chorale_eval.framewise_nll(fn, pieces, STEPS, orderings=2, seed=4)
    at_one, at_two = chorale_eval.framewise_scan(doubled, pieces, STEPS, (1.0, 2.0), 2, seed=4)
    assert at_two.temperature == 2.0
    assert at_two.nats_per_frame == pytest.approx(plain.nats_per_frame, rel=1e-6)
    assert at_one.nats_per_frame != pytest.approx(plain.nats_per_frame, rel=1e-3)


def _pitch_centred(tokens: np.ndarray) -> np.ndarray:
    """A model that only knows intervals: every cell peaks on its row's mean visible pitch.

    Moving every visible pitch by k moves its answer by k, so a key ensemble of it is itself.
    """
    is_pitch = tokens < cd.REST_TOKEN
    centre = np.where(is_pitch, tokens, 0).sum(1) / np.maximum(is_pitch.sum(1), 1)
    pitch = np.arange(cd.VOCAB_SIZE)
    logits = -0.05 * (pitch[None, :] - centre[:, None]) ** 2
    logits[:, cd.REST_TOKEN] = -3.0
    return np.repeat(logits[:, None, :], tokens.shape[1], axis=1).astype(np.float32)


def _row(pitches: list[int]) -> np.ndarray:
    row = np.full((1, 4 * STEPS), cd.MASK_ID, dtype=np.int64)
    row[0, : len(pitches)] = pitches
    return row


def test_a_key_ensemble_of_an_interval_model_is_the_model() -> None:
    """Shifting the input up k and the answer back down k: a sign error breaks this."""
    tokens = np.concatenate([_row([30, 34, 37]), _row([20, 27, cd.REST_TOKEN])])
    base = chorale_eval._log_softmax(_pitch_centred(tokens))
    mixed = chorale_eval.transposition_mixture(_pitch_centred, range(-2, 3))(tokens)
    assert mixed.dtype == np.float32 and mixed.shape == base.shape
    np.testing.assert_allclose(np.logaddexp.reduce(mixed, axis=-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.exp(mixed), np.exp(base), atol=1e-5)  # edges differ in ~e-20
    assert chorale_eval.transposition_mixture(_pitch_centred, [0]) is _pitch_centred


def test_a_key_ensemble_averages_its_members_in_probability_space(tiny_model) -> None:
    fn = _module_fn(tiny_model)
    tokens = _row([30, 34, 37, cd.REST_TOKEN])
    mixed = chorale_eval.transposition_mixture(fn, [-1, 0, 1])(tokens)
    members = []
    for k in (-1, 0, 1):
        logp = chorale_eval._log_softmax(fn(cd.transpose(tokens, k)))
        back = np.full_like(logp, -np.inf)
        for pitch in range(cd.REST_TOKEN):
            if 0 <= pitch + k < cd.REST_TOKEN:
                back[..., pitch] = logp[..., pitch + k]
        back[..., cd.REST_TOKEN] = logp[..., cd.REST_TOKEN]
        members.append(np.exp(back) / np.exp(back).sum(-1, keepdims=True))
    np.testing.assert_allclose(np.exp(mixed), np.mean(members, axis=0), atol=1e-6)
    assert not np.allclose(mixed, chorale_eval._log_softmax(fn(tokens)), atol=1e-3)


def test_the_framewise_estimator_reads_a_key_ensemble_one_cell_per_row(tiny_model) -> None:
    ensemble = chorale_eval.transposition_mixture(_module_fn(tiny_model), [-1, 0, 1])
    tokens = np.concatenate([_row([30, 34, 37]), _row([40, cd.REST_TOKEN])])
    cells = np.array([5, 17])
    np.testing.assert_allclose(
        chorale_eval.cell_logits(ensemble, tokens, cells), ensemble(tokens)[[0, 1], cells]
    )
    pieces = [_pieces()[0][:, :20]]
    cell_by_cell = chorale_eval.framewise_nll(ensemble, pieces, STEPS, orderings=2, seed=3)
    whole_rows = chorale_eval.framewise_nll(
        lambda t: ensemble(t), pieces, STEPS, orderings=2, seed=3
    )
    assert cell_by_cell.nats_per_frame == pytest.approx(whole_rows.nats_per_frame, rel=1e-6)


def test_a_key_shift_that_leaves_the_range_sits_the_row_out(tiny_model) -> None:
    fn = _module_fn(tiny_model)
    top = _row([60, 64, cd.REST_TOKEN - 1])  # the highest pitch: no room to move up
    both = chorale_eval.transposition_mixture(fn, [-1, 0, 1])(top)
    down = chorale_eval.transposition_mixture(fn, [-1, 0])(top)
    np.testing.assert_allclose(both, down, atol=1e-6)
    with pytest.raises(ValueError, match="include 0"):
        chorale_eval.transposition_mixture(fn, [1, 2])


def test_ratio_stderr_is_the_stderr_of_the_mean_for_equal_pieces() -> None:
    rng = np.random.default_rng(0)
    means = rng.normal(0.6, 0.1, 30)
    sizes = np.full(30, 50.0)
    got = chorale_eval.ratio_stderr(means * sizes, sizes)
    assert got == pytest.approx(means.std(ddof=1) / np.sqrt(30), rel=1e-9)
    long_first = np.array([400.0, *np.full(29, 50.0)])  # one long piece weighs more
    assert chorale_eval.ratio_stderr(means * long_first, long_first) != pytest.approx(got)


def test_framewise_uniform_logits_give_four_log_vocab() -> None:
    def uniform(tokens: np.ndarray) -> np.ndarray:
        return np.zeros((*tokens.shape, cd.VOCAB_SIZE), dtype=np.float32)

    result = chorale_eval.framewise_nll(uniform, _pieces()[:2], STEPS, orderings=2)
    assert result.nats_per_frame == pytest.approx(4 * math.log(cd.VOCAB_SIZE), abs=1e-9)


def test_rests_free_scoring_counts_a_rest_as_zero_nats() -> None:
    """Coconet's code scores a rest (an empty pitch vector) as certain; we can too."""

    def uniform(tokens: np.ndarray) -> np.ndarray:
        return np.zeros((*tokens.shape, cd.VOCAB_SIZE), dtype=np.float32)

    pieces = [piece.copy() for piece in _pieces()[:2]]
    pieces[0][1, 5:9] = cd.REST_TOKEN
    pieces[1][3, :2] = cd.REST_TOKEN
    frames = sum(piece.shape[1] for piece in pieces)
    scored, free = (
        chorale_eval.framewise_scan(uniform, pieces, STEPS, (1.0,), 2, score_rests=flag)[0]
        for flag in (True, False)
    )
    assert scored.nats_per_frame == pytest.approx(4 * math.log(cd.VOCAB_SIZE), abs=1e-9)
    expect = (4 * frames - 6) * math.log(cd.VOCAB_SIZE) / frames
    assert free.nats_per_frame == pytest.approx(expect, abs=1e-9)
    assert (scored.rests_scored, free.rests_scored) == (True, False)


def test_card_puts_the_framewise_figure_beside_coconets(tmp_path: Path, tiny_model) -> None:
    from engine.train.midi import card as chorale_card

    chorale.export(tiny_model, tmp_path)
    fn = _module_fn(tiny_model)
    framewise = chorale_eval.framewise_nll(fn, _pieces()[:2], STEPS, orderings=2)
    windows, scored = cd.tile_pieces(_pieces()[:2], STEPS)
    chain = chorale_eval.orderless_nll(fn, windows, scored, orderings=1, group=8)
    stats = {"params": 1, "command": "remask-train chorale --max-steps 1"}
    earlier = replace(framewise, nats_per_frame=9.875, nats_per_frame_piece_mean=9.625)
    card = chorale_card.write_model_card(
        tmp_path,
        tiny_model.cfg,
        stats,
        chain,
        "cmd",
        framewise=framewise,
        more_framewise=[("the model it replaced", earlier)],
    ).read_text()
    assert "### Measured the way Coconet measured it" in card
    assert (
        f"| {framewise.nats_per_frame:.3f} ± {framewise.stderr_over_pieces:.3f} (per piece "
        f"first: {framewise.nats_per_frame_piece_mean:.3f} ± {framewise.stderr_piece_mean:.3f}) "
        f"| {framewise.nats_per_frame_log_mean:.3f} ("
    ) in card
    assert "| the model it replaced | JSB test split" in card
    assert f"ours over all frames is ± {framewise.stderr_frames_as_units:.3f}." in card
    assert f"| 9.875 ± {earlier.stderr_over_pieces:.3f} (per piece first: 9.625 ± " in card
    assert "it does **not** beat Coconet." in card  # an untrained model is far above 0.57
    assert "hide whole frames" not in card and "`--frame-masks`" not in card
    assert "the two are not comparable; the like-for-like comparison follows" in card
    no_framewise = chorale_card.write_model_card(tmp_path, tiny_model.cfg, stats, chain, "cmd")
    assert "Measured the way Coconet" not in no_framewise.read_text()


def test_the_verdict_counts_both_standard_errors(tiny_model) -> None:
    from engine.train.midi import card as chorale_card

    fn = _module_fn(tiny_model)
    measured = chorale_eval.framewise_nll(fn, _pieces()[:2], STEPS, orderings=1)

    def verdict(nll: float, stderr: float) -> str:
        return chorale_card.framewise_verdict(
            replace(measured, nats_per_frame=nll, stderr_over_pieces=stderr)
        )

    # Two combined errors with ours at 0.01: 2 * hypot(0.01, 0.01) = 0.028.
    assert "**0.040 nats per frame below Coconet's 0.57**" in verdict(0.53, 0.01)
    assert "level with Coconet; it does **not** beat" in verdict(0.55, 0.01)
    assert "0.020 nats per frame below" in verdict(0.55, 0.01)
    assert "level with Coconet" in verdict(0.59, 0.01)
    assert "close to it, but it does **not** beat" in verdict(0.61, 0.01)
    assert "**0.040 nats per frame below" in verdict(0.53, float("nan"))  # Coconet's only


def test_card_names_the_stages_that_trained_on_frame_masks(tmp_path: Path, tiny_model) -> None:
    from engine.train.midi import card as chorale_card

    chorale.export(tiny_model, tmp_path)
    stage = {"command": "remask-train chorale", "minutes": 1, "device": "cpu", "batch": 4}
    stats = {"params": 1, "stages": [stage, {**stage, "frame_share": 0.5}]}
    card = chorale_card.write_model_card(tmp_path, tiny_model.cfg, stats, None, "cmd").read_text()
    assert "In stage 2 (`--frame-masks`) a share of the masks instead hide" in card
    assert card.count("50% of its training and validation masks hide whole frames") == 1


def test_chorale_eval_runs_the_onnx_file_or_its_torch_rebuild(exported: Path) -> None:
    from engine.train.midi import cli

    tokens = np.random.default_rng(2).integers(0, cd.MASK_ID + 1, (3, 4 * STEPS))
    from_onnx = cli.chorale_eval_logits(exported, None)(tokens)
    from_torch = cli.chorale_eval_logits(exported, "cpu")(tokens)
    assert from_onnx.shape == from_torch.shape == (3, 4 * STEPS, cd.VOCAB_SIZE)
    np.testing.assert_allclose(from_torch, from_onnx, atol=1e-4)


def test_real_data_loads() -> None:
    path = _data_or_skip()
    test = cd.load_split(path, "test")
    assert len(test) == 77 and all(g.shape[0] == 4 for g in test)


def test_sampling_measurement_picks_a_candidate(tiny_model) -> None:
    from engine.train.midi import sampling as chorale_sampling

    def fn(tokens: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return tiny_model(torch.from_numpy(tokens)).numpy()

    windows = np.stack([p[:, :STEPS] for p in _pieces()[:4]])
    scores = chorale_sampling.measure(fn, windows)
    assert len(scores) == 2 * len(chorale_sampling.CANDIDATES)
    assert all(0.0 <= s.match <= 1.0 and s.onsets >= 0.0 for s in scores)
    best = chorale_sampling.choose(scores)
    assert chorale_sampling.manifest_sampling(best)["steps"] == 16


def test_cli_trains_exports_and_reloads(tmp_path: Path) -> None:
    from engine.train import cli

    data = _data_or_skip()
    out = tmp_path / "model"
    argv = ["chorale", "--data", str(data), "--max-steps", "2", "--steps", "16"]
    argv += ["--d-model", "32", "--layers", "1", "--heads", "2", "--batch", "4"]
    argv += ["--out", str(out), "--checkpoint-dir", str(tmp_path / "ckpt"), "--no-eval"]
    assert cli.main(argv) == 0
    assert {p.name for p in out.iterdir()} == {"transformer.onnx", "manifest.json", "MODEL_CARD.md"}
    assert "remask-train chorale --data" in (out / "MODEL_CARD.md").read_text()
    module = chorale.load_torch_model(out)
    assert module.cfg.steps == 16 and module.cfg.n_layers == 1


def test_torch_logits_fn_matches_the_module(tiny_model) -> None:
    """The evaluator's torch path (used on a GPU) gives the module's own fp32 logits."""
    tokens = np.random.default_rng(3).integers(0, cd.MASK_ID + 1, (2, 4 * STEPS))
    got = torch_logits_fn(tiny_model, "cpu")(tokens)
    with torch.no_grad():
        want = tiny_model(torch.from_numpy(tokens)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)


def test_int8_export_is_smaller_and_still_rebuilds_in_torch(tmp_path: Path, tiny_model) -> None:
    """``--int8``: integer MatMul weights; torch reloads them dequantized, within tolerance.

    The weights use 7 bits (|q| <= 64), so 255 * 64 * 2 < 2**15 and AVX2's saturating 16-bit
    pair sums give the same logits as exact integer GEMMs (8-bit: 22 % off on such a CPU).
    """
    fp32, int8 = tmp_path / "fp32", tmp_path / "int8"
    chorale.export(tiny_model, fp32)
    chorale.export(tiny_model, int8, int8=True)
    assert is_int8(int8 / "transformer.onnx") and not is_int8(fp32 / "transformer.onnx")
    assert (int8 / "transformer.onnx").stat().st_size < (fp32 / "transformer.onnx").stat().st_size
    inits = onnx_initializers(int8 / "transformer.onnx")
    quantized = [v.astype(np.int32) for k, v in inits.items() if k.endswith(INT8_SUFFIX)]
    assert quantized and max(np.abs(q).max() for q in quantized) <= 64
    weight = "blocks.0.mlp.0.weight"
    original = tiny_model.state_dict()[weight].numpy()
    restored = inits[weight]
    assert restored.shape == original.shape
    half_step = np.abs(original).max(axis=1, keepdims=True) / 128  # one scale per output row
    assert np.all(np.abs(restored - original) <= half_step + 1e-7)
    chorale.write_manifest(int8, tiny_model.cfg, {"steps": 4})
    module = chorale.load_torch_model(int8)
    tokens = np.random.default_rng(4).integers(0, cd.MASK_ID + 1, (2, 4 * STEPS))
    session = ort.InferenceSession(
        str(int8 / "transformer.onnx"), providers=["CPUExecutionProvider"]
    )
    with torch.no_grad():
        mine = module(torch.from_numpy(tokens)).numpy()
    theirs = session.run(["logits"], {"tokens": tokens})[0]
    assert relative_error(theirs, mine) <= INT8_TOLERANCE
