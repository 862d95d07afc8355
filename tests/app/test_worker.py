"""The engine thread with a real tiny ONNX model: ordering, thread affinity, cancel, staleness."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication

from app.engine_worker import EngineBridge, GenerationGate, LoadedModel, one_line
from engine.jobs import GenerateResult, Progress
from engine.models import ModelManifest, ModelRegistry
from engine.runtime import load_transformer
from engine.sampling.types import LogitsFn, SamplerSettings, Step, TokenArray
from tests.app.conftest import GRID_SHAPE, VOCAB, token_document
from tests.toy_medium.document import TokenGridCodec, TokenGridDocument

TIMEOUT_MS = 30_000


class Recorder:
    """Collects every bridge signal with the thread it arrived in."""

    def __init__(self, bridge: EngineBridge) -> None:
        self.steps: list[tuple[int, Step]] = []
        self.results: list[GenerateResult] = []
        self.failures: list[tuple[int, str]] = []
        self.cancels: list[int] = []
        self.threads: set[Any] = set()
        bridge.stepReady.connect(self._step)
        bridge.finished.connect(self._result)
        bridge.failed.connect(self._failed)
        bridge.cancelled.connect(self._cancelled)

    def _note(self) -> None:
        self.threads.add(QThread.currentThread())

    def _failed(self, generation: int, message: str) -> None:
        self._note()
        self.failures.append((generation, message))

    def _cancelled(self, generation: int) -> None:
        self._note()
        self.cancels.append(generation)

    def _step(self, generation: int, progress: Progress) -> None:
        self._note()
        assert (progress.window, progress.windows) == (0, 1)  # a token grid is one window
        self.steps.append((generation, progress.step))

    def _result(self, result: GenerateResult) -> None:
        self._note()
        self.results.append(result)


class SlowModel:
    """A real transformer whose every call sleeps first, so a test can act mid-run."""

    def __init__(self, inner: LoadedModel, delay: float, first_call: threading.Event) -> None:
        self._inner = inner
        self._delay = delay
        self._first_call = first_call
        self.call_threads: set[int] = set()

    @property
    def provider(self) -> str:
        return self._inner.provider

    def logits_fn(self, condition: int | None = None) -> LogitsFn:
        fn = self._inner.logits_fn(condition)

        def run(tokens: TokenArray) -> Any:
            self.call_threads.add(threading.get_ident())
            self._first_call.set()
            time.sleep(self._delay)
            return fn(tokens)

        return run


def slow_bridge(
    registry: ModelRegistry, delay: float = 0.05
) -> tuple[EngineBridge, threading.Event, list[SlowModel]]:
    """A threaded bridge over slowed-down real models (the list collects the models it loaded)."""
    started = threading.Event()
    models: list[SlowModel] = []

    def load(manifest: ModelManifest) -> SlowModel:
        models.append(SlowModel(load_transformer(manifest), delay, started))
        return models[-1]

    return EngineBridge(registry, loader=load), started, models


def masked_document(columns: slice = slice(2, 6)) -> TokenGridDocument:
    doc = token_document(seed=4)
    doc.set_mask((slice(0, 4), columns))
    return doc


def submit(
    bridge: EngineBridge, registry: ModelRegistry, doc: TokenGridDocument, **overrides: Any
) -> int:
    manifest = registry.get("tiny")
    settings = manifest.default_settings(**overrides)
    codec = TokenGridCodec(manifest.shape, manifest.vocab_size)
    return bridge.generate("tiny", settings, doc.snapshot(), codec)


def test_steps_arrive_in_gui_thread_in_order_then_one_result(
    qtbot: Any, bridge: EngineBridge, registry: ModelRegistry
) -> None:
    record = Recorder(bridge)
    doc = masked_document()
    with qtbot.waitSignal(bridge.finished, timeout=TIMEOUT_MS):
        generation = submit(bridge, registry, doc, variations=3, seed=7)
        assert bridge.busy
    qtbot.wait(50)  # anything late would arrive now
    assert record.threads == {QApplication.instance().thread()}
    assert [gen for gen, _ in record.steps] == [generation] * len(record.steps)
    total = record.steps[-1][1].total
    assert [step.index for _, step in record.steps] == list(range(1, total + 1))
    assert total == registry.get("tiny").sampling.steps
    assert len(record.results) == 1 and not record.failures and not record.cancels
    result = record.results[0]
    assert result.generation == generation and result.provider.endswith("ExecutionProvider")
    assert not bridge.busy
    _check_variations(result, doc)


def _check_variations(result: GenerateResult, doc: TokenGridDocument) -> None:
    assert len(result.variations) == result.tokens.shape[0]
    keep = ~doc.editable_mask
    for grid in result.variations:
        assert grid.shape == GRID_SHAPE and grid.dtype == np.int64
        np.testing.assert_array_equal(grid[keep], doc.token_grid[keep])  # bit-exact
        assert grid[doc.editable_mask].min() >= 0 and grid[doc.editable_mask].max() < VOCAB


def test_cancel_mid_run_leaves_the_document_untouched(qtbot: Any, registry: ModelRegistry) -> None:
    bridge, _, models = slow_bridge(registry)
    try:
        record = Recorder(bridge)
        doc = masked_document(slice(0, 8))
        tokens_before, mask_before = doc.token_grid.copy(), doc.editable_mask.copy()
        bridge.stepReady.connect(lambda _gen, p: bridge.cancel() if p.step.index == 2 else None)
        with qtbot.waitSignal(bridge.cancelled, timeout=TIMEOUT_MS) as blocker:
            generation = submit(bridge, registry, doc, steps=20)
        qtbot.wait(150)
        assert blocker.args == [generation]
        assert record.cancels == [generation] and not record.results and not record.failures
        assert 2 <= len(record.steps) < 20
        np.testing.assert_array_equal(doc.token_grid, tokens_before)
        np.testing.assert_array_equal(doc.editable_mask, mask_before)
        assert len(doc.history.undo_steps) == 1  # only the mask stroke
        assert (
            threading.get_ident() not in models[0].call_threads
        )  # the model ran off the GUI thread
    finally:
        assert bridge.shutdown()


def test_newer_request_makes_the_older_stale(qtbot: Any, registry: ModelRegistry) -> None:
    bridge, started, _ = slow_bridge(registry)
    try:
        record = Recorder(bridge)
        doc = masked_document(slice(0, 8))
        first = submit(bridge, registry, doc, steps=20)
        assert started.wait(10)  # the first job is running in the engine thread
        with qtbot.waitSignal(bridge.finished, timeout=TIMEOUT_MS):
            second = submit(bridge, registry, doc, steps=3, seed=1)
        qtbot.wait(150)
        assert second > first
        assert [r.generation for r in record.results] == [second]
        assert not record.cancels and not record.failures  # superseded, not cancelled by the user
        late_first = [step.index for gen, step in record.steps if gen == first]
        assert len(late_first) < 20
        assert [step.index for gen, step in record.steps if gen == second] == [1, 2, 3]
    finally:
        assert bridge.shutdown()


def test_unknown_model_fails_with_one_line(qtbot: Any, bridge: EngineBridge) -> None:
    doc = masked_document()
    with qtbot.waitSignal(bridge.failed, timeout=TIMEOUT_MS) as blocker:
        generation = bridge.generate(
            "no-such-model", SamplerSettings(), doc.snapshot(), TokenGridCodec((4, 8), 12)
        )
    failed_generation, message = blocker.args
    assert failed_generation == generation
    assert "no-such-model" in message and "\n" not in message
    assert not bridge.busy


def test_codec_error_fails_and_the_thread_keeps_working(
    qtbot: Any, bridge: EngineBridge, registry: ModelRegistry
) -> None:
    doc = TokenGridDocument(np.zeros((3, 3), np.int64), np.ones((3, 3), bool))
    wrong_shape = TokenGridCodec(GRID_SHAPE, VOCAB)
    with qtbot.waitSignal(bridge.failed, timeout=TIMEOUT_MS) as blocker:
        bridge.generate("tiny", SamplerSettings(steps=2), doc.snapshot(), wrong_shape)
    assert "model expects" in blocker.args[1]
    with qtbot.waitSignal(bridge.finished, timeout=TIMEOUT_MS):
        submit(bridge, registry, masked_document(), steps=2)


def test_preload_reports_the_provider(qtbot: Any, bridge: EngineBridge) -> None:
    with qtbot.waitSignal(bridge.modelLoaded, timeout=TIMEOUT_MS) as blocker:
        bridge.preload("tiny")
    name, provider = blocker.args
    assert name == "tiny" and provider.endswith("ExecutionProvider")
    with qtbot.waitSignal(bridge.modelFailed, timeout=TIMEOUT_MS) as blocker:
        bridge.preload("nope")
    assert "nope" in blocker.args[1]


def test_synchronous_bridge_runs_inline(registry: ModelRegistry) -> None:
    bridge = EngineBridge(registry, synchronous=True)
    record = Recorder(bridge)
    generation = submit(bridge, registry, masked_document(), variations=2)
    assert [r.generation for r in record.results] == [generation]  # already delivered
    assert bridge.engine_thread is None and bridge.shutdown()


def test_synchronous_cancel_from_a_step_slot(registry: ModelRegistry) -> None:
    bridge = EngineBridge(registry, synchronous=True)
    record = Recorder(bridge)
    bridge.stepReady.connect(lambda _gen, _step: bridge.cancel())
    generation = submit(bridge, registry, masked_document())
    assert record.cancels == [generation] and not record.results
    assert len(record.steps) == 1


def test_gate_staleness() -> None:
    gate = GenerationGate()
    first, second = gate.issue(), gate.issue()
    assert gate.is_stale(first) and not gate.is_stale(second)
    gate.cancel()
    assert gate.is_stale(second) and gate.is_cancelled(second)
    third = gate.issue()
    assert not gate.is_stale(third)


def test_one_line_messages() -> None:
    assert one_line(KeyError("no model named 'x'")) == "no model named 'x'"
    assert one_line(ValueError("first\nsecond")) == "first"
    assert one_line(RuntimeError()) == "RuntimeError"
