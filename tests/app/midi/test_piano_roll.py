"""The piano roll in the real window: real mouse events, a tiny real ONNX chorale model and a
real engine thread. Notes are compared bit-exact as (track, channel, pitch, velocity, start,
end) keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mido
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import QDialogButtonBox

from app.engine_worker import EngineBridge
from app.main_window import MainWindow
from app.midi.controller import render_range
from app.midi.dialogs import PartsDialog
from app.midi.editor import PianoRollEditor
from app.midi.view import PianoRollView
from app.welcome import find_sample, samples_dir
from engine.jobs import GenerateResult, WindowedCodec
from engine.media.midi import (
    MidiError,
    Score,
    find_parts,
    load_score,
    map_voices,
    read_score,
)
from engine.media.midi.document import RollDocument
from engine.media.midi.synth import SAMPLE_RATE, Envelope
from engine.models import ModelRegistry
from tests.app.helpers import drag, page_editor, shown_window
from tests.engine.midi.midi_files import (
    TPB,
    bar_tick,
    chorale,
    midi_bytes,
    non_note_events,
    note_keys,
    save,
)

TIMEOUT_MS = 30_000
WINDOW_STEPS = 32  # two 4/4 bars: the tiny model's window
Key = tuple[int, int, int, int, int, int]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The conftest's ``registry`` and joined ``bridge`` hold the tiny chorale model only."""
    from tests.engine.midi.midi_files import tiny_chorale_model

    root = tmp_path_factory.mktemp("midi-models")
    tiny_chorale_model(root, steps=WINDOW_STEPS)
    return root


@pytest.fixture
def window(
    qtbot: Any, registry: ModelRegistry, bridge: EngineBridge, qsettings: QSettings
) -> Iterator[MainWindow]:
    editors = {"image": None, "motion": None, "midi": PianoRollEditor}
    main = shown_window(qtbot, registry, bridge, qsettings, editors, size=(1400, 900))
    yield main
    main.close()


@pytest.fixture
def chorale_file(tmp_path: Path) -> Path:
    """6 bars: 3/4, 3/4, then 4/4 (bars 3-4 are steps 24..56), tempo 100 then 90 from bar 5."""
    return save(chorale(1, bars=6), tmp_path / "chorale.mid")


def opened(window: MainWindow, path: Path) -> tuple[PianoRollEditor, RollDocument]:
    assert window.open_path(path), window.last_error
    editor = page_editor(window, PianoRollEditor)
    assert editor.document is not None
    return editor, editor.document


def paint_lanes(
    qtbot: Any, view: PianoRollView, voices: tuple[int, int], steps: tuple[int, int]
) -> None:
    """Drag in the mask lanes from (voices[0], steps[0]) to (voices[1], steps[1] - 1)."""
    drag(
        qtbot,
        view.viewport(),
        view.cell_point(voices[0], steps[0]),
        view.cell_point(voices[1], steps[1] - 1),
    )


def region_split(score: Score, voices: set[int], lo: int, hi: int) -> tuple[set[Key], set[Key]]:
    """(notes of ``voices`` overlapping ticks [lo, hi), every other note)."""
    from engine.media.midi import map_voices

    mapping = map_voices(score)
    inside = {
        n.key()
        for n, v in zip(score.notes, mapping.note_voice, strict=True)
        if v in voices and n.start < hi and n.end > lo
    }
    return inside, note_keys(score.notes) - inside


def voice_keys(score: Score, outside_mask: bool) -> set[Key]:
    """Keys of the soprano's (and unmapped) notes, or of the alto's, tenor's and bass's."""
    voices = map_voices(score).note_voice
    return {
        n.key()
        for n, v in zip(score.notes, voices, strict=True)
        if (v in (1, 2, 3)) != outside_mask
    }


def generate(qtbot: Any, window: MainWindow, variations: int = 2) -> None:
    window.sampler.variations.setValue(variations)
    window.sampler.steps.setValue(4)
    with qtbot.waitSignal(window.bridge.finished, timeout=TIMEOUT_MS):
        assert window.generate() is not None, window.statusBar().currentMessage()


# --------------------------------------------------------------------------- mask and generate


def test_mask_two_bars_of_alto_and_tenor_then_generate_accept_undo_redo(
    qtbot: Any, window: MainWindow, chorale_file: Path
) -> None:
    editor, document = opened(window, chorale_file)
    original = document.score
    paint_lanes(qtbot, editor.view, (1, 2), (24, 56))
    expected = np.zeros_like(document.mask)
    expected[1:3, 24:56] = True
    assert np.array_equal(document.mask, expected)
    assert window.generate_bar.generate_button.isEnabled()

    generate(qtbot, window)
    assert editor.strip.count == 2
    assert document.score is original  # nothing is written before Accept
    qtbot.mouseClick(editor.strip.buttons[1], Qt.MouseButton.LeftButton)
    chosen = editor.displayed_score()
    assert chosen is not None and chosen is not original
    qtbot.mouseClick(editor.strip.accept_button, Qt.MouseButton.LeftButton)

    accepted = document.score
    assert accepted is chosen
    lo, hi = bar_tick(3), bar_tick(5)
    inside_before, outside_before = region_split(original, {1, 2}, lo, hi)
    inside_after, outside_after = region_split(accepted, {1, 2}, lo, hi)
    # soprano and bass everywhere, alto and tenor outside bars 3-4: bit-exact
    assert outside_before <= note_keys(accepted.notes)
    # ... and the only other notes are the outer parts of alto/tenor notes cut at the border
    pieces = note_keys(accepted.notes) - inside_after - outside_before
    assert pieces  # the alto's half note tied across bar line 2|3
    for k in pieces:
        assert any(
            k[:4] == b[:4] and ((k[4], k[5]) == (b[4], lo) or (k[4], k[5]) == (hi, b[5]))
            for b in inside_before
        )
    assert inside_after != inside_before
    assert not editor.strip.isVisible() and editor.view.overlay is None

    assert window.undo_action.isEnabled()
    window.undo()
    assert note_keys(document.score.notes) == note_keys(original.notes)
    assert document.score.to_bytes() == original.to_bytes()
    assert np.array_equal(document.mask, expected)  # the mask stays for another try
    window.redo()
    assert note_keys(document.score.notes) == note_keys(accepted.notes)


def test_mask_stroke_is_one_undo_step_and_right_button_erases(
    qtbot: Any, window: MainWindow, chorale_file: Path
) -> None:
    editor, document = opened(window, chorale_file)
    paint_lanes(qtbot, editor.view, (0, 3), (4, 12))
    assert document.mask[:, 4:12].all() and document.mask.sum() == 4 * 8
    drag(
        qtbot,
        editor.view.viewport(),
        editor.view.cell_point(0, 4),
        editor.view.cell_point(0, 7),
        Qt.MouseButton.RightButton,
    )
    assert not document.mask[0, 4:8].any() and document.mask[0, 8:12].all()
    assert editor.undo()
    assert document.mask[:, 4:12].all()
    assert editor.undo()
    assert not document.mask.any()
    assert editor.redo() and document.mask.sum() == 32


def test_mask_tool_paints_time_for_the_current_voice(
    qtbot: Any, window: MainWindow, chorale_file: Path
) -> None:
    editor, document = opened(window, chorale_file)
    editor.set_tool("mask")
    editor.set_voice(3)
    view = editor.view
    pitch = view.y_pitch(view.viewport().height() // 2)
    drag(qtbot, view.viewport(), view.note_point(8.5, pitch), view.note_point(15.5, pitch))
    assert document.mask[3, 8:16].all() and document.mask.sum() == 8


def test_live_preview_draws_notes_during_steps_without_touching_the_document(
    qtbot: Any, window: MainWindow, chorale_file: Path
) -> None:
    editor, document = opened(window, chorale_file)
    paint_lanes(qtbot, editor.view, (1, 3), (24, 40))
    original = document.score
    seen: list[tuple[int, int, bool]] = []

    def record(_generation: int, _step: Any) -> None:
        overlay = editor.view.overlay
        assert overlay is not None
        hatched = int(overlay.hatched.sum()) if overlay.hatched is not None else 0
        seen.append((len(overlay.notes), hatched, document.score is original))

    window.bridge.stepReady.connect(record)
    generate(qtbot, window, variations=1)
    assert seen and all(same for _, _, same in seen)
    assert seen[0][1] > 0  # undecided cells are hatched at first
    assert seen[-1][1] == 0 and seen[-1][0] > 0  # all decided at the end: notes drawn
    assert document.score is original


def test_discard_restores_the_exact_previous_view(
    qtbot: Any, window: MainWindow, chorale_file: Path
) -> None:
    editor, document = opened(window, chorale_file)
    paint_lanes(qtbot, editor.view, (1, 2), (24, 40))
    original, mask, steps = document.score, document.mask.copy(), document.can_undo
    generate(qtbot, window, variations=3)
    assert editor.strip.count == 3 and editor.view.overlay is not None
    qtbot.mouseClick(editor.strip.discard_button, Qt.MouseButton.LeftButton)
    assert document.score is original and np.array_equal(document.mask, mask)
    assert editor.view.overlay is None and editor.displayed_score() is original
    assert document.can_undo == steps and not editor.strip.isVisible()


def test_generate_needs_a_mask_but_no_longer_fits_one_window(
    qtbot: Any, window: MainWindow, chorale_file: Path
) -> None:
    editor, document = opened(window, chorale_file)
    manifest = window.sampler.current_model()
    assert manifest is not None
    with pytest.raises(ValueError, match="paint a mask first"):
        editor.make_generate_payload(manifest)
    editor.harmonize()  # the whole piece: 88 steps, more than the 32-step window
    payload, codec = editor.make_generate_payload(manifest)
    assert isinstance(codec, WindowedCodec) and codec.window_count(payload) == 4


@pytest.mark.parametrize(("window_steps", "windows"), [(WINDOW_STEPS, 6), (128, 2)])
def test_harmonizing_the_whole_sample_runs_every_window_and_changes_only_masked_cells(
    qtbot: Any, tmp_path: Path, qsettings: QSettings, window_steps: int, windows: int
) -> None:
    """Harmonize melody over the whole 148-step sample chorale, longer than the model window
    (128 sixteenths is the shipped model's): one request runs every window in order; the
    melody and everything else outside the mask stay bit-exact."""
    from tests.engine.midi.midi_files import tiny_chorale_model

    tiny_chorale_model(tmp_path, steps=window_steps)
    registry = ModelRegistry.discover([tmp_path])
    engine = EngineBridge(registry)
    editors: dict[str, Any] = {"image": None, "motion": None, "midi": PianoRollEditor}
    main = MainWindow(registry, bridge=engine, editors=editors, settings=qsettings)
    qtbot.addWidget(main)
    try:
        sample = find_sample((".mid", ".midi"))
        assert sample is not None
        editor, document = opened(main, sample)
        original = document.score
        assert document.grid.n_steps == 148 > window_steps
        editor.harmonize_action.trigger()
        assert not document.mask[0].any() and document.mask[1:].all()
        seen: list[tuple[int, int, int, str, int]] = []
        results: list[GenerateResult] = []

        def record(generation: int, progress: Any) -> None:
            overlay = editor.view.overlay
            hatched = int(overlay.hatched.sum()) if overlay and overlay.hatched is not None else 0
            bar = main.generate_bar.text()
            seen.append((generation, progress.window, progress.windows, bar, hatched))

        main.bridge.stepReady.connect(record)
        main.bridge.finished.connect(results.append)
        generate(qtbot, main, variations=2)
        assert {count for *_, count, _, _ in seen} == {windows}
        assert len({generation for generation, *_ in seen}) == 1  # one request for the whole edit
        in_order = [w for _, w, *_ in seen]
        assert in_order == sorted(in_order) and set(in_order) == set(range(windows))
        assert all(bar.startswith(f"window {w + 1}/{windows} · step ") for _, w, _, bar, _ in seen)
        assert all(hatched > 0 for _, w, _, _, hatched in seen if w < windows - 1)  # more to come
        assert seen[-1][4] == 0  # everything decided at the very end
        assert document.score is original and editor.strip.count == 2

        (result,) = results
        melody = voice_keys(original, outside_mask=True)
        assert melody and len(result.variations) == 2
        for score in result.variations:
            assert voice_keys(score, outside_mask=True) == melody  # kept, and nothing new there
            added = note_keys(score.notes) - note_keys(original.notes)
            assert added and added <= voice_keys(score, outside_mask=False)
            assert non_note_events(score) == non_note_events(original)
        editor.accept_variation(1)
        assert note_keys(document.score.notes) == note_keys(result.variations[1].notes)
        main.undo()
        assert document.score is original
    finally:
        main.close()
        assert engine.shutdown(timeout_ms=20_000)


def test_harmonize_melody_masks_exactly_the_lower_three_voices(
    qtbot: Any, window: MainWindow, chorale_file: Path
) -> None:
    editor, document = opened(window, chorale_file)
    editor.harmonize_action.trigger()
    assert not document.mask[0].any() and document.mask[1:].all()
    ruler = editor.view.ruler
    start = QPoint(round(editor.view.step_x(24)), ruler.height() // 2)
    end = QPoint(round(editor.view.step_x(40)), ruler.height() // 2)
    drag(qtbot, ruler, start, end)
    assert document.selection == (24, 40)
    editor.harmonize()
    expected = np.zeros_like(document.mask)
    expected[1:, 24:40] = True
    assert np.array_equal(document.mask, expected)
    editor.undo()
    assert document.mask[1:].all() and not document.mask[0].any()


# --------------------------------------------------------------------------- note edits


def free_pitch(editor: PianoRollEditor, step: float) -> int:
    """A visible pitch with no note at ``step``."""
    view, document = editor.view, editor.document
    assert document is not None
    middle = view.y_pitch(view.viewport().height() * 0.6)
    for pitch in range(middle, middle + 12):
        if document.note_at(step, pitch) is None:
            return pitch
    raise AssertionError("no free pitch")


def test_click_adds_a_note_to_the_selected_voice_on_the_grid(
    qtbot: Any, window: MainWindow, chorale_file: Path
) -> None:
    editor, document = opened(window, chorale_file)
    before = note_keys(document.score.notes)
    editor.set_voice(1)
    pitch = free_pitch(editor, 9.6)
    qtbot.mouseClick(
        editor.view.viewport(), Qt.MouseButton.LeftButton, pos=editor.view.note_point(9.6, pitch)
    )
    added = note_keys(document.score.notes) - before
    alto = document.mapping.targets[1]
    assert len(added) == 1
    (track, channel, got_pitch, velocity, start, end) = added.pop()
    assert (track, channel, got_pitch) == (alto.track, alto.channel, pitch)
    assert (start, end) == (9 * TPB // 4, 13 * TPB // 4)  # step 9, a quarter note
    assert velocity == 70  # the alto's velocity
    assert note_keys(document.score.notes) >= before
    assert editor.undo() and note_keys(document.score.notes) == before


def test_drag_moves_a_note_snapped_and_delete_removes_it(
    qtbot: Any, window: MainWindow, chorale_file: Path
) -> None:
    editor, document = opened(window, chorale_file)
    view = editor.view
    original = note_keys(document.score.notes)
    note = next(n for n in document.notes if n.voice == 1 and n.start == 8)  # an alto quarter
    record = document.score.notes[note.index]
    start = view.note_point(note.start + 1.3, note.pitch)
    end = view.note_point(note.start + 3.4, note.pitch + 1)  # +2 steps (snapped), +1 semitone
    drag(qtbot, view.viewport(), start, end)
    moved = (
        record.track,
        record.channel,
        record.pitch + 1,
        record.velocity,
        record.start + 2 * TPB // 4,
        record.end + 2 * TPB // 4,
    )
    assert note_keys(document.score.notes) == (original - {record.key()}) | {moved}

    index = next(i for i, n in enumerate(document.score.notes) if n.key() == moved)
    click = view.note_point(document.notes[index].start + 0.5, record.pitch + 1)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=click)
    assert view.selected == {index}
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert note_keys(document.score.notes) == original - {record.key()}

    assert editor.undo() and moved in note_keys(document.score.notes)
    assert editor.undo() and note_keys(document.score.notes) == original
    assert editor.redo() and moved in note_keys(document.score.notes)


# --------------------------------------------------------------------------- files and audio


def test_export_round_trips_notes(
    qtbot: Any, window: MainWindow, chorale_file: Path, tmp_path: Path
) -> None:
    editor, document = opened(window, chorale_file)
    document.add_note(2, 61, 5)
    out = tmp_path / "edited.mid"
    assert window.export_to(out)
    again = PianoRollEditor()
    qtbot.addWidget(again)
    again.open_path(out)
    assert again.document is not None
    assert note_keys(again.document.score.notes) == note_keys(document.score.notes)
    unedited = tmp_path / "copy.mid"
    editor.undo()
    editor.export_path(unedited)
    assert unedited.read_bytes() == chorale_file.read_bytes()  # an unedited file, byte for byte


def test_wav_export_and_playback_render_have_the_tempo_maps_length(
    window: MainWindow, chorale_file: Path, tmp_path: Path
) -> None:
    import wave

    editor, document = opened(window, chorale_file)
    seconds = 6 * 0.6 + 8 * 0.6 + 8 * 60 / 90  # 3/4 3/4 at 100 BPM, 4/4 4/4 at 100, 4/4 4/4 at 90
    release = Envelope().release
    audio, start = render_range(document.score, document.grid)
    assert start == 0.0
    assert abs(len(audio) / SAMPLE_RATE - (seconds + release)) < 0.01
    assert float(np.sqrt(np.mean(audio**2))) > 0.01
    bars_3_4, start = render_range(document.score, document.grid, document.bar_range(3, 4))
    assert abs(start - 3.6) < 1e-6 and abs(len(bars_3_4) / SAMPLE_RATE - (4.8 + release)) < 0.01
    assert float(np.abs(bars_3_4).max()) > 0.05

    out = tmp_path / "chorale.wav"
    editor.export_path(out)
    with wave.open(str(out)) as wav:
        assert abs(wav.getnframes() / wav.getframerate() - (seconds + release)) < 0.01


def test_play_without_an_audio_device_reports_and_does_not_crash(
    window: MainWindow, chorale_file: Path
) -> None:
    editor, _ = opened(window, chorale_file)
    if editor.play():  # a machine with sound: it plays, and Stop stops it
        editor.player.stop()
        assert not editor.player.playing
    else:
        assert editor.player.last_message and "\n" not in editor.player.last_message
        assert editor.status.text() == editor.player.last_message


def test_bad_file_gives_one_line_and_keeps_the_document(
    window: MainWindow, chorale_file: Path, tmp_path: Path
) -> None:
    editor, document = opened(window, chorale_file)
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01")
    assert not window.open_path(bad)
    assert window.last_error and "\n" not in window.last_error
    assert editor.document is document and editor.document_name() == "chorale.mid"


def test_more_than_four_parts_asks_which(qtbot: Any, tmp_path: Path) -> None:
    midi = chorale(1, bars=2)
    extra = mido.MidiTrack(midi.tracks[1])
    extra[0] = mido.MetaMessage("track_name", name="Descant")
    midi.tracks.append(extra)
    path = save(midi, tmp_path / "five.mid")
    asked: list[int] = []
    editor = PianoRollEditor(
        choose_parts=lambda parts: asked.append(len(parts)) or ["2", "3", "4", "5"]
    )
    qtbot.addWidget(editor)
    editor.open_path(path)
    assert asked == [5] and editor.document is not None
    assert editor.document.parts == ["2", "3", "4", "5"]
    assert "grey notes are outside the four voices" in editor.status.text()  # track 1 is out
    refusing = PianoRollEditor(choose_parts=lambda parts: None)
    qtbot.addWidget(refusing)
    with pytest.raises(MidiError, match="none chosen"):
        refusing.open_path(path)
    assert refusing.document is None


def test_parts_dialog_suggests_a_bass_listed_last(qtbot: Any) -> None:
    """A madrigal lists its bass fifth: the dialog checks the four closest to S/A/T/B."""
    order = ("Soprano", "Soprano", "Alto", "Tenor", "Bass")
    parts = find_parts(read_score(midi_bytes(chorale(1, bars=2, order=order))))
    dialog = PartsDialog(parts)
    qtbot.addWidget(dialog)
    chosen = dialog.chosen()
    assert len(chosen) == 4 and {"3", "4", "5"} <= set(chosen)  # one soprano left out
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    left_out = next(i for i, part in enumerate(parts) if str(part.number) not in chosen)
    dialog.list.item(left_out).setCheckState(Qt.CheckState.Checked)  # a fifth: OK refuses
    assert len(dialog.chosen()) == 5 and not ok.isEnabled()


def test_welcome_page_opens_the_sample_chorale(qtbot: Any, window: MainWindow) -> None:
    sample = find_sample((".mid", ".midi"))
    assert sample is not None and sample == samples_dir() / "chorale.mid"
    page = window.pages["midi"]
    window.show_medium("midi")
    qtbot.mouseClick(page.welcome.sample_button, Qt.MouseButton.LeftButton)
    editor = page_editor(window, PianoRollEditor)
    assert page.currentWidget() is editor and editor.document is not None
    assert note_keys(editor.document.score.notes) == note_keys(load_score(sample).notes)


def test_zoom_buttons_and_ctrl_wheel_change_the_scale(
    qtbot: Any, window: MainWindow, chorale_file: Path
) -> None:
    editor, _ = opened(window, chorale_file)
    view = editor.view
    before = view.step_px, view.key_px
    view.zoom(factor_x=2.0)
    assert view.step_px == pytest.approx(before[0] * 2)
    view.zoom(factor_y=1.5)
    assert view.key_px == pytest.approx(before[1] * 1.5)
    assert read_score(midi_bytes(chorale(1, bars=2))).notes  # fixture sanity


def test_repainting_many_times_keeps_none_and_bool_references(
    window: MainWindow, chorale_file: Path
) -> None:
    """PySide6 6.12.0 drops a reference to None per void call on Python 3.11 (hence the pin)."""
    import sys

    editor, document = opened(window, chorale_file)
    document.harmonize((0, 32))
    before = [sys.getrefcount(singleton) for singleton in (None, True, False)]
    for _ in range(30):  # ~30 000 void painting calls: 6.12.0 would drain 30 000 references
        editor.view.viewport().repaint()
        editor.view.keyboard.repaint()
    after = [sys.getrefcount(singleton) for singleton in (None, True, False)]
    assert all(a > b - 1000 for a, b in zip(after, before, strict=True)), (before, after)


def test_select_bars_masks_those_bars_of_the_chosen_voices(
    window: MainWindow, chorale_file: Path
) -> None:
    _, document = opened(window, chorale_file)
    document.mask_bars(2, 3, [0, 3])  # bar 2 is 3/4 (12 steps), bar 3 is 4/4 (16 steps)
    expected = np.zeros_like(document.mask)
    expected[[0, 3], 12:40] = True
    assert np.array_equal(document.mask, expected)
    with pytest.raises(MidiError, match="outside the piece"):
        document.mask_bars(5, 9, [1])
    assert np.array_equal(document.mask, expected)
