"""engine.runtime on real tiny ONNX models: providers, the session cache, logits, GPU fallback."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]
import pytest

from engine import runtime
from engine.models import ModelManifest, load_manifest
from engine.providers import CPU_PROVIDER, CUDA_PROVIDER, TENSORRT_PROVIDER
from tests.tinymodels import write_tiny_model


@pytest.fixture(autouse=True)
def _fresh_runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(runtime.DEVICE_ENV, raising=False)
    runtime.clear_cache()
    yield
    runtime.clear_cache()


@pytest.fixture
def manifest(tmp_path: Path) -> ModelManifest:
    return load_manifest(write_tiny_model(tmp_path, vocab_size=12, shape=(4, 8)))


@pytest.fixture
def cond_manifest(tmp_path: Path) -> ModelManifest:
    return load_manifest(write_tiny_model(tmp_path, name="cond", with_condition=True))


def fake_gpu_machine(
    monkeypatch: pytest.MonkeyPatch, driver: bool = True, tensorrt: bool = True
) -> None:
    """Pretend onnxruntime offers GPU providers and chosen libraries load."""
    offered = [TENSORRT_PROVIDER, CUDA_PROVIDER, CPU_PROVIDER]
    monkeypatch.setattr(ort, "get_available_providers", lambda: offered)
    loads = {"libcuda.so.1": driver, "libnvinfer.so.10": tensorrt}
    monkeypatch.setattr(runtime, "_library_loads", lambda name: loads.get(name, False))


def masked(manifest: ModelManifest, batch: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    return np.full((batch, manifest.length), manifest.mask_id, dtype=np.int64)


# --------------------------------------------------------------------------- providers


def test_provider_here_is_cpu_when_the_driver_is_absent() -> None:
    providers = runtime.choose_providers()
    assert providers[-1] == CPU_PROVIDER
    if not runtime._library_loads("libcuda.so.1"):
        assert providers == [CPU_PROVIDER]


def test_no_driver_means_cpu_and_says_why(monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    fake_gpu_machine(monkeypatch, driver=False)
    with caplog.at_level(logging.INFO, logger="engine.runtime"):
        assert runtime.choose_providers() == [CPU_PROVIDER]
    assert "libcuda.so.1" in caplog.text


def test_gpu_providers_are_chosen_when_usable(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_gpu_machine(monkeypatch)
    assert runtime.choose_providers() == [TENSORRT_PROVIDER, CUDA_PROVIDER, CPU_PROVIDER]
    fake_gpu_machine(monkeypatch, tensorrt=False)
    assert runtime.choose_providers() == [CUDA_PROVIDER, CPU_PROVIDER]
    assert runtime.choose_providers(prefer_gpu=False) == [CPU_PROVIDER]


def test_remask_device_env_is_honoured(monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    fake_gpu_machine(monkeypatch)
    monkeypatch.setenv(runtime.DEVICE_ENV, "cuda")
    assert runtime.choose_providers() == [CUDA_PROVIDER, CPU_PROVIDER]
    monkeypatch.setenv(runtime.DEVICE_ENV, "CPU")
    with caplog.at_level(logging.INFO, logger="engine.runtime"):
        assert runtime.choose_providers() == [CPU_PROVIDER]
    assert "REMASK_DEVICE=cpu" in caplog.text


def test_tensorrt_caches_its_engines(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    specs = runtime._provider_specs([TENSORRT_PROVIDER, CUDA_PROVIDER, CPU_PROVIDER])
    assert specs[1:] == [CUDA_PROVIDER, CPU_PROVIDER]
    assert isinstance(specs[0], tuple)
    name, options = specs[0]
    assert name == TENSORRT_PROVIDER and options["trt_engine_cache_enable"] == "True"
    assert Path(options["trt_engine_cache_path"]) == tmp_path / "remask" / "tensorrt"


def test_session_options_do_not_spin() -> None:
    options = runtime.make_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.inter_op_num_threads == 1
    assert options.intra_op_num_threads == runtime._usable_cores() >= 1
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL


# --------------------------------------------------------------------------- session cache


def test_session_cache_reuses_and_rebuilds_after_a_change(
    tmp_path: Path, manifest: ModelManifest
) -> None:
    path = manifest.path("transformer")
    first = runtime.session_for(path)
    assert runtime.session_for(str(path)) is first
    tokens = masked(manifest, 1)
    before = runtime.load_transformer(manifest).logits(tokens)

    write_tiny_model(tmp_path, vocab_size=12, shape=(4, 8), seed=1)  # same file, new weights
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = runtime.session_for(path)
    assert second is not first
    after = runtime.load_transformer(manifest).logits(tokens)
    assert not np.allclose(before, after)


def test_load_transformer_is_cached(manifest: ModelManifest) -> None:
    transformer = runtime.load_transformer(manifest)
    assert runtime.load_transformer(manifest) is transformer
    assert transformer.provider == CPU_PROVIDER or runtime._library_loads("libcuda.so.1")


# --------------------------------------------------------------------------- logits


def test_logits_shape_dtype_and_batch_independence(manifest: ModelManifest) -> None:
    transformer = runtime.load_transformer(manifest)
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, manifest.mask_id + 1, (3, manifest.length)).astype(np.int64)
    logits = transformer.logits(tokens)
    assert logits.shape == (3, manifest.length, manifest.vocab_size)
    assert logits.dtype == np.float32
    alone = transformer.logits(tokens[1:2])
    np.testing.assert_allclose(logits[1:2], alone, rtol=1e-5, atol=1e-5)
    assert transformer.logits_fn()(tokens).shape == logits.shape


def test_condition_changes_logits(cond_manifest: ModelManifest) -> None:
    transformer = runtime.load_transformer(cond_manifest)
    tokens = masked(cond_manifest, 2)
    uncond = transformer.logits_fn()(tokens)
    np.testing.assert_array_equal(uncond, transformer.logits_fn(0)(tokens))
    np.testing.assert_array_equal(uncond, transformer.logits(tokens))  # None = class 0
    cond = transformer.logits_fn(2)(tokens)
    assert cond.shape == uncond.shape
    assert not np.allclose(cond, uncond)
    rows = transformer.logits(tokens, np.array([0, 2], dtype=np.int64))
    np.testing.assert_allclose(rows[1], cond[1], rtol=1e-6)


def test_side_inputs_are_fed_to_every_row(tmp_path: Path) -> None:
    folder = write_tiny_model(tmp_path, name="side", side_inputs={"known": (8, 2)})
    side_manifest = load_manifest(folder)
    assert side_manifest.side_inputs == ("known",)
    transformer = runtime.load_transformer(side_manifest)
    tokens = masked(side_manifest, 3)
    nothing = transformer.logits_fn(None, {"known": np.zeros((8, 2), np.float32)})(tokens)
    everything = transformer.logits_fn(None, {"known": np.ones((8, 2), np.float32)})(tokens)
    assert nothing.shape == (3, side_manifest.length, side_manifest.vocab_size)
    assert not np.allclose(nothing, everything)
    np.testing.assert_allclose(everything[0], everything[2], rtol=1e-6)  # same window per row


def test_side_inputs_must_be_exactly_the_declared_ones(
    tmp_path: Path, manifest: ModelManifest
) -> None:
    side_manifest = load_manifest(
        write_tiny_model(tmp_path, name="side", side_inputs={"known": (8, 2)})
    )
    with pytest.raises(ValueError, match=r"missing \['known'\]"):
        runtime.load_transformer(side_manifest).logits_fn()
    with pytest.raises(ValueError, match=r"not read \['known'\]"):
        runtime.load_transformer(manifest).logits_fn(None, {"known": np.zeros((8, 2), np.float32)})


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (np.zeros(32, dtype=np.int64), r"\[B, N\]"),
        (np.zeros((1, 31), dtype=np.int64), "N = 32"),
        (np.zeros((1, 32), dtype=np.float32), "integers"),
        (np.full((1, 32), 13, dtype=np.int64), r"\[0, 12\]"),
        (np.full((1, 32), -1, dtype=np.int64), r"\[0, 12\]"),
    ],
)
def test_bad_tokens_get_clear_errors(manifest: ModelManifest, tokens: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        runtime.load_transformer(manifest).logits(tokens)


def test_bad_conditions_get_clear_errors(
    manifest: ModelManifest, cond_manifest: ModelManifest
) -> None:
    with pytest.raises(ValueError, match="takes no condition"):
        runtime.load_transformer(manifest).logits_fn(1)
    with pytest.raises(ValueError, match="takes no condition"):
        runtime.load_transformer(manifest).logits(masked(manifest, 1), np.zeros(1, dtype=np.int64))
    with pytest.raises(ValueError, match=r"condition must be integer \[B=2\]"):
        runtime.load_transformer(cond_manifest).logits(
            masked(cond_manifest, 2), np.zeros(3, np.int64)
        )


def test_warm_up_runs(manifest: ModelManifest, tmp_path: Path) -> None:
    runtime.load_transformer(manifest).warm_up()
    side = write_tiny_model(tmp_path, name="side", side_inputs={"known": (8, 2)})
    runtime.load_transformer(load_manifest(side)).warm_up()  # blank side inputs


# --------------------------------------------------------------------------- GPU fallback


def test_gpu_session_failure_falls_back_to_cpu(
    monkeypatch: pytest.MonkeyPatch, caplog: Any, manifest: ModelManifest
) -> None:
    monkeypatch.setattr(
        runtime, "choose_providers", lambda prefer_gpu=True: [CUDA_PROVIDER, CPU_PROVIDER]
    )
    real_create = runtime._create_session

    def create(path: Path, providers: list[str]) -> Any:
        if providers[0] != CPU_PROVIDER:
            raise RuntimeError("CUDA failure 100: no CUDA-capable device is detected\nmore detail")
        return real_create(path, providers)

    monkeypatch.setattr(runtime, "_create_session", create)
    with caplog.at_level(logging.WARNING, logger="engine.runtime"):
        transformer = runtime.load_transformer(manifest)
    assert transformer.provider == CPU_PROVIDER
    assert "no CUDA-capable device" in caplog.text and "using CPU" in caplog.text
    assert transformer.logits(masked(manifest, 1)).shape == (1, 32, 12)


class _FailingGpuSession:
    """Looks like a CUDA session whose every run fails (e.g. out of GPU memory)."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def get_providers(self) -> list[str]:
        return [CUDA_PROVIDER, CPU_PROVIDER]

    def get_inputs(self) -> Any:
        return self._real.get_inputs()

    def run(self, *args: Any) -> Any:
        raise RuntimeError("CUDA error: out of memory")


def test_gpu_run_failure_retries_on_cpu_and_stays_there(
    caplog: Any, manifest: ModelManifest
) -> None:
    path = manifest.path("transformer")
    transformer = runtime.Transformer(manifest, _FailingGpuSession(runtime.session_for(path)))
    assert transformer.provider == CUDA_PROVIDER
    with caplog.at_level(logging.WARNING, logger="engine.runtime"):
        logits = transformer.logits(masked(manifest, 2))
    assert logits.shape == (2, 32, 12)
    assert transformer.provider == CPU_PROVIDER
    assert "out of memory" in caplog.text and "retrying on CPU" in caplog.text
    assert runtime.session_for(path).get_providers()[0] == CPU_PROVIDER


def test_cpu_run_errors_are_not_swallowed(manifest: ModelManifest) -> None:
    class Broken(_FailingGpuSession):
        def get_providers(self) -> list[str]:
            return [CPU_PROVIDER]

    transformer = runtime.Transformer(
        manifest, Broken(runtime.session_for(manifest.path("transformer")))
    )
    with pytest.raises(RuntimeError, match="out of memory"):
        transformer.logits(masked(manifest, 1))
