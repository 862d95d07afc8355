"""Data-parallel training across processes, so a driver runs unchanged under ``torchrun``.

``torchrun --nproc_per_node N remask-train ...`` starts N copies of the same command and sets
``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK`` and the rendezvous address. Each copy draws its own
batches (its own seed: a shard of the endless stream of random windows), gradients are
averaged by ``DistributedDataParallel`` (gloo on the CPU, NCCL on GPUs), so every copy holds
the same weights after every step. Rank 0 alone logs and writes checkpoints, exports and cards.

A plain run sets no ``WORLD_SIZE``: nothing is initialised and every function here is the
identity, so a single process trains, seeds and stops exactly as it did before.

Time budgets are the one thing copies must agree on explicitly: each reads its own clock, and
a copy that stopped a step early would leave the others waiting in an all-reduce forever.
:func:`agreed_seconds` hands every copy rank 0's reading.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn

SEED_STRIDE = 1_000_003
"""Rank r trains with seed ``seed + r * SEED_STRIDE``: rank 0 keeps the single-process seed."""

T = TypeVar("T")
LossOf = Callable[[nn.Module, tuple[torch.Tensor, ...]], tuple[torch.Tensor, torch.Tensor]]


def requested_world_size() -> int:
    """The process count torchrun asked for (1 for a plain run)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def rank() -> int:
    """This process's rank; torchrun's ``RANK`` before the group is joined, 0 in a plain run."""
    return dist.get_rank() if active() else int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    """Whether this process writes files and logs (rank 0, or the only process)."""
    return rank() == 0


def setup(device: torch.device) -> None:
    """Join torchrun's process group once, when it started more than one process.

    gloo for CPU tensors, NCCL for CUDA ones; on CUDA each process takes the GPU its
    ``LOCAL_RANK`` names, so ``cuda`` means a different card in every copy. Call it with the
    run's device before the first stage: the first call picks the backends.
    """
    if requested_world_size() <= 1 or active():
        return
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    # The tokenizers train on the CPU, and the clock is a CPU tensor: gloo serves those on a
    # GPU run too, NCCL the CUDA tensors.
    dist.init_process_group(backend="cpu:gloo,cuda:nccl" if device.type == "cuda" else "gloo")


def finish() -> None:
    """Leave the process group (a no-op in a plain run)."""
    if active():
        dist.destroy_process_group()


def shard_seed(seed: int) -> int:
    """This process's seed: its own random batches and dropout, rank 0's equal to ``seed``."""
    return seed + rank() * SEED_STRIDE


def agreed_seconds(seconds: float) -> float:
    """Rank 0's elapsed time on every rank, so all stop, decay and validate at the same step."""
    if not active():
        return seconds
    value = torch.tensor([seconds], dtype=torch.float64)
    dist.broadcast(value, src=0)
    return float(value.item())


def main_only(log: Callable[[str], None]) -> Callable[[str], None]:
    """``log`` on rank 0; a no-op on the others (N copies would print every line N times)."""
    return log if is_main() else _silent


def _silent(_line: str) -> None:
    return None


class _LossModule(nn.Module):
    """``loss_fn(model, batch)`` as a module's forward.

    DistributedDataParallel averages gradients of the parameters its own ``forward`` used; a
    loss that reaches into submodules (a decoder fine-tuning calls ``tokenizer.decoder``) is
    only synchronised when the whole loss runs inside that forward.
    """

    def __init__(self, model: nn.Module, loss_fn: LossOf) -> None:
        super().__init__()
        self.model, self.loss_fn = model, loss_fn

    def forward(self, *batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.loss_fn(self.model, batch)


def loss_step(
    model: nn.Module, loss_fn: LossOf, device: torch.device
) -> Callable[[tuple[torch.Tensor, ...]], tuple[torch.Tensor, torch.Tensor]]:
    """``batch -> (loss, metric)`` whose backward averages gradients over all ranks.

    The parameters and buffers of rank 0 are copied to the others here, so all start alike.
    Buffers that a forward changes (an EMA codebook) follow rank 0: DistributedDataParallel
    copies them from rank 0 before every forward, and :func:`sync_buffers` once at the end.
    In a plain run this is ``loss_fn`` itself.
    """
    if not active():
        return lambda batch: loss_fn(model, batch)
    device_ids = [torch.cuda.current_device()] if device.type == "cuda" else None
    wrapped = nn.parallel.DistributedDataParallel(
        _LossModule(model, loss_fn), device_ids=device_ids
    )
    return lambda batch: wrapped(*batch)


def sync_buffers(model: nn.Module) -> None:
    """Copy rank 0's buffers to every rank (the last forward's EMA update stayed local)."""
    if not active():
        return
    for buffer in model.buffers():
        dist.broadcast(buffer, src=0)
