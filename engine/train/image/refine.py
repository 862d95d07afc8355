"""Third image stage: fine-tune the VQ decoder on the tokens the shipped transformer samples.

Why: the decoder learned to decode true tokens (and, for 30 % of its training items, a few
random ones). In an edit, the tokens of the hole are the transformer's samples, which often
disagree with the pixels around the hole, and a decoder trained on true tokens follows them
into seams and wrong shades (the model card compares true, sampled and refined decodes with
OpenCV's Telea). Here the decoder decodes what it decodes in use -- windows whose
brush-stroke or block holes were filled by the transformer with the engine's sampler and
the shipped settings -- and learns to paint the photo back, leaning on the known pixels
where the sampled tokens disagree with them (see :mod:`engine.train.refine`).

One window in ten keeps its true tokens under a hole covering the whole window: a hole
with nothing around it must still decode its tokens faithfully (plain VQ decoding).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt
import torch

from engine.train.image import data as idata
from engine.train.image.export import DEFAULT_SAMPLING
from engine.train.image.maskgit import ImageMaskGIT
from engine.train.image.vq import VQTokenizer, reconstruction_loss, save_tokenizer
from engine.train.loop import LoopSettings, Tensors
from engine.train.refine import sampled_tokens, sampler_settings, train_decoder

Log = Callable[[str], None]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float32]
TokenArray = npt.NDArray[np.int64]

REFINE_DEFAULTS = LoopSettings(
    minutes=25.0, batch=16, lr=2e-4, weight_decay=0.0, warmup_steps=50, lr_floor=0.1
)
WHOLE_WINDOW_SHARE = 0.1


@dataclass(frozen=True)
class RefineHoles:
    """One batch's holes: masked tokens [B, g, g], pixel holes [B, 1, H, W] (1 = fill), and
    whether a window decodes sampled tokens (False: a whole-window hole, true tokens)."""

    token_masks: BoolArray
    pixel_holes: FloatArray
    sampled: BoolArray


def refine_holes(batch: int, grid: int, patch: int, rng: np.random.Generator) -> RefineHoles:
    """Holes as a user paints them, brought to tokens as the engine does (a token is masked
    when any of its pixels is): a whole window 10 %, brush strokes 54 %, blocks 36 %."""
    size = grid * patch
    token_masks = np.zeros((batch, grid, grid), dtype=bool)
    holes = np.zeros((batch, 1, size, size), dtype=np.float32)
    sampled = np.ones(batch, dtype=bool)
    for row in range(batch):
        draw = rng.random()
        if draw < WHOLE_WINDOW_SHARE:
            token_masks[row], holes[row, 0] = True, 1.0
            sampled[row] = False
        else:
            token_masks[row], holes[row, 0] = idata.painted_hole(
                rng, grid, grid, patch, strokes=draw < 0.64
            )
    return RefineHoles(token_masks, holes, sampled)


class RefineBatches:
    """Decoder batches (tokens [B, g, g], context [B, 3, H, W] in [-1, 1], hole) of random
    windows of the photos, the hole's tokens drawn by ``transformer``."""

    def __init__(
        self,
        transformer: ImageMaskGIT,
        maps: Sequence[TokenArray],
        views: Sequence[idata.UInt8Array],
        sampling: dict[str, object],
    ) -> None:
        self.transformer = transformer.float().eval()
        self.maps, self.views, self.sampling = maps, views, sampling
        self.grid, self.patch = transformer.cfg.grid, transformer.cfg.patch

    def __call__(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, ...]:
        positions = idata.window_positions(self.maps, rng, count, self.grid)
        tokens = idata.gather_token_windows(self.maps, positions, self.grid)
        pixels = idata.gather_pixel_windows(self.views, positions, self.grid, self.patch)
        context = idata.to_model_range(pixels)
        holes = refine_holes(count, self.grid, self.patch, rng)
        editable = holes.token_masks & holes.sampled[:, None, None]
        drawn = sampled_tokens(
            self.transformer,
            tokens.reshape(count, -1),
            editable.reshape(count, -1),
            self._side_inputs(context, holes.pixel_holes),
            self.transformer.cfg.mask_id,
            sampler_settings(self.sampling, count, int(rng.integers(2**31))),
            (self.grid, self.grid),
        )
        return drawn.reshape(tokens.shape), context, holes.pixel_holes

    def _side_inputs(self, context: FloatArray, hole: FloatArray) -> tuple[FloatArray, ...]:
        return (context, hole) if self.transformer.cfg.context_input else ()


def refine_loss(tokenizer: VQTokenizer, batch: Tensors) -> tuple[torch.Tensor, torch.Tensor]:
    """(the tokenizer's own reconstruction loss, mean absolute error inside the hole)."""
    tokens, context, hole = batch
    pred = tokenizer.decoder(tokenizer.code_vectors(tokens), context, hole).float()
    loss = reconstruction_loss(pred, context, hole, torch.zeros(()))
    hole_error = ((pred - context).abs() * hole).sum() / (hole.sum() * 3).clamp(min=1.0)
    return loss, hole_error.detach()


def refine_decoder(
    tokenizer: VQTokenizer,
    transformer: ImageMaskGIT,
    data: tuple[Sequence[TokenArray], Sequence[idata.UInt8Array]],
    valid_data: tuple[Sequence[TokenArray], Sequence[idata.UInt8Array]],
    settings: LoopSettings,
    checkpoint_dir: Path | None,
    log: Log = print,
    sampling: dict[str, object] = DEFAULT_SAMPLING,
) -> tuple[VQTokenizer, dict[str, object]]:
    """The tokenizer with its decoder trained on sampled tokens (best validated weights) and
    the loop's stats; ``data``/``valid_data`` are token maps and the photos they encode."""

    def save(module: VQTokenizer, entry: dict[str, object]) -> None:
        save_tokenizer(module, entry, cast(Path, checkpoint_dir) / "vq_refined.pt")

    return train_decoder(
        tokenizer,
        RefineBatches(transformer, *data, sampling),
        RefineBatches(transformer, *valid_data, sampling),
        128,
        refine_loss,
        settings,
        log,
        save if checkpoint_dir else None,
    )
