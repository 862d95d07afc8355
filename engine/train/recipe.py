"""One training recipe for the tokenizer + transformer media (image, motion).

Both are made the same way: train a tokenizer (or reuse one), tokenize the training data,
train a masked transformer on the tokens (or reuse one), optionally fine-tune the decoder
on the transformer's own samples, then export, evaluate and write the model card. This
module is that sequence, once; each medium's :class:`Recipe` supplies the steps that differ
(its data, models, files and card). The same flags name the same stages in every medium.

The driver runs unchanged under ``torchrun --nproc_per_node N``: every rank trains (see
:mod:`engine.train.distributed`), rank 0 alone exports, evaluates and writes the card.

A stage given a checkpoint (``--tokenizer-init``, ``--transformer-init``) reuses it as it is,
unless a budget is also given (``--tokenizer-minutes 5``): then training goes on from it.
Without a checkpoint a stage trains for the medium's default budget. torch is imported by the
recipes' steps only, so building the parsers stays cheap.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from engine.train.cli_args import (
    add_device_arguments,
    add_refine_arguments,
    budget_changes,
    wants_refine,
)

STAGES = ("tokenizer", "transformer")
MEDIUM_ALIASES = {"tokenizer": "vq", "transformer": "maskgit"}
"""The image trainer's first flag names (``--vq-minutes``, ``--maskgit-init``): hidden aliases,
so the commands its model card quotes still run."""


@dataclass(frozen=True)
class StageDefaults:
    """A medium's default budget and batch per stage."""

    tokenizer_minutes: float
    transformer_minutes: float
    tokenizer_batch: int
    transformer_batch: int


@dataclass
class TrainedRun:
    """What the stages hand to the export: models, their statistics, the wall-clock start."""

    tokenizer: Any
    transformer: Any
    tokenizer_stats: dict[str, object]
    transformer_stats: dict[str, object]
    refine_stats: dict[str, object] | None
    started: float


class Recipe(Protocol):
    """The medium-specific steps; ``prepare`` loads the data the others share (on self)."""

    def prepare(self, args: argparse.Namespace) -> None: ...

    def load_tokenizer(self, path: Path) -> tuple[Any, dict[str, object]]: ...

    def train_tokenizer(
        self, args: argparse.Namespace, init: Any | None
    ) -> tuple[Any, dict[str, object]]: ...

    def tokenize(self, args: argparse.Namespace, tokenizer: Any) -> None: ...

    def load_transformer(self, path: Path) -> tuple[Any, dict[str, object]]: ...

    def train_transformer(
        self, args: argparse.Namespace, tokenizer: Any, init: Any | None
    ) -> tuple[Any, dict[str, object]]: ...

    def refine(
        self, args: argparse.Namespace, tokenizer: Any, transformer: Any
    ) -> tuple[Any, dict[str, object]]: ...

    def publish(self, args: argparse.Namespace, run: TrainedRun) -> None: ...


def add_recipe_arguments(
    parser: argparse.ArgumentParser,
    defaults: StageDefaults,
    *,
    out: Path,
    checkpoint_dir: Path,
    data_help: str,
    aliases: bool = False,
) -> None:
    """The flags every recipe takes, named per stage; ``aliases`` adds the hidden old names."""
    parser.add_argument("--data", type=Path, default=default_data(), help=data_help)
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--checkpoint-dir", type=Path, default=checkpoint_dir)
    parser.add_argument("--seed", type=int, default=0)
    for stage in STAGES:
        _add_stage_arguments(parser, stage, defaults, aliases)
    parser.add_argument("--d-model", type=int, default=192)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=6)
    parser.add_argument("--codes", type=int, default=512)
    parser.add_argument("--tiny", action="store_true", help="tiny architecture (tests, smoke runs)")
    parser.add_argument("--no-eval", action="store_true", help="export and card, no evaluation")
    add_refine_arguments(parser, "engine.train.refine")
    parser.add_argument("--no-bf16", action="store_true", help="train in fp32")
    add_device_arguments(parser)


def _add_stage_arguments(
    parser: argparse.ArgumentParser, stage: str, defaults: StageDefaults, aliases: bool
) -> None:
    minutes = getattr(defaults, f"{stage}_minutes")
    flags: dict[str, dict[str, Any]] = {
        "minutes": dict(
            type=float,
            default=None,
            help=f"training budget (default {minutes:g}; with --{stage}-init only a given one "
            "trains on from it)",
        ),
        "max-steps": dict(type=int, default=0, help="stop after N steps (0 = time)"),
        "init": dict(type=Path, help=f"{stage} checkpoint (.pt) to reuse or go on training"),
        "batch": dict(type=int, default=getattr(defaults, f"{stage}_batch")),
    }
    for suffix, options in flags.items():
        parser.add_argument(f"--{stage}-{suffix}", **options)
        if aliases:
            dest = f"{stage}_{suffix.replace('-', '_')}"
            old = f"--{MEDIUM_ALIASES[stage]}-{suffix}"
            hidden = {"type": options["type"], "default": argparse.SUPPRESS}
            parser.add_argument(old, dest=dest, help=argparse.SUPPRESS, **hidden)


def default_data() -> Path:
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def stage_budget(args: argparse.Namespace, stage: str) -> dict[str, object]:
    """``LoopSettings`` fields from one stage's budget flags (``--transformer-minutes``, ...)."""
    return budget_changes(
        args,
        minutes=getattr(args, f"{stage}_minutes"),
        max_steps=getattr(args, f"{stage}_max_steps"),
        batch=getattr(args, f"{stage}_batch"),
    )


def trains(args: argparse.Namespace, stage: str, defaults: StageDefaults) -> bool:
    """Whether ``stage`` trains (else its checkpoint is used as is); fills in its budget."""
    minutes = getattr(args, f"{stage}_minutes")
    given = minutes is not None and minutes > 0 or getattr(args, f"{stage}_max_steps") > 0
    if minutes is None:
        setattr(args, f"{stage}_minutes", getattr(defaults, f"{stage}_minutes"))
    return getattr(args, f"{stage}_init") is None or given


def run(recipe: Recipe, defaults: StageDefaults, args: argparse.Namespace) -> int:
    """Train, export, evaluate and card one model: every rank trains, rank 0 publishes."""
    from engine.train import distributed
    from engine.train.loop import resolve_device

    distributed.setup(resolve_device(args.device))  # the run's device picks the backends
    started = time.monotonic()
    recipe.prepare(args)
    tokenizer, tokenizer_stats = _stage(
        args,
        "tokenizer",
        defaults,
        recipe.load_tokenizer,
        lambda init: recipe.train_tokenizer(args, init),
    )
    recipe.tokenize(args, tokenizer)
    transformer, transformer_stats = _stage(
        args,
        "transformer",
        defaults,
        recipe.load_transformer,
        lambda init: recipe.train_transformer(args, tokenizer, init),
    )
    refine_stats = None
    if wants_refine(args):
        tokenizer, refine_stats = recipe.refine(args, tokenizer, transformer)
    if distributed.is_main():
        trained = TrainedRun(
            tokenizer, transformer, tokenizer_stats, transformer_stats, refine_stats, started
        )
        recipe.publish(args, trained)
    distributed.finish()
    return 0


def _stage(
    args: argparse.Namespace,
    stage: str,
    defaults: StageDefaults,
    load: Any,
    train: Any,
) -> tuple[Any, dict[str, object]]:
    """Reuse ``--<stage>-init`` as it is, or train (from it, when given)."""
    path = getattr(args, f"{stage}_init")
    init, stats = load(path) if path is not None else (None, {})
    if trains(args, stage, defaults):
        return train(init)  # type: ignore[no-any-return]
    return init, stats
