"""``remask repaint``: regenerate bars x voices of a MIDI file with the chorale model.

    remask repaint IN.mid --bars 3-4 --voices alto,tenor -o OUT.mid [--variations 3]

Bars are numbered as the score numbers them (from the file's time
signatures; a pickup is bar 0) and inclusive. ``--voices`` takes the parts to
repaint by name as the file names them (any case: violin 1, viola), by 1-based
number, or by voice (soprano, alto, tenor, bass; default all four); a file with
more than 4 parts needs parts named: voices the named parts leave free show
other parts of the file as context (those sounding in the bars first), and a
part that sounds there but is none of the four voices is named on stderr, as
is a meter the sixteenth grid cannot hold. Each part keeps to its pitch range
(:mod:`engine.media.midi.ranges`). The input file is only read. Registered by
``app.cli`` through :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli import PROG, CliError, Command, printable
from app.cli_common import (
    add_common_arguments,
    check_outputs_differ,
    checked_outputs,
    choose_model,
    report_progress,
    sampler_overrides,
    write_outputs,
)
from engine.jobs import GenerateRequest, run_model_windows
from engine.media.midi import (
    MidiCodec,
    MidiError,
    MidiPayload,
    Score,
    VoiceMapping,
    load_score,
    region_mask,
    resolve_voices,
    time_grid,
    unheard_parts,
)
from engine.media.midi.meter import meter_notes
from engine.models import ModelManifest

MEDIUM = "midi"
PREFERRED_MODEL = "chorale-satb"


def parse_bars(text: str) -> tuple[int, int]:
    """``"3-4"`` -> (3, 4); ``"5"`` -> (5, 5); inclusive, numbered as the score (0 = pickup)."""
    first, _, last = text.partition("-")
    try:
        bars = (int(first), int(last or first))
    except ValueError:
        raise CliError(
            f"--bars {text!r}: expected A-B, e.g. 3-4 (bar numbers as in the score, inclusive)"
        ) from None
    if bars[0] < 0 or bars[1] < bars[0]:
        raise CliError(f"--bars {text!r}: bars start at 1 (0 for a pickup), A must not exceed B")
    return bars


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, metavar="IN.mid", help="MIDI file (type 0 or 1)")
    parser.add_argument(
        "--bars",
        required=True,
        help="bars to repaint, A-B, numbered as in the score (a pickup is 0), inclusive",
    )
    parser.add_argument(
        "--voices",
        default=None,
        help="comma-separated parts to repaint: names as in the file (any case), 1-based "
        "numbers, or soprano,alto,tenor,bass (default all; parts must be named when the "
        "file has more than 4, free voices then show other parts as context)",
    )
    add_common_arguments(parser, "mid", PREFERRED_MODEL)
    parser.add_argument("--wav", action="store_true", help="also render each result to .wav")


def _repaint(args: argparse.Namespace, score: Score, manifest: ModelManifest) -> list[Score]:
    """Every window of the region, through the runner the app's worker uses."""
    from engine.runtime import load_transformer

    codec = MidiCodec.from_manifest(manifest)
    contract = codec.model.contract
    selectors = [s for s in args.voices.split(",") if s.strip()] if args.voices else None
    grid, bars = time_grid(score, contract.steps_per_quarter), parse_bars(args.bars)
    first, stop = grid.bars_to_steps(*bars)  # checks the bars before any mapping
    span = (grid.tick(first), grid.tick(stop))
    mapping, voices = resolve_voices(score, selectors, span)
    _note_unheard_parts(score, mapping, span, args.bars)
    for line in meter_notes(score, grid, span):
        print(f"{PROG}: note: {printable(line)}", file=sys.stderr)
    mask = region_mask(grid, bars, voices)
    payload = MidiPayload.of(score, mask, mapping, contract)
    settings = manifest.default_settings(**sampler_overrides(args))
    request = GenerateRequest(0, manifest.name, settings, payload, codec)
    model = load_transformer(manifest)
    scores, _tokens = run_model_windows(
        request, model, manifest.mask_id, report_progress, lambda: False
    )
    return scores


def _note_unheard_parts(
    score: Score, mapping: VoiceMapping, span: tuple[int, int], bars: str
) -> None:
    """One stderr line per part that sounds in the region but is none of the four voices."""
    for part in unheard_parts(score, mapping, span):
        print(
            f"{PROG}: note: part {part.number} '{printable(part.label)}' sounds in bars {bars} "
            "but is not one of the four voices: kept as it is, unheard by the model, so new "
            "notes may clash with it (name fewer parts to keep it as context)",
            file=sys.stderr,
        )


def run_repaint(args: argparse.Namespace) -> int:
    """Handler of ``remask repaint``; MIDI problems become one-line CLI errors (exit 2)."""
    paths = checked_outputs(args.output, args.variations, ".mid", [args.input])
    if args.wav:
        paths = _with_audio(paths, args.input)
    parse_bars(args.bars)  # fail on a typo before loading a model
    try:
        score = load_score(args.input)
        results = _repaint(args, score, choose_model(args.model, MEDIUM, PREFERRED_MODEL))
        files = [_encoded(result, args.wav) for result in results]
    except MidiError as exc:
        raise CliError(str(exc)) from None
    write_outputs(list(zip(paths, [data for pair in files for data in pair], strict=True)))
    for path in paths:
        print(path)
    return 0


def _with_audio(paths: list[Path], source: Path) -> list[Path]:
    """Each .mid output followed by its .wav, all checked against the input and each other."""
    both = [path for mid in paths for path in (mid, mid.with_suffix(".wav"))]
    check_outputs_differ(both, [source])
    return both


def _encoded(score: Score, wav: bool) -> tuple[bytes, ...]:
    """The .mid bytes of a result and, with ``--wav``, the bytes of its audio render."""
    if not wav:
        return (score.to_bytes(),)
    from engine.media.midi.synth import encode_wav, render_score

    return score.to_bytes(), encode_wav(render_score(score, stereo=True))


COMMANDS = (
    Command(
        "repaint",
        "regenerate bars x voices of a MIDI file (4-voice chorale model)",
        add_arguments,
        run_repaint,
        errors=(MidiError,),
    ),
)
