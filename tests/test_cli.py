"""The ``remask`` command line: help, ``models``, error conventions, lazy GUI, medium plug-ins."""

from __future__ import annotations

import argparse
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from app import cli
from app.registry import AppMediumSpec
from engine import runtime
from tests.cli_run import remask
from tests.tinymodels import write_tiny_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A REMASK_MODELS_PATH with one good model; the user's own models are kept out."""
    directory = tmp_path / "models"
    write_tiny_model(directory, name="tiny-midi", medium="midi")
    monkeypatch.setenv("REMASK_MODELS_PATH", str(directory))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv(runtime.DEVICE_ENV, "cpu")
    return directory


def break_model(models_dir: Path) -> Path:
    broken = write_tiny_model(models_dir, name="broken")
    (broken / "manifest.json").write_text("{not json")
    return broken / "manifest.json"


# --------------------------------------------------------------------------- subprocess


def test_help_lists_commands_without_loading_qt() -> None:
    done = remask("--help")
    assert done.returncode == 0, done.stderr
    assert "usage: remask" in done.stdout and "models" in done.stdout
    probe = (
        "import sys; from app import cli; cli.build_parser(cli.BUILTIN_COMMANDS); "
        "print('PySide6' in sys.modules)"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "False"


def test_models_lists_good_and_reports_broken_in_one_line(models_dir: Path) -> None:
    manifest = break_model(models_dir)
    done = remask("models")
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("tiny-midi"))
    assert row.split()[1:4] == ["midi", "0.0", "CPUExecutionProvider"]
    assert row.endswith(str(models_dir / "tiny-midi"))
    errors = done.stderr.splitlines()
    assert len(errors) == 1
    assert errors[0].startswith(f"remask: warning: {manifest}: invalid JSON")


def test_usage_errors_are_one_line_exit_2() -> None:
    for args in (["nonsense"], ["models", "--bogus"]):
        done = remask(*args)
        assert done.returncode == 2
        assert done.stderr.count("\n") == 1 and done.stderr.startswith("remask: error: ")
        assert "Traceback" not in done.stderr


# --------------------------------------------------------------------------- in process


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("remask ")


def test_strict_models_exits_2_on_broken(
    models_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["models"]) == 0
    break_model(models_dir)
    assert cli.main(["models", "--strict"]) == 2
    captured = capsys.readouterr()
    assert "tiny-midi" in captured.out and "remask: error: " in captured.err


def test_models_with_nothing_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("REMASK_MODELS_PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr("engine.models.bundled_models_dir", lambda: tmp_path / "no-bundle")
    assert cli.main(["models"]) == 0
    assert "no models found" in capsys.readouterr().err


def test_bare_remask_opens_gui_lazily(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[tuple[list[str], list[Path]]] = []

    def run_gui(argv: list[str], files: list[Path] = ()) -> int:  # type: ignore[assignment]
        calls.append((list(argv), list(files)))
        return 0

    fake = types.ModuleType("app.main_window")
    fake.run_gui = run_gui  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "app.main_window", fake)
    song = tmp_path / "song.mid"
    song.write_bytes(b"MThd")
    assert cli.main([]) == 0
    assert cli.main(["gui", "-platform", "offscreen"]) == 0
    assert cli.main([str(song)]) == 0  # what a file manager runs: `remask %F`
    assert cli.main(["gui", str(song), "-platform", "offscreen"]) == 0
    assert calls == [
        (["remask"], []),
        (["remask", "-platform", "offscreen"], []),
        (["remask"], [song]),
        (["remask", "-platform", "offscreen"], [song]),
    ]
    assert cli.main([str(tmp_path / "missing.mid")]) == 2  # not a file: still a usage error


def test_gui_import_failure_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setitem(sys.modules, "app.main_window", None)  # makes the import raise ImportError
    assert cli.main([]) == 1
    err = capsys.readouterr().err
    assert err.startswith("remask: error: cannot start the GUI") and err.count("\n") == 1


def _fake_command(error: Exception) -> cli.Command:
    def handler(args: argparse.Namespace) -> int:
        raise error

    return cli.Command("boom", "fail on purpose", lambda parser: None, handler)


@pytest.mark.parametrize(
    ("error", "code", "text"),
    [
        (cli.CliError("no such voice 7"), 2, "remask: error: no such voice 7"),
        (
            FileNotFoundError(2, "No such file or directory", "x.mid"),
            2,
            "x.mid: No such file or directory",
        ),
        (RuntimeError("bug"), 1, "remask: error: internal error: RuntimeError: bug"),
    ],
)
def test_handler_errors_become_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, error: Exception, code: int, text: str
) -> None:
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    monkeypatch.setattr(cli, "medium_commands", lambda: [_fake_command(error)])
    assert cli.main(["boom"]) == code
    err = capsys.readouterr().err
    assert text in err and err.count("\n") == 1


def test_medium_specs_add_commands(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Any
) -> None:
    plugin = types.ModuleType("remask_test_cli_plugin")
    plugin.COMMANDS = [_fake_command(cli.CliError("x"))]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "remask_test_cli_plugin", plugin)
    (tmp_path / "remask_test_cli_broken.py").write_text("import remask_not_a_real_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    references = [
        "remask_test_cli_plugin:COMMANDS",
        "remask_test_cli_broken:COMMANDS",
        "remask_test_cli_plugin:NO_SUCH_LIST",
        "",  # a medium without verbs
    ]
    specs = [AppMediumSpec("tokens", "unused:Editor", ref) for ref in references]
    commands = cli.medium_commands(specs)
    assert [c.name for c in commands] == ["boom"]
    err = capsys.readouterr().err
    assert (
        "remask: warning: remask_test_cli_broken not loaded" in err
        and "remask_not_a_real_dependency" in err
    )
    assert "remask: warning: remask_test_cli_plugin not loaded: AttributeError" in err
    with pytest.raises(ValueError, match="two subcommands"):
        cli.build_parser([*commands, *commands])


def test_builtin_media_add_their_verbs() -> None:
    names = [command.name for command in cli.medium_commands()]
    assert names[:3] == ["inpaint", "repaint", "inbetween"]
