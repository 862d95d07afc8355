"""Bidirectional masked transformer over a square window of image tokens (MaskGIT-style).

Positions are handled only by a learned 2-D relative-position bias per head and layer
(offsets (dy, dx) clipped to +-``max_rel``; Swin-style), so the model is translation
equivariant: a window cut anywhere from a photo's token map is an equally good training
example, and the same weights can run on another grid size (rebuild with a new ``grid``).
Pre-norm blocks, GELU MLP, output head over the ``vocab_size`` codes; the mask token is
id ``vocab_size``.

Training mixes MaskGIT's cosine-schedule random masks with inpainting-shaped masks
(brush strokes and blocks brought to the token grid), loss on masked tokens only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from engine.train import distributed
from engine.train.common import (
    config_from_dict,
    export_token_transformer,
    load_state_from_onnx,
    save_checkpoint,
)
from engine.train.common import load_checkpoint as common_load_checkpoint
from engine.train.image import data as idata
from engine.train.loop import Arrays, LoopSettings, masked_token_loss, train_loop

ONNX_FILE = "transformer.onnx"


@dataclass(frozen=True)
class MaskGITConfig:
    """Architecture hyper-parameters; stored in the manifest so torch can rebuild the module."""

    vocab_size: int = 512
    grid: int = 16
    d_model: int = 192
    n_layers: int = 4
    n_heads: int = 6
    ff_mult: int = 4
    max_rel: int = 15
    dropout: float = 0.0
    context_input: bool = False  # also read the window's known pixels (KeptPixels)
    patch: int = 8  # pixels per token side (the tokenizer's downsampling)

    @property
    def mask_id(self) -> int:
        return self.vocab_size

    @property
    def length(self) -> int:
        return self.grid * self.grid

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> MaskGITConfig:
        return config_from_dict(cls, raw)


def relative_index(grid: int, max_rel: int) -> torch.Tensor:
    """[N, N] index into a (2R+1)^2 bias table for each (query, key) pair of a grid² window."""
    rows, cols = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    rows, cols = rows.reshape(-1), cols.reshape(-1)
    dy = (rows[None, :] - rows[:, None]).clamp(-max_rel, max_rel) + max_rel
    dx = (cols[None, :] - cols[:, None]).clamp(-max_rel, max_rel) + max_rel
    return dy * (2 * max_rel + 1) + dx


class Block(nn.Module):
    def __init__(self, cfg: MaskGITConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.n_heads = cfg.n_heads
        self.head_dim = d // cfg.n_heads
        self.norm_attn = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm_mlp = nn.LayerNorm(d)
        self.mlp = nn.Sequential(
            nn.Linear(d, cfg.ff_mult * d), nn.GELU(), nn.Linear(cfg.ff_mult * d, d)
        )
        self.rel_bias = nn.Parameter(torch.zeros(cfg.n_heads, (2 * cfg.max_rel + 1) ** 2))
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, rel_index: torch.Tensor) -> torch.Tensor:
        length, d_model = x.shape[1], x.shape[2]
        qkv = self.qkv(self.norm_attn(x)).reshape(-1, length, 3, self.n_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [B, H, N, hd]
        bias = self.rel_bias[:, rel_index]
        if self.training:  # fused kernel; the same maths as below, which is what ONNX gets
            mixed = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
        else:
            scores = torch.matmul(q, k.transpose(-1, -2)) * (self.head_dim**-0.5)
            mixed = torch.matmul((scores + bias).softmax(dim=-1), v)
        mixed = mixed.transpose(1, 2).reshape(-1, length, d_model)
        x = x + self.drop(self.proj(mixed))
        return x + self.drop(self.mlp(self.norm_mlp(x)))


class KeptPixels(nn.Module):
    """The window's known pixels as one vector per token: [B, grid*grid, d].

    Inputs are the decoder's: ``context`` [B, 3, H, W] in [-1, 1] and ``hole`` [B, 1, H, W]
    (1 = to fill; pixels there are ignored). A token the brush only grazes is mostly
    visible here, while its token id says nothing (it is masked). After PUT (Liu et al.,
    CVPR 2022), whose transformer reads un-quantised features of the known region.
    """

    def __init__(self, cfg: MaskGITConfig, channels: int = 32) -> None:
        super().__init__()
        self.pixels = nn.Conv2d(4, channels, 3, padding=1)
        self.tokens = nn.Conv2d(channels, cfg.d_model, cfg.patch, stride=cfg.patch)

    def forward(self, context: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        known = torch.cat([context * (1.0 - hole), hole], dim=1)
        return self.tokens(F.gelu(self.pixels(known))).flatten(2).transpose(1, 2)


class ImageMaskGIT(nn.Module):
    """int64 tokens [B, grid*grid] (row-major, ``vocab_size`` = masked) -> logits [B, N, V].

    With ``cfg.context_input`` the forward also takes the decoder's ``context`` and ``hole``.
    """

    def __init__(self, cfg: MaskGITConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.kept = KeptPixels(cfg) if cfg.context_input else None
        self.token_embed = nn.Embedding(cfg.vocab_size + 1, cfg.d_model)
        nn.init.normal_(self.token_embed.weight, std=0.02)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm_out = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size)
        self.register_buffer("rel_index", relative_index(cfg.grid, cfg.max_rel), persistent=False)

    def forward(
        self,
        tokens: torch.Tensor,
        context: torch.Tensor | None = None,
        hole: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x = self.token_embed(tokens)
        if self.kept is not None:
            if context is None or hole is None:
                raise ValueError("this transformer reads the known pixels: pass context and hole")
            x = x + self.kept(context, hole)
        for block in self.blocks:
            x = block(x, self.rel_index)
        return self.head(self.norm_out(x))  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- training


def training_batch(
    maps: Sequence[np.ndarray],
    rng: np.random.Generator,
    count: int,
    cfg: MaskGITConfig,
    patch: int,
    views: Sequence[np.ndarray] | None = None,
) -> tuple[np.ndarray, ...]:
    """(inputs with mask ids, targets, loss mask) for ``count`` random windows, flattened [B, N];
    with ``views`` (the photos the maps encode) also the windows' ``context`` and ``hole``."""
    positions = idata.window_positions(maps, rng, count, cfg.grid)
    targets = idata.gather_token_windows(maps, positions, cfg.grid).reshape(count, -1)
    drawn = [idata.training_masks(rng, cfg.grid, cfg.grid, patch) for _ in range(count)]
    masks = np.stack([token_mask.reshape(-1) for token_mask, _ in drawn])
    inputs = np.where(masks, cfg.mask_id, targets)
    if views is None:
        return inputs, targets, masks
    pixels = idata.gather_pixel_windows(views, positions, cfg.grid, patch)
    holes = np.stack([hole for _, hole in drawn])[:, None].astype(np.float32)
    return inputs, targets, masks, idata.to_model_range(pixels), holes


TRAIN_DEFAULTS = LoopSettings(
    minutes=17.0, batch=32, lr=1e-3, warmup_steps=100, ema_decay=0.995, log_every=25
)


def train(
    cfg: MaskGITConfig,
    train_maps: Sequence[np.ndarray],
    valid_maps: Sequence[np.ndarray],
    settings: LoopSettings,
    patch: int = 8,
    checkpoint_dir: Path | None = None,
    log: Callable[[str], None] = print,
    init: ImageMaskGIT | None = None,
    command: str = "",
    views: tuple[Sequence[np.ndarray], Sequence[np.ndarray]] | None = None,
) -> tuple[ImageMaskGIT, dict[str, object]]:
    """Train for ``settings.minutes`` (or ``max_steps``); return the best validated weights.

    The best weights so far are saved as ``checkpoint_dir/maskgit_best.pt`` at every
    improvement and the returned ones, with the stats and ``command``, as ``maskgit_final.pt``.
    A ``cfg.context_input`` model needs ``views``: the (train, valid) photos the maps encode.
    """
    model = ImageMaskGIT(cfg)
    if init is not None:
        model.load_state_dict(init.state_dict())
    if cfg.context_input and views is None:
        raise ValueError("a context_input transformer trains on the photos too")
    train_views, valid_views = views if cfg.context_input and views else (None, None)

    def make_batch(rng: np.random.Generator, count: int) -> Arrays:
        return training_batch(train_maps, rng, count, cfg, patch, train_views)

    def on_best(module: nn.Module, entry: dict[str, object]) -> None:
        if checkpoint_dir is not None:
            save_transformer(module, entry, checkpoint_dir / "maskgit_best.pt")

    valid = training_batch(valid_maps, np.random.default_rng(1234), 256, cfg, patch, valid_views)
    final, stats = train_loop(model, make_batch, masked_token_loss, valid, settings, log, on_best)
    stats["unigram_loss"] = round(unigram_loss(train_maps, cfg.vocab_size), 4)
    stats["command"] = command
    if checkpoint_dir is not None and distributed.is_main():
        save_transformer(final, stats, checkpoint_dir / "maskgit_final.pt")
    return final, stats  # type: ignore[return-value]


def unigram_loss(maps: Sequence[np.ndarray], vocab_size: int) -> float:
    """Entropy (nats) of the token frequencies: the loss of a model that ignores context."""
    counts = np.bincount(np.concatenate([m.reshape(-1) for m in maps]), minlength=vocab_size)
    probs = counts[counts > 0] / counts.sum()
    return float(-(probs * np.log(probs)).sum())


def save_transformer(model: nn.Module, info: dict[str, object], path: Path) -> None:
    save_checkpoint(path, model, model.cfg, info)


def load_checkpoint(path: Path) -> tuple[ImageMaskGIT, dict[str, object]]:
    return common_load_checkpoint(path, lambda raw: ImageMaskGIT(MaskGITConfig.from_dict(raw)))


# --------------------------------------------------------------------------- ONNX


def export(model: ImageMaskGIT, out_dir: Path) -> Path:
    """Write ``out_dir/transformer.onnx`` (fp32) and check onnxruntime against torch."""
    cfg = model.cfg
    return export_token_transformer(
        model, out_dir / ONNX_FILE, cfg.length, cfg.mask_id, side_shapes=side_shapes(cfg)
    )


def side_shapes(cfg: MaskGITConfig) -> dict[str, tuple[int, ...]]:
    """The side inputs of a ``context_input`` model: the decoder's ``context`` and ``hole``."""
    if not cfg.context_input:
        return {}
    size = cfg.grid * cfg.patch
    return {"context": (3, size, size), "hole": (1, size, size)}


def load_torch_model(model_dir: Path | str) -> ImageMaskGIT:
    """Rebuild the shipped transformer in torch with the ONNX file's own weights (fp32, eval).

    The architecture is read from ``manifest.json`` (``medium_facts.architecture.transformer``);
    every parameter comes from the ONNX initializer of the same name.
    """
    folder = Path(model_dir)
    manifest = json.loads((folder / "manifest.json").read_text())
    arch = manifest["medium_facts"]["architecture"]["transformer"]
    model = ImageMaskGIT(MaskGITConfig.from_dict(arch))
    load_state_from_onnx(model, folder / manifest["files"]["transformer"])
    return model.eval()


def tiny_config(vocab_size: int = 32, grid: int = 4) -> MaskGITConfig:
    return replace(
        MaskGITConfig(),
        vocab_size=vocab_size,
        grid=grid,
        d_model=32,
        n_layers=2,
        n_heads=2,
        max_rel=grid - 1,
    )
