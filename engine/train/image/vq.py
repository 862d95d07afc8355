"""VQ image tokenizer (downsample 8) with a decoder that also sees the known pixels.

Encoder: conv pyramid 3 -> 16 (full) -> 32 (/2) -> 64 (/4) -> 128 (/8) with residual blocks,
projected to ``code_dim`` and quantized against an EMA codebook (``codes`` entries, dead
codes restarted from random encoder outputs of the current batch).

Decoder (after PUT, Liu et al. 2022, whose decoder keeps the unmasked region): a U-Net
whose bottleneck reads the token vectors and whose skip connections read the *known*
pixels ``context * (1 - hole)`` and the ``hole`` mask at every scale. Inside the hole it
must draw from the tokens; at the hole's edge it continues the surrounding colours, which
removes the seams and colour shifts of a plain VQ decode. With ``hole`` = 1 everywhere it
is a plain VQ decoder (how the tokenizer PSNR is measured).

Losses: L1 + 0.5 gradient-L1 over the window, the same again over the hole only, and
0.25 commitment. Quantization runs in fp32 even under bf16 autocast.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from engine.train import distributed
from engine.train.common import (
    count_params,
    load_checkpoint,
    maybe_bf16,
    optimizer_step,
    save_checkpoint,
    seed_everything,
    set_cpu_threads,
    warmup_cosine,
)
from engine.train.image import data as idata


@dataclass(frozen=True)
class VQConfig:
    """Tokenizer hyper-parameters (stored in the manifest and in checkpoints)."""

    codes: int = 512
    code_dim: int = 32
    channels: tuple[int, int, int, int] = (16, 32, 64, 128)  # full, /2, /4, /8
    bottleneck_blocks: int = 2
    decay: float = 0.99
    patch: int = 8

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> VQConfig:
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        if "channels" in known:
            known["channels"] = tuple(known["channels"])  # type: ignore[arg-type]
        return cls(**known)  # type: ignore[arg-type]


class ResBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


def _down(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 4, stride=2, padding=1)


class Encoder(nn.Module):
    """float32 [B, 3, H, W] in [-1, 1] -> continuous codes [B, code_dim, H/8, W/8]."""

    def __init__(self, cfg: VQConfig) -> None:
        super().__init__()
        c0, c1, c2, c3 = cfg.channels
        self.net = nn.Sequential(
            nn.Conv2d(3, c0, 3, padding=1),
            _down(c0, c1),
            ResBlock(c1),
            _down(c1, c2),
            ResBlock(c2),
            _down(c2, c3),
            *[ResBlock(c3) for _ in range(cfg.bottleneck_blocks)],
            nn.SiLU(),
            nn.Conv2d(c3, cfg.code_dim, 1),
        )

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.net(pixels)  # type: ignore[no-any-return]


class ContextDecoder(nn.Module):
    """(codes [B, D, h, w], context [B, 3, H, W], hole [B, 1, H, W]) -> pixels [B, 3, H, W]."""

    def __init__(self, cfg: VQConfig) -> None:
        super().__init__()
        c0, c1, c2, c3 = cfg.channels
        self.ctx0 = nn.Conv2d(4, c0, 3, padding=1)
        self.ctx1 = _down(c0, c1)
        self.ctx2 = _down(c1, c2)
        self.ctx3 = _down(c2, c2)
        self.token_in = nn.Conv2d(cfg.code_dim + c2, c3, 3, padding=1)
        self.bottleneck = nn.Sequential(*[ResBlock(c3) for _ in range(cfg.bottleneck_blocks)])
        self.up2 = nn.Conv2d(c3 + c2, c2, 3, padding=1)
        self.res2 = ResBlock(c2)
        self.up1 = nn.Conv2d(c2 + c1, c1, 3, padding=1)
        self.res1 = ResBlock(c1)
        self.up0 = nn.Conv2d(c1 + c0, c0, 3, padding=1)
        self.out = nn.Conv2d(c0, 3, 3, padding=1)

    def forward(
        self, codes: torch.Tensor, context: torch.Tensor, hole: torch.Tensor
    ) -> torch.Tensor:
        known = torch.cat([context * (1.0 - hole), hole], dim=1)
        s0 = F.silu(self.ctx0(known))
        s1 = F.silu(self.ctx1(s0))
        s2 = F.silu(self.ctx2(s1))
        s3 = F.silu(self.ctx3(s2))
        x = self.bottleneck(self.token_in(torch.cat([codes, s3], dim=1)))
        x = F.interpolate(F.silu(x), scale_factor=2.0, mode="nearest")
        x = self.res2(self.up2(torch.cat([x, s2], dim=1)))
        x = F.interpolate(F.silu(x), scale_factor=2.0, mode="nearest")
        x = self.res1(self.up1(torch.cat([x, s1], dim=1)))
        x = F.interpolate(F.silu(x), scale_factor=2.0, mode="nearest")
        x = F.silu(self.up0(torch.cat([x, s0], dim=1)))
        return self.out(x)  # type: ignore[no-any-return]


class EmaQuantizer(nn.Module):
    """Nearest-code vector quantizer with an EMA codebook and dead-code restart."""

    def __init__(self, codes: int, dim: int, decay: float) -> None:
        super().__init__()
        self.decay = decay
        self.register_buffer("codebook", torch.randn(codes, dim) * 0.1)
        self.register_buffer("cluster_size", torch.ones(codes))
        self.register_buffer("embed_sum", self.codebook.clone())
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    def indices(self, flat: torch.Tensor) -> torch.Tensor:
        """Nearest code of each row of ``flat`` [M, D] (fp32)."""
        book = self.codebook
        dist = (flat * flat).sum(1, keepdim=True) - 2 * flat @ book.t() + (book * book).sum(1)[None]
        return dist.argmin(1)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z [B, D, h, w] -> (straight-through codes, indices [B, h, w], commitment loss)."""
        with torch.autocast("cpu", enabled=False):
            z = z.float()
            batch, dim, rows, cols = z.shape
            flat = z.permute(0, 2, 3, 1).reshape(-1, dim)
            if self.training and not bool(self.initialised):
                self._init_from(flat)
            idx = self.indices(flat)
            quant = self.codebook[idx]
            if self.training:
                self._ema_update(flat.detach(), idx)
            commit = F.mse_loss(flat, quant.detach())
            straight = flat + (quant - flat).detach()
            codes = straight.reshape(batch, rows, cols, dim).permute(0, 3, 1, 2)
        return codes, idx.reshape(batch, rows, cols), commit

    @torch.no_grad()
    def _init_from(self, flat: torch.Tensor) -> None:
        picks = torch.randint(0, flat.shape[0], (self.codebook.shape[0],))
        self.codebook.copy_(flat[picks].detach())
        self.embed_sum.copy_(self.codebook)
        self.cluster_size.fill_(1.0)
        self.initialised.fill_(True)

    @torch.no_grad()
    def _ema_update(self, flat: torch.Tensor, idx: torch.Tensor) -> None:
        codes = self.codebook.shape[0]
        onehot = F.one_hot(idx, codes).type(flat.dtype)
        self.cluster_size.mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(onehot.t() @ flat, alpha=1 - self.decay)
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + 1e-5) / (total + codes * 1e-5) * total
        self.codebook.copy_(self.embed_sum / smoothed[:, None])
        dead = self.cluster_size < 0.03
        if dead.any():  # restart unused codes at random encoder outputs of this batch
            count = int(dead.sum())
            picks = torch.randint(0, flat.shape[0], (count,))
            fresh = flat[picks] + 0.01 * torch.randn(count, flat.shape[1])
            self.codebook[dead] = fresh
            self.embed_sum[dead] = fresh
            self.cluster_size[dead] = 1.0


class VQTokenizer(nn.Module):
    def __init__(self, cfg: VQConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.quantizer = EmaQuantizer(cfg.codes, cfg.code_dim, cfg.decay)
        self.decoder = ContextDecoder(cfg)

    def forward(
        self, pixels: torch.Tensor, hole: torch.Tensor, corrupt: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruct ``pixels`` from their tokens plus the pixels outside ``hole``.

        ``corrupt`` > 0 (training only) replaces some tokens that touch the hole by random
        codes, so the decoder learns not to paint a sampled token's colour over what the
        known pixels around it say (the transformer's samples are often wrong).
        """
        codes, idx, commit = self.quantizer(self.encoder(pixels))
        if self.training and corrupt > 0:
            codes = self._corrupt(codes, hole, corrupt)
        return self.decoder(codes, pixels, hole), idx, commit

    def _corrupt(self, codes: torch.Tensor, hole: torch.Tensor, max_rate: float) -> torch.Tensor:
        """In 30 % of the items, swap up to ``max_rate`` of the hole's tokens for random codes."""
        batch, _, rows, cols = codes.shape
        token_hole = F.max_pool2d(hole, self.cfg.patch) > 0
        partial = hole.mean(dim=(1, 2, 3), keepdim=True) < 0.99  # a full hole must trust tokens
        rate = torch.rand(batch, 1, 1, 1) * max_rate * (torch.rand(batch, 1, 1, 1) < 0.3) * partial
        pick = token_hole & (torch.rand(batch, 1, rows, cols) < rate)
        random_tokens = torch.randint(0, self.cfg.codes, (batch, rows, cols))
        return torch.where(pick, self.code_vectors(random_tokens).to(codes.dtype), codes)

    def code_vectors(self, tokens: torch.Tensor) -> torch.Tensor:
        """int64 [B, h, w] -> [B, D, h, w]."""
        return F.embedding(tokens, self.quantizer.codebook).permute(0, 3, 1, 2)


# --------------------------------------------------------------------------- ONNX-facing wrappers


class EncoderGraph(nn.Module):
    """pixels float32 [B, 3, H, W] in [-1, 1] -> tokens int64 [B, H/8, W/8]."""

    def __init__(self, tokenizer: VQTokenizer) -> None:
        super().__init__()
        self.encoder = tokenizer.encoder
        self.quantizer = tokenizer.quantizer

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        z = self.encoder(pixels)
        batch, dim, rows, cols = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, dim)
        return self.quantizer.indices(flat).reshape(batch, rows, cols)


class DecoderGraph(nn.Module):
    """(tokens int64 [B, h, w], context [B, 3, H, W], hole [B, 1, H, W]) -> pixels [B, 3, H, W]."""

    def __init__(self, tokenizer: VQTokenizer) -> None:
        super().__init__()
        self.tokenizer = tokenizer

    def forward(
        self, tokens: torch.Tensor, context: torch.Tensor, hole: torch.Tensor
    ) -> torch.Tensor:
        codes = self.tokenizer.code_vectors(tokens)
        return self.tokenizer.decoder(codes, context, hole)


# --------------------------------------------------------------------------- losses and training


def gradient_l1(
    pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    dx = (pred[..., :, 1:] - pred[..., :, :-1]) - (target[..., :, 1:] - target[..., :, :-1])
    dy = (pred[..., 1:, :] - pred[..., :-1, :]) - (target[..., 1:, :] - target[..., :-1, :])
    if weight is None:
        return dx.abs().mean() + dy.abs().mean()
    wx, wy = weight[..., :, 1:], weight[..., 1:, :]
    return (dx.abs() * wx).sum() / (wx.sum() * 3 + 1) + (dy.abs() * wy).sum() / (wy.sum() * 3 + 1)


def reconstruction_loss(
    pred: torch.Tensor, target: torch.Tensor, hole: torch.Tensor, commit: torch.Tensor
) -> torch.Tensor:
    pred = pred.float()
    whole = (pred - target).abs().mean() + 0.5 * gradient_l1(pred, target)
    in_hole = ((pred - target).abs() * hole).sum() / (hole.sum() * 3 + 1)
    return whole + in_hole + 0.5 * gradient_l1(pred, target, hole) + 0.25 * commit


@dataclass(frozen=True)
class VQTrainSettings:
    minutes: float = 13.0
    max_steps: int = 0
    batch: int = 32
    crop: int = 64
    lr: float = 1e-3
    warmup_steps: int = 100
    seed: int = 0
    bf16: bool = True
    threads: int = 2
    checkpoint_every_s: float = 180.0
    corrupt: float = 0.5  # max share of hole tokens swapped for random codes (30 % of items)


def batch_of(
    images: Sequence[idata.UInt8Array], rng: np.random.Generator, count: int, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(pixels [B, 3, S, S] in [-1, 1], hole [B, 1, S, S]) for decoder training."""
    pixels = idata.to_model_range(idata.random_crops(images, rng, count, size))
    holes = np.stack([idata.training_pixel_mask(rng, (size, size)) for _ in range(count)])
    return torch.from_numpy(pixels), torch.from_numpy(holes[:, None].astype(np.float32))


def psnr(pred: np.ndarray, target: np.ndarray, where: np.ndarray | None = None) -> float:
    """PSNR in dB of uint8 images (optionally only where ``where`` [.., H, W] is True)."""
    diff = pred.astype(np.float64) - target.astype(np.float64)
    mse = float((diff[where] ** 2).mean()) if where is not None else float((diff**2).mean())
    return 10 * math.log10(255.0**2 / max(mse, 1e-10))


@torch.no_grad()
def evaluate_tokenizer(model: VQTokenizer, crops: np.ndarray, chunk: int = 32) -> dict[str, float]:
    """Plain VQ reconstruction of uint8 crops [N, S, S, 3] (hole = everywhere), fp32.

    Returns the pooled PSNR, the mean per-crop PSNR, the codebook usage and perplexity.
    """
    was_training = model.training
    model.eval()
    recon, used = [], []
    for i in range(0, len(crops), chunk):
        pixels = torch.from_numpy(idata.to_model_range(crops[i : i + chunk]))
        hole = torch.ones_like(pixels[:, :1])
        out, idx, _ = model(pixels, hole)
        recon.append(idata.from_model_range(out.numpy()))
        used.append(idx.reshape(-1).numpy())
    model.train(was_training)
    pred = np.concatenate(recon)
    counts = np.bincount(np.concatenate(used), minlength=model.cfg.codes).astype(np.float64)
    probs = counts / counts.sum()
    nonzero = probs[probs > 0]
    return {
        "psnr_pooled": round(psnr(pred, crops), 2),
        "psnr_mean": round(
            float(np.mean([psnr(p, t) for p, t in zip(pred, crops, strict=True)])), 2
        ),
        "codes_used": int((counts > 0).sum()),
        "perplexity": round(float(np.exp(-(nonzero * np.log(nonzero)).sum())), 1),
    }


def train_tokenizer(
    cfg: VQConfig,
    images: Sequence[idata.UInt8Array],
    valid_crops: np.ndarray,
    settings: VQTrainSettings,
    checkpoint_dir: Path | None = None,
    log: Callable[[str], None] = print,
    init: VQTokenizer | None = None,
) -> tuple[VQTokenizer, dict[str, object]]:
    """Train for ``settings.minutes`` (or ``max_steps``); returns the model and its statistics."""
    set_cpu_threads(settings.threads)
    cpu = torch.device("cpu")
    distributed.setup(cpu)
    seed = distributed.shard_seed(settings.seed)
    seed_everything(seed)
    log = distributed.main_only(log)
    checkpoint_dir = checkpoint_dir if distributed.is_main() else None
    model = init if init is not None else VQTokenizer(cfg)
    model.train()
    step_loss = distributed.loss_step(model, _tokenizer_loss(settings.corrupt), cpu)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, betas=(0.9, 0.99), weight_decay=0.0)
    rng = np.random.default_rng(seed)
    budget = settings.minutes * 60.0
    start = time.monotonic()
    last_ckpt = 0.0
    step, history, losses = 0, [], []
    log(
        f"tokenizer params {count_params(model):,} config {asdict(cfg)} settings {asdict(settings)}"
    )
    while True:
        elapsed = distributed.agreed_seconds(time.monotonic() - start)
        if (settings.max_steps and step >= settings.max_steps) or (
            not settings.max_steps and elapsed >= budget
        ):
            break
        progress = step / settings.max_steps if settings.max_steps else elapsed / budget
        for group in opt.param_groups:
            group["lr"] = settings.lr * warmup_cosine(
                step, progress, settings.warmup_steps, floor=0.1
            )
        pixels, hole = batch_of(images, rng, settings.batch, settings.crop)
        with maybe_bf16(settings.bf16):
            loss, _ = step_loss((pixels, hole))
        optimizer_step(opt, model, loss)
        losses.append(loss.item())
        step += 1
        if step % 25 == 0:
            log(f"vq step {step} t={elapsed / 60:.1f}min loss {np.mean(losses[-25:]):.4f}")
        if (
            checkpoint_dir is not None
            and time.monotonic() - start - last_ckpt >= settings.checkpoint_every_s
        ):
            info = {
                "step": step,
                "minutes": round(elapsed / 60, 2),
                **evaluate_tokenizer(model, valid_crops),
            }
            history.append(info)
            save_tokenizer(model, info, checkpoint_dir / "vq_last.pt")
            log(f"vq checkpoint {info}")
            last_ckpt = time.monotonic() - start
    distributed.sync_buffers(model)
    elapsed = time.monotonic() - start
    model.eval()
    stats: dict[str, object] = {
        "steps": step,
        "train_minutes": round(elapsed / 60.0, 2),
        "crops_seen": step * settings.batch,
        "first_loss": round(float(np.mean(losses[:10])), 4) if losses else None,
        "last_loss": round(float(np.mean(losses[-10:])), 4) if losses else None,
        "params": count_params(model),
        "history": history,
        **evaluate_tokenizer(model, valid_crops),
    }
    log(f"vq final {stats}")
    if checkpoint_dir is not None:
        save_tokenizer(model, stats, checkpoint_dir / "vq_final.pt")
    return model, stats


def _tokenizer_loss(
    corrupt: float,
) -> Callable[[nn.Module, tuple[torch.Tensor, ...]], tuple[torch.Tensor, torch.Tensor]]:
    """(reconstruction loss, commitment) of a (pixels, hole) batch, as the loop steps it."""

    def loss_fn(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        pixels, hole = batch
        pred, _, commit = model(pixels, hole, corrupt)
        with torch.autocast("cpu", enabled=False):  # the loss in fp32, as outside the loop
            return reconstruction_loss(pred, pixels, hole, commit), commit

    return loss_fn  # type: ignore[return-value]


def save_tokenizer(model: VQTokenizer, info: dict[str, object], path: Path) -> None:
    save_checkpoint(path, model, model.cfg, info)


def load_tokenizer(path: Path) -> tuple[VQTokenizer, dict[str, object]]:
    return load_checkpoint(path, lambda raw: VQTokenizer(VQConfig.from_dict(raw)))


def tokenized_views(
    images: Sequence[idata.UInt8Array], patch: int, flips: bool = False
) -> list[idata.UInt8Array]:
    """The photos :func:`tokenize_images` encodes, in its order: each cropped to multiples of
    ``patch``, then (with ``flips``) its mirror image."""
    views = []
    for image in images:
        height, width = image.shape[0] // patch * patch, image.shape[1] // patch * patch
        views.append(np.ascontiguousarray(image[:height, :width]))
        if flips:
            views.append(np.ascontiguousarray(views[-1][:, ::-1]))
    return views


@torch.no_grad()
def tokenize_images(
    model: VQTokenizer, images: Sequence[idata.UInt8Array], flips: bool = False
) -> list[np.ndarray]:
    """Token maps int64 [H/8, W/8] of whole photos (cropped to multiples of 8), fp32.

    These are what the transformer trains on: random windows of them are the same as
    tokens of random 8-aligned crops, but the encoder runs once per photo.
    """
    graph = EncoderGraph(model).eval()
    maps = []
    for view in tokenized_views(images, model.cfg.patch, flips):
        pixels = torch.from_numpy(idata.to_model_range(view[None]))
        maps.append(graph(pixels)[0].numpy().astype(np.int64))
    return maps


def tiny_config() -> VQConfig:
    return VQConfig(codes=32, code_dim=8, channels=(4, 8, 8, 16), bottleneck_blocks=1)
