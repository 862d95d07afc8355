"""SATB chorale masked transformer: model, training loop, ONNX export and reloading.

Architecture (all on a [4 voices, T steps] grid, flattened voice-major at the ONNX edge):
token + voice + time + beat-position (t mod 16) embeddings, then ``n_layers`` axial blocks,
each = attention along time within a voice (learned relative-position bias per head, offsets
clipped to +-``max_rel``; this is the locality prior that lets the model copy held notes) +
attention across the 4 voices at one step (learned voice-pair bias) + a GELU MLP, pre-norm.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.train import distributed
from engine.train.common import (
    ModelFacts,
    config_from_dict,
    export_token_transformer,
    load_state_from_onnx,
    save_checkpoint,
)
from engine.train.common import load_checkpoint as common_load_checkpoint
from engine.train.common import write_manifest as common_write_manifest
from engine.train.loop import Arrays, LoopSettings, masked_token_loss, train_loop
from engine.train.midi import data as cd

MODEL_NAME = "chorale-satb"
ONNX_FILE = "transformer.onnx"


@dataclass(frozen=True)
class ChoraleConfig:
    """Architecture hyper-parameters; stored in the manifest so torch can rebuild the module."""

    steps: int = 128
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    ff_mult: int = 4
    max_rel: int = 32
    dropout: float = 0.1

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> ChoraleConfig:
        return config_from_dict(cls, raw)


class Attention(nn.Module):
    """Multi-head self-attention over the middle axis of [N, L, D] with an additive bias."""

    def __init__(self, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        length, d_model = x.shape[1], x.shape[2]
        qkv = self.qkv(x).reshape(-1, length, 3, self.n_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [N, H, L, hd]
        scores = torch.matmul(q, k.transpose(-1, -2)) * (self.head_dim**-0.5) + bias
        weights = self.drop(scores.softmax(dim=-1))
        mixed = torch.matmul(weights, v).transpose(1, 2).reshape(-1, length, d_model)
        return self.out(mixed)


class AxialBlock(nn.Module):
    """Time attention within each voice, voice attention within each step, then an MLP."""

    def __init__(self, cfg: ChoraleConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.norm_time = nn.LayerNorm(d)
        self.time_attn = Attention(d, cfg.n_heads, cfg.dropout)
        self.norm_voice = nn.LayerNorm(d)
        self.voice_attn = Attention(d, cfg.n_heads, cfg.dropout)
        self.norm_mlp = nn.LayerNorm(d)
        self.mlp = nn.Sequential(
            nn.Linear(d, cfg.ff_mult * d),
            nn.GELU(),
            nn.Linear(cfg.ff_mult * d, d),
        )
        self.drop = nn.Dropout(cfg.dropout)
        self.rel_bias = nn.Parameter(torch.zeros(cfg.n_heads, 2 * cfg.max_rel + 1))
        self.voice_bias = nn.Parameter(torch.zeros(cfg.n_heads, 4, 4))

    def forward(self, x: torch.Tensor, rel_index: torch.Tensor) -> torch.Tensor:
        voices, steps, d = x.shape[1], x.shape[2], x.shape[3]
        time_bias = self.rel_bias[:, rel_index]  # [H, T, T]
        h = self.time_attn(self.norm_time(x).reshape(-1, steps, d), time_bias)
        x = x + self.drop(h.reshape(-1, voices, steps, d))
        h = self.norm_voice(x).transpose(1, 2).reshape(-1, voices, d)
        h = self.voice_attn(h, self.voice_bias)
        x = x + self.drop(h.reshape(-1, steps, voices, d).transpose(1, 2))
        return x + self.drop(self.mlp(self.norm_mlp(x)))


class ChoraleTransformer(nn.Module):
    """int64 tokens [B, 4*T] (voice-major, MASK_ID where unknown) -> logits [B, 4*T, 67]."""

    def __init__(self, cfg: ChoraleConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.token_embed = nn.Embedding(cd.VOCAB_SIZE + 1, d)
        self.voice_embed = nn.Parameter(torch.randn(1, 4, 1, d) * 0.02)
        self.time_embed = nn.Parameter(torch.randn(1, 1, cfg.steps, d) * 0.02)
        self.beat_embed = nn.Parameter(torch.randn(cd.STEPS_PER_BAR, d) * 0.02)
        nn.init.normal_(self.token_embed.weight, std=0.02)
        self.blocks = nn.ModuleList(AxialBlock(cfg) for _ in range(cfg.n_layers))
        self.norm_out = nn.LayerNorm(d)
        self.head = nn.Linear(d, cd.VOCAB_SIZE)
        steps = torch.arange(cfg.steps)
        offsets = (steps[None, :] - steps[:, None]).clamp(-cfg.max_rel, cfg.max_rel)
        self.register_buffer("rel_index", offsets + cfg.max_rel, persistent=False)
        self.register_buffer("beat_index", steps % cd.STEPS_PER_BAR, persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        x = self.token_embed(tokens).reshape(-1, 4, cfg.steps, cfg.d_model)
        beat = self.beat_embed[self.beat_index].reshape(1, 1, cfg.steps, cfg.d_model)
        x = x + self.voice_embed + self.time_embed + beat
        for block in self.blocks:
            x = block(x, self.rel_index)
        logits = self.head(self.norm_out(x))
        return logits.reshape(-1, 4 * cfg.steps, cd.VOCAB_SIZE)


TRAIN_DEFAULTS = LoopSettings(
    minutes=50.0, batch=32, lr=1e-3, warmup_steps=200, ema_decay=0.999, eval_every_s=300.0
)


def validation_windows(
    pieces: list[cd.IntGrid], steps: int, count: int = 256, frame_share: float = 0.0
) -> Arrays:
    """A fixed batch of validation windows and masks (no transposition, no padding).

    The masks follow the training mix, ``frame_share`` included (share 0 gives the same
    batch as before the option existed, so earlier stages' losses stay comparable)."""
    sampler = cd.WindowSampler(pieces, steps, max_shift=0, pad_prob=0.0)
    return cd.training_batch(sampler, np.random.default_rng(1234), count, frame_share)


def train(
    cfg: ChoraleConfig,
    train_pieces: list[cd.IntGrid],
    valid_pieces: list[cd.IntGrid],
    settings: LoopSettings,
    checkpoint_dir: Path | None = None,
    log: Callable[[str], None] = print,
    init: nn.Module | None = None,
    command: str = "",
    earlier_stages: Sequence[dict[str, object]] = (),
    frame_share: float = 0.0,
) -> tuple[ChoraleTransformer, dict[str, object]]:
    """Train for ``settings.minutes`` (or ``max_steps``); return the best validated weights.

    ``frame_share`` of the training and validation masks are whole-frame masks
    (``cd.frame_mask``): the weights kept are the best at the task this stage trains for.

    The best weights so far are saved as ``checkpoint_dir/best.pt`` at every improvement and
    the returned ones as ``final.pt``. ``earlier_stages`` are the runs that made ``init``; the
    stats list them and this run under ``stages`` (the model card quotes every command).
    """
    model = ChoraleTransformer(cfg)
    if init is not None:
        model.load_state_dict(init.state_dict())
    sampler = cd.WindowSampler(train_pieces, cfg.steps)

    def make_batch(rng: np.random.Generator, count: int) -> Arrays:
        return cd.training_batch(sampler, rng, count, frame_share)

    def on_best(module: nn.Module, entry: dict[str, object]) -> None:
        if checkpoint_dir is not None:
            save_checkpoint(checkpoint_dir / "best.pt", module, cfg, entry)

    valid = validation_windows(valid_pieces, cfg.steps, frame_share=frame_share)
    final, stats = train_loop(model, make_batch, masked_token_loss, valid, settings, log, on_best)
    stats["command"] = command
    stats["frame_share"] = frame_share
    stats["stages"] = [*earlier_stages, stage_summary(stats)]
    if checkpoint_dir is not None and distributed.is_main():
        save_checkpoint(checkpoint_dir / "final.pt", final, cfg, stats)
    return final, stats  # type: ignore[return-value]


def stage_summary(stats: dict[str, object]) -> dict[str, object]:
    """What the card says of one training run (a stage; a later one may start from it)."""
    settings = stats.get("settings") or {}
    assert isinstance(settings, dict)
    return {
        "command": stats.get("command"),
        "device": stats.get("device", "cpu"),
        "minutes": stats.get("train_minutes"),
        "steps": stats.get("steps"),
        "windows": stats.get("windows_seen"),
        "batch": settings.get("batch"),
        "lr": settings.get("lr"),
        "valid_loss": stats.get("valid_masked_loss"),
        "frame_share": stats.get("frame_share", 0.0),
    }


def load_checkpoint(path: Path) -> tuple[ChoraleTransformer, dict[str, object]]:
    """The module (eval mode) and the statistics saved beside its weights."""
    return common_load_checkpoint(
        path, lambda raw: ChoraleTransformer(ChoraleConfig.from_dict(raw))
    )


def export(model: ChoraleTransformer, out_dir: Path, int8: bool = False) -> Path:
    """Write ``out_dir/transformer.onnx`` (fp32, or int8 weights) and check it against torch."""
    length = 4 * model.cfg.steps
    return export_token_transformer(model, out_dir / ONNX_FILE, length, cd.MASK_ID, int8=int8)


def medium_facts(cfg: ChoraleConfig) -> dict[str, object]:
    return {
        "voices": list(cd.VOICES),
        "pitch_min": cd.PITCH_MIN,
        "pitch_max": cd.PITCH_MAX,
        "rest_token": cd.REST_TOKEN,
        "steps_per_quarter": cd.STEPS_PER_QUARTER,
        "window_steps": cfg.steps,
        "architecture": {"class": "ChoraleTransformer", **asdict(cfg)},
    }


def write_manifest(out_dir: Path, cfg: ChoraleConfig, sampling: dict[str, object]) -> Path:
    facts = ModelFacts(
        name=MODEL_NAME,
        medium="midi",
        description=(
            "Masked transformer over a 4-voice (SATB) x "
            f"{cfg.steps}-sixteenth grid, trained on the JSB chorales (Coconet format)"
        ),
        files={"transformer": ONNX_FILE},
        vocab_size=cd.VOCAB_SIZE,
        mask_id=cd.MASK_ID,
        shape=[4, cfg.steps],
        medium_facts=medium_facts(cfg),
        license="MIT (model weights and code); training data: Bach chorales, public domain",
        data=(
            "JSB Chorales, Jsb16thSeparated.npz (Huang et al. 2017, from czhuang/JSB-Chorales-"
            "dataset @9a7f733; split of Boulanger-Lewandowski et al. 2012), train split only; "
            "the dataset repository has no licence file, the music is public domain"
        ),
    )
    return common_write_manifest(out_dir, facts, sampling)


def load_torch_model(model_dir: Path | str) -> ChoraleTransformer:
    """Rebuild the torch module of a shipped folder with the ONNX file's own weights (fp32, eval).

    The architecture comes from ``manifest.json`` (``medium_facts.architecture``); every
    parameter is read from the ONNX initializer of the same name.
    """
    folder = Path(model_dir)
    manifest = json.loads((folder / "manifest.json").read_text())
    arch = manifest["medium_facts"]["architecture"]
    model = ChoraleTransformer(ChoraleConfig.from_dict(arch))
    load_state_from_onnx(model, folder / manifest["files"]["transformer"])
    return model.eval()


def tiny_config(steps: int = 16) -> ChoraleConfig:
    """A model small enough for unit tests."""
    return replace(ChoraleConfig(), steps=steps, d_model=32, n_layers=2, n_heads=2, max_rel=8)
