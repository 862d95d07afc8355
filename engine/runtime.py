"""onnxruntime sessions: provider choice, a per-file session cache, GPU→CPU fallback.

Everything that touches ``onnxruntime.InferenceSession`` lives here so the rest
of the engine sees only numpy arrays and a :data:`LogitsFn`.

Provider policy: a GPU provider is only requested when onnxruntime was built
with it *and* the CUDA driver library loads, because onnxruntime-gpu happily
lists CUDA on machines without a GPU and then fails (or silently falls back)
at session creation. Whatever happens, the provider actually in use is read
back from the session and reported, never assumed.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnxruntime as ort

from engine.paths import user_cache_dir
from engine.providers import CPU_PROVIDER, CUDA_PROVIDER, TENSORRT_PROVIDER
from engine.sampling.types import FloatArray, LogitsFn, SideInputs, TokenArray

if TYPE_CHECKING:
    from engine.manifest import ModelManifest

__all__ = [
    "CPU_PROVIDER",
    "DEVICE_ENV",
    "Transformer",
    "choose_providers",
    "clear_cache",
    "load_transformer",
    "make_session_options",
    "session_for",
]

_log = logging.getLogger(__name__)

DEVICE_ENV = "REMASK_DEVICE"
"""``cpu`` forces the CPU; ``cuda`` allows CUDA but not TensorRT; unset/``auto`` allows both."""

_CUDA_DRIVER = "libcuda.so.1"
_TENSORRT_LIBS = ("libnvinfer.so.10",)

ProviderSpec = str | tuple[str, dict[str, str]]


# --------------------------------------------------------------------------- providers


def _library_loads(name: str) -> bool:
    """True when the shared library can be dlopen'ed (the cheapest honest GPU probe)."""
    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


def _device_setting() -> str:
    return os.environ.get(DEVICE_ENV, "auto").strip().lower() or "auto"


def choose_providers(prefer_gpu: bool = True) -> list[str]:
    """Execution providers to request, best first; always ends with the CPU.

    TensorRT is used only when its library loads too (otherwise onnxruntime
    logs a failure per session), and not when ``REMASK_DEVICE=cuda``.
    """
    device = _device_setting()
    if not prefer_gpu or device == "cpu":
        _log.info(
            "GPU not used: %s", "caller asked for CPU" if not prefer_gpu else f"{DEVICE_ENV}=cpu"
        )
        return [CPU_PROVIDER]
    available = ort.get_available_providers()
    gpu = [p for p in (TENSORRT_PROVIDER, CUDA_PROVIDER) if p in available]
    if not gpu:
        _log.info("GPU not used: onnxruntime offers only %s", ", ".join(available))
        return [CPU_PROVIDER]
    if not _library_loads(_CUDA_DRIVER):
        _log.info("GPU not used: %s does not load (no NVIDIA driver or GPU)", _CUDA_DRIVER)
        return [CPU_PROVIDER]
    if TENSORRT_PROVIDER in gpu and (
        device == "cuda" or not any(map(_library_loads, _TENSORRT_LIBS))
    ):
        gpu.remove(TENSORRT_PROVIDER)
    return [*gpu, CPU_PROVIDER]


def _provider_specs(providers: Sequence[str]) -> list[ProviderSpec]:
    """Attach options: TensorRT caches its engines, since building one takes seconds per shape."""
    specs: list[ProviderSpec] = []
    for name in providers:
        if name == TENSORRT_PROVIDER:
            cache = user_cache_dir() / "tensorrt"
            cache.mkdir(parents=True, exist_ok=True)
            specs.append(
                (name, {"trt_engine_cache_enable": "True", "trt_engine_cache_path": str(cache)})
            )
        else:
            specs.append(name)
    return specs


@functools.cache
def _preload_cuda_libraries() -> None:
    """Let onnxruntime find CUDA/cuDNN from the ``nvidia-*`` wheels (the ``cuda`` extra).

    Done once per process. ``preload_dlls`` prints to stdout; that would
    corrupt CLI output, so it is captured and logged instead.
    """
    preload = getattr(ort, "preload_dlls", None)
    if preload is None:
        return
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):
            preload()
    except Exception as exc:  # noqa: BLE001 - a failed preload only means the system paths are used
        _log.debug("onnxruntime.preload_dlls failed: %s", exc)
    if captured.getvalue().strip():
        _log.debug("onnxruntime.preload_dlls: %s", captured.getvalue().strip())


# --------------------------------------------------------------------------- sessions


def _usable_cores() -> int:
    """Cores this process may run on (respects CPU affinity in containers)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def make_session_options() -> ort.SessionOptions:
    """Options for every remask session.

    Spinning is off: onnxruntime's default busy-waits its thread pool between
    runs, which pins every core at 100 % while the GUI sits idle between
    sampler steps.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = _usable_cores()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def _create_session(path: Path, providers: Sequence[str]) -> ort.InferenceSession:
    """Build one session; kept separate so tests can force a GPU failure."""
    if providers[0] != CPU_PROVIDER:
        _preload_cuda_libraries()
    return ort.InferenceSession(
        str(path), sess_options=make_session_options(), providers=_provider_specs(providers)
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _build_session(path: Path, providers: Sequence[str]) -> ort.InferenceSession:
    """Build a session, falling back to the CPU when a GPU session cannot be created."""
    try:
        session = _create_session(path, providers)
    except Exception as exc:
        if list(providers) == [CPU_PROVIDER]:
            raise
        _log.warning("GPU session for %s failed (%s); using CPU", path, _first_line(exc))
        return _create_session(path, [CPU_PROVIDER])
    actual = session.get_providers()[0]
    if actual != providers[0]:
        _log.warning("asked onnxruntime for %s for %s, got %s", providers[0], path, actual)
    return session


@dataclass(frozen=True)
class _Stamp:
    """Identifies one version of a file on disk."""

    mtime_ns: int
    size: int

    @staticmethod
    def of(path: Path) -> _Stamp:
        stat = path.stat()
        return _Stamp(stat.st_mtime_ns, stat.st_size)


_lock = threading.RLock()
_sessions: dict[tuple[Path, bool], tuple[_Stamp, ort.InferenceSession]] = {}
_gpu_broken: set[Path] = set()


def session_for(path: Path | str, prefer_gpu: bool = True) -> ort.InferenceSession:
    """The cached session for an ONNX file, rebuilt when the file changes on disk.

    Keyed by resolved path and (mtime, size); a file whose GPU run once failed
    gets CPU sessions from then on.
    """
    resolved = Path(path).resolve()
    stamp = _Stamp.of(resolved)
    with _lock:
        use_gpu = prefer_gpu and resolved not in _gpu_broken
        cached = _sessions.get((resolved, use_gpu))
        if cached is not None and cached[0] == stamp:
            return cached[1]
        session = _build_session(resolved, choose_providers(use_gpu))
        _sessions[(resolved, use_gpu)] = (stamp, session)
        return session


def _mark_gpu_broken(path: Path) -> None:
    with _lock:
        _gpu_broken.add(path.resolve())


def clear_cache() -> None:
    """Forget all sessions and GPU failures (tests; a settings change of device)."""
    with _lock:
        _sessions.clear()
        _gpu_broken.clear()
        _transformers.clear()


# --------------------------------------------------------------------------- transformer


class Transformer:
    """A manifest's masked transformer: int64 tokens [B, N] → float32 logits [B, N, V].

    Batch is dynamic, so B variations run in one call. If a GPU run raises, the
    run is retried on the CPU and the CPU is used for this file from then on.
    """

    def __init__(self, manifest: ModelManifest, session: ort.InferenceSession) -> None:
        self.manifest = manifest
        self._session = session
        self._graph_length = _static_length(session, manifest.tokens_input)

    @property
    def provider(self) -> str:
        """The execution provider actually running this model."""
        return str(self._session.get_providers()[0])

    @property
    def session(self) -> ort.InferenceSession:
        return self._session

    def logits(
        self,
        tokens: TokenArray,
        condition: np.ndarray[Any, Any] | None = None,
        side_inputs: SideInputs | None = None,
    ) -> FloatArray:
        """Run the model once.

        ``tokens`` is int64 [B, N] (mask id where unknown). ``condition`` is
        int64 [B] for a model with a condition input (None = all 0, the
        unconditional class by convention) and must be None otherwise.
        ``side_inputs`` are the manifest's ``io.side_inputs`` arrays of one window,
        without the batch axis (repeated for each row); exactly those, or None for a
        model that has none. Returns float32 [B, N, V].
        """
        self._check_side_inputs(side_inputs)
        return self._logits(tokens, condition, _per_row(side_inputs, np.shape(tokens)[0]))

    def _logits(
        self,
        tokens: TokenArray,
        condition: np.ndarray[Any, Any] | None,
        side_feeds: dict[str, FloatArray],
    ) -> FloatArray:
        token_grid = self._check_tokens(tokens)
        feeds: dict[str, np.ndarray[Any, Any]] = {self.manifest.tokens_input: token_grid}
        condition_name = self.manifest.condition_input
        if condition_name is not None:
            feeds[condition_name] = self._check_condition(condition, len(token_grid))
        elif condition is not None:
            raise ValueError(f"model {self.manifest.name!r} takes no condition input")
        feeds.update(side_feeds)
        (raw,) = self._run(feeds)
        return self._check_output(np.asarray(raw), token_grid.shape)

    def logits_fn(
        self, condition: int | None = None, side_inputs: SideInputs | None = None
    ) -> LogitsFn:
        """A sampler-ready closure; the scalar ``condition`` is repeated for each batch row.

        ``condition=None`` on a conditional model means class 0 (unconditional).
        ``side_inputs`` (one window's, see :meth:`logits`) are bound into the closure and
        repeated per row once per batch size, not at every sampler step.
        """
        if condition is not None and self.manifest.condition_input is None:
            raise ValueError(f"model {self.manifest.name!r} takes no condition, got {condition}")
        self._check_side_inputs(side_inputs)  # fail here, not at the first sampler step
        side_by_rows: dict[int, dict[str, FloatArray]] = {}

        def run(tokens: TokenArray) -> FloatArray:
            rows = np.shape(tokens)[0]
            classes = None if condition is None else np.full((rows,), condition, dtype=np.int64)
            if rows not in side_by_rows:
                side_by_rows[rows] = _per_row(side_inputs, rows)
            return self._logits(tokens, classes, side_by_rows[rows])

        return run

    def warm_up(self) -> None:
        """Run one all-mask batch so the first user-visible step is not slowed by lazy init."""
        length = self._graph_length or self.manifest.length
        tokens = np.full((1, length), self.manifest.mask_id, dtype=np.int64)
        self.logits(tokens, side_inputs=self.blank_side_inputs() or None)

    def blank_side_inputs(self) -> dict[str, FloatArray]:
        """Zeros of each side input's graph shape (batch axis left out): a window with
        nothing kept, for warm-up and timing."""
        shapes = {node.name: node.shape[1:] for node in self._session.get_inputs()}
        return {
            name: np.zeros([d if isinstance(d, int) else 1 for d in shapes[name]], np.float32)
            for name in self.manifest.side_inputs
        }

    # -- checks ----------------------------------------------------------------

    def _check_tokens(self, tokens: TokenArray) -> TokenArray:
        array = np.asarray(tokens)
        name = self.manifest.name
        if array.ndim != 2:
            raise ValueError(f"model {name!r}: tokens must be [B, N], got shape {array.shape}")
        if not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"model {name!r}: tokens must be integers, got {array.dtype}")
        if self._graph_length is not None and array.shape[1] != self._graph_length:
            raise ValueError(
                f"model {name!r}: expects N = {self._graph_length} tokens, got {array.shape[1]}"
            )
        if array.size and (array.min() < 0 or array.max() > self.manifest.mask_id):
            raise ValueError(
                f"model {name!r}: token ids must lie in [0, {self.manifest.mask_id}] "
                f"(mask id included), got [{array.min()}, {array.max()}]"
            )
        return np.ascontiguousarray(array, dtype=np.int64)

    def _check_condition(
        self, condition: np.ndarray[Any, Any] | None, batch: int
    ) -> np.ndarray[Any, Any]:
        if condition is None:
            return np.zeros((batch,), dtype=np.int64)
        array = np.asarray(condition)
        if array.shape != (batch,) or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(
                f"model {self.manifest.name!r}: condition must be integer [B={batch}], "
                f"got {array.dtype} {array.shape}"
            )
        return np.ascontiguousarray(array, dtype=np.int64)

    def _check_side_inputs(self, side_inputs: SideInputs | None) -> None:
        """The side inputs must be exactly the manifest's ``io.side_inputs``."""
        wanted, given = set(self.manifest.side_inputs), set(side_inputs or {})
        if wanted != given:
            missing, extra = sorted(wanted - given), sorted(given - wanted)
            raise ValueError(
                f"model {self.manifest.name!r} reads side inputs {sorted(wanted) or 'none'}; "
                f"missing {missing or 'none'}, not read {extra or 'none'}"
            )

    def _check_output(self, raw: np.ndarray[Any, Any], token_shape: tuple[int, ...]) -> FloatArray:
        expected = (*token_shape, self.manifest.vocab_size)
        if raw.shape != expected:
            raise ValueError(
                f"model {self.manifest.name!r}: logits have shape {raw.shape}, expected {expected}"
            )
        return raw.astype(np.float32, copy=False)

    def _run(self, feeds: dict[str, np.ndarray[Any, Any]]) -> list[Any]:
        outputs = [self.manifest.logits_output]
        try:
            return list(self._session.run(outputs, feeds))
        except Exception as exc:
            if self.provider == CPU_PROVIDER:
                raise
            path = self.manifest.path("transformer")
            _log.warning(
                "%s run on %s failed (%s); retrying on CPU", path, self.provider, _first_line(exc)
            )
            _mark_gpu_broken(path)
            self._session = session_for(path, prefer_gpu=False)
            return list(self._session.run(outputs, feeds))


def _per_row(side_inputs: SideInputs | None, rows: int) -> dict[str, FloatArray]:
    """One window's side inputs repeated for ``rows`` batch rows (float32, contiguous)."""
    return {
        name: np.repeat(np.asarray(array, dtype=np.float32)[None], rows, axis=0)
        for name, array in (side_inputs or {}).items()
    }


def _static_length(session: ort.InferenceSession, input_name: str) -> int | None:
    """The graph's fixed sequence length N, or None when N is dynamic."""
    for node in session.get_inputs():
        if node.name == input_name and len(node.shape) == 2 and isinstance(node.shape[1], int):
            return int(node.shape[1])
    return None


_transformers: dict[Path, Transformer] = {}


def load_transformer(manifest: ModelManifest) -> Transformer:
    """The cached :class:`Transformer` for a manifest; rebuilt when its file or manifest changes."""
    path = manifest.path("transformer").resolve()
    session = session_for(path)
    with _lock:
        cached = _transformers.get(path)
        if cached is not None and cached.manifest == manifest and cached.session is session:
            return cached
        transformer = Transformer(manifest, session)
        _transformers[path] = transformer
        return transformer
