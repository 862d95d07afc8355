"""``remask-train``: one subcommand per trainer (train + evaluate + export in one go).

    remask-train chorale --minutes 45 --out assets/models/chorale-satb
    remask-train image --tokenizer-minutes 13 --transformer-minutes 17
    remask-train all

The subcommands come from the media: every medium of :mod:`engine.media.registry` with an
``engine/train/<medium>/cli.py`` registers its own there (``register(subparsers)``, each
parser setting ``func``). torch is imported by the handlers only.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import shlex
import sys
from pathlib import Path
from types import ModuleType

from engine.media.registry import medium_keys

REPO_ROOT = Path(__file__).resolve().parents[2]


def _default_data() -> Path:
    return REPO_ROOT / ".." / "shared" / "data"


MOTION_STAGE_1 = "runs/motion-mmm/stage1"
MOTION_STAGE_2 = "runs/motion-mmm/stage2"
IMAGE_STAGE_1 = "runs/image-maskgit/stage1"
IMAGE_STAGE_2 = "runs/image-maskgit/stage2"
CHORALE_STAGE_1 = "runs/chorale-satb/stage1"
CHORALE_STAGE_2 = "runs/chorale-satb/stage2"
SHIPPED_RUNS: tuple[tuple[str, ...], ...] = (
    (
        "motion",
        *("--other-rigs", "--tokenizer-minutes", "10", "--transformer-minutes", "30"),
        *("--seed", "0", "--eval-gaps", "50"),
        *("--out", MOTION_STAGE_1, "--checkpoint-dir", f"{MOTION_STAGE_1}-ckpt"),
    ),
    (
        "motion",
        *("--other-rigs", "--context-input"),
        *("--tokenizer-init", f"{MOTION_STAGE_1}-ckpt/tokenizer.pt", "--transformer-minutes", "30"),
        *("--seed", "0", "--eval-gaps", "50"),
        *("--out", MOTION_STAGE_2, "--checkpoint-dir", f"{MOTION_STAGE_2}-ckpt"),
    ),
    (
        "motion",
        *("--other-rigs", "--context-input"),
        *("--tokenizer-init", f"{MOTION_STAGE_1}-ckpt/tokenizer.pt"),
        *("--transformer-init", f"{MOTION_STAGE_2}-ckpt/transformer.pt"),
        *("--transformer-minutes", "0", "--refine-minutes", "25"),
        *("--seed", "0", "--eval-gaps", "50"),
        *("--out", "assets/models/motion-mmm", "--checkpoint-dir", "runs/motion-mmm/stage3-ckpt"),
    ),
    (
        "image",
        *("--vq-minutes", "14.7", "--maskgit-minutes", "19.3"),
        *("--d-model", "160", "--layers", "4", "--heads", "5", "--seed", "0", "--eval-crops", "40"),
        *("--out", IMAGE_STAGE_1, "--checkpoint-dir", f"{IMAGE_STAGE_1}-ckpt"),
    ),
    (
        "image",
        *("--vq-init", f"{IMAGE_STAGE_1}-ckpt/vq_final.pt", "--vq-minutes", "0"),
        *("--context-input", "--maskgit-minutes", "19.3"),
        *("--d-model", "160", "--layers", "4", "--heads", "5", "--seed", "0", "--eval-crops", "40"),
        *("--out", IMAGE_STAGE_2, "--checkpoint-dir", f"{IMAGE_STAGE_2}-ckpt"),
    ),
    (
        "image",
        *("--vq-init", f"{IMAGE_STAGE_1}-ckpt/vq_final.pt", "--vq-minutes", "0"),
        *("--maskgit-init", f"{IMAGE_STAGE_2}-ckpt/maskgit_final.pt", "--maskgit-minutes", "0"),
        *("--context-input", "--refine-minutes", "25"),
        *("--d-model", "160", "--layers", "4", "--heads", "5", "--seed", "0", "--eval-crops", "40"),
        *(
            "--out",
            "assets/models/image-maskgit",
            "--checkpoint-dir",
            "runs/image-maskgit/stage3-ckpt",
        ),
    ),
    (
        "chorale",
        *("--d-model", "256", "--layers", "5", "--heads", "8", "--dropout", "0.2"),
        *("--batch", "128", "--lr", "1e-3", "--minutes", "5.5", "--workers", "1"),
        *("--device", "cuda", "--eval-every", "30", "--seed", "0"),
        *("--eval-orderings", "2", "--eval-group", "1"),
        *("--out", CHORALE_STAGE_1, "--checkpoint-dir", f"{CHORALE_STAGE_1}-ckpt"),
    ),
    (
        "chorale",
        *("--init", f"{CHORALE_STAGE_1}-ckpt/final.pt"),
        *("--batch", "128", "--lr", "5e-4", "--minutes", "3.3", "--workers", "2"),
        *("--device", "cuda", "--eval-every", "30", "--seed", "1"),
        *("--eval-orderings", "2", "--eval-group", "1"),
        *("--out", CHORALE_STAGE_2, "--checkpoint-dir", f"{CHORALE_STAGE_2}-ckpt"),
    ),
    (
        "chorale",
        *("--init", f"{CHORALE_STAGE_2}-ckpt/final.pt"),
        *("--batch", "128", "--lr", "4e-4", "--minutes", "5.5", "--workers", "3"),
        *("--device", "cuda", "--eval-every", "30", "--seed", "2"),
        *("--eval-orderings", "2", "--eval-group", "1", "--int8"),
        *("--out", "assets/models/chorale-satb", "--checkpoint-dir", "runs/chorale-satb/stage3"),
    ),
)
"""The commands that made each shipped model, in order (its MODEL_CARD.md quotes the same).

A model can take several: the image and motion models' second stages train a transformer on
the first stage's tokenizer, and the chorale model trained on a lent GPU in three stages, each
starting from the weights of the one before (``--device cuda`` runs need a CUDA GPU, so they
come last: on a CPU machine the others are made and ``all`` stops there with one line). Run
them one after another, never side by side: two runs on 2 cores halve each other's steps.
"""


def run_all(args: argparse.Namespace) -> int:
    """Train, evaluate and export every shipped model in turn; stop at the first failure."""
    for run in SHIPPED_RUNS:
        command = [*run, "--data", str(args.data)]
        print("remask-train " + shlex.join(command), flush=True)
        status = main(command)
        if status != 0:
            return status
    return 0


def register_all(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("all", help="train every shipped model with the settings it shipped with")
    p.add_argument("--data", type=Path, default=_default_data())
    p.set_defaults(func=run_all)


def trainer_modules() -> list[ModuleType]:
    """``engine.train.<medium>.cli`` of every medium that has a trainer, in registry order.

    Each registers its own subcommands with ``register(subparsers)``; a medium without a
    trainer package (a toy medium registered by a test) adds none.
    """
    names = (f"engine.train.{key}.cli" for key in medium_keys())
    return [importlib.import_module(name) for name in names if _exists(name)]


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # engine.train.<key> itself is missing
        return False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="remask-train", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for module in trainer_modules():
        module.register(sub)
    register_all(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.command = "remask-train " + shlex.join(argv)  # what model cards quote
    if getattr(args, "device", "cpu") != "cpu":  # fail before loading data, not after
        from engine.train.loop import DeviceUnavailableError, resolve_device

        try:
            resolve_device(args.device)
        except DeviceUnavailableError as exc:
            print(f"remask-train: {exc}", file=sys.stderr)
            return 2
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
