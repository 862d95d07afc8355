"""The packaging files agree with the code they package (no build: these run in a second)."""

from __future__ import annotations

import ast
import configparser
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from app.registry import app_medium, imported_by_name
from engine.media.registry import BUILTIN_MEDIA

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
DESKTOP_FILE = PACKAGING / "remask.desktop"
SPEC_FILE = PACKAGING / "remask.spec"

# Files that name app/ modules imported by name (importlib), which PyInstaller cannot see:
# app/cli.py (the GUI), the registries and each medium's app spec (editor and command modules).
LAZY_IMPORTERS = (
    ROOT / "app/cli.py",
    ROOT / "app/main_window.py",
    ROOT / "app/editor_base.py",
    ROOT / "app/registry.py",
    *sorted((ROOT / "app").glob("*/spec.py")),
)
MODULE_NAME = re.compile(r"(?:app|engine)(?:\.\w+)+")  # a module, or "module:attribute"


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(DESKTOP_FILE.read_text(encoding="utf-8"))
    return parser["Desktop Entry"]


def semicolon_list(value: str) -> list[str]:
    return [item for item in value.split(";") if item]


def string_constants(path: Path) -> set[str]:
    nodes = ast.walk(ast.parse(path.read_text(encoding="utf-8")))
    return {n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def is_module(name: str) -> bool:
    source = ROOT / f"{name.replace('.', '/')}.py"
    return MODULE_NAME.fullmatch(name) is not None and source.is_file()


def lazily_imported_app_modules() -> set[str]:
    """Every string constant in LAZY_IMPORTERS that names an existing app/ module."""
    names = {text.partition(":")[0] for path in LAZY_IMPORTERS for text in string_constants(path)}
    return {name for name in names if is_module(name)}


def spec_hidden_imports() -> set[str]:
    """What packaging/remask.spec hands PyInstaller: its own names and the registry's list."""
    calls = [
        node.func.id
        for node in ast.walk(ast.parse(SPEC_FILE.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    ]
    assert "imported_by_name" in calls, "the spec must take the media modules from the registry"
    return string_constants(SPEC_FILE) | set(imported_by_name())


def console_scripts() -> dict[str, str]:
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return dict(pyproject["project"]["scripts"])


def test_desktop_entry_has_the_required_keys() -> None:
    entry = desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] == "remask"
    assert entry["GenericName"] == "Masked editor"
    assert entry["Icon"] == "remask"
    assert entry["Terminal"] == "false"
    assert {"Graphics", "2DGraphics", "Audio", "Midi"} <= set(semicolon_list(entry["Categories"]))
    mime_types = set(semicolon_list(entry["MimeType"]))
    for mime in ("image/png", "image/jpeg", "image/webp", "image/bmp", "image/tiff", "audio/midi"):
        assert mime in mime_types


def test_desktop_entry_runs_the_remask_console_script_with_files() -> None:
    program, *arguments = desktop_entry()["Exec"].split()
    assert console_scripts().get(program) == "app.cli:main"
    assert arguments[-1] == "%F"


def test_desktop_entry_icon_is_the_shipped_png() -> None:
    assert (PACKAGING / f"{desktop_entry()['Icon']}.png").is_file()


@pytest.mark.skipif(not shutil.which("desktop-file-validate"), reason="no desktop-file-utils")
def test_desktop_entry_is_valid() -> None:
    result = subprocess.run(
        ["desktop-file-validate", str(DESKTOP_FILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_lazy_import_scan_finds_the_known_modules() -> None:
    """Guards the scan itself: if it found nothing, the spec test below would pass vacuously."""
    assert {"app.main_window", "app.image.cli", "app.image.editor"} <= lazily_imported_app_modules()


def test_spec_lists_every_lazily_imported_app_module() -> None:
    missing = lazily_imported_app_modules() - spec_hidden_imports()
    assert not missing, f"add {sorted(missing)} to APP_LAZY_MODULES in packaging/remask.spec"


def test_every_builtin_medium_is_bundled_with_both_layers() -> None:
    hidden = spec_hidden_imports()
    for key in BUILTIN_MEDIA:
        app_side = app_medium(key)
        assert app_side is not None, f"medium {key!r} has no app/{key}/spec.py"
        modules = {f"engine.media.{key}.spec", f"app.{key}.spec", *app_side.modules()}
        assert modules <= hidden
        assert all(is_module(name) for name in modules), modules


def test_spec_entry_script_exists() -> None:
    assert "remask_entry.py" in string_constants(SPEC_FILE)
    assert (PACKAGING / "remask_entry.py").is_file()


def test_icon_png_is_256_square() -> None:
    with Image.open(PACKAGING / "remask.png") as icon:
        assert icon.format == "PNG"
        assert icon.size == (256, 256)


def test_icon_svg_is_square_xml() -> None:
    root = ET.parse(PACKAGING / "icon.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 256 256"
