"""Generation off the GUI thread: one worker in one ``QThread``, bridged back to the GUI.

The GUI builds an immutable :class:`~engine.jobs.GenerateRequest` tagged with a
generation number and hands it to :class:`EngineBridge`. The bridge forwards it
to :class:`EngineWorker` (living in the engine thread) through a queued signal.
A newer request makes every older one stale: the worker stops it at its next
step check, and the bridge drops anything a stale job still emits.

One request is one whole edit, however many model windows its codec needs
(:func:`engine.jobs.run_model_windows`); every sampler step arrives as an
:class:`engine.jobs.Progress` (window index and count, the step, the window's
problem), which the window forwards to the editor's live preview and the
progress bar.

Why the bridge exists (PySide6 pitfall): a lambda or a plain method connected
to a signal that is emitted in the worker thread runs *in the worker thread*.
Only a ``@Slot`` of a ``QObject`` living in the GUI thread is called there
(queued). So every worker signal lands in a bridge slot first, and the GUI
connects to the bridge's own signals, which are always emitted in the GUI
thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import QObject, QThread, Signal, Slot

from engine.jobs import (
    Cancelled,
    Codec,
    GenerateRequest,
    GenerateResult,
    Progress,
    run_model_windows,
)
from engine.models import ModelManifest, ModelRegistry
from engine.sampling.types import LogitsFn, SamplerSettings, SideInputs

_log = logging.getLogger(__name__)


class LoadedModel(Protocol):
    """What the worker needs from a loaded model (:class:`engine.runtime.Transformer` is one)."""

    @property
    def provider(self) -> str: ...

    def logits_fn(
        self, condition: int | None = None, side_inputs: SideInputs | None = None
    ) -> LogitsFn: ...


ModelLoader = Callable[[ModelManifest], LoadedModel]


def _default_loader(manifest: ModelManifest) -> LoadedModel:
    from engine.runtime import load_transformer  # onnxruntime loads lazily, on first use

    return load_transformer(manifest)


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message, for a status bar or a dialog title."""
    text = str(exc).strip()
    if isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        text = exc.args[0]  # str(KeyError) wraps the message in quotes
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0][:300] if lines else type(exc).__name__


class GenerationGate:
    """Thread-safe bookkeeping of which generation is current and which are cancelled.

    The GUI thread issues and cancels; the worker thread asks :meth:`is_stale`
    between sampler steps.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest = 0
        self._cancelled_upto = 0

    def issue(self) -> int:
        """A new generation number; every older one becomes stale."""
        with self._lock:
            self._latest += 1
            return self._latest

    def adopt(self, generation: int) -> None:
        """Make an externally numbered request current (older ones turn stale)."""
        with self._lock:
            self._latest = max(self._latest, generation)

    def cancel(self, generation: int | None = None) -> None:
        """Cancel ``generation`` and everything older (default: the latest)."""
        with self._lock:
            target = self._latest if generation is None else generation
            self._cancelled_upto = max(self._cancelled_upto, target)

    @property
    def latest(self) -> int:
        with self._lock:
            return self._latest

    def is_cancelled(self, generation: int) -> bool:
        with self._lock:
            return generation <= self._cancelled_upto

    def is_stale(self, generation: int) -> bool:
        """Superseded by a newer request or cancelled: stop working on it."""
        with self._lock:
            return generation < self._latest or generation <= self._cancelled_upto


class EngineWorker(QObject):
    """Runs requests one at a time in whatever thread it lives in.

    Signals are emitted from that thread; connect them only to
    :class:`EngineBridge` slots, never to lambdas (see the module docstring).
    """

    stepReady = Signal(int, object)  # noqa: N815 - Qt signal naming  # generation, Progress
    resultReady = Signal(object)  # noqa: N815 - Qt signal naming  # GenerateResult
    failed = Signal(int, str)  # generation, one-line message
    cancelled = Signal(int)  # generation
    modelLoaded = Signal(str, str)  # noqa: N815 - Qt signal naming  # model name, provider in use
    modelFailed = Signal(str, str)  # noqa: N815 - Qt signal naming  # model name, one-line message

    def __init__(self, registry: ModelRegistry, gate: GenerationGate, loader: ModelLoader) -> None:
        super().__init__()
        self._registry = registry
        self._gate = gate
        self._loader = loader

    @Slot(str)
    def preload(self, model_name: str) -> None:
        """Load (and warm up) a model ahead of the first Generate, reporting its provider."""
        try:
            manifest, model = self._load(model_name)
            warm_up = getattr(model, "warm_up", None)
            if callable(warm_up):
                warm_up()
        except Exception as exc:  # noqa: BLE001 - any failure is reported, the thread lives on
            _log.warning("cannot load model %r: %s", model_name, exc, exc_info=True)
            self.modelFailed.emit(model_name, one_line(exc))
            return
        self.modelLoaded.emit(manifest.name, model.provider)

    @Slot(object)
    def run(self, request: GenerateRequest) -> None:
        """Run one request to a result, a failure or a cancellation (exactly one is emitted)."""
        generation = request.generation
        if self._gate.is_stale(generation):  # superseded while queued: skip loading too
            self.cancelled.emit(generation)
            return
        try:
            result = self._generate(request)
        except Cancelled:
            self.cancelled.emit(generation)
        except Exception as exc:  # noqa: BLE001 - a bad model or codec must not kill the thread
            _log.warning("generation %d failed: %s", generation, exc, exc_info=True)
            self.failed.emit(generation, one_line(exc))
        else:
            self.resultReady.emit(result)

    def _generate(self, request: GenerateRequest) -> GenerateResult:
        generation = request.generation
        manifest, model = self._load(request.model_name)
        self.modelLoaded.emit(manifest.name, model.provider)
        started = time.perf_counter()
        variations, tokens = run_model_windows(  # every window of the edit, in order
            request,
            model,
            manifest.mask_id,
            on_progress=lambda progress: self.stepReady.emit(generation, progress),
            should_stop=lambda: self._gate.is_stale(generation),
        )
        seconds = time.perf_counter() - started
        return GenerateResult(generation, variations, tokens, model.provider, seconds)

    def _load(self, model_name: str) -> tuple[ModelManifest, LoadedModel]:
        manifest = self._registry.get(model_name)  # KeyError names the known models
        return manifest, self._loader(manifest)


class EngineBridge(QObject):
    """The GUI's only handle on the engine; lives in the GUI thread.

    Every public signal is emitted in the GUI thread and only for the current
    generation: steps and results of stale or cancelled jobs are dropped, and
    each submitted generation that stays current ends in exactly one of
    ``finished``, ``failed`` or ``cancelled``.

    With ``synchronous=True`` there is no thread: :meth:`submit` runs the job
    inline and returns after its last signal (controller tests, scripts).
    """

    stepReady = Signal(int, object)  # noqa: N815 - Qt signal naming  # generation, Progress
    finished = Signal(object)  # GenerateResult
    failed = Signal(int, str)  # generation, one-line message
    cancelled = Signal(int)  # generation
    busyChanged = Signal(bool)  # noqa: N815 - Qt signal naming
    modelLoaded = Signal(str, str)  # noqa: N815 - Qt signal naming  # model name, provider in use
    modelFailed = Signal(str, str)  # noqa: N815 - Qt signal naming  # model name, one-line message

    _runRequested = Signal(object)  # noqa: N815 - Qt signal naming
    _preloadRequested = Signal(str)  # noqa: N815 - Qt signal naming

    def __init__(
        self,
        registry: ModelRegistry,
        *,
        synchronous: bool = False,
        loader: ModelLoader | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._gate = GenerationGate()
        self._active: int | None = None
        self._closed = False
        self._worker = EngineWorker(registry, self._gate, loader or _default_loader)
        self._thread: QThread | None = None if synchronous else self._start_thread()
        self._connect_worker()

    def _start_thread(self) -> QThread:
        thread = QThread()
        thread.setObjectName("remask-engine")
        self._worker.moveToThread(thread)
        thread.start()
        return thread

    def _connect_worker(self) -> None:
        worker = self._worker
        self._runRequested.connect(worker.run)
        self._preloadRequested.connect(worker.preload)
        worker.stepReady.connect(self._on_step)
        worker.resultReady.connect(self._on_result)
        worker.failed.connect(self._on_failed)
        worker.cancelled.connect(self._on_cancelled)
        worker.modelLoaded.connect(self._on_model_loaded)
        worker.modelFailed.connect(self._on_model_failed)

    # -- commands (GUI thread) -----------------------------------------------------

    def request(
        self, model_name: str, settings: SamplerSettings, payload: Any, codec: Codec
    ) -> GenerateRequest:
        """A new immutable request with the next generation number (not submitted yet)."""
        return GenerateRequest(self._gate.issue(), model_name, settings, payload, codec)

    def submit(self, request: GenerateRequest) -> None:
        """Run ``request``; any older job still running or queued becomes stale."""
        if self._closed:
            raise RuntimeError("the engine was shut down")
        self._gate.adopt(request.generation)
        self._set_active(request.generation)
        self._runRequested.emit(request)

    def generate(
        self, model_name: str, settings: SamplerSettings, payload: Any, codec: Codec
    ) -> int:
        """Build and submit a request; return its generation number."""
        request = self.request(model_name, settings, payload, codec)
        self.submit(request)
        return request.generation

    def cancel(self) -> None:
        """Stop the current job at its next step check (thread-safe flag, no waiting)."""
        if self._active is not None:
            self._gate.cancel(self._active)

    def preload(self, model_name: str) -> None:
        """Load a model in the engine thread; answers with ``modelLoaded`` or ``modelFailed``."""
        if not self._closed:
            self._preloadRequested.emit(model_name)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel everything, stop the engine thread and join it; True if it stopped in time."""
        if self._closed:
            return True
        self._closed = True
        self._gate.cancel(self._gate.latest)
        if self._thread is None:
            return True
        self._thread.quit()
        stopped = bool(self._thread.wait(timeout_ms))
        if not stopped:
            _log.warning("engine thread did not stop within %d ms", timeout_ms)
        return stopped

    @property
    def busy(self) -> bool:
        return self._active is not None

    @property
    def active_generation(self) -> int | None:
        return self._active

    @property
    def engine_thread(self) -> QThread | None:
        """The engine thread (None in synchronous mode)."""
        return self._thread

    # -- worker signals, delivered in the GUI thread ----------------------------------

    @Slot(int, object)
    def _on_step(self, generation: int, progress: Progress) -> None:
        if generation == self._active and not self._gate.is_stale(generation):
            self.stepReady.emit(generation, progress)

    @Slot(object)
    def _on_result(self, result: GenerateResult) -> None:
        generation = result.generation
        if generation != self._active:
            return  # superseded: never delivered
        self._set_active(None)
        if self._gate.is_cancelled(generation):  # Cancel was pressed after the last step
            self.cancelled.emit(generation)
        else:
            self.finished.emit(result)

    @Slot(int, str)
    def _on_failed(self, generation: int, message: str) -> None:
        if generation == self._active:
            self._set_active(None)
            self.failed.emit(generation, message)

    @Slot(int)
    def _on_cancelled(self, generation: int) -> None:
        if generation == self._active:
            self._set_active(None)
            self.cancelled.emit(generation)

    @Slot(str, str)
    def _on_model_loaded(self, name: str, provider: str) -> None:
        self.modelLoaded.emit(name, provider)

    @Slot(str, str)
    def _on_model_failed(self, name: str, message: str) -> None:
        self.modelFailed.emit(name, message)

    def _set_active(self, generation: int | None) -> None:
        was_busy = self.busy
        self._active = generation
        if self.busy != was_busy:
            self.busyChanged.emit(self.busy)
