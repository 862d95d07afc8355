"""A helper the engine tests share: a generation run with a model's own transformer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.jobs import GenerateRequest, run_generation
from engine.models import ModelManifest
from engine.runtime import load_transformer
from engine.sampling.types import Step, TokenArray


def generate_with_manifest(
    request: GenerateRequest,
    manifest: ModelManifest,
    on_step: Callable[[Step], None] = lambda _step: None,
) -> tuple[list[Any], TokenArray]:
    """:func:`engine.jobs.run_generation` with ``manifest``'s transformer, never stopped."""
    return run_generation(
        request,
        load_transformer(manifest).logits_fn(),
        manifest.mask_id,
        on_step=on_step,
        should_stop=lambda: False,
    )
