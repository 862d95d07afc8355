"""Training loops of the motion tokenizer and transformer (time-budgeted, bf16 autocast, 2 threads).

Masks the tokenizer's decoder learns to work with (``known`` [B, T, 2]):
nothing known (generation from scratch), a span of 8-80 frames unknown for both
parts (in-betweening), or one part unknown over a span or the whole window while
the other is kept (part edits). The transformer trains on token windows with
MaskGIT cosine-rate masks, in-betweening spans of 15-60 frames, part masks and
full masks; one that reads the kept frames (``context_input``) also gets the
window's frames and which of them are kept.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from engine.media.motion.model_features import pad_edge_hold
from engine.train import distributed
from engine.train.common import (
    count_params,
    load_checkpoint,
    maybe_bf16,
    optimizer_step,
    save_checkpoint,
    warmup_cosine,
)
from engine.train.loop import LoopSettings, Tensors, train_loop
from engine.train.motion.data import (
    FRAMES_PER_TOKEN,
    STILL_COLUMNS,
    MotionTake,
    feature_stats,
    random_windows,
)
from engine.train.motion.model import MotionConfig, MotionTokenizer, MotionTransformer

Log = Callable[[str], None]


TOKENIZER_DEFAULTS = LoopSettings(minutes=13.0, batch=32, lr=2e-3)
TRANSFORMER_DEFAULTS = LoopSettings(minutes=18.0, batch=64, lr=1e-3, lr_floor=0.1)


# ----------------------------------------------------------------------------- tokenizer


def known_masks(batch: int, frames: int, rng: np.random.Generator) -> np.ndarray:
    """float32 [B, T, 2]: which frames' lower/upper features the decoder may read."""
    known = np.ones((batch, frames, 2), dtype=np.float32)
    for row in range(batch):
        kind = rng.random()
        span = int(rng.integers(8, min(80, frames - 2) + 1))
        start = int(rng.integers(0, frames - span + 1))
        if kind < 0.25:
            known[row] = 0.0
        elif kind < 0.75:
            known[row, start : start + span] = 0.0
        else:
            part = int(rng.integers(0, 2))
            if rng.random() < 0.4:
                known[row, :, part] = 0.0
            else:
                known[row, start : start + span, part] = 0.0
    return known


def tokenizer_loss(
    model: MotionTokenizer, windows: torch.Tensor, known: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Total loss, reconstruction L1 (normalised units), tokens."""
    recon, commit, tokens = model(windows, known)
    target = model.norm(windows)
    recon = recon.float()
    l1 = F.smooth_l1_loss(recon, target, beta=0.1)
    vel = F.l1_loss(recon[:, 1:] - recon[:, :-1], target[:, 1:] - target[:, :-1])
    return l1 + 0.5 * vel + 0.25 * commit, l1, tokens


def train_tokenizer(
    cfg: MotionConfig,
    train: Sequence[MotionTake],
    valid: Sequence[MotionTake],
    budget: LoopSettings,
    checkpoint_dir: Path | None,
    log: Log = print,
    seed: int = 0,
    init: MotionTokenizer | None = None,
) -> tuple[MotionTokenizer, dict[str, object]]:
    """Train a new tokenizer (or go on training ``init``, keeping its feature statistics)."""
    cpu = torch.device("cpu")
    distributed.setup(cpu)
    rng = np.random.default_rng(distributed.shard_seed(seed))
    log = distributed.main_only(log)
    checkpoint_dir = checkpoint_dir if distributed.is_main() else None
    model = init if init is not None else MotionTokenizer(cfg)
    if init is None:
        model.norm.set(*feature_stats(train))
    step_loss = distributed.loss_step(model, _stepped_tokenizer_loss, cpu)
    opt = torch.optim.AdamW(model.parameters(), lr=budget.lr, weight_decay=0.0)
    valid_windows = torch.from_numpy(
        random_windows(valid, cfg.window, 64, np.random.default_rng(1))
    )
    valid_known = torch.from_numpy(known_masks(64, cfg.window, np.random.default_rng(2)))
    start, last_ckpt, step = time.monotonic(), 0.0, 0
    model.train()
    while not budget.done(step, elapsed := distributed.agreed_seconds(time.monotonic() - start)):
        progress = budget.progress(step, elapsed)
        for group in opt.param_groups:
            group["lr"] = budget.lr * warmup_cosine(step, progress, 100, floor=0.1)
        windows = torch.from_numpy(random_windows(train, cfg.window, budget.batch, rng))
        known = torch.from_numpy(known_masks(budget.batch, cfg.window, rng))
        with maybe_bf16(budget.bf16):
            loss, l1 = step_loss((windows, known))
        optimizer_step(opt, model, loss)
        step += 1
        if step % 50 == 0:
            log(
                f"tokenizer step {step} t={(time.monotonic() - start) / 60:.1f}min "
                f"l1 {l1.item():.4f}"
            )
        if checkpoint_dir and time.monotonic() - start - last_ckpt > budget.eval_every_s:
            save_checkpoint(checkpoint_dir / "tokenizer.pt", model, cfg, {"step": step})
            last_ckpt = time.monotonic() - start
    distributed.sync_buffers(model)
    model.eval()
    stats = evaluate_tokenizer(model, valid_windows, valid_known)
    stats.update(
        steps=step, minutes=round((time.monotonic() - start) / 60, 2), params=count_params(model)
    )
    log(f"tokenizer done {stats}")
    if checkpoint_dir:
        save_checkpoint(checkpoint_dir / "tokenizer.pt", model, cfg, stats)
    return model, stats


def _stepped_tokenizer_loss(
    model: nn.Module, batch: tuple[torch.Tensor, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(total loss, reconstruction L1) of a (windows, known) batch, as the loop steps it."""
    loss, l1, _ = tokenizer_loss(cast(MotionTokenizer, model), *batch)
    return loss, l1


@torch.no_grad()
def evaluate_tokenizer(
    model: MotionTokenizer, windows: torch.Tensor, known: torch.Tensor
) -> dict[str, object]:
    model.eval()
    _, l1, _ = tokenizer_loss(model, windows, known)
    _, l1_free, tokens = tokenizer_loss(model, windows, torch.zeros_like(known))
    used = [int(torch.unique(tokens[:, r]).numel()) for r in range(2)]
    return {
        "valid_l1_masked_context": round(l1.item(), 4),
        "valid_l1_tokens_only": round(l1_free.item(), 4),
        "codes_used_valid": used,
    }


# ----------------------------------------------------------------------------- token data


def take_features(
    takes: Sequence[MotionTake], window: int, shifts: int = FRAMES_PER_TOKEN
) -> list[np.ndarray]:
    """The features float32 [4 L, 132] each token sequence of :func:`encode_takes` encodes,
    in the same order (take, then frame shift 0..shifts-1)."""
    out = []
    for take in takes:
        for shift in range(shifts):
            feats = pad_edge_hold(take.features[shift:], window)
            feats = feats[: len(feats) // FRAMES_PER_TOKEN * FRAMES_PER_TOKEN].copy()
            feats[0, STILL_COLUMNS] = 0.0
            out.append(feats.astype(np.float32))
    return out


@torch.no_grad()
def encode_takes(
    tokenizer: MotionTokenizer, takes: Sequence[MotionTake], shifts: int = FRAMES_PER_TOKEN
) -> list[np.ndarray]:
    """Token sequences int64 [2, L_take] of every take, once per frame shift 0..shifts-1."""
    tokenizer.eval()
    return [
        tokenizer.encode(torch.from_numpy(feats[None]))[0].numpy()
        for feats in take_features(takes, tokenizer.cfg.window, shifts)
    ]


def window_picks(
    lengths: Sequence[int], length: int, count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` random windows of ``length`` tokens: (sequence index, first token) each,
    sequences drawn in proportion to their length."""
    weights = np.asarray(lengths, dtype=np.float64)
    picks = rng.choice(len(lengths), size=count, p=weights / weights.sum())
    starts = np.array([int(rng.integers(0, lengths[p] - length + 1)) for p in picks], dtype=int)
    return picks, starts


def gather_tokens(
    sequences: Sequence[np.ndarray], picks: np.ndarray, starts: np.ndarray, length: int
) -> np.ndarray:
    return np.stack([sequences[p][:, s : s + length] for p, s in zip(picks, starts, strict=True)])


def gather_features(
    features: Sequence[np.ndarray], picks: np.ndarray, starts: np.ndarray, length: int
) -> np.ndarray:
    """float32 [count, 4 length, 132] frames of the token windows ``picks``/``starts``, each
    starting still (no root or heading velocity on its first frame), as the codec cuts them."""
    frames = length * FRAMES_PER_TOKEN
    out = np.stack(
        [
            features[p][s * FRAMES_PER_TOKEN : s * FRAMES_PER_TOKEN + frames]
            for p, s in zip(picks, starts, strict=True)
        ]
    )
    out[:, 0, STILL_COLUMNS] = 0.0
    return out


def inbetween_masks(
    batch: int, length: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Token masks bool [B, 2, L] (True = to predict) and the kept frames float32 [B, 4L, 2].

    Spans are drawn in frames, as a user marks them: the tokens they touch are masked and
    the frames of those tokens outside the span stay known, as the codec does.
    """
    frames = length * FRAMES_PER_TOKEN
    masks = np.zeros((batch, 2, length), dtype=bool)
    known = np.ones((batch, frames, 2), dtype=np.float32)
    for row in range(batch):
        kind = rng.random()
        if kind < 0.3:  # MaskGIT cosine rate over both rows
            rate = math.cos(rng.random() * math.pi / 2)
            count = max(1, int(round(rate * 2 * length)))
            flat = np.zeros(2 * length, dtype=bool)
            flat[rng.choice(2 * length, count, replace=False)] = True
            masks[row] = flat.reshape(2, length)
            known[row] = ~np.repeat(masks[row], FRAMES_PER_TOKEN, axis=1).T
        elif kind < 0.85:
            gap = int(rng.integers(15, 61))
            first = int(rng.integers(0, frames - min(gap, frames - 1)))
            last = min(first + gap - 1, frames - 1)
            tokens = slice(first // FRAMES_PER_TOKEN, last // FRAMES_PER_TOKEN + 1)
            if kind < 0.65:
                masks[row, :, tokens] = True
                known[row, first : last + 1] = 0.0
            elif kind < 0.75:
                part = int(rng.integers(0, 2))
                masks[row, part, tokens] = True
                known[row, first : last + 1, part] = 0.0
            else:
                part = int(rng.integers(0, 2))
                masks[row, part] = True
                known[row, :, part] = 0.0
        else:
            masks[row] = True
            known[row] = 0.0
    return masks, known


# ----------------------------------------------------------------------------- transformer


def transformer_loss(
    model: MotionTransformer,
    tokens: torch.Tensor,
    masks: torch.Tensor,
    context: torch.Tensor | None = None,
    known: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked cross-entropy and accuracy; tokens [B, 2, L], masks bool [B, 2, L]; the kept
    frames ``context`` [B, 4L, 132] and ``known`` [B, 4L, 2] for a ``context_input`` model."""
    flat_tokens = tokens.reshape(tokens.shape[0], -1)
    flat_masks = masks.reshape(masks.shape[0], -1)
    inputs = torch.where(flat_masks, torch.full_like(flat_tokens, model.mask_id), flat_tokens)
    logits = model(inputs, context, known).float()
    picked = logits[flat_masks]
    target = flat_tokens[flat_masks]
    loss = F.cross_entropy(picked, target)
    accuracy = (picked.argmax(-1) == target).float().mean()
    return loss, accuracy


def train_transformer(
    cfg: MotionConfig,
    train_tokens: Sequence[np.ndarray],
    valid_tokens: Sequence[np.ndarray],
    settings: LoopSettings,
    checkpoint_dir: Path | None,
    log: Log = print,
    init: MotionTransformer | None = None,
    command: str = "",
    features: tuple[Sequence[np.ndarray], Sequence[np.ndarray]] | None = None,
) -> tuple[MotionTransformer, dict[str, object]]:
    """Train on token windows; return the best validated weights (saved as transformer.pt).

    A ``cfg.context_input`` model also reads the kept frames: ``features`` are then the
    (train, valid) frames of the token sequences (:func:`take_features`, same order).
    """
    length = cfg.tokens_per_row
    model = init if init is not None else MotionTransformer(cfg)
    if cfg.context_input and features is None:
        raise ValueError("a context_input transformer trains on the takes' features too")
    train_frames, valid_frames = features if cfg.context_input and features else (None, None)
    vrng = np.random.default_rng(3)
    valid = transformer_batch(valid_tokens, valid_frames, length, 256, vrng)

    def make_batch(rng: np.random.Generator, count: int) -> tuple[np.ndarray, ...]:
        return transformer_batch(train_tokens, train_frames, length, count, rng)

    def on_best(module: torch.nn.Module, entry: dict[str, object]) -> None:
        if checkpoint_dir:
            save_checkpoint(checkpoint_dir / "transformer.pt", module, cfg, entry)

    def loss_fn(module: torch.nn.Module, batch: Tensors) -> tuple[torch.Tensor, torch.Tensor]:
        return transformer_loss(cast(MotionTransformer, module), *batch)

    final, stats = train_loop(model, make_batch, loss_fn, valid, settings, log, on_best)
    stats["command"] = command
    if checkpoint_dir and distributed.is_main():
        save_checkpoint(checkpoint_dir / "transformer.pt", final, cfg, stats)
    return final, stats  # type: ignore[return-value]


def new_transformer(cfg: MotionConfig, tokenizer: MotionTokenizer) -> MotionTransformer:
    """An untrained transformer; one that reads kept frames normalises them as ``tokenizer``."""
    model = MotionTransformer(cfg)
    if model.kept is not None:
        model.kept.norm.load_state_dict(tokenizer.norm.state_dict())
    return model


def transformer_batch(
    sequences: Sequence[np.ndarray],
    features: Sequence[np.ndarray] | None,
    length: int,
    count: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, ...]:
    """(tokens, masks) of random windows, plus (context, known) when ``features`` are given."""
    picks, starts = window_picks([s.shape[1] for s in sequences], length, count, rng)
    tokens = gather_tokens(sequences, picks, starts, length)
    masks, known = inbetween_masks(count, length, rng)
    if features is None:
        return tokens, masks
    return tokens, masks, gather_features(features, picks, starts, length), known


# ----------------------------------------------------------------------------- checkpoints


def load_tokenizer(path: Path) -> tuple[MotionTokenizer, dict[str, object]]:
    return load_checkpoint(path, lambda raw: MotionTokenizer(MotionConfig.from_dict(raw)))


def load_transformer_checkpoint(path: Path) -> tuple[MotionTransformer, dict[str, object]]:
    return load_checkpoint(path, lambda raw: MotionTransformer(MotionConfig.from_dict(raw)))
