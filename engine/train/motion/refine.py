"""Third motion stage: fine-tune the decoder on the tokens the shipped transformer samples.

Why: the decoder learned to decode *true* tokens, and follows them even where the kept
frames on both sides of a gap say otherwise. In use the tokens of a gap are the
transformer's samples, and they are often not the recorded ones, so a decoder trained on
true tokens alone can land further from the recording than plain interpolation does (the
model card has the figures). Here the decoder sees what it sees in use --
tokens drawn by the transformer with the engine's own sampler and the shipped settings (in
fewer steps, see :mod:`engine.train.refine`), the kept frames around them -- and learns to
reconstruct the recorded motion, leaning on the kept frames where the tokens disagree.
Encoder, codebooks and transformer stay as they are, so the tokens and the transformer's
ONNX file do not change.

Rows whose gap covers a whole body part or the whole window keep their true tokens: there
the kept frames cannot say what the recorded motion was, and regressing it from sampled
tokens would only teach the decoder to damp them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F  # noqa: N812

from engine.train.common import save_checkpoint
from engine.train.loop import LoopSettings, Tensors
from engine.train.motion.card import DEFAULT_SAMPLING
from engine.train.motion.data import FRAMES_PER_TOKEN
from engine.train.motion.model import MotionTokenizer, MotionTransformer
from engine.train.motion.train import gather_features, gather_tokens, window_picks
from engine.train.refine import sampled_tokens, sampler_settings, train_decoder

Log = Callable[[str], None]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float32]
TokenArray = npt.NDArray[np.int64]

REFINE_DEFAULTS = LoopSettings(
    minutes=25.0, batch=32, lr=3e-4, weight_decay=0.0, warmup_steps=50, lr_floor=0.1
)
GAP_FRAMES = (8, 80)  # the in-between spans a user paints (frames, inclusive)


@dataclass(frozen=True)
class RefineMasks:
    """One batch's edits: which tokens are regenerated, which frames are kept, and whether
    a row decodes sampled tokens (span edits) or its true tokens (whole-part / from scratch)."""

    token_masks: BoolArray  # [B, 2, L], True = regenerated
    known: FloatArray  # [B, 4L, 2], 1 = this frame's lower/upper features are kept
    sampled: BoolArray  # [B]


def refine_masks(batch: int, length: int, rng: np.random.Generator) -> RefineMasks:
    """Edits as the codec makes them: spans drawn in frames, every token they touch masked.

    70 % spans over both parts, 15 % spans over one part (decoded from sampled tokens);
    7.5 % a whole part, 7.5 % the whole window (true tokens).
    """
    frames = length * FRAMES_PER_TOKEN
    token_masks = np.zeros((batch, 2, length), dtype=bool)
    known = np.ones((batch, frames, 2), dtype=np.float32)
    sampled = np.zeros(batch, dtype=bool)
    for row in range(batch):
        kind = rng.random()
        one_part = 0.7 <= kind < 0.925
        parts = [int(rng.integers(0, 2))] if one_part else [0, 1]
        sampled[row] = kind < 0.85
        span = _span(frames, rng) if sampled[row] else slice(0, frames)
        known[row, span, parts] = 0.0
        token_masks[row] = _touched_tokens(known[row])
    return RefineMasks(token_masks, known, sampled)


def _span(frames: int, rng: np.random.Generator) -> slice:
    """A random in-between span of ``GAP_FRAMES`` frames inside a window of ``frames``."""
    gap = int(rng.integers(GAP_FRAMES[0], min(GAP_FRAMES[1], frames - 2) + 1))
    first = int(rng.integers(0, frames - gap + 1))
    return slice(first, first + gap)


def _touched_tokens(known: FloatArray) -> BoolArray:
    """bool [2, L]: tokens with at least one frame not kept, of ``known`` [4L, 2]."""
    per_token = known.reshape(-1, FRAMES_PER_TOKEN, 2).min(axis=1)  # [L, 2]
    return cast(BoolArray, (per_token < 0.5).T)


class RefineBatches:
    """Decoder batches (tokens, context, known) from token sequences and their frames."""

    def __init__(
        self,
        transformer: MotionTransformer,
        sequences: Sequence[TokenArray],
        features: Sequence[FloatArray],
        sampling: dict[str, object],
    ) -> None:
        self.transformer = transformer.float().eval()
        self.sequences, self.features, self.sampling = sequences, features, sampling
        self.length = transformer.cfg.tokens_per_row

    def __call__(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, ...]:
        picks, starts = window_picks([s.shape[1] for s in self.sequences], self.length, count, rng)
        tokens = gather_tokens(self.sequences, picks, starts, self.length)
        context = gather_features(self.features, picks, starts, self.length)
        masks = refine_masks(count, self.length, rng)
        settings = sampler_settings(self.sampling, count, int(rng.integers(2**31)))
        editable = masks.token_masks & masks.sampled[:, None, None]
        drawn = sampled_tokens(
            self.transformer,
            tokens.reshape(count, -1),
            editable.reshape(count, -1),
            (context, masks.known),
            self.transformer.mask_id,
            settings,
            (2, self.length),
        )
        return drawn.reshape(tokens.shape), context, masks.known


def refine_loss(tokenizer: MotionTokenizer, batch: Tensors) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, L1 of the frames not kept) in normalised feature units.

    The loss is the tokenizer's reconstruction loss (smooth L1 + velocity L1) over the
    window plus the same smooth L1 over the frames not kept, which the user sees.
    """
    tokens, context, known = batch
    quantizers = tokenizer.quantizers
    codes = torch.cat([quantizers[r].lookup(tokens[:, r]) for r in range(2)], dim=1)
    target = tokenizer.norm(context)
    recon = tokenizer.decoder(codes, target, known).float()
    unknown = 1.0 - known @ tokenizer.decoder.groups  # [B, T, 132]
    per_value = F.smooth_l1_loss(recon, target, beta=0.1, reduction="none")
    gap = (per_value * unknown).sum() / unknown.sum().clamp(min=1.0)
    vel = F.l1_loss(recon[:, 1:] - recon[:, :-1], target[:, 1:] - target[:, :-1])
    gap_l1 = ((recon - target).abs() * unknown).sum() / unknown.sum().clamp(min=1.0)
    return per_value.mean() + 0.5 * vel + gap, gap_l1.detach()


def refine_decoder(
    tokenizer: MotionTokenizer,
    transformer: MotionTransformer,
    data: tuple[Sequence[TokenArray], Sequence[FloatArray]],
    valid_data: tuple[Sequence[TokenArray], Sequence[FloatArray]],
    settings: LoopSettings,
    checkpoint_dir: Path | None,
    log: Log = print,
    sampling: dict[str, object] = DEFAULT_SAMPLING,
) -> tuple[MotionTokenizer, dict[str, object]]:
    """The tokenizer with its decoder trained on sampled tokens (best validated weights) and
    the loop's stats; the hole error is the L1 of the frames not kept."""

    def save(module: MotionTokenizer, entry: dict[str, object]) -> None:
        save_checkpoint(cast(Path, checkpoint_dir) / "tokenizer.pt", module, tokenizer.cfg, entry)

    return train_decoder(
        tokenizer,
        RefineBatches(transformer, *data, sampling),
        RefineBatches(transformer, *valid_data, sampling),
        256,
        refine_loss,
        settings,
        log,
        save if checkpoint_dir else None,
    )
