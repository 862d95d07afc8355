"""A medium added from outside remask: registered here, it gets a tab and a CLI verb.

Nothing in ``engine/``, ``app/`` or ``packaging/`` names the toy medium; these
tests register its two layers with the public register functions and use it
as a user would: a file opened in the real main window, a verb on the command
line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from app import cli
from app.engine_worker import EngineBridge
from app.main_window import MainWindow
from engine import runtime
from engine.media.registry import BUILTIN_MEDIA
from engine.models import ModelRegistry
from tests.tinymodels import write_tiny_model
from tests.toy_medium import app_spec
from tests.toy_medium.editor import TokenGridEditor

ROOT = Path(__file__).resolve().parents[2]
SHAPE, VOCAB = (4, 8), 12
BUILT_INS_WITHOUT_EDITORS = dict.fromkeys(BUILTIN_MEDIA)  # keeps the window light: welcome pages


@pytest.fixture
def toy_medium() -> Iterator[None]:
    app_spec.register()
    yield
    app_spec.unregister()


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A models folder with one toy-medium model, the only one the CLI sees."""
    folder = tmp_path / "models"
    write_tiny_model(folder, "tiny", vocab_size=VOCAB, shape=SHAPE)
    monkeypatch.setenv("REMASK_MODELS_PATH", str(folder))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr("engine.models.bundled_models_dir", lambda: tmp_path / "no-bundle")
    monkeypatch.setenv(runtime.DEVICE_ENV, "cpu")
    return folder


@pytest.fixture
def grid_files(tmp_path: Path) -> tuple[Path, Path]:
    grid, mask = tmp_path / "grid.npy", tmp_path / "mask.npy"
    np.save(grid, np.random.default_rng(5).integers(0, VOCAB, SHAPE))
    np.save(mask, np.arange(np.prod(SHAPE)).reshape(SHAPE) % 3 == 0)
    return grid, mask


def test_a_fresh_remask_knows_only_the_builtin_media() -> None:
    """Registering is all it takes: no shared list names the toy medium."""
    probe = (
        "import json; from app import cli; from app.registry import app_media; "
        "from engine.media.registry import medium_keys; from tests.toy_medium import app_spec\n"
        "before = list(medium_keys()), [c.name for c in cli.medium_commands()]\n"
        "app_spec.register()\n"
        "after = list(medium_keys()), [s.key for s in app_media()], "
        "[c.name for c in cli.medium_commands()]\n"
        "print(json.dumps([before, after]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    (keys, verbs), (keys_after, app_keys, verbs_after) = json.loads(done.stdout)
    assert keys == list(BUILTIN_MEDIA) and "tokens-fill" not in verbs
    assert keys_after == app_keys == [*BUILTIN_MEDIA, "tokens"]
    assert verbs_after == [*verbs, "tokens-fill"]


def test_the_window_opens_a_toy_file(
    qtbot: Any, toy_medium: None, models: Path, grid_files: tuple[Path, Path], tmp_path: Path
) -> None:
    registry = ModelRegistry.discover([models])
    bridge = EngineBridge(registry)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(
        registry, bridge=bridge, editors=BUILT_INS_WITHOUT_EDITORS, settings=settings
    )
    qtbot.addWidget(window)
    window.show()
    try:
        titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
        assert titles == ["Image", "MIDI", "Motion", "Tokens"]
        assert window.pages["tokens"].welcome.open_button.isEnabled()
        assert window.open_path(grid_files[0]), window.last_error
        editor = window.pages["tokens"].editor
        assert isinstance(editor, TokenGridEditor) and editor.document is not None
        assert window.current_page().medium == "tokens"
        assert window.sampler.model_names() == ["tiny"]
        assert window.windowTitle().startswith("token grid")
    finally:
        window.close()
    assert bridge.engine_thread is not None and bridge.engine_thread.isFinished()


def test_the_cli_runs_the_toy_verb(
    toy_medium: None, models: Path, grid_files: tuple[Path, Path], tmp_path: Path, capsys: Any
) -> None:
    grid, mask = grid_files
    out = tmp_path / "out.npy"
    args = ["tokens-fill", str(grid), "--mask", str(mask), "-o", str(out), "--seed", "1"]
    assert cli.main([*args, "--steps", "2", "--variations", "2"]) == 0, capsys.readouterr().err
    outputs = [tmp_path / "out-1.npy", tmp_path / "out-2.npy"]
    assert capsys.readouterr().out.split() == [str(path) for path in outputs]
    before, editable = np.load(grid), np.load(mask)
    for path in outputs:
        after = np.load(path)
        assert np.array_equal(after[~editable], before[~editable])
        assert after.min() >= 0 and after.max() < VOCAB


def test_without_its_registration_the_verb_is_unknown(capsys: Any) -> None:
    assert cli.main(["tokens-fill", "--help"]) == 2
    assert "invalid choice: 'tokens-fill'" in capsys.readouterr().err
