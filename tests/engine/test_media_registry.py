"""The media registry: built-ins in tab order, cheap to list, open to media from outside."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.media import registry
from engine.media.registry import BUILTIN_MEDIA, MediumSpec, media, medium, medium_keys
from tests.engine.motion.synthetic_bvh import bandai_like
from tests.toy_medium import spec as toy_medium

ROOT = Path(__file__).resolve().parents[2]


def test_builtins_come_first_in_tab_order() -> None:
    assert medium_keys()[:3] == BUILTIN_MEDIA == ("image", "midi", "motion")
    assert [spec.title for spec in media()[:3]] == ["Image", "MIDI", "Motion"]
    assert medium("midi").label == "MIDI" and medium("image").label == "image"
    assert ".bvh" in medium("motion").extensions


def test_unknown_medium_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="no medium called 'video' .*image, midi, motion"):
        medium("video")


def test_listing_media_imports_no_codec() -> None:
    """Specs name their document and codec lazily: listing media stays cheap."""
    probe = (
        "import json, sys; from engine.media.registry import media; media(); "
        "print(json.dumps(sorted(m for m in sys.modules if m.endswith(('codec', 'document')))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == []


def test_each_builtin_spec_opens_a_file_of_its_medium(tmp_path: Path) -> None:
    walk = tmp_path / "walk.bvh"
    walk.write_text(bandai_like(frames=8, seed=0))
    samples = ROOT / "assets" / "samples"
    files = {"image": samples / "photo.png", "midi": samples / "chorale.mid", "motion": walk}
    for key, path in files.items():
        assert path.suffix in medium(key).extensions
        assert medium(key).open_document(path) is not None


def test_register_refuses_a_second_spec_under_a_taken_key() -> None:
    toy_medium.register()  # the same spec again: a no-op
    with pytest.raises(ValueError, match="'image' is already registered"):
        registry.register_medium(dataclasses.replace(medium("image"), title="Picture"))
    with pytest.raises(ValueError, match="'tokens' is already registered"):
        registry.register_medium(dataclasses.replace(toy_medium.SPEC, title="Other"))


def test_a_broken_builtin_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "BUILTIN_MEDIA", ("image", "nonexistent"))
    monkeypatch.setattr(registry, "_builtins", None)
    assert medium_keys()[:2] == ("image", "tokens")
    monkeypatch.setattr(registry, "_builtins", None)  # rebuilt from the real list afterwards


@pytest.mark.parametrize(
    ("key", "extensions"), [("Bad", (".x",)), ("two words", (".x",)), ("ok", ("x",))]
)
def test_spec_checks_its_key_and_extensions(key: str, extensions: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        MediumSpec(key, "T", extensions, "", open_document=Path, codec=toy_medium.codec)
