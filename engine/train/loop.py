"""One time-boxed training loop for the three token transformers, on the CPU or a CUDA GPU.

The chorale, image and motion transformers train the same way: draw a batch of masked token
windows, take one AdamW step with a warm-up/cosine learning rate, keep an EMA of the weights,
and every ``eval_every_s`` score the raw and EMA weights on a fixed validation batch. The best
of every scoring is what the loop returns, so a long GPU run that starts to overfit a small
corpus (229 chorales, 300 photos) still hands back its best weights.

Batches are made by a trainer's ``make_batch(rng, count)`` in numpy; with ``workers > 0`` they
are made in background processes (a GPU step is faster than drawing brush-stroke masks).

Under ``torchrun`` the same loop trains data-parallel (see :mod:`engine.train.distributed`):
every rank draws its own batches, gradients are averaged, rank 0 alone logs and saves.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from engine.train import distributed
from engine.train.budget import TimeBudget
from engine.train.common import (
    Ema,
    count_params,
    masked_loss,
    maybe_bf16,
    optimizer_step,
    seed_everything,
    set_cpu_threads,
    warmup_cosine,
)

Arrays = tuple[np.ndarray, ...]
Tensors = tuple[torch.Tensor, ...]
MakeBatch = Callable[[np.random.Generator, int], Arrays]
LossFn = Callable[[nn.Module, Tensors], tuple[torch.Tensor, torch.Tensor]]
"""(model, batch on the device) -> (mean masked loss, masked top-1 accuracy)."""
Log = Callable[[str], None]


@dataclass(frozen=True)
class LoopSettings(TimeBudget):
    minutes: float = 10.0
    max_steps: int = 0  # 0 = until the time budget is spent
    batch: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 100
    lr_floor: float = 0.05
    ema_decay: float = 0.999
    seed: int = 0
    bf16: bool = True
    device: str = "cpu"
    workers: int = 0
    eval_every_s: float = 180.0
    threads: int = 2
    log_every: int = 50


class DeviceUnavailableError(RuntimeError):
    """The run asks for a device this machine does not have (``--device cuda`` on a CPU box)."""


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda`` or ``auto`` (CUDA when torch sees a GPU); a missing GPU is an error."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceUnavailableError(f"--device {name}: torch sees no CUDA GPU on this machine")
    return torch.device(name)


class _BatchStream(IterableDataset):  # type: ignore[type-arg]
    """Endless batches; each data worker draws from its own seeded generator."""

    def __init__(self, make_batch: MakeBatch, batch: int, seed: int) -> None:
        self.make_batch, self.batch, self.seed = make_batch, batch, seed

    def __iter__(self) -> Iterator[Tensors]:
        info = get_worker_info()
        rng = np.random.default_rng([self.seed, 0 if info is None else info.id + 1])
        while True:
            yield tuple(torch.from_numpy(a) for a in self.make_batch(rng, self.batch))


def batch_stream(make_batch: MakeBatch, settings: LoopSettings) -> Iterator[Tensors]:
    stream = _BatchStream(make_batch, settings.batch, settings.seed)
    if settings.workers <= 0:
        return iter(stream)
    loader = DataLoader(
        stream,
        batch_size=None,
        num_workers=settings.workers,
        pin_memory=settings.device.startswith("cuda"),
        prefetch_factor=4,
        persistent_workers=True,
    )
    return iter(loader)


def to_device(batch: Tensors, device: torch.device) -> Tensors:
    return tuple(t.to(device, non_blocking=True) for t in batch)


def masked_token_loss(model: nn.Module, batch: Tensors) -> tuple[torch.Tensor, torch.Tensor]:
    """``LossFn`` for (inputs with mask ids, targets, loss mask, *side inputs) batches: loss and
    accuracy. Side inputs (a model's kept pixels, say) follow the tokens into the model."""
    inputs, targets, mask, *side = batch
    logits = model(inputs, *side)
    hits = (logits.argmax(-1) == targets) & mask
    return masked_loss(logits, targets, mask), hits.sum() / mask.sum().clamp(min=1)


@torch.no_grad()
def evaluate(
    model: nn.Module, loss_fn: LossFn, valid: Tensors, device: torch.device, chunk: int = 64
) -> tuple[float, float]:
    """fp32 (loss, accuracy) on the validation batch, averaged over chunks of ``chunk``."""
    was_training = model.training
    model.eval()
    losses, accuracies = [], []
    for i in range(0, len(valid[0]), chunk):
        part = to_device(tuple(t[i : i + chunk] for t in valid), device)
        loss, accuracy = loss_fn(model, part)
        losses.append(float(loss))
        accuracies.append(float(accuracy))
    model.train(was_training)
    return float(np.mean(losses)), float(np.mean(accuracies))


@dataclass
class _Best:
    loss: float = float("inf")
    accuracy: float = 0.0
    weights: str = "raw"
    state: dict[str, torch.Tensor] | None = None
    step: int = 0


class _Scorer:
    """Scores raw and EMA weights, remembers the best state (on the CPU) and reports it."""

    def __init__(
        self,
        model: nn.Module,
        ema: Ema,
        loss_fn: LossFn,
        valid: Tensors,
        device: torch.device,
        on_best: Callable[[nn.Module, dict[str, object]], None] | None,
        log: Log,
    ) -> None:
        self.model, self.ema, self.loss_fn, self.valid = model, ema, loss_fn, valid
        self.device, self.on_best, self.log = device, on_best, log
        self.best = _Best()
        self.history: list[dict[str, object]] = []

    def score(self, step: int, elapsed: float) -> None:
        raw = evaluate(self.model, self.loss_fn, self.valid, self.device)
        live = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.ema.copy_to(self.model)
        ema = evaluate(self.model, self.loss_fn, self.valid, self.device)
        self.model.load_state_dict(live)
        entry: dict[str, object] = {
            "step": step,
            "minutes": round(elapsed / 60, 2),
            "raw": [round(raw[0], 4), round(raw[1], 4)],
            "ema": [round(ema[0], 4), round(ema[1], 4)],
        }
        self.history.append(entry)
        self.log(f"checkpoint {entry}")
        use_ema = ema[0] < raw[0]
        loss, accuracy = ema if use_ema else raw
        if loss < self.best.loss:
            source = self.ema.shadow if use_ema else live
            state = {k: v.detach().cpu().clone() for k, v in source.items()}
            weights = "ema" if use_ema else "raw"
            self.best = _Best(loss, accuracy, weights, state, step)
            if self.on_best is not None:
                self.on_best(self.best_copy(), entry)

    def best_copy(self) -> nn.Module:
        """A CPU copy of the model holding the best weights scored so far (eval mode)."""
        assert self.best.state is not None
        module = copy.deepcopy(self.model).cpu()
        module.load_state_dict(self.best.state)
        return module.eval()


def train_loop(
    model: nn.Module,
    make_batch: MakeBatch,
    loss_fn: LossFn,
    valid: Arrays,
    settings: LoopSettings,
    log: Log = print,
    on_best: Callable[[nn.Module, dict[str, object]], None] | None = None,
) -> tuple[nn.Module, dict[str, object]]:
    """Train ``model`` in place; return a CPU copy with the best validated weights, and stats.

    ``on_best(cpu_copy, entry)`` is called whenever a scoring beats every earlier one (save a
    checkpoint there).
    """
    set_cpu_threads(settings.threads)
    device = resolve_device(settings.device)
    distributed.setup(device)
    seed = distributed.shard_seed(settings.seed)
    seed_everything(seed)
    log = distributed.main_only(log)
    on_best = on_best if distributed.is_main() else None
    model.to(device).train()
    step_loss = distributed.loss_step(model, loss_fn, device)
    ema = Ema(model, settings.ema_decay)
    opt = torch.optim.AdamW(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay, betas=(0.9, 0.98)
    )
    valid_t = tuple(torch.from_numpy(a) for a in valid)
    scorer = _Scorer(model, ema, loss_fn, valid_t, device, on_best, log)
    log(f"params {count_params(model):,} on {device}  settings {asdict(settings)}")
    batches = batch_stream(make_batch, replace(settings, seed=seed))
    start = time.monotonic()
    last_eval = 0.0
    step, losses = 0, []
    while not settings.done(step, elapsed := distributed.agreed_seconds(time.monotonic() - start)):
        _set_lr(opt, settings, step, elapsed)
        with maybe_bf16(settings.bf16, device):
            loss, _ = step_loss(to_device(next(batches), device))
        optimizer_step(opt, model, loss)
        ema.update(model)
        step += 1
        if step % settings.log_every == 0:
            losses.append(float(loss.detach()))
            log(f"step {step} t={elapsed / 60:.1f}min loss {losses[-1]:.4f}")
        now = distributed.agreed_seconds(time.monotonic() - start)
        if now - last_eval >= settings.eval_every_s:
            scorer.score(step, now)
            last_eval = distributed.agreed_seconds(time.monotonic() - start)
    elapsed = time.monotonic() - start
    if not scorer.history or scorer.history[-1]["step"] != step:
        scorer.score(step, elapsed)
    stats = _stats(model, scorer, settings, device, step, elapsed, losses)
    log(f"final {stats}")
    return scorer.best_copy(), stats


def _set_lr(opt: torch.optim.Optimizer, settings: LoopSettings, step: int, elapsed: float) -> None:
    progress = settings.progress(step, elapsed)
    factor = warmup_cosine(step, progress, settings.warmup_steps, settings.lr_floor)
    for group in opt.param_groups:
        group["lr"] = settings.lr * factor


def _stats(
    model: nn.Module,
    scorer: _Scorer,
    settings: LoopSettings,
    device: torch.device,
    step: int,
    elapsed: float,
    losses: list[float],
) -> dict[str, object]:
    """What the checkpoints and model cards record of a run."""
    best = scorer.best
    return {
        "steps": step,
        "train_minutes": round(elapsed / 60.0, 2),
        "windows_seen": step * settings.batch,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "first_loss": round(losses[0], 4) if losses else None,
        "last_loss": round(losses[-1], 4) if losses else None,
        "valid_masked_loss": round(best.loss, 4),
        "valid_masked_accuracy": round(best.accuracy, 4),
        "weights": best.weights,
        "best_step": best.step,
        "params": count_params(model),
        "settings": asdict(settings),
        "history": scorer.history,
    }
