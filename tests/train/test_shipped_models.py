"""Every shipped model still loads, and torch still rebuilds it from its own ONNX file.

This guards the committed binaries against code changes: an architecture edit that no longer
matches a manifest, or an export format the reloader cannot read, fails here, not in a user's
`make bench` or a later training run.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine.models import ModelRegistry, default_model_dirs  # noqa: E402
from engine.runtime import load_transformer  # noqa: E402
from engine.train import bench  # noqa: E402
from engine.train.common import is_int8  # noqa: E402

SHIPPED = ModelRegistry.discover(default_model_dirs()[:1])


@pytest.fixture(autouse=True)
def _two_threads() -> None:
    torch.set_num_threads(2)


@pytest.mark.parametrize("name", sorted(SHIPPED.models))
def test_torch_rebuilds_the_shipped_onnx(name: str) -> None:
    manifest = SHIPPED.get(name)
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, manifest.vocab_size, (1, manifest.length)).astype(np.int64)
    tokens[0, rng.random(manifest.length) < 0.5] = manifest.mask_id
    side = {  # a model that reads kept frames gets random ones, to compare their use too
        name: rng.random(zeros.shape).astype(np.float32)
        for name, zeros in load_transformer(manifest).blank_side_inputs().items()
    }
    onnx_logits = load_transformer(manifest).logits_fn(None, side or None)(tokens)
    torch_module = bench.load_torch(manifest)
    torch_logits = bench.torch_logits_fn(torch_module, side_inputs=list(side.values()))(tokens)
    assert onnx_logits.shape == (1, manifest.length, manifest.vocab_size)
    bench.check_same_weights(onnx_logits, torch_logits, is_int8(manifest.path("transformer")))


def test_the_three_media_are_shipped_and_none_is_broken() -> None:
    assert SHIPPED.errors == []
    assert {m.medium for m in SHIPPED.models.values()} == {"image", "midi", "motion"}
