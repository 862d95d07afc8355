"""Decoder fine-tuning on sampled tokens: the edits it draws, the tokens it samples, and that
it trains the decoder alone (encoder and codebooks, hence every token, stay as they were)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from engine.train import refine  # noqa: E402
from engine.train.common import seed_everything  # noqa: E402
from engine.train.motion import data as motion_data  # noqa: E402
from engine.train.motion import export as motion_export  # noqa: E402
from engine.train.motion import refine as motion_refine  # noqa: E402
from engine.train.motion import train as motion_train  # noqa: E402
from engine.train.motion.card import DEFAULT_SAMPLING  # noqa: E402
from engine.train.motion.model import MotionTokenizer, tiny_config  # noqa: E402
from tests.train.motion.synthetic_takes import synthetic_takes  # noqa: E402

CFG = replace(tiny_config(), context_input=True)


@pytest.fixture(scope="module")
def takes() -> list[motion_data.MotionTake]:
    return synthetic_takes(4, 48)


@pytest.fixture(scope="module")
def trained(takes):  # type: ignore[no-untyped-def]
    seed_everything(0)
    tokenizer = MotionTokenizer(CFG)
    tokenizer.norm.set(*motion_data.feature_stats(takes))
    tokenizer.eval()
    sequences = motion_train.encode_takes(tokenizer, takes)
    features = motion_train.take_features(takes, CFG.window)
    return tokenizer, motion_train.new_transformer(CFG, tokenizer).eval(), sequences, features


def test_refine_masks_mask_every_token_a_span_touches_and_only_those() -> None:
    masks = motion_refine.refine_masks(400, 8, np.random.default_rng(1))
    assert masks.token_masks.shape == (400, 2, 8) and masks.known.shape == (400, 32, 2)
    per_token = masks.known.reshape(400, 8, 4, 2).min(axis=2).transpose(0, 2, 1)
    np.testing.assert_array_equal(per_token == 0, masks.token_masks)
    # sampled rows are span edits: every part keeps some frames; the others lose a whole part
    whole_part_lost = (masks.known.max(axis=1) == 0).any(axis=1)
    np.testing.assert_array_equal(masks.sampled, ~whole_part_lost)
    assert 0.75 < masks.sampled.mean() < 0.95
    one_part = masks.sampled & (masks.known.min(axis=1) == 1).any(axis=1)
    assert one_part.any()  # upper- or lower-body spans too


def test_sampled_tokens_change_only_masked_tokens_and_never_draw_the_mask_id(trained) -> None:
    tokenizer, transformer, sequences, features = trained
    batches = motion_refine.RefineBatches(transformer, sequences, features, DEFAULT_SAMPLING)
    rng = np.random.default_rng(3)
    picks, starts = motion_train.window_picks([s.shape[1] for s in sequences], 8, 6, rng)
    tokens = motion_train.gather_tokens(sequences, picks, starts, 8)
    context = motion_train.gather_features(features, picks, starts, 8)
    masks = motion_refine.refine_masks(6, 8, rng)
    settings = refine.sampler_settings(DEFAULT_SAMPLING, 6, seed=0)
    assert (settings.steps, settings.choice_temperature) == (10, 2.0)
    drawn = refine.sampled_tokens(
        batches.transformer,
        tokens.reshape(6, -1),
        masks.token_masks.reshape(6, -1),
        (context, masks.known),
        CFG.codebook,
        settings,
        (2, 8),
    ).reshape(tokens.shape)
    np.testing.assert_array_equal(drawn[~masks.token_masks], tokens[~masks.token_masks])
    assert drawn.min() >= 0 and drawn.max() < CFG.codebook
    assert (drawn[masks.token_masks] != tokens[masks.token_masks]).any()


def test_refining_trains_the_decoder_alone_and_exports(trained, tmp_path) -> None:
    tokenizer, transformer, sequences, features = trained
    before = {k: v.clone() for k, v in tokenizer.state_dict().items()}
    budget = replace(motion_refine.REFINE_DEFAULTS, minutes=0, max_steps=4, batch=4, bf16=False)
    refined, stats = motion_refine.refine_decoder(
        tokenizer,
        transformer,
        (sequences, features),
        (sequences, features),
        budget,
        tmp_path,
        log=lambda _: None,
    )
    after = refined.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("decoder.") for k in changed)
    assert (tmp_path / "tokenizer.pt").exists()
    assert stats["steps"] == 4 and "valid_hole_error" in stats and "loss" in stats["valid_before"]
    assert all(p.requires_grad for p in refined.parameters())
    window = torch.from_numpy(features[0][None, : CFG.window])
    assert torch.equal(refined.eval().encode(window), tokenizer.encode(window))
    parity = motion_export.export_all(refined, transformer, tmp_path)
    assert parity["decoder_max_abs_err_normalised"] < 1e-3


def test_the_refine_loss_falls_on_a_fixed_batch(trained) -> None:
    tokenizer, transformer, sequences, features = trained
    model = MotionTokenizer(CFG)
    model.load_state_dict(tokenizer.state_dict())
    batches = motion_refine.RefineBatches(transformer, sequences, features, DEFAULT_SAMPLING)
    batch = tuple(torch.from_numpy(a) for a in batches(np.random.default_rng(0), 8))
    opt = torch.optim.Adam(model.decoder.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        loss, gap_l1 = motion_refine.refine_loss(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.7 * losses[0]
    assert float(gap_l1) > 0
