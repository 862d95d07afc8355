"""The toy medium's batch verb: ``remask tokens-fill GRID.npy --mask MASK.npy -o OUT.npy``.

Regenerates the cells where the mask is True, as ``remask inpaint`` does for
pictures, with the same common arguments and error conventions
(:mod:`app.cli_common`). Registered by :mod:`tests.toy_medium.app_spec`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from app.cli import CliError, Command
from app.cli_common import (
    add_common_arguments,
    checked_outputs,
    choose_model,
    report_progress,
    sampler_overrides,
)
from engine.jobs import GenerateRequest, run_model_windows
from engine.runtime import load_transformer
from engine.undo import full_bbox
from tests.toy_medium import spec

PREFERRED_MODEL = "tiny"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("grid", type=Path, metavar="GRID.npy", help="a 2-D integer grid")
    parser.add_argument("--mask", type=Path, required=True, metavar="MASK.npy", help="True = fill")
    add_common_arguments(parser, "npy", PREFERRED_MODEL)


def run_fill(args: argparse.Namespace) -> int:
    """Open the grid through the medium's spec, fill it with its codec, write K grids."""
    paths = checked_outputs(args.output, args.variations, ".npy", [args.grid, args.mask])
    document = spec.open_document(args.grid)
    mask = np.load(args.mask, allow_pickle=False)
    if mask.shape != document.shape:
        raise CliError(f"{args.mask.name}: mask {mask.shape} and grid {document.shape} differ")
    document.set_mask(full_bbox(document.shape), mask.astype(bool))
    manifest = choose_model(args.model, spec.SPEC.key, PREFERRED_MODEL)
    settings = manifest.default_settings(**sampler_overrides(args))
    request = GenerateRequest(0, manifest.name, settings, document.snapshot(), spec.codec(manifest))
    variations, _tokens = run_model_windows(
        request, load_transformer(manifest), manifest.mask_id, report_progress, lambda: False
    )
    for grid, path in zip(variations, paths, strict=True):
        np.save(path, grid)
        print(path)
    return 0


COMMANDS = (
    Command("tokens-fill", "regenerate the masked cells of a token grid", add_arguments, run_fill),
)
