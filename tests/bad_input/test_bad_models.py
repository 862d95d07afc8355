"""Every generated broken model folder is reported in one line and never offered.

A broken folder is reported when found (``load_manifest`` raises a one-line
:class:`ModelError`); in a registry it is one line of ``errors``, and a working
model of the same name found earlier stays in use.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.models import ModelError, ModelRegistry, load_manifest
from tests.bad_input.models import SEEDS, ModelCase, model_cases

CASES = model_cases()


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("seeds")
    return {name: write(root) for name, write in SEEDS.items()}


def test_the_seeds_are_working_models(seeds: dict[str, Path]) -> None:
    for name, folder in seeds.items():
        assert load_manifest(folder).medium == name
    assert len(CASES) >= 100


def _broken_copy(case: ModelCase, seeds: dict[str, Path], root: Path) -> Path:
    folder = root / "dropin" / seeds[case.seed].name
    shutil.copytree(seeds[case.seed], folder)
    case.change(folder)
    return folder


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_broken_model_is_one_line_and_never_replaces_a_working_one(
    case: ModelCase, seeds: dict[str, Path], tmp_path: Path
) -> None:
    folder = _broken_copy(case, seeds, tmp_path)
    with pytest.raises(ModelError) as raised:
        load_manifest(folder)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(str(folder))
    registry = ModelRegistry.discover([seeds[case.seed].parent, folder.parent])
    working = load_manifest(seeds[case.seed])
    assert registry.get(working.name).folder == seeds[case.seed]
    assert len(registry.errors) == 1 and registry.errors[0].startswith(str(folder))
