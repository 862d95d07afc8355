"""``remask inpaint`` as a user runs it: a subprocess, a tiny real image model, files on disk."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.media.image.export import save_image
from engine.media.image.files import LoadedImage, load_image
from engine.media.image.mask import save_mask
from tests.cli_run import cli_env, remask

HEIGHT, WIDTH = 72, 200


@pytest.fixture
def env(tmp_path: Path, image_models: Path) -> dict[str, str]:
    return cli_env(image_models, tmp_path)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    rgb = np.random.default_rng(4).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.bool_)
    mask[20:40, 10:30] = True
    mask[30:50, 160:190] = True  # far apart: two crop windows
    image_path, mask_path = tmp_path / "in.png", tmp_path / "mask.png"
    save_image(LoadedImage.from_rgb(rgb), image_path)
    save_mask(mask, mask_path)
    return image_path, mask_path, rgb, mask


def inpaint(
    image: str | Path, mask: str | Path, out: Path, *options: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """``remask inpaint IMAGE --mask MASK -o OUT OPTIONS``."""
    args = [str(image), "--mask", str(mask), "-o", str(out), *options]
    return remask("inpaint", *args, env=env)


def test_inpaint_writes_out_png_changing_only_the_mask(
    tmp_path: Path, env: dict[str, str], files: tuple[Path, Path, np.ndarray, np.ndarray]
) -> None:
    image_path, mask_path, rgb, mask = files
    out = tmp_path / "out.png"
    done = inpaint(image_path, mask_path, out, "--steps", "3", "--seed", "1", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(out)]
    result = load_image(out).rgb
    assert np.array_equal(result[~mask], rgb[~mask])
    assert not np.array_equal(result[20:40, 10:30], rgb[20:40, 10:30])
    assert not np.array_equal(result[30:50, 160:190], rgb[30:50, 160:190])


def test_k_variations_write_numbered_files(
    tmp_path: Path, env: dict[str, str], files: tuple[Path, Path, np.ndarray, np.ndarray]
) -> None:
    image_path, mask_path, rgb, mask = files
    out = tmp_path / "take.webp"
    options = ["--variations", "3", "--steps", "2", "--model", "tiny-image"]
    done = inpaint(image_path, mask_path, out, *options, env=env)
    assert done.returncode == 0, done.stderr
    results = [load_image(tmp_path / f"take-{k}.webp").rgb for k in (1, 2, 3)]
    assert not out.exists()
    for result in results:
        assert np.array_equal(result[~mask], rgb[~mask])
    assert any(not np.array_equal(results[0], other) for other in results[1:])


def test_what_was_under_the_mask_never_reaches_the_output(
    tmp_path: Path, env: dict[str, str], files: tuple[Path, Path, np.ndarray, np.ndarray]
) -> None:
    """Two pictures that differ only under the mask give byte-identical files (issue 17)."""
    image_path, mask_path, rgb, mask = files
    painted = rgb.copy()
    painted[mask] = 255
    painted_path = tmp_path / "painted.png"
    save_image(LoadedImage.from_rgb(painted), painted_path)
    outputs = []
    for source in (image_path, painted_path):
        out = tmp_path / f"from-{source.stem}.png"
        done = inpaint(source, mask_path, out, "--steps", "3", "--seed", "2", env=env)
        assert done.returncode == 0, done.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def bad_inputs(tmp_path: Path, image_path: Path) -> dict[str, list[str]]:
    """Name -> the IMAGE and MASK arguments of one bad invocation."""
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(image_path.read_bytes()[:300])
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0" + b"garbage" * 50)
    empty_file = tmp_path / "zero.png"
    empty_file.write_bytes(b"")
    bomb = tmp_path / "bomb.png"
    Image.new("1", (30000, 30000)).save(bomb)
    masks = {}
    for name, mask in {
        "small": np.ones((10, 10), dtype=np.bool_),
        "empty": np.zeros((HEIGHT, WIDTH), dtype=np.bool_),
        "full": np.ones((HEIGHT, WIDTH), dtype=np.bool_),
    }.items():
        masks[name] = tmp_path / f"mask-{name}.png"
        save_mask(mask, masks[name])
    good_mask = str(tmp_path / "mask.png")
    return {
        "truncated": [str(truncated), good_mask],
        "corrupt": [str(corrupt), good_mask],
        "zero-byte": [str(empty_file), good_mask],
        "bomb": [str(bomb), good_mask],
        "mask of another size": [str(image_path), str(masks["small"])],
        "empty mask": [str(image_path), str(masks["empty"])],
        "mask covering everything": [str(image_path), str(masks["full"])],
        "missing mask": [str(image_path), str(tmp_path / "nope.png")],
    }


def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    tmp_path: Path, env: dict[str, str], files: tuple[Path, Path, np.ndarray, np.ndarray]
) -> None:
    image_path = files[0]
    out = tmp_path / "out.png"
    for name, (image_arg, mask_arg) in bad_inputs(tmp_path, image_path).items():
        done = inpaint(image_arg, mask_arg, out, env=env)
        assert done.returncode == 2, (name, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("remask: error: "), (name, lines)
        assert not out.exists(), name


def test_no_image_model_installed(
    tmp_path: Path, env: dict[str, str], files: tuple[Path, Path, np.ndarray, np.ndarray]
) -> None:
    from engine.models import ModelRegistry
    from engine.paths import bundled_models_dir

    if ModelRegistry.discover([bundled_models_dir()]).for_medium("image"):
        pytest.skip("an image model ships in assets/models, so one is always installed")
    image_path, mask_path = files[0], files[1]
    empty_models = tmp_path / "no-models"
    empty_models.mkdir()
    no_models = {**env, "REMASK_MODELS_PATH": str(empty_models)}
    done = inpaint(image_path, mask_path, tmp_path / "o.png", env=no_models)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "remask: error: no image model installed (see 'remask models')"
    ]
    assert not (tmp_path / "o.png").exists()
