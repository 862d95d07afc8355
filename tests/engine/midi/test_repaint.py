"""Repainting bars x voices with a tiny real ONNX model: the region changes, the rest is exact."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mido
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import settings as settings_
from hypothesis import strategies as st

from engine.jobs import Cancelled, Codec, GenerateRequest, Progress, run_generation
from engine.media.midi import (
    UNMAPPED,
    MidiCodec,
    MidiPayload,
    NoteRecord,
    Score,
    TokenContract,
    map_voices,
    read_score,
    region_mask,
    repaint,
    resolve_voices,
    time_grid,
    token_grid,
)
from engine.media.midi.repaint import decode_grid
from engine.models import ModelError, ModelManifest, load_manifest
from engine.runtime import load_transformer
from engine.sampling.types import LogitsFn, SamplerSettings
from tests.engine.midi.midi_files import (
    TPB,
    bar_tick,
    chorale,
    midi_bytes,
    non_note_events,
    note_keys,
    tiny_chorale_model,
    to_track,
)

Key = tuple[int, int, int, int, int, int]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ModelManifest, LogitsFn]]:
    manifest = load_manifest(tiny_chorale_model(tmp_path_factory.mktemp("models"), steps=32))
    yield manifest, load_transformer(manifest).logits_fn()


def settings(variations: int = 2, seed: int = 3) -> SamplerSettings:
    return SamplerSettings(steps=4, variations=variations, seed=seed)


def split_by_region(
    notes: tuple[NoteRecord, ...], tracks: set[int], lo: int, hi: int
) -> tuple[set[Key], set[Key]]:
    """(notes of ``tracks`` overlapping [lo, hi), every other note) as key sets."""
    inside = {n.key() for n in notes if n.track in tracks and n.start < hi and n.end > lo}
    return inside, note_keys(notes) - inside


def voice_tracks(score: Score, names: tuple[str, ...]) -> set[int]:
    return {i for i in range(len(score.midi.tracks)) if score.track_name(i) in names}


def test_repaint_changes_only_the_chosen_voices_inside_the_bars(
    model: tuple[ModelManifest, LogitsFn],
) -> None:
    manifest, logits_fn = model
    score = read_score(midi_bytes(chorale(1, bars=6)))
    mapping, voices = resolve_voices(score, ["alto", "tenor"])
    mask = region_mask(time_grid(score), (3, 4), voices)
    results = repaint(score, mask, logits_fn, manifest, settings(), mapping=mapping)
    assert len(results) == 2
    lo, hi = bar_tick(3), bar_tick(5)
    tracks = voice_tracks(score, ("Alto", "Tenor"))
    _, outside = split_by_region(score.notes, tracks, lo, hi)
    for result in results:
        # every note of soprano and bass, and of alto/tenor away from bars 3-4, is bit-exact...
        assert outside <= note_keys(result.notes)
        # ...and all non-note events too (tempo, meters, key, programs, controllers, sysex, text)
        assert non_note_events(result) == non_note_events(score)
        changed = note_keys(result.notes) ^ note_keys(score.notes)
        for track, _, _, _, start, end in changed:  # removed, cut (ending at the border) or new
            assert track in tracks and start <= hi and end >= lo, (track, start, end)
        # generated notes: on the voice's track and channel, with that voice's velocity
        new = note_keys(result.notes) - note_keys(score.notes)
        for track, channel, _, velocity, _, _ in new:
            name = result.track_name(track)
            assert (channel, velocity) == (
                {"Alto": 1, "Tenor": 3}[name],
                {"Alto": 70, "Tenor": 64}[name],
            )
    assert note_keys(results[0].notes) != note_keys(results[1].notes)  # two real variations


def test_a_note_crossing_the_border_is_cut_exactly_there(
    model: tuple[ModelManifest, LogitsFn],
) -> None:
    manifest, logits_fn = model
    score = read_score(midi_bytes(chorale(1, bars=6)))
    border = bar_tick(3)
    (crossing,) = [
        n for n in score.notes if score.track_name(n.track) == "Alto" and n.start < border < n.end
    ]
    mapping, voices = resolve_voices(score, ["alto"])
    mask = region_mask(time_grid(score), (3, 3), voices)
    for result in repaint(score, mask, logits_fn, manifest, settings(), mapping=mapping):
        head = [
            n
            for n in result.notes
            if (n.track, n.pitch, n.start) == (crossing.track, crossing.pitch, crossing.start)
        ]
        assert len(head) == 1
        assert (head[0].end, head[0].velocity, head[0].channel) == (
            border,
            crossing.velocity,
            crossing.channel,
        )
        # the kept head's note-on is the very message of the original
        assert (
            result.midi.tracks[crossing.track][head[0].on_index]
            == score.midi.tracks[crossing.track][crossing.on_index]
        )


def test_a_note_spanning_the_region_keeps_head_and_tail(
    model: tuple[ModelManifest, LogitsFn],
) -> None:
    """A whole note over a one-beat region is cut into a head before and a tail after it."""
    manifest, logits_fn = model
    events: list[tuple[int, mido.Message | mido.MetaMessage]] = []
    for channel, pitch in enumerate((72, 65, 57, 48)):
        events += [
            (0, mido.Message("note_on", channel=channel, note=pitch, velocity=60 + channel)),
            (8 * TPB, mido.Message("note_off", channel=channel, note=pitch, velocity=0)),
        ]
    events.sort(key=lambda e: e[0])
    score = read_score(
        midi_bytes(mido.MidiFile(type=0, ticks_per_beat=TPB, tracks=[to_track(events)]))
    )
    mask = np.zeros((4, time_grid(score).n_steps), dtype=bool)
    mask[1, 16:20] = True  # alto, beat 1 of bar 2
    (result,) = repaint(score, mask, logits_fn, manifest, settings(variations=1))
    alto = sorted(
        (n.start, n.end, n.pitch, n.velocity)
        for n in result.notes
        if n.channel == 1 and n.pitch == 65
    )
    assert alto[0] == (0, 4 * TPB, 65, 61)
    assert alto[-1] == (5 * TPB, 8 * TPB, 65, 61)
    others = {n.key() for n in result.notes if n.channel != 1}
    assert others == {n.key() for n in score.notes if n.channel != 1}


def test_drums_are_left_alone(model: tuple[ModelManifest, LogitsFn]) -> None:
    manifest, logits_fn = model
    score = read_score(midi_bytes(chorale(1, bars=4, drums=True)))
    mask = region_mask(time_grid(score), (1, 4), [0, 1, 2, 3])
    drums = {n.key() for n in score.notes if n.channel == 9}
    for result in repaint(score, mask, logits_fn, manifest, settings()):
        assert {n.key() for n in result.notes if n.channel == 9} == drums
        assert non_note_events(result) == non_note_events(score)


def test_a_region_longer_than_the_window_runs_several_windows(
    model: tuple[ModelManifest, LogitsFn],
) -> None:
    manifest, logits_fn = model  # T = 32 steps = 2 bars of 4/4
    score = read_score(midi_bytes(chorale(0, bars=8)))
    mask = region_mask(time_grid(score), (2, 7), [0, 3])
    seen: list[Progress] = []
    results = repaint(score, mask, logits_fn, manifest, settings(), on_progress=seen.append)
    assert seen[-1].windows > 1 and {p.window for p in seen} == set(range(seen[-1].windows))
    lo, hi = bar_tick(2), bar_tick(8)
    mapping = map_voices(score)
    outer_channels = {mapping.targets[0].channel, mapping.targets[3].channel}
    for result in results:
        for key in note_keys(result.notes) ^ note_keys(score.notes):
            assert key[1] in outer_channels and key[4] <= hi and key[5] >= lo
        assert non_note_events(result) == non_note_events(score)


def test_each_window_is_cut_from_what_the_earlier_windows_generated_per_variation(
    model: tuple[ModelManifest, LogitsFn],
) -> None:
    """Window k's context columns hold window k-1's final tokens, variation by variation."""
    manifest, logits_fn = model
    score = read_score(midi_bytes(chorale(1, bars=8)))  # type 1: one track per voice
    payload = MidiPayload.of(score, region_mask(time_grid(score), (2, 7), [1, 2]))
    problems: list[np.ndarray] = []
    finals: list[np.ndarray] = []

    class Recording(MidiCodec):
        def encode_window(self, *args: Any) -> Any:
            problem = super().encode_window(*args)
            problems.append(problem.tokens.reshape(-1, 4, 32))
            return problem

        def apply_window(self, payload: Any, states: Any, window: int, tokens: Any) -> Any:
            finals.append(tokens.reshape(-1, 4, 32))
            return super().apply_window(payload, states, window, tokens)

    codec = Recording(MidiCodec.from_manifest(manifest).model)
    windows = codec.windows(payload)
    request = GenerateRequest(1, manifest.name, settings(seed=8), payload, codec)
    results, _ = run_generation(request, logits_fn, manifest.mask_id, lambda _: None, lambda: False)
    assert len(windows) == len(problems) == len(finals) > 2
    for k in range(1, len(windows)):
        before, now = windows[k - 1], windows[k]
        lo, hi = now.start, min(before.start + 32, now.edit_from)
        assert hi > lo  # the windows overlap: window k sees music window k-1 wrote
        np.testing.assert_array_equal(
            problems[k][:, :, : hi - lo], finals[k - 1][:, :, lo - before.start : hi - before.start]
        )
    assert not np.array_equal(finals[0][0], finals[0][1])  # two variations, two contexts
    targets = payload.mapping.targets
    voice_of_track = {t.track: v for v, t in enumerate(targets) if t.track is not None}
    for result, b in zip(results, range(2), strict=True):  # the decoded score holds every window
        grid = _grid_of(result, voice_of_track, TokenContract())
        for window, final in zip(windows, finals, strict=True):
            cols = slice(window.edit_from, window.edit_to)
            edited = final[b][:, window.edit_from - window.start : window.edit_to - window.start]
            np.testing.assert_array_equal(
                np.where(payload.cell_mask[:, cols], edited, payload.tokens[:, cols]),
                grid[:, cols],
            )


def assert_worker_path_repaints(
    model: tuple[ModelManifest, LogitsFn], job_id: int, codec: Codec, payload: MidiPayload
) -> None:
    """The generic worker path over ``codec`` writes what :func:`repaint` writes directly."""
    manifest, logits_fn = model
    request = GenerateRequest(job_id, manifest.name, settings(), payload, codec)
    results, tokens = run_generation(
        request, logits_fn, manifest.mask_id, lambda _: None, lambda: False
    )
    assert tokens.shape == (2, 4 * 32)
    direct = repaint(
        payload.score, payload.cell_mask, logits_fn, manifest, settings(), mapping=payload.mapping
    )
    assert [note_keys(r.notes) for r in results] == [note_keys(r.notes) for r in direct]


def test_the_codec_runs_in_the_generic_worker_path(model: tuple[ModelManifest, LogitsFn]) -> None:
    manifest = model[0]
    score = read_score(midi_bytes(chorale(1, bars=6)))
    mapping, voices = resolve_voices(score, ["soprano"])
    payload = MidiPayload.of(score, region_mask(time_grid(score), (4, 4), voices), mapping)
    codec: Codec = MidiCodec.from_manifest(manifest)
    assert_worker_path_repaints(model, 1, codec, payload)
    with pytest.raises(ValueError):
        payload.cell_mask[0, 0] = True  # the snapshot is frozen
    # a region longer than the window takes the same worker path, window after window
    long = MidiPayload.of(score, region_mask(time_grid(score), (1, 6), voices), mapping)
    assert MidiCodec.from_manifest(manifest).window_count(long) > 1
    assert_worker_path_repaints(model, 2, codec, long)


def test_same_seed_same_music_and_cancel_between_steps(
    model: tuple[ModelManifest, LogitsFn],
) -> None:
    manifest, logits_fn = model
    score = read_score(midi_bytes(chorale(1, bars=6)))
    mask = region_mask(time_grid(score), (3, 4), [1])
    first = repaint(score, mask, logits_fn, manifest, settings(seed=5))
    again = repaint(score, mask, logits_fn, manifest, settings(seed=5))
    assert [note_keys(r.notes) for r in first] == [note_keys(r.notes) for r in again]
    with pytest.raises(Cancelled):
        repaint(score, mask, logits_fn, manifest, settings(), should_stop=lambda: True)


def test_missing_voices_are_generated_on_a_new_track(model: tuple[ModelManifest, LogitsFn]) -> None:
    manifest, logits_fn = model
    score = read_score(midi_bytes(chorale(1, bars=4, order=("Soprano", "Bass"))))
    mask = region_mask(time_grid(score), (1, 4), [1, 2])
    for result in repaint(score, mask, logits_fn, manifest, settings()):
        assert note_keys(result.notes) >= note_keys(score.notes)
        names = [result.track_name(i) for i in range(len(result.midi.tracks))]
        added = [n for n in result.notes if n.track >= len(score.midi.tracks)]
        assert added and set(names[len(score.midi.tracks) :]) <= {"Alto", "Tenor"}


def test_parts_chosen_from_five_are_repainted_against_the_others(
    model: tuple[ModelManifest, LogitsFn],
) -> None:
    """Alto and tenor of a 5-part file: the model sees a soprano and the bass, which stay exact."""
    manifest, logits_fn = model
    order = ("Soprano", "Alto", "Tenor", "Bass", "Soprano")
    score = read_score(midi_bytes(chorale(1, bars=4, order=order)))
    mapping, voices = resolve_voices(score, ["alto", "tenor"])
    assert voices == [1, 2]
    shown: list[np.ndarray] = []

    def watched(tokens: np.ndarray) -> np.ndarray:
        shown.append(tokens.copy())
        return logits_fn(tokens)

    mask = region_mask(time_grid(score), (2, 3), voices)
    (result,) = repaint(score, mask, watched, manifest, settings(variations=1), mapping=mapping)
    payload = MidiPayload.of(score, mask, mapping)
    (window,) = MidiCodec.from_manifest(manifest).windows(payload)
    first = shown[0][0].reshape(4, -1)  # the first question the model was asked
    truth = payload.tokens[:, window.start : window.start + first.shape[1]]
    contract = TokenContract()
    for voice in (0, 3):  # soprano and bass rows: the context parts' own music, never masked
        assert np.array_equal(first[voice], truth[voice])
        assert (first[voice] != contract.rest_token).any()
    assert (first[1:3] == manifest.mask_id).any()
    repainted = voice_tracks(score, ("Alto", "Tenor"))
    context_tracks = {p.track for p in mapping.parts if p is not None} - repainted
    kept = {k for k in note_keys(score.notes) if k[0] not in repainted}
    assert kept <= note_keys(result.notes) and len(context_tracks) == 2
    assert note_keys(result.notes) != note_keys(score.notes)


def test_model_must_be_a_four_voice_grid(tmp_path: Path) -> None:
    from tests.tinymodels import write_tiny_model

    folder = write_tiny_model(tmp_path, name="wrong", medium="midi", vocab_size=67, shape=(3, 8))
    with pytest.raises(ModelError, match=r"tokens.shape \[3, 8\] must be \[4, 8\]"):
        load_manifest(folder)  # refused when found, before any repaint


# --------------------------------------------------------------------------- property


def _grid_of(score: Score, voice_of_track: dict[int, int], contract: TokenContract) -> np.ndarray:
    note_voice = [voice_of_track.get(n.track, UNMAPPED) for n in score.notes]
    return token_grid(score, note_voice, time_grid(score), contract)


@settings_(max_examples=25, deadline=None)
@given(data=st.data())
def test_any_cells_any_tokens_decode_exactly_and_nothing_else_moves(data: st.DataObject) -> None:
    """Decoding writes exactly the generated tokens into the region and keeps every other cell."""
    score = read_score(midi_bytes(chorale(1, bars=3)))
    mapping = map_voices(score)
    contract = TokenContract()
    n_steps = time_grid(score).n_steps
    flat_mask = data.draw(st.lists(st.booleans(), min_size=4 * n_steps, max_size=4 * n_steps))
    mask = np.array(flat_mask).reshape(4, n_steps)
    assume(mask.any())
    payload = MidiPayload.of(score, mask, mapping, contract)
    tokens = data.draw(st.lists(st.integers(0, 66), min_size=4 * n_steps, max_size=4 * n_steps))
    generated = np.where(mask, np.array(tokens).reshape(4, n_steps), payload.tokens)
    result = decode_grid(payload, generated, contract)
    voice_of_track = {t.track: v for v, t in enumerate(mapping.targets) if t.track is not None}
    np.testing.assert_array_equal(_grid_of(result, voice_of_track, contract), generated)
    assert non_note_events(result) == non_note_events(score)
    holes = [set(np.flatnonzero(mask[v])) for v in range(4)]
    grid = time_grid(score)
    for note, voice in zip(score.notes, mapping.note_voice, strict=True):
        lo, hi = grid.step(note.start), grid.step(note.end)
        if not holes[voice] & set(range(lo, hi)):
            assert note.key() in note_keys(result.notes)


def test_off_grid_timing_at_another_resolution_stays_exact_outside(
    model: tuple[ModelManifest, LogitsFn],
) -> None:
    """Humanised notes (not on sixteenths) at 96 ticks per quarter: the region is cut in ticks."""
    manifest, logits_fn = model
    rng = np.random.default_rng(7)
    midi = mido.MidiFile(type=1, ticks_per_beat=96)
    for channel, base in enumerate((72, 64, 57, 48)):
        events: list[tuple[int, mido.Message | mido.MetaMessage]] = []
        for beat in range(16):
            start = beat * 96 + int(rng.integers(0, 7))
            pitch = base + int(rng.integers(-3, 4))
            events += [
                (start, mido.Message("note_on", channel=channel, note=pitch, velocity=70)),
                (start + 80, mido.Message("note_off", channel=channel, note=pitch, velocity=0)),
            ]
        midi.tracks.append(to_track(sorted(events, key=lambda e: e[0])))
    score = read_score(midi_bytes(midi))
    lo, hi = 4 * 96, 8 * 96  # bar 2
    mask = region_mask(time_grid(score), (2, 2), [0])
    for result in repaint(score, mask, logits_fn, manifest, settings()):
        for key in note_keys(result.notes) ^ note_keys(score.notes):
            assert key[0] == 0 and key[4] <= hi and key[5] >= lo, key
        assert {n.key() for n in score.notes if n.end <= lo or n.start >= hi} <= note_keys(
            result.notes
        )
