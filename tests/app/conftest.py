"""App-test fixtures: tiny real ONNX models on disk, an engine bridge that is always joined,
a synthetic walk for the motion editor, and a small but real token-grid editor implementing
:class:`app.editor_base.MediumEditor`.

The token editor doubles as the reference implementation of the editor
interface for medium engineers: it is what the window's tests drive.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from app.editor_base import MediumEditor
from app.engine_worker import EngineBridge
from app.unsaved import Choice
from engine.jobs import Codec, GenerateResult, Progress
from engine.media.tokens import TokenGridCodec, TokenGridDocument
from engine.models import ModelManifest, ModelRegistry
from tests.engine.motion.synthetic_bvh import bandai_like
from tests.tinymodels import write_tiny_model

GRID_SHAPE = (4, 8)
VOCAB = 12
MOTION_VOCAB, MOTION_COLUMNS = 8, 8  # the "tiny-motion" model: 2 rows of 8 tokens, 4 frames each
WALK_FRAMES = 64
_MASK_COLOR = QColor(255, 200, 120)


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
    facts = {"fps": 30, "frames_per_token": 4, "window_frames": MOTION_COLUMNS * 4}
    shape = (2, MOTION_COLUMNS)
    return write_tiny_model(
        root, "tiny-motion", "motion", MOTION_VOCAB, shape, seed=3, medium_facts=facts
    )


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


class TokenGridEditor(MediumEditor):
    """A table of token ids; clicking a cell toggles it in the editable mask."""

    medium = "tokens"
    file_extensions = (".npy",)
    export_extensions = (".npy",)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document: TokenGridDocument | None = None
        self.preview: Progress | None = None
        self.result: GenerateResult | None = None
        self.saved_revision = 0
        self.table = QTableWidget()
        self.table.cellClicked.connect(self._toggle_cell)
        QVBoxLayout(self).addWidget(self.table)

    # documents
    def has_document(self) -> bool:
        return self.document is not None

    def set_document(self, document: TokenGridDocument) -> None:
        self.document = document
        self.saved_revision = document.history.revision
        document.tokens_changed.append(lambda _box: self._refresh())
        document.mask_changed.append(lambda _box: self._refresh())
        document.history.changed.append(self.stateChanged.emit)
        self._refresh()

    def open_path(self, path: Path) -> None:
        grid = np.load(path, allow_pickle=False)  # raises before anything is replaced
        if grid.ndim != 2 or not np.issubdtype(grid.dtype, np.integer):
            raise ValueError(f"{path.name} is not a 2-D integer grid")
        self.set_document(TokenGridDocument(grid))

    def export_path(self, path: Path) -> None:
        assert self.document is not None
        np.save(path, self.document.token_grid)
        self.saved_revision = self.document.history.revision
        self.stateChanged.emit()

    def document_name(self) -> str:
        return "token grid"

    def is_modified(self) -> bool:
        """Back at the revision of the last open or export: undo can make it clean again."""
        if self.document is None:
            return False
        return self.document.history.revision != self.saved_revision

    # generation
    def has_mask(self) -> bool:
        return self.document is not None and self.document.has_mask()

    def make_generate_payload(self, manifest: ModelManifest) -> tuple[Any, Codec]:
        if self.document is None or not self.document.has_mask():
            raise ValueError("paint a mask first")
        return self.document.snapshot(), TokenGridCodec(manifest.shape, manifest.vocab_size)

    def show_step(self, progress: Progress) -> None:
        """A real editor draws ``progress.step.tokens`` (of window ``progress.window``)."""
        self.preview = progress

    def clear_preview(self) -> None:
        self.preview = None

    def show_results(self, result: GenerateResult) -> None:
        self.preview = None
        self.result = result

    def accept(self, index: int) -> None:
        assert self.document is not None and self.result is not None
        self.document.accept(self.result.variations[index])
        self.result = None

    # history
    def undo(self) -> bool:
        return self.document is not None and self.document.undo()

    def redo(self) -> bool:
        return self.document is not None and self.document.redo()

    def can_undo(self) -> bool:
        return self.document is not None and self.document.history.can_undo

    def can_redo(self) -> bool:
        return self.document is not None and self.document.history.can_redo

    # view
    def _toggle_cell(self, row: int, column: int) -> None:
        if self.document is not None:
            box = (slice(row, row + 1), slice(column, column + 1))
            self.document.set_mask(box, not self.document.editable_mask[row, column])
            self.stateChanged.emit()

    def _refresh(self) -> None:
        assert self.document is not None
        rows, columns = self.document.shape
        self.table.setRowCount(rows)
        self.table.setColumnCount(columns)
        for row in range(rows):
            for column in range(columns):
                item = QTableWidgetItem(str(self.document.token_grid[row, column]))
                if self.document.editable_mask[row, column]:
                    item.setBackground(QBrush(_MASK_COLOR))
                self.table.setItem(row, column, item)
