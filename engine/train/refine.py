"""Fine-tuning a decoder on the tokens its transformer samples (the image and motion stages).

A tokenizer's decoder learns to decode *true* tokens. In an edit, the tokens of the hole
are the transformer's samples, which are often not the ones the original had, and a
decoder trained on true tokens follows them even where the kept pixels or frames around
the hole say otherwise. These helpers draw tokens as the app does -- the engine's
sampler, the manifest's settings, each window's own side inputs -- so a decoder can be
trained on what it decodes in use. Only the decoder learns: encoder and codebook stay, so
the tokens, and the transformer trained on them, do not change.

One difference from the app, kept on purpose: a batch of windows is one sampler call, and
the sampler runs a batch for its smallest editable count, so a batch holding a short span
draws every window's tokens in fewer steps than the manifest's. Sampling each window with
its own step count, as the app does, costs many more sampler calls per batch, so far fewer
training steps fit a time budget, and it did not make a better decoder (the motion model
card has the comparison).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar, cast

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from engine.sampling import sample
from engine.sampling.types import SamplerSettings
from engine.train import distributed
from engine.train.loop import LoopSettings, LossFn, MakeBatch, Tensors, evaluate, train_loop

Log = Callable[[str], None]
TokenArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ModelT = TypeVar("ModelT", bound=nn.Module)


def sampler_settings(sampling: dict[str, object], rows: int, seed: int) -> SamplerSettings:
    """A manifest's ``sampling`` block as the engine reads it, for ``rows`` windows at once."""
    fields = ("steps", "schedule", "selector", "temperature", "choice_temperature", "top_k")
    chosen = {name: sampling[name] for name in fields if name in sampling}
    return SamplerSettings(**chosen, seed=seed, variations=rows)  # type: ignore[arg-type]


@torch.no_grad()
def sampled_tokens(
    transformer: nn.Module,
    tokens: TokenArray,
    editable: BoolArray,
    side_inputs: Sequence[np.ndarray],
    mask_id: int,
    settings: SamplerSettings,
    grid_shape: tuple[int, ...],
) -> TokenArray:
    """``tokens`` [B, N] with the ``editable`` ones drawn by the engine's sampler in one call
    (``min(steps, smallest editable count)`` steps, see the module docstring); row ``b`` of
    every side input (the window's kept pixels or frames) goes with row ``b`` of the tokens."""
    if not editable.any():
        return tokens
    side = [torch.from_numpy(np.ascontiguousarray(a)) for a in side_inputs]

    def logits_fn(rows: TokenArray) -> npt.NDArray[np.float32]:
        out = transformer(torch.from_numpy(np.ascontiguousarray(rows)), *side)
        return cast(npt.NDArray[np.float32], out.float().numpy())

    last = tokens
    for step in sample(logits_fn, tokens, editable, mask_id, settings, grid_shape):
        last = step.tokens
    return last


def train_decoder(
    model: ModelT,
    batches: MakeBatch,
    valid_batches: MakeBatch,
    valid_rows: int,
    loss_fn: Callable[[ModelT, Tensors], tuple[torch.Tensor, torch.Tensor]],
    settings: LoopSettings,
    log: Log,
    save: Callable[[ModelT, dict[str, object]], None] | None,
) -> tuple[ModelT, dict[str, object]]:
    """Train the parameters under ``decoder.`` only; the best validated copy and stats.

    ``valid_rows`` fixed windows are drawn once from ``valid_batches`` (seed 5); ``save``
    hears every new best. ``loss_fn`` returns (loss, hole error): the loop's "accuracy" slot
    carries the error of what the user sees, reported as ``valid_hole_error``, with the
    untouched decoder's own numbers as ``valid_before``.
    """
    valid = valid_batches(np.random.default_rng(5), valid_rows)
    module_loss = cast(LossFn, loss_fn)
    for name, param in model.named_parameters():
        param.requires_grad_(name.startswith("decoder."))
    valid_t = tuple(torch.from_numpy(a) for a in valid)
    before = evaluate(model, module_loss, valid_t, torch.device("cpu"))
    log = distributed.main_only(log)
    log(f"decoder before: valid loss {before[0]:.4f}, hole error {before[1]:.4f}")
    on_best = cast(Callable[[nn.Module, dict[str, object]], None] | None, save)
    best, stats = train_loop(model, batches, module_loss, valid, settings, log, on_best)
    for module in (model, best):
        for param in module.parameters():
            param.requires_grad_(True)
    stats["valid_hole_error"] = stats.pop("valid_masked_accuracy")
    stats["valid_before"] = {"loss": round(before[0], 4), "hole_error": round(before[1], 4)}
    return cast(ModelT, best), stats
