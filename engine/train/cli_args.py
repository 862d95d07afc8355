"""Command-line flags shared by the ``remask-train`` trainers (argparse only, no torch).

The parsers are built before any handler runs, so ``remask-train --help`` starts without
importing torch.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Protocol, TypeVar


class _Batched(Protocol):
    batch: int


SettingsT = TypeVar("SettingsT", bound=_Batched)


def add_transformer_arguments(
    parser: argparse.ArgumentParser,
    *,
    minutes: float,
    batch: int,
    lr: float,
    d_model: int,
    layers: int,
    heads: int,
    dropout: float,
) -> None:
    """The size and training-loop flags every transformer trainer takes (defaults its own)."""
    parser.add_argument("--minutes", type=float, default=minutes, help="training budget")
    parser.add_argument("--max-steps", type=int, default=0, help="stop after N steps (0 = time)")
    parser.add_argument("--batch", type=int, default=batch)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--d-model", type=int, default=d_model)
    parser.add_argument("--layers", type=int, default=layers)
    parser.add_argument("--heads", type=int, default=heads)
    parser.add_argument("--dropout", type=float, default=dropout)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-bf16", action="store_true", help="train in fp32")
    add_device_arguments(parser)


def loop_changes(args: argparse.Namespace) -> dict[str, object]:
    """``LoopSettings`` fields from ``add_transformer_arguments`` flags."""
    changes = budget_changes(args, minutes=args.minutes, max_steps=args.max_steps, batch=args.batch)
    return {**changes, "lr": args.lr}


def budget_changes(
    args: argparse.Namespace, *, minutes: float, max_steps: int, batch: int
) -> dict[str, object]:
    """``LoopSettings`` fields for a trainer whose budget flags are its own
    (``--maskgit-minutes``, ``--transformer-batch``); seed, precision and device are shared."""
    return {
        "minutes": minutes,
        "max_steps": max_steps,
        "batch": batch,
        "seed": args.seed,
        "bf16": not args.no_bf16,
        **device_settings(args),
    }


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    """``--device``, ``--workers`` and ``--eval-every`` for a transformer trainer's parser."""
    parser.add_argument(
        "--device", default="cpu", help="cpu, cuda or auto (cuda when torch sees a GPU)"
    )
    parser.add_argument("--workers", type=int, default=0, help="batch-making processes")
    parser.add_argument(
        "--eval-every", type=float, default=0.0, help="seconds between validations (0 = default)"
    )


def device_settings(args: argparse.Namespace) -> dict[str, object]:
    """The ``LoopSettings`` fields set by ``add_device_arguments``."""
    settings: dict[str, object] = {"device": args.device, "workers": args.workers}
    if args.eval_every > 0:
        settings["eval_every_s"] = args.eval_every
    return settings


def add_refine_arguments(parser: argparse.ArgumentParser, module: str) -> None:
    """``--refine-minutes`` / ``--refine-max-steps``: fine-tune the decoder on sampled tokens."""
    parser.add_argument(
        "--refine-minutes",
        type=float,
        default=0.0,
        help=f"then fine-tune the decoder on the transformer's sampled tokens ({module})",
    )
    parser.add_argument("--refine-max-steps", type=int, default=0)


def wants_refine(args: argparse.Namespace) -> bool:
    return bool(args.refine_minutes > 0 or args.refine_max_steps)


def refine_settings(args: argparse.Namespace, defaults: SettingsT) -> SettingsT:
    """A decoder fine-tuning's ``LoopSettings``: its ``defaults`` with the refine flags."""
    budget = budget_changes(
        args, minutes=args.refine_minutes, max_steps=args.refine_max_steps, batch=defaults.batch
    )
    return replace(defaults, **budget)  # type: ignore[type-var]  # a LoopSettings dataclass
