"""A validated model manifest and the error a bad one raises (read by :mod:`engine.models`).

Kept apart from the reading and the registry so that modules which only need
the type (the runtime, the media registry's codec factories, each medium's
model check) do not import :mod:`engine.models`, which imports them: no import
cycle. :class:`GraphInfo` keeps each ONNX graph's inputs and outputs as read
when the model was found, so a medium can check them (:func:`check_tensor`)
without opening the graph again.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.sampling.types import SamplerSettings

__all__ = [
    "FLOAT_TENSORS",
    "INT_TENSORS",
    "SCHEMA_VERSION",
    "GraphInfo",
    "ModelError",
    "ModelManifest",
    "TensorInfo",
    "check_tensor",
]

SCHEMA_VERSION = 1
FLOAT_TENSORS = ("tensor(float)", "tensor(float16)", "tensor(double)")
INT_TENSORS = ("tensor(int64)", "tensor(int32)")

Dim = int | str | None
"""One dimension of a graph tensor: a size, a symbolic name (``"batch"``), or unknown."""


class ModelError(Exception):
    """A model folder that cannot be used; ``str()`` is one line: ``<file>: <problem>``."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = " ".join(problem.split())
        super().__init__(f"{path}: {self.problem}")


@dataclass(frozen=True)
class TensorInfo:
    """One input or output of an ONNX graph: name, element type (``"tensor(float)"``), shape."""

    name: str
    type: str
    shape: tuple[Dim, ...]


@dataclass(frozen=True)
class GraphInfo:
    """The inputs and outputs of one ONNX graph, in graph order."""

    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]

    def input(self, name: str) -> TensorInfo | None:
        return next((node for node in self.inputs if node.name == name), None)


def check_tensor(
    where: str, node: TensorInfo | None, types: Sequence[str], dims: Sequence[int | None]
) -> None:
    """Raise ValueError unless ``node`` exists, has one of ``types`` and ``len(dims)`` dimensions,
    and every fixed size in ``dims`` (None = any) matches a fixed size of the graph.

    ``where`` names the tensor in the message (``"encoder input 'features'"``).
    """
    wanted = "/".join(t.removeprefix("tensor(").rstrip(")") for t in types)
    layout = ", ".join("?" if d is None else str(d) for d in dims)
    if node is None:
        raise ValueError(f"{where} is missing (expected {wanted} [{layout}])")
    if node.type not in types or len(node.shape) != len(dims):
        raise ValueError(
            f"{where} is {node.type} of rank {len(node.shape)}, expected {wanted} [{layout}]"
        )
    for axis, (want, have) in enumerate(zip(dims, node.shape, strict=True)):
        if want is not None and isinstance(have, int) and have != want:
            raise ValueError(f"{where} has size {have} on axis {axis}, expected {want}")


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
    graphs: Mapping[str, GraphInfo] = field(default_factory=dict, hash=False, compare=False)
    """Each ONNX file's inputs and outputs by role, as read when the model was found."""

    def path(self, role: str) -> Path:
        """The file playing ``role``; KeyError names the roles this model has."""
        if role not in self.files:
            raise KeyError(
                f"model {self.name!r} has no {role!r} file (has: {', '.join(self.files)})"
            )
        return self.folder / self.files[role]

    def graph(self, role: str) -> GraphInfo:
        """The ONNX graph playing ``role``; ValueError when the model has none."""
        if role not in self.graphs:
            raise ValueError(f"files.{role} must name an ONNX graph (.onnx)")
        return self.graphs[role]

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
