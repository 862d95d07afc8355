"""``remask repaint`` writes OUT.mid or OUT-1..K.mid; bad input exits 2 with one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import cli
from engine.media.midi import read_score
from tests.cli_run import cli_env, remask
from tests.engine.midi.midi_files import (
    BAR_44,
    TPB,
    chorale,
    non_note_events,
    note_keys,
    quartet,
    save,
    tiny_chorale_model,
)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A REMASK_MODELS_PATH holding only the tiny chorale model; CPU only; no user models."""
    models = tmp_path / "models"
    tiny_chorale_model(models, steps=32)
    values = cli_env(models, tmp_path)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def test_repaint_writes_out_mid_and_leaves_the_input_alone(
    tmp_path: Path, env: dict[str, str]
) -> None:
    source = save(chorale(1, bars=6), tmp_path / "in.mid")
    before = source.read_bytes()
    out = tmp_path / "out.mid"
    args = ["repaint", str(source), "--bars", "3-4", "--voices", "alto,tenor", "-o", str(out)]
    done = remask(*args, "--seed", "1", "--steps", "3", "--model", "tiny-chorale", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(out)]
    assert source.read_bytes() == before
    original, result = read_score(before), read_score(out.read_bytes())
    assert non_note_events(result) == non_note_events(original)
    changed_tracks = {key[0] for key in note_keys(result.notes) ^ note_keys(original.notes)}
    assert changed_tracks and {original.track_name(t) for t in changed_tracks} <= {"Alto", "Tenor"}


def test_k_variations_write_numbered_files(tmp_path: Path, env: dict[str, str]) -> None:
    source = save(chorale(0, bars=4), tmp_path / "in.mid")
    out = tmp_path / "take.mid"
    args = ["repaint", str(source), "--bars", "2-3", "-o", str(out), "--variations", "3", "--wav"]
    done = remask(*args, "--steps", "2", env=env)  # the only MIDI model is picked by default
    assert done.returncode == 0, done.stderr
    for k in (1, 2, 3):
        assert read_score((tmp_path / f"take-{k}.mid").read_bytes()).notes
        assert (tmp_path / f"take-{k}.wav").stat().st_size > 1000
    assert not out.exists()


def test_bad_input_exits_2_with_one_line(tmp_path: Path, env: dict[str, str]) -> None:
    junk = tmp_path / "junk.mid"
    junk.write_text("not midi")
    done = remask("repaint", str(junk), "--bars", "1-2", "-o", str(tmp_path / "o.mid"), env=env)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"remask: error: {junk}: not a MIDI file (no 'MThd' header)"
    ]
    assert not (tmp_path / "o.mid").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--bars", "5-9"], "outside the piece, whose bars are 1-4"),
        (["--bars", "three"], "expected A-B"),
        (["--bars", "1-2", "--voices", "alto,piccolo"], "unknown voice"),
        (["--bars", "1-2", "--model", "nope"], "no model named 'nope'"),
    ],
)
def test_usage_errors_are_one_line(
    tmp_path: Path,
    env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    source = save(chorale(1, bars=4), tmp_path / "in.mid")
    status = cli.main(["repaint", str(source), "-o", str(tmp_path / "o.mid"), *extra])
    err = capsys.readouterr().err
    assert status == 2 and len(err.splitlines()) == 1
    assert err.startswith("remask: error: ") and message in err


def test_output_may_not_overwrite_the_input(
    tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    source = save(chorale(1, bars=2), tmp_path / "in.mid")
    before = source.read_bytes()
    assert cli.main(["repaint", str(source), "--bars", "1-1", "-o", str(source)]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert source.read_bytes() == before


def test_a_part_left_out_of_the_four_voices_is_named_on_stderr(
    tmp_path: Path, env: dict[str, str]
) -> None:
    order = ("Soprano", "Alto", "Tenor", "Bass", "Soprano")
    source = save(chorale(1, bars=4, order=order), tmp_path / "five.mid")
    out = tmp_path / "out.mid"
    args = ["repaint", str(source), "--bars", "2-3", "-o", str(out), "--steps", "2"]
    done = remask(*args, "--voices", "1,2,3,4", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(out)]
    (line,) = done.stderr.splitlines()
    assert line.startswith("remask: note: part 5 'Soprano' sounds in bars 2-3")
    original, result = read_score(source.read_bytes()), read_score(out.read_bytes())
    fifth = {k for k in note_keys(original.notes) if k[0] == 5}
    assert fifth and fifth <= note_keys(result.notes)  # kept as it is
    done = remask(*args, "--voices", "alto,tenor,1", env=env)  # one context voice left: part 4
    assert done.returncode == 0 and "part 5" in done.stderr and "part 4" not in done.stderr


def _changed_track_names(source: Path, out: Path) -> set[str]:
    original, result = read_score(source.read_bytes()), read_score(out.read_bytes())
    changed = {key[0] for key in note_keys(result.notes) ^ note_keys(original.notes)}
    return {original.track_name(t) for t in changed}


def test_quartet_parts_by_their_names_numbers_and_voices(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """A string quartet's parts are named as the file names them, or numbered, or by voice."""
    source = save(quartet(bars=4, signatures=((0, 1, 4), (TPB, 4, 4))), tmp_path / "q.mid")
    out = tmp_path / "out.mid"
    base = ["repaint", str(source), "-o", str(out), "--steps", "2", "--seed", "1"]
    done = remask(*base, "--bars", "0-1", "--voices", "VIOLIN 2", env=env)
    assert done.returncode == 0, done.stderr
    assert _changed_track_names(source, out) == {"Violin 2"}
    original, result = read_score(source.read_bytes()), read_score(out.read_bytes())
    changed = note_keys(result.notes) ^ note_keys(original.notes)
    assert max(key[4] for key in changed) < TPB + BAR_44  # the pickup and bar 1 only
    done = remask(*base, "--bars", "2-2", "--voices", "4,soprano", env=env)
    assert done.returncode == 0, done.stderr
    assert _changed_track_names(source, out) == {"Violin 1", "Violoncello"}
    done = remask(*base, "--bars", "2-2", "--voices", "cello", env=env)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert "'cello' is no part or voice" in line and "2: 'Violin 2'" in line


def test_a_meter_the_grid_does_not_know_is_named(tmp_path: Path, env: dict[str, str]) -> None:
    source = save(quartet(bars=4, signatures=((0, 9, 8),)), tmp_path / "jig.mid")
    out = tmp_path / "out.mid"
    args = ["repaint", str(source), "--bars", "1-1", "-o", str(out), "--steps", "2"]
    done = remask(*args, env=env)
    assert done.returncode == 0, done.stderr
    assert "remask: note: 9/8 from bar 1: the model learned 4/4 and 3/4" in done.stderr
