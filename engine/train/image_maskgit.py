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
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from engine.train import image_data as idata
from engine.train.common import (
    Ema,
    config_from_dict,
    count_params,
    export_token_transformer,
    load_state_from_onnx,
    masked_loss,
    maybe_bf16,
    optimizer_step,
    seed_everything,
    set_cpu_threads,
    warmup_cosine,
)

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


class ImageMaskGIT(nn.Module):
    """int64 tokens [B, grid*grid] (row-major, ``vocab_size`` = masked) -> logits [B, N, V]."""

    def __init__(self, cfg: MaskGITConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.token_embed = nn.Embedding(cfg.vocab_size + 1, cfg.d_model)
        nn.init.normal_(self.token_embed.weight, std=0.02)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm_out = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size)
        self.register_buffer("rel_index", relative_index(cfg.grid, cfg.max_rel), persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.token_embed(tokens)
        for block in self.blocks:
            x = block(x, self.rel_index)
        return self.head(self.norm_out(x))  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- training


def training_batch(
    maps: Sequence[np.ndarray], rng: np.random.Generator, count: int, cfg: MaskGITConfig, patch: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(inputs with mask ids, targets, loss mask) for ``count`` random windows, flattened [B, N]."""
    targets = idata.token_windows(maps, rng, count, cfg.grid).reshape(count, -1)
    masks = np.stack(
        [
            idata.token_training_mask(rng, cfg.grid, cfg.grid, patch).reshape(-1)
            for _ in range(count)
        ]
    )
    inputs = np.where(masks, cfg.mask_id, targets)
    return torch.from_numpy(inputs), torch.from_numpy(targets), torch.from_numpy(masks)


@dataclass(frozen=True)
class TrainSettings:
    minutes: float = 17.0
    max_steps: int = 0
    batch: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 100
    ema_decay: float = 0.995
    seed: int = 0
    bf16: bool = True
    threads: int = 2
    checkpoint_every_s: float = 180.0


@torch.no_grad()
def evaluate(
    model: nn.Module, valid: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
) -> tuple[float, float]:
    """fp32 masked loss (nats) and masked-token top-1 accuracy on a fixed batch."""
    was_training = model.training
    model.eval()
    inputs, targets, mask = valid
    losses, correct = [], 0.0
    for i in range(0, len(inputs), 64):
        logits = model(inputs[i : i + 64])
        losses.append(masked_loss(logits, targets[i : i + 64], mask[i : i + 64]).item())
        correct += ((logits.argmax(-1) == targets[i : i + 64]) & mask[i : i + 64]).sum().item()
    model.train(was_training)
    return float(np.mean(losses)), correct / float(mask.sum().item())


def train(
    cfg: MaskGITConfig,
    train_maps: Sequence[np.ndarray],
    valid_maps: Sequence[np.ndarray],
    settings: TrainSettings,
    patch: int = 8,
    checkpoint_dir: Path | None = None,
    log: Callable[[str], None] = print,
    init: ImageMaskGIT | None = None,
) -> tuple[ImageMaskGIT, dict[str, object]]:
    """Train for ``settings.minutes`` (or ``max_steps``); return the better of raw/EMA weights."""
    set_cpu_threads(settings.threads)
    seed_everything(settings.seed)
    model = ImageMaskGIT(cfg)
    if init is not None:
        model.load_state_dict(init.state_dict())
    ema = Ema(model, settings.ema_decay)
    opt = torch.optim.AdamW(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay, betas=(0.9, 0.98)
    )
    rng = np.random.default_rng(settings.seed)
    valid = training_batch(valid_maps, np.random.default_rng(1234), 256, cfg, patch)
    budget = settings.minutes * 60.0
    start = last_ckpt = time.monotonic()
    step, history, losses = 0, [], []
    log(
        f"transformer params {count_params(model):,} config {asdict(cfg)} "
        f"settings {asdict(settings)}"
    )
    model.train()
    while True:
        elapsed = time.monotonic() - start
        if (settings.max_steps and step >= settings.max_steps) or (
            not settings.max_steps and elapsed >= budget
        ):
            break
        progress = step / settings.max_steps if settings.max_steps else elapsed / budget
        for group in opt.param_groups:
            group["lr"] = settings.lr * warmup_cosine(step, progress, settings.warmup_steps)
        inputs, targets, mask = training_batch(train_maps, rng, settings.batch, cfg, patch)
        with maybe_bf16(settings.bf16):
            logits = model(inputs)
        loss = masked_loss(logits, targets, mask)
        optimizer_step(opt, model, loss)
        ema.update(model)
        losses.append(loss.item())
        step += 1
        if step % 25 == 0:
            log(f"maskgit step {step} t={elapsed / 60:.1f}min loss {np.mean(losses[-25:]):.4f}")
        if (
            checkpoint_dir is not None
            and time.monotonic() - last_ckpt >= settings.checkpoint_every_s
        ):
            ema_model = ema.copy_to(ImageMaskGIT(cfg))
            info = {
                "step": step,
                "minutes": round(elapsed / 60, 2),
                "raw": evaluate(model, valid),
                "ema": evaluate(ema_model, valid),
            }
            history.append(info)
            save_transformer(ema_model, info, checkpoint_dir / "maskgit_last_ema.pt")
            save_transformer(model, info, checkpoint_dir / "maskgit_last_raw.pt")
            log(f"maskgit checkpoint {info}")
            last_ckpt = time.monotonic()
    elapsed = time.monotonic() - start
    raw_loss, raw_acc = evaluate(model, valid)
    ema_model = ema.copy_to(ImageMaskGIT(cfg))
    ema_loss, ema_acc = evaluate(ema_model, valid)
    use_ema = ema_loss < raw_loss
    final = ema_model if use_ema else model
    final.eval()
    stats: dict[str, object] = {
        "steps": step,
        "train_minutes": round(elapsed / 60.0, 2),
        "windows_seen": step * settings.batch,
        "first_loss": round(float(np.mean(losses[:10])), 4) if losses else None,
        "last_loss": round(float(np.mean(losses[-10:])), 4) if losses else None,
        "valid_masked_loss": round(min(raw_loss, ema_loss), 4),
        "valid_masked_accuracy": round(ema_acc if use_ema else raw_acc, 4),
        "weights": "ema" if use_ema else "raw",
        "params": count_params(final),
        "history": history,
    }
    log(
        f"maskgit final raw {raw_loss:.4f}/{raw_acc:.3f} "
        f"ema {ema_loss:.4f}/{ema_acc:.3f} -> {stats}"
    )
    if checkpoint_dir is not None:
        save_transformer(final, stats, checkpoint_dir / "maskgit_final.pt")
    return final, stats


def unigram_loss(maps: Sequence[np.ndarray], vocab_size: int) -> float:
    """Entropy (nats) of the token frequencies: the loss of a model that ignores context."""
    counts = np.bincount(np.concatenate([m.reshape(-1) for m in maps]), minlength=vocab_size)
    probs = counts[counts > 0] / counts.sum()
    return float(-(probs * np.log(probs)).sum())


def save_transformer(model: nn.Module, info: dict[str, object], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    cfg: MaskGITConfig = model.cfg  # type: ignore[assignment]
    torch.save({"config": asdict(cfg), "state": model.state_dict(), "info": info}, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path) -> tuple[ImageMaskGIT, dict[str, object]]:
    blob = torch.load(path, map_location="cpu", weights_only=False)
    model = ImageMaskGIT(MaskGITConfig.from_dict(blob["config"]))
    model.load_state_dict(blob["state"])
    return model.eval(), dict(blob["info"])


# --------------------------------------------------------------------------- ONNX


def export(model: ImageMaskGIT, out_dir: Path) -> Path:
    """Write ``out_dir/transformer.onnx`` (fp32) and check onnxruntime against torch."""
    return export_token_transformer(model, out_dir / ONNX_FILE, model.cfg.length, model.cfg.mask_id)


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
