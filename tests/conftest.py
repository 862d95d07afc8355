"""Test-wide set-up: Qt must be headless before any QApplication exists; the toy medium's engine
side is registered (tests/toy_medium); a folder holding the tiny image model, which the image CLI
and the image editor tests both run."""

import os
from pathlib import Path

import pytest

from tests.toy_medium import spec as toy_medium

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
toy_medium.register()  # the tiny models of tests/tinymodels.py are of the toy medium, "tokens"


@pytest.fixture(scope="module")
def image_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder holding only ``tiny-image`` (see ``tests/engine/image/test_codec.py``)."""
    from tests.engine.image.test_codec import write_image_model

    root = tmp_path_factory.mktemp("image-models")
    write_image_model(root)
    return root
