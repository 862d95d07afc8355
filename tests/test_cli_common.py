"""The pieces ``remask inpaint``, ``repaint`` and ``inbetween`` share (:mod:`app.cli_common`)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from app.cli import CliError
from app.cli_common import (
    add_common_arguments,
    check_output_folders,
    check_outputs_differ,
    choose_model,
    output_paths,
    positive_int,
    report_progress,
    sampler_overrides,
)
from engine import models
from tests.tinymodels import write_tiny_model

HINT = "--method interpolate gives the linear + SLERP baseline instead"


@pytest.fixture
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The only folder model discovery searches (no bundled or user models)."""
    directory = tmp_path / "models"
    directory.mkdir()
    monkeypatch.setattr(models, "default_model_dirs", lambda: [directory])
    return directory


# --------------------------------------------------------------------------- positive_int


def test_positive_int_accepts_whole_numbers_from_1() -> None:
    assert positive_int("1") == 1 and positive_int("12") == 12


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "0 must be at least 1"),
        ("-3", "-3 must be at least 1"),
        ("three", "'three' is not a whole number"),
        ("2.5", "'2.5' is not a whole number"),
        ("", "'' is not a whole number"),
    ],
)
def test_positive_int_refuses_with_a_message(text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as raised:
        positive_int(text)
    assert str(raised.value) == message


# --------------------------------------------------------------------------- arguments


def parser_for(extension: str = "mid", output_help: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="remask test")
    add_common_arguments(parser, extension, "preferred-model", output_help)
    return parser


def test_common_arguments_defaults_and_overrides() -> None:
    args = parser_for().parse_args(["-o", "out.mid"])
    assert (args.output, args.seed, args.steps, args.variations, args.model) == (
        Path("out.mid"),
        0,
        None,
        1,
        None,
    )
    assert sampler_overrides(args) == {"seed": 0, "variations": 1}
    args = parser_for().parse_args(["--output", "o.mid", "--seed", "7", "--steps", "3"])
    assert sampler_overrides(args) == {"seed": 7, "variations": 1, "steps": 3}


def test_common_arguments_help_names_the_extension_and_the_default_model() -> None:
    text = parser_for("bvh", output_help="where to write").format_help()
    assert "-o OUT.bvh, --output OUT.bvh" in text and "where to write" in text
    assert "K > 1 writes OUT-1.bvh .. OUT-K.bvh" in text
    assert "model name (default: preferred-model)" in text


def test_common_arguments_reject_zero_variations(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parser_for().parse_args(["-o", "o.mid", "--variations", "0"])
    assert "argument --variations: 0 must be at least 1" in capsys.readouterr().err


# --------------------------------------------------------------------------- choose_model


def test_no_model_of_the_medium_is_an_error(models_dir: Path) -> None:
    write_tiny_model(models_dir, name="other", medium="tokens")
    with pytest.raises(CliError) as raised:
        choose_model(None, "midi", "chorale-satb")
    assert str(raised.value) == "no MIDI model installed (see 'remask models')"


def test_the_missing_hint_follows_the_no_model_message(models_dir: Path) -> None:
    with pytest.raises(CliError) as raised:
        choose_model(None, "motion", "motion-mmm", missing_hint=HINT)
    assert str(raised.value) == f"no motion model installed (see 'remask models'); {HINT}"


def test_the_only_model_of_the_medium_is_chosen(models_dir: Path) -> None:
    write_tiny_model(models_dir, name="tiny-midi", medium="midi")
    write_tiny_model(models_dir, name="other", medium="tokens")
    assert choose_model(None, "midi", "chorale-satb").name == "tiny-midi"


def test_two_models_need_model_unless_one_is_preferred(models_dir: Path) -> None:
    write_tiny_model(models_dir, name="b-midi", medium="midi")
    write_tiny_model(models_dir, name="a-midi", medium="midi")
    with pytest.raises(CliError) as raised:
        choose_model(None, "midi", "chorale-satb")
    assert str(raised.value) == "several MIDI models (a-midi, b-midi): choose one with --model"
    assert choose_model(None, "midi", "b-midi").name == "b-midi"
    assert choose_model("a-midi", "midi", "b-midi").name == "a-midi"


def test_a_named_model_of_another_medium_is_refused(models_dir: Path) -> None:
    write_tiny_model(models_dir, name="tiny-tokens", medium="tokens")
    with pytest.raises(CliError) as raised:
        choose_model("tiny-tokens", "midi", "chorale-satb")
    assert str(raised.value) == "model 'tiny-tokens' is for tokens, not midi"


def test_an_unknown_name_lists_the_known_ones(models_dir: Path) -> None:
    write_tiny_model(models_dir, name="tiny-midi", medium="midi")
    with pytest.raises(CliError) as raised:
        choose_model("nope", "midi", "chorale-satb")
    assert str(raised.value) == "no model named 'nope' (known: tiny-midi)"


# --------------------------------------------------------------------------- outputs


def test_one_variation_writes_exactly_the_output() -> None:
    assert output_paths(Path("d/take.png"), 1, ".png") == [Path("d/take.png")]
    assert output_paths(Path("d/take"), 1, ".mid") == [Path("d/take")]


def test_k_variations_are_numbered_before_the_suffix() -> None:
    assert output_paths(Path("d/take.webp"), 3, ".png") == [
        Path("d/take-1.webp"),
        Path("d/take-2.webp"),
        Path("d/take-3.webp"),
    ]


def test_k_variations_without_a_suffix_get_the_default_one() -> None:
    assert output_paths(Path("take"), 2, ".bvh") == [Path("take-1.bvh"), Path("take-2.bvh")]


def test_an_output_equal_to_the_input_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "in.mid"
    with pytest.raises(CliError) as raised:
        check_outputs_differ([Path("other.mid"), Path("in.mid")], [source])
    assert str(raised.value) == "in.mid: would overwrite the input; choose another -o"


def test_an_output_equal_to_one_of_several_inputs_is_refused(tmp_path: Path) -> None:
    image, mask = tmp_path / "in.png", tmp_path / "mask.png"
    with pytest.raises(CliError) as raised:
        check_outputs_differ([tmp_path / "sub" / ".." / "mask.png"], [image, mask])
    assert "would overwrite an input; choose another -o" in str(raised.value)


def test_outputs_other_than_the_inputs_pass(tmp_path: Path) -> None:
    check_outputs_differ([tmp_path / "out-1.png", tmp_path / "out-2.png"], [tmp_path / "in.png"])


def test_an_output_in_a_missing_folder_is_refused(tmp_path: Path) -> None:
    check_output_folders([tmp_path / "out.bvh"])
    with pytest.raises(CliError) as raised:
        check_output_folders([tmp_path / "out.bvh", tmp_path / "gone" / "out.bvh"])
    assert str(raised.value) == f"{tmp_path / 'gone'}: no such folder"


# --------------------------------------------------------------------------- progress


def test_progress_is_logged_with_1_based_window(caplog: pytest.LogCaptureFixture) -> None:
    progress: Any = SimpleNamespace(window=1, windows=3, step=SimpleNamespace(index=4, total=8))
    with caplog.at_level(logging.INFO, logger="app.cli_common"):
        report_progress(progress)
    assert caplog.messages == ["window 2/3, step 4/8"]
