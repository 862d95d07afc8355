"""A validated model manifest and the error a bad one raises (read by :mod:`engine.models`).

Kept apart from the reading and the registry so that modules which only need
the type (the runtime, the media registry's codec factories) do not import
:mod:`engine.models`, which imports them: no import cycle.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.sampling.types import SamplerSettings

__all__ = ["SCHEMA_VERSION", "ModelError", "ModelManifest"]

SCHEMA_VERSION = 1


class ModelError(Exception):
    """A model folder that cannot be used; ``str()`` is one line: ``<file>: <problem>``."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = " ".join(problem.split())
        super().__init__(f"{path}: {self.problem}")


@dataclass(frozen=True)
class ModelManifest:
    """A validated manifest. ``files`` maps a role (transformer, encoder, ...) to a file."""

    name: str
    medium: str
    description: str
    folder: Path
    files: dict[str, str] = field(hash=False)
    vocab_size: int
    mask_id: int
    shape: tuple[int, ...]
    tokens_input: str
    logits_output: str
    condition_input: str | None
    sampling: SamplerSettings
    medium_facts: dict[str, Any] = field(hash=False)
    license: str
    data: str
    size_bytes: int
    schema_version: int = SCHEMA_VERSION
    side_inputs: tuple[str, ...] = ()  # float graph inputs the medium's codec fills per window

    def path(self, role: str) -> Path:
        """The file playing ``role``; KeyError names the roles this model has."""
        if role not in self.files:
            raise KeyError(
                f"model {self.name!r} has no {role!r} file (has: {', '.join(self.files)})"
            )
        return self.folder / self.files[role]

    @property
    def length(self) -> int:
        """N, the number of tokens in one sequence (product of ``shape``)."""
        return math.prod(self.shape)

    def default_settings(self, **overrides: Any) -> SamplerSettings:
        """The manifest's sampling defaults with some fields replaced (unknown names raise)."""
        unknown = sorted(set(overrides) - _SAMPLER_FIELDS)
        if unknown:
            raise TypeError(f"unknown sampler setting(s): {', '.join(unknown)}")
        return dataclasses.replace(self.sampling, **overrides)


_SAMPLER_FIELDS = frozenset(f.name for f in dataclasses.fields(SamplerSettings))
