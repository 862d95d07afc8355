"""The motion model: a two-stream 1D-conv VQ tokenizer and a bidirectional masked transformer.

Tokenizer (one token per 4 frames, two streams):
    features float32 [B, T, 132] (cm, 30 fps) -> normalise (train statistics, baked in)
    -> lower columns (root, Hips, legs, contacts) -> conv encoder -> VQ (codebook K) -> row 0
    -> upper columns (Spine and above)            -> conv encoder -> VQ (codebook K) -> row 1
    tokens int64 [B, 2, T/4]
Decoder (PUT-style, it also sees the frames the user keeps):
    tokens [B, 2, L] + context [B, T, 132] + known [B, T, 2] (1 = this frame's lower/upper
    features are kept) -> features [B, T, 132]. Context values where ``known`` is 0 are ignored.
Transformer (MMM-style, over the stacked streams):
    tokens int64 [B, 2L] (row 0 = lower, row 1 = upper; mask id K) -> logits [B, 2L, K],
    per-row token embeddings and output heads, learned (row, time) positions.
    With ``context_input`` it also takes the decoder's ``context`` and ``known``: the kept
    frames themselves, not only their tokens, so it sees exactly where and how a gap starts
    and ends (after PUT, whose transformer reads un-quantised features of the known region).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from engine.media.motion.features import FEATURE_SIZE
from engine.train.common import config_from_dict, load_state_from_onnx
from engine.train.motion.data import FRAMES_PER_TOKEN, LOWER_COLUMNS, UPPER_COLUMNS

MODEL_NAME = "motion-mmm"
FILES = {"transformer": "transformer.onnx", "encoder": "encoder.onnx", "decoder": "decoder.onnx"}


@dataclass(frozen=True)
class MotionConfig:
    window: int = 128  # frames per model window (tokens per row = window / 4)
    codebook: int = 512
    code_dim: int = 64
    enc_channels: int = 128
    dec_channels: int = 128
    d_model: int = 192
    n_layers: int = 4
    n_heads: int = 6
    dropout: float = 0.1
    context_input: bool = False  # the transformer also reads the kept frames (see KeptFrames)

    @property
    def tokens_per_row(self) -> int:
        return self.window // FRAMES_PER_TOKEN

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> MotionConfig:
        return config_from_dict(cls, data)


def side_input_names(cfg: MotionConfig) -> tuple[str, ...]:
    """The transformer's float inputs after ``tokens``: the decoder's ``context`` and ``known``
    for a ``context_input`` model (manifest ``io.side_inputs``), none otherwise."""
    return ("context", "known") if cfg.context_input else ()


def tiny_config() -> MotionConfig:
    """A model small enough for unit tests (32-frame window, 8 tokens per row)."""
    return MotionConfig(
        window=32,
        codebook=16,
        code_dim=8,
        enc_channels=16,
        dec_channels=16,
        d_model=32,
        n_layers=2,
        n_heads=2,
        dropout=0.0,
    )


# ----------------------------------------------------------------------------- tokenizer


class ResBlock(nn.Module):
    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class Normalizer(nn.Module):
    """Feature mean/std of the train takes, as buffers (so the ONNX graphs take raw features)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(FEATURE_SIZE))
        self.register_buffer("std", torch.ones(FEATURE_SIZE))

    def set(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.std.copy_(torch.as_tensor(std, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std + self.mean


class StreamEncoder(nn.Module):
    """Conv encoder of one body part's feature columns: [B, T, c] -> [B, D, T/4]."""

    def __init__(self, n_in: int, channels: int, code_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(n_in, channels, 3, padding=1)]
        for _ in range(2):  # two stride-2 stages: 4 frames per token
            layers += [ResBlock(channels, 1), ResBlock(channels, 3)]
            layers.append(nn.Conv1d(channels, channels, 4, stride=2, padding=1))
        layers += [ResBlock(channels, 1), ResBlock(channels, 3), nn.ReLU()]
        layers.append(nn.Conv1d(channels, code_dim, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.transpose(1, 2))


class EmaQuantizer(nn.Module):
    """Nearest-code VQ with an EMA codebook and dead-code restart (codes from the batch)."""

    def __init__(self, codes: int, dim: int, decay: float = 0.99) -> None:
        super().__init__()
        self.decay = decay
        self.register_buffer("codebook", torch.randn(codes, dim) * 0.1)
        self.register_buffer("ema_count", torch.ones(codes))
        self.register_buffer("ema_sum", self.codebook.clone())

    def indices(self, z: torch.Tensor) -> torch.Tensor:
        """Tokens int64 [B, L] of latents [B, D, L]."""
        flat = z.transpose(1, 2)  # [B, L, D]
        dist = (
            (flat * flat).sum(-1, keepdim=True)
            - 2 * flat @ self.codebook.t()
            + (self.codebook * self.codebook).sum(-1)
        )
        return dist.argmin(-1)

    def lookup(self, tokens: torch.Tensor) -> torch.Tensor:
        """Code vectors [B, D, L] of tokens [B, L]."""
        return F.embedding(tokens, self.codebook).transpose(1, 2)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Quantised latents (straight-through), commitment loss, tokens."""
        z = z.float()
        with torch.autocast("cpu", enabled=False):  # code distances need fp32, not bf16
            tokens = self.indices(z)
        quant = self.lookup(tokens)
        if self.training:
            self._ema_update(z, tokens)
        commit = F.mse_loss(z, quant.detach())
        return z + (quant - z).detach(), commit, tokens

    @torch.no_grad()
    def _ema_update(self, z: torch.Tensor, tokens: torch.Tensor) -> None:
        flat = z.transpose(1, 2).reshape(-1, z.shape[1])
        onehot = F.one_hot(tokens.reshape(-1), self.codebook.shape[0]).float()
        self.ema_count.mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(onehot.t() @ flat, alpha=1 - self.decay)
        count = self.ema_count.clamp(min=1e-5)
        self.codebook.copy_(self.ema_sum / count[:, None])
        dead = self.ema_count < 0.03
        if dead.any():  # restart unused codes at random encoder outputs of this batch
            picks = torch.randint(0, flat.shape[0], (int(dead.sum()),))
            self.codebook[dead] = flat[picks] + 0.01 * torch.randn_like(flat[picks])
            self.ema_sum[dead] = self.codebook[dead]
            self.ema_count[dead] = 1.0


def known_columns(known: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """Per-feature kept flags [B, T, 132] of per-part flags ``known`` [B, T, 2]."""
    return known @ groups


def part_groups() -> torch.Tensor:
    """[2, 132]: which feature columns belong to the lower (row 0) and upper (row 1) part."""
    groups = torch.zeros(2, FEATURE_SIZE)
    groups[0, LOWER_COLUMNS] = 1.0
    groups[1, UPPER_COLUMNS] = 1.0
    return groups


class MotionDecoder(nn.Module):
    """Code vectors of both streams + kept frames -> normalised features [B, T, 132]."""

    def __init__(self, cfg: MotionConfig) -> None:
        super().__init__()
        c = cfg.dec_channels
        self.inp = nn.Conv1d(2 * cfg.code_dim, c, 3, padding=1)
        self.stage1 = nn.Sequential(ResBlock(c, 1), ResBlock(c, 3))
        self.up1 = nn.Conv1d(c, c, 3, padding=1)
        self.stage2 = nn.Sequential(ResBlock(c, 1), ResBlock(c, 3))
        self.up2 = nn.Conv1d(c, c, 3, padding=1)
        self.context = nn.Sequential(
            nn.Conv1d(2 * FEATURE_SIZE + 2, c, 3, padding=1), ResBlock(c, 1), ResBlock(c, 2)
        )
        self.mix = nn.Sequential(ResBlock(c, 1), ResBlock(c, 2), ResBlock(c, 4), ResBlock(c, 8))
        self.out = nn.Conv1d(c, FEATURE_SIZE, 1)
        self.register_buffer("groups", part_groups())

    def forward(
        self, codes: torch.Tensor, context: torch.Tensor, known: torch.Tensor
    ) -> torch.Tensor:
        h = self.stage1(self.inp(codes))
        h = self.stage2(self.up1(F.interpolate(h, scale_factor=2.0, mode="nearest")))
        h = self.up2(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        kept = known_columns(known, self.groups)
        ctx = torch.cat([context * kept, kept, known], dim=-1)
        h = self.mix(h + self.context(ctx.transpose(1, 2)))
        return self.out(F.relu(h)).transpose(1, 2)


class MotionTokenizer(nn.Module):
    def __init__(self, cfg: MotionConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.norm = Normalizer()
        self.encoders = nn.ModuleList(
            StreamEncoder(len(cols), cfg.enc_channels, cfg.code_dim)
            for cols in (LOWER_COLUMNS, UPPER_COLUMNS)
        )
        self.quantizers = nn.ModuleList(EmaQuantizer(cfg.codebook, cfg.code_dim) for _ in range(2))
        self.decoder = MotionDecoder(cfg)
        self.register_buffer("lower_columns", torch.tensor(LOWER_COLUMNS))
        self.register_buffer("upper_columns", torch.tensor(UPPER_COLUMNS))

    def latents(self, features: torch.Tensor) -> list[torch.Tensor]:
        x = self.norm(features)
        parts = (x.index_select(2, self.lower_columns), x.index_select(2, self.upper_columns))
        return [enc(p) for enc, p in zip(self.encoders, parts, strict=True)]

    def encode(self, features: torch.Tensor) -> torch.Tensor:
        """Tokens int64 [B, 2, T/4] of raw features [B, T, 132]."""
        return torch.stack(
            [q.indices(z) for q, z in zip(self.quantizers, self.latents(features), strict=True)],
            dim=1,
        )

    def decode(
        self, tokens: torch.Tensor, context: torch.Tensor, known: torch.Tensor
    ) -> torch.Tensor:
        """Raw features [B, T, 132] from tokens [B, 2, L] and the kept frames."""
        codes = torch.cat([self.quantizers[r].lookup(tokens[:, r]) for r in range(2)], dim=1)
        return self.norm.inverse(self.decoder(codes, self.norm(context), known))

    def forward(
        self, features: torch.Tensor, known: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Normalised reconstruction, commitment loss, tokens (training)."""
        quantised, commits, tokens = [], [], []
        for quantizer, z in zip(self.quantizers, self.latents(features), strict=True):
            q, c, t = quantizer(z)
            quantised.append(q)
            commits.append(c)
            tokens.append(t)
        codes = torch.cat(quantised, dim=1)
        recon = self.decoder(codes, self.norm(features), known)
        return recon, sum(commits) / 2, torch.stack(tokens, dim=1)


class EncoderExport(nn.Module):
    def __init__(self, tokenizer: MotionTokenizer) -> None:
        super().__init__()
        self.tokenizer = tokenizer

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.tokenizer.encode(features)


class DecoderExport(nn.Module):
    def __init__(self, tokenizer: MotionTokenizer) -> None:
        super().__init__()
        self.tokenizer = tokenizer

    def forward(
        self, tokens: torch.Tensor, context: torch.Tensor, known: torch.Tensor
    ) -> torch.Tensor:
        return self.tokenizer.decode(tokens, context, known)


# ----------------------------------------------------------------------------- transformer


class Block(nn.Module):
    def __init__(self, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = d // heads
        self.scale = 1.0 / math.sqrt(d // heads)
        self.norm1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, self.head_dim).unbind(2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, H, N, dh]
        att = torch.softmax((q @ k.transpose(-1, -2)) * self.scale, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, n, d)
        x = x + self.drop(self.proj(y))
        return x + self.drop(self.ff(self.norm2(x)))


class KeptFrames(nn.Module):
    """The kept frames of a window as one vector per token position: [B, 2L, d].

    Input is what the decoder reads: raw ``context`` [B, T, 132] and ``known`` [B, T, 2]
    (values where ``known`` is 0 are ignored). A conv over frames, then a stride-4 conv to
    the token rate gives 2d channels per token: the first d for the lower row, the rest for
    the upper row.
    """

    def __init__(self, cfg: MotionConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.norm = Normalizer()
        self.frames = nn.Conv1d(2 * FEATURE_SIZE + 2, d, 3, padding=1)
        self.tokens = nn.Conv1d(d, 2 * d, FRAMES_PER_TOKEN, stride=FRAMES_PER_TOKEN)
        self.register_buffer("groups", part_groups())

    def forward(self, context: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        kept = known_columns(known, self.groups)
        x = torch.cat([self.norm(context) * kept, kept, known], dim=-1).transpose(1, 2)
        h = self.tokens(F.gelu(self.frames(x)))  # [B, 2d, L]
        lower, upper = h.chunk(2, dim=1)
        return torch.cat([lower, upper], dim=2).transpose(1, 2)


class MotionTransformer(nn.Module):
    """tokens int64 [B, 2L] (mask id = codebook size) -> logits float [B, 2L, codebook].

    With ``cfg.context_input`` the forward also takes ``context`` [B, 4L, 132] and ``known``
    [B, 4L, 2], the decoder's inputs (:class:`KeptFrames`).
    """

    def __init__(self, cfg: MotionConfig) -> None:
        super().__init__()
        self.cfg = cfg
        length, d, k = cfg.tokens_per_row, cfg.d_model, cfg.codebook
        self.kept = KeptFrames(cfg) if cfg.context_input else None
        self.embed = nn.Embedding(2 * (k + 1), d)
        self.pos = nn.Parameter(torch.randn(1, 2 * length, d) * 0.02)
        self.blocks = nn.ModuleList(Block(d, cfg.n_heads, cfg.dropout) for _ in range(cfg.n_layers))
        self.norm = nn.LayerNorm(d)
        self.heads = nn.ModuleList(nn.Linear(d, k) for _ in range(2))
        offsets = torch.cat([torch.zeros(length), torch.full((length,), k + 1)]).long()
        self.register_buffer("row_offset", offsets, persistent=False)

    @property
    def mask_id(self) -> int:
        return self.cfg.codebook

    def forward(
        self,
        tokens: torch.Tensor,
        context: torch.Tensor | None = None,
        known: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x = self.embed(tokens + self.row_offset) + self.pos
        if self.kept is not None:
            if context is None or known is None:
                raise ValueError("this transformer reads the kept frames: pass context and known")
            x = x + self.kept(context, known)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        length = self.cfg.tokens_per_row
        return torch.cat([self.heads[0](x[:, :length]), self.heads[1](x[:, length:])], dim=1)


# ----------------------------------------------------------------------------- reload


def load_torch_model(model_dir: Path | str) -> MotionTransformer:
    """The shipped transformer as a torch module with the ONNX file's own weights (fp32, eval)."""
    folder = Path(model_dir)
    manifest = json.loads((folder / "manifest.json").read_text())
    cfg = MotionConfig.from_dict(manifest["medium_facts"]["architecture"])
    model = MotionTransformer(cfg)
    load_state_from_onnx(model, folder / manifest["files"]["transformer"])
    return model.eval()


def config_dict(cfg: MotionConfig) -> dict[str, object]:
    return {"class": "MotionTransformer", **asdict(cfg)}
