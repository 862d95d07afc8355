"""App-test fixtures: tiny real ONNX models on disk, an engine bridge that is always joined,
and a synthetic walk for the motion editor.

The window's tests drive the toy medium's token-grid editor
(:class:`tests.toy_medium.editor.TokenGridEditor`), re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from app.engine_worker import EngineBridge
from app.unsaved import Choice
from engine.models import ModelRegistry
from tests.engine.motion.synthetic_bvh import bandai_like
from tests.tinymodels import write_tiny_model
from tests.toy_medium.document import TokenGridDocument
from tests.toy_medium.editor import TokenGridEditor

__all__ = ["GRID_SHAPE", "VOCAB", "TokenGridEditor", "token_document", "write_motion_model"]

GRID_SHAPE = (4, 8)
VOCAB = 12
MOTION_VOCAB, MOTION_COLUMNS = 8, 8  # the "tiny-motion" model: 2 rows of 8 tokens, 4 frames each
WALK_FRAMES = 64


@pytest.fixture(autouse=True)
def never_a_modal_unsaved_box(monkeypatch: pytest.MonkeyPatch) -> None:
    """A window closed (or a file opened) over edits discards them instead of showing a modal
    box, which would block the run; tests of the question set ``window.confirm_discard``."""
    monkeypatch.setattr("app.main_window.ask_unsaved", lambda _parent, _names: Choice.DISCARD)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two token models, one MIDI-medium model and one broken folder."""
    root = tmp_path_factory.mktemp("models")
    write_tiny_model(root, "tiny", vocab_size=VOCAB, shape=GRID_SHAPE, seed=0)
    write_tiny_model(root, "tiny-b", vocab_size=VOCAB, shape=GRID_SHAPE, seed=1)
    write_tiny_model(root, "tiny-midi", medium="midi", vocab_size=VOCAB, shape=(4, 16), seed=2)
    broken = root / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{ not json")
    return root


def write_motion_model(root: Path) -> Path:
    """The "tiny-motion" model the motion tests generate with: a 32-frame window at 30 fps."""
    import json

    import onnx

    from tests.engine.motion.test_codec import _decoder, _encoder

    facts = {"fps": 30, "frames_per_token": 4, "window_frames": MOTION_COLUMNS * 4}
    shape = (2, MOTION_COLUMNS)
    folder = write_tiny_model(
        root, "tiny-motion", "motion", MOTION_VOCAB, shape, seed=3, medium_facts=facts
    )
    # encoder and decoder graphs with the codec's inputs: a motion model needs both to be found
    onnx.save(_encoder(), str(folder / "encoder.onnx"))
    onnx.save(_decoder(), str(folder / "decoder.onnx"))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"].update(encoder="encoder.onnx", decoder="decoder.onnx")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture(scope="module")
def motion_registry(tmp_path_factory: pytest.TempPathFactory) -> ModelRegistry:
    """The "tiny-motion" model only."""
    root = tmp_path_factory.mktemp("motion-models")
    write_motion_model(root)
    return ModelRegistry.discover([root])


@pytest.fixture
def walk(tmp_path: Path) -> Path:
    """A Bandai-style walk of ``WALK_FRAMES`` frames: the clip the motion tests open."""
    path = tmp_path / "walk.bvh"
    path.write_text(bandai_like(frames=WALK_FRAMES, seed=4))
    return path


@pytest.fixture
def registry(models_dir: Path) -> ModelRegistry:
    return ModelRegistry.discover([models_dir])


@pytest.fixture
def bridge(qtbot: Any, registry: ModelRegistry) -> Iterator[EngineBridge]:
    """A threaded bridge; the fixture joins its thread so no test leaks one."""
    engine = EngineBridge(registry)
    yield engine
    assert engine.shutdown(timeout_ms=20_000)
    assert engine.engine_thread is not None and engine.engine_thread.isFinished()


@pytest.fixture
def qsettings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def token_document(seed: int = 0) -> TokenGridDocument:
    rng = np.random.default_rng(seed)
    return TokenGridDocument(rng.integers(0, VOCAB, GRID_SHAPE))
