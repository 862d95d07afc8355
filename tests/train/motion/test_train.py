"""Motion model: a few real training steps, ONNX parity of every part, weight reloading, masks."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from engine.media.motion.bvh import parse_bvh  # noqa: E402
from engine.media.motion.features import FEATURE_SIZE  # noqa: E402
from engine.train.common import seed_everything  # noqa: E402
from engine.train.motion import card as motion_card  # noqa: E402
from engine.train.motion import data as motion_data  # noqa: E402
from engine.train.motion import export as motion_export  # noqa: E402
from engine.train.motion import train as motion_train  # noqa: E402
from engine.train.motion.model import (  # noqa: E402
    MotionTokenizer,
    MotionTransformer,
    load_torch_model,
    tiny_config,
)
from tests.engine.motion.synthetic_bvh import bandai_like  # noqa: E402
from tests.train.motion.synthetic_takes import synthetic_takes  # noqa: E402

CFG = tiny_config()


@pytest.fixture(scope="module")
def takes() -> list[motion_data.MotionTake]:
    return synthetic_takes(5, 40)


@pytest.fixture(scope="module")
def models(takes) -> tuple[MotionTokenizer, MotionTransformer]:
    seed_everything(0)
    tokenizer = MotionTokenizer(CFG)
    tokenizer.norm.set(*motion_data.feature_stats(takes))
    return tokenizer.eval(), MotionTransformer(CFG).eval()


@pytest.fixture(scope="module")
def exported(
    tmp_path_factory: pytest.TempPathFactory, models, takes
) -> tuple[Path, dict[str, float]]:
    folder = tmp_path_factory.mktemp("motion")
    parity = motion_export.export_all(*models, folder)
    motion_card.write_skeleton(folder, parse_bvh(bandai_like(2)))
    motion_card.write_manifest(folder, CFG)
    return folder, parity


def test_feature_groups_split_the_132_columns_by_body_part() -> None:
    lower, upper = motion_data.LOWER_COLUMNS, motion_data.UPPER_COLUMNS
    assert sorted(lower + upper) == list(range(FEATURE_SIZE))
    assert len(lower) == 60 and len(upper) == 72
    assert lower[:4] == [0, 1, 2, 3] and lower[-2:] == [130, 131]


def test_split_is_by_take_and_deterministic(takes) -> None:
    names = [f"dataset-2_walk_normal_{i:03d}.bvh" for i in range(1, 200)]
    held = [n for n in names if motion_data.is_validation(n)]
    assert 5 < len(held) < 40 and held == [n for n in names if motion_data.is_validation(n)]
    train, valid = motion_data.split_takes(takes)
    assert {t.name for t in train}.isdisjoint({t.name for t in valid})


def test_windows_and_masks_have_the_promised_shapes(takes) -> None:
    rng = np.random.default_rng(0)
    windows = motion_data.random_windows(takes, 64, 6, rng)  # longer than some takes: edge hold
    assert windows.shape == (6, 64, FEATURE_SIZE) and np.isfinite(windows).all()
    known = motion_train.known_masks(50, 64, rng)
    assert known.shape == (50, 64, 2) and set(np.unique(known)) <= {0.0, 1.0}
    masks, _known = motion_train.inbetween_masks(200, 32, rng)
    assert masks.shape == (200, 2, 32) and masks.any(axis=(1, 2)).all()


def _losses(step_fn, steps: int) -> list[float]:
    return [step_fn() for _ in range(steps)]


def test_tokenizer_and_transformer_learn_in_a_few_steps(takes) -> None:
    seed_everything(0)
    tokenizer = MotionTokenizer(CFG)
    tokenizer.norm.set(*motion_data.feature_stats(takes))
    rng = np.random.default_rng(0)
    batch = torch.from_numpy(motion_data.random_windows(takes, CFG.window, 8, rng))
    known = torch.from_numpy(motion_train.known_masks(8, CFG.window, rng))
    opt = torch.optim.Adam(tokenizer.parameters(), lr=3e-3)

    def tokenizer_step() -> float:
        loss, l1, _ = motion_train.tokenizer_loss(tokenizer.train(), batch, known)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(l1)

    losses = _losses(tokenizer_step, 25)
    assert losses[-1] < 0.92 * losses[0]

    sequences = motion_train.encode_takes(tokenizer.eval(), takes)
    assert all(s.shape[0] == 2 and s.shape[1] >= CFG.tokens_per_row for s in sequences)
    transformer = MotionTransformer(CFG)
    batch = motion_train.transformer_batch(sequences, None, CFG.tokens_per_row, 16, rng)
    tokens, masks = (torch.from_numpy(a) for a in batch)
    opt2 = torch.optim.Adam(transformer.parameters(), lr=3e-3)

    def transformer_step() -> float:
        loss, _ = motion_train.transformer_loss(transformer.train(), tokens, masks)
        opt2.zero_grad()
        loss.backward()
        opt2.step()
        return float(loss)

    losses = _losses(transformer_step, 25)
    assert losses[-1] < 0.8 * losses[0]


def test_time_budgeted_training_runs_and_checkpoints(takes, tmp_path: Path) -> None:
    budget = replace(motion_train.TRANSFORMER_DEFAULTS, minutes=0, max_steps=3, batch=4, bf16=True)
    tokenizer, stats = motion_train.train_tokenizer(
        CFG, takes[:4], takes[4:], budget, tmp_path, log=lambda s: None
    )
    assert stats["steps"] == 3 and (tmp_path / "tokenizer.pt").is_file()
    reloaded, _ = motion_train.load_tokenizer(tmp_path / "tokenizer.pt")
    features = torch.from_numpy(takes[0].features[None, : CFG.window].copy())
    assert torch.equal(reloaded.encode(features), tokenizer.encode(features))
    sequences = motion_train.encode_takes(tokenizer, takes)
    _, tstats = motion_train.train_transformer(
        CFG, sequences, sequences, budget, tmp_path, log=lambda s: None
    )
    assert tstats["steps"] == 3 and (tmp_path / "transformer.pt").is_file()


def test_every_exported_part_matches_torch(exported) -> None:
    _, parity = exported
    assert parity["encoder_token_mismatch"] == 0.0
    assert parity["decoder_max_abs_err_normalised"] < 1e-4
    assert parity["transformer_max_abs_err"] < 1e-4


def test_onnx_decoder_takes_longer_clips_than_the_window(exported, models) -> None:
    folder, _ = exported
    tokenizer, _ = models
    session = ort.InferenceSession(str(folder / "decoder.onnx"), providers=["CPUExecutionProvider"])
    tokens = np.zeros((1, 2, 3 * CFG.tokens_per_row), dtype=np.int64)
    frames = 3 * CFG.window
    context = np.zeros((1, frames, FEATURE_SIZE), dtype=np.float32)
    known = np.zeros((1, frames, 2), dtype=np.float32)
    got = session.run(None, {"tokens": tokens, "context": context, "known": known})[0]
    with torch.no_grad():
        want = tokenizer.decode(*(torch.from_numpy(a) for a in (tokens, context, known))).numpy()
    assert got.shape == (1, frames, FEATURE_SIZE)
    assert np.abs(got - want).max() / float(tokenizer.norm.std.max()) < 1e-4


def test_manifest_validates_and_load_torch_model_round_trips(exported, models) -> None:
    from engine.models import load_manifest

    folder, _ = exported
    manifest = load_manifest(folder)
    assert manifest.medium == "motion" and manifest.shape == (2, CFG.tokens_per_row)
    assert manifest.medium_facts["frames_per_token"] == 4
    assert "non-commercial" in manifest.license.lower()
    reloaded = load_torch_model(folder)
    _, transformer = models
    probe = torch.randint(0, CFG.codebook + 1, (2, 2 * CFG.tokens_per_row))
    with torch.no_grad():
        torch.testing.assert_close(reloaded(probe), transformer(probe))
    arch = json.loads((folder / "manifest.json").read_text())["medium_facts"]["architecture"]
    assert arch["class"] == "MotionTransformer"


def test_model_card_says_non_commercial(exported) -> None:
    folder, _ = exported
    motion_card.write_model_card(
        folder, CFG, {"steps": 1}, "remask-train motion --tiny", "| table |"
    )
    text = (folder / "MODEL_CARD.md").read_text()
    assert "Non-commercial use only" in text and "arXiv:2306.08861" in text


def test_inbetween_masks_keep_exactly_the_frames_outside_each_span() -> None:
    masks, known = motion_train.inbetween_masks(300, 32, np.random.default_rng(4))
    assert masks.shape == (300, 2, 32) and known.shape == (300, 128, 2)
    per_token = known.reshape(300, 32, 4, 2).min(axis=2).transpose(0, 2, 1)  # [B, 2, L]
    # a masked token has an unknown frame; an unmasked token's frames are all known
    np.testing.assert_array_equal(per_token == 0, masks)
    by_token = known.reshape(300, 32, 4, 2).transpose(0, 3, 1, 2)  # [B, 2, L, 4]
    partial = [row for row in range(300) if by_token[row][masks[row]].any()]
    assert partial  # some spans start or end inside a token: its kept frames stay known


def test_a_transformer_reading_kept_frames_trains_exports_and_reloads(takes, tmp_path) -> None:
    seed_everything(0)
    cfg = replace(CFG, context_input=True)
    tokenizer = MotionTokenizer(cfg)
    tokenizer.norm.set(*motion_data.feature_stats(takes))
    sequences = motion_train.encode_takes(tokenizer.eval(), takes)
    features = motion_train.take_features(takes, cfg.window)
    assert [len(f) for f in features] == [4 * s.shape[1] for s in sequences]
    budget = replace(motion_train.TRANSFORMER_DEFAULTS, minutes=0, max_steps=3, batch=4)
    transformer, stats = motion_train.train_transformer(
        cfg,
        sequences,
        sequences,
        budget,
        None,
        log=lambda s: None,
        init=motion_train.new_transformer(cfg, tokenizer),
        features=(features, features),
    )
    assert stats["steps"] == 3
    assert torch.equal(transformer.kept.norm.mean, tokenizer.norm.mean)
    parity = motion_export.export_all(tokenizer, transformer, tmp_path)
    assert parity["transformer_max_abs_err"] < 1e-4
    motion_card.write_manifest(tmp_path, cfg)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["io"]["side_inputs"] == ["context", "known"]
    reloaded = load_torch_model(tmp_path)
    tokens = torch.full((2, 2 * cfg.tokens_per_row), cfg.codebook, dtype=torch.int64)
    context = torch.from_numpy(np.stack([f[: cfg.window] for f in features[:2]]))
    for known in (torch.zeros(2, cfg.window, 2), torch.ones(2, cfg.window, 2)):
        torch.testing.assert_close(
            reloaded(tokens, context, known), transformer.eval()(tokens, context, known)
        )
    kept = reloaded(tokens, context, torch.ones(2, cfg.window, 2))
    assert not torch.allclose(kept, reloaded(tokens, context, torch.zeros(2, cfg.window, 2)))
    with pytest.raises(ValueError, match="pass context and known"):
        reloaded(tokens)
