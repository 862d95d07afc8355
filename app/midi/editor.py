"""The MIDI editor page: piano roll, mask tools, generation preview, variations and playback.

:class:`PianoRollEditor` implements :class:`app.editor_base.MediumEditor` for
the "midi" medium. It wires four pieces together and holds no musical state
of its own:

* :class:`engine.media.midi.document.RollDocument` - the score, voices, mask, undo;
* :class:`app.midi.view.PianoRollView` - renders it and forwards gestures;
* :class:`app.variations.VariationsStrip` - choose, accept or discard results;
* :class:`app.midi.audio.AudioPlayer` - plays synth renders (or says why it cannot).

Generation uses :class:`engine.media.midi.MidiCodec`, a windowed codec: a
region longer than the model window (``window_steps``; 128 sixteenths = 8 bars
of 4/4 for the shipped chorale model) is repainted window after window, left
to right, by the worker as one request; each window sees what the previous
ones generated. The live preview draws the window being generated over what
earlier windows wrote (first variation) and hatches what is still to come.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QAction, QActionGroup, QIcon
from PySide6.QtWidgets import (
    QMenu,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.editor_base import DocumentHistory, MediumEditor
from app.midi.audio import AudioPlayer, wait_in_thread
from app.midi.controller import preview_from_tokens, region_notes, render_range, stream_range
from app.midi.dialogs import ask_bars, ask_parts
from app.midi.drawing import Overlay, swatch, variation_pixmap, voice_color
from app.midi.opening import OpenedScore, ReadyRoll, step_times
from app.midi.view import PianoRollView
from app.shortcuts import bind
from app.status_line import ElidedLabel
from app.variations import VariationsStrip
from engine.document import DocumentChanged
from engine.jobs import Codec, GenerateResult, Progress
from engine.media.midi import (
    N_VOICES,
    MidiCodec,
    MidiError,
    MidiPayload,
    Part,
    Score,
    load_score,
    map_voices,
    save_score,
    time_grid,
)
from engine.media.midi.document import VOICE_NAMES, RollDocument, roll_notes
from engine.media.midi.project import MidiVariations
from engine.media.midi.repaint import Window
from engine.media.midi.synth import SAMPLE_RATE, write_wav
from engine.models import ModelManifest
from engine.project_variations import KeptVariations

PartChooser = Callable[[Sequence[Part]], Sequence[str] | None]
"""Given the parts of a file with more than four, the selectors of up to four (None: cancel)."""


class PianoRollEditor(DocumentHistory, MediumEditor):
    """Edit notes, paint what to repaint, audition and accept generated variations."""

    medium = "midi"
    file_extensions = (".mid", ".midi")
    export_extensions = (".mid", ".midi", ".wav")

    def __init__(
        self, parent: QWidget | None = None, choose_parts: PartChooser | None = None
    ) -> None:
        super().__init__(parent)
        self.choose_parts: PartChooser = choose_parts or (lambda parts: ask_parts(parts, self))
        self.document: RollDocument | None = None
        self.path: Path | None = None
        self.view = PianoRollView()
        self.strip = VariationsStrip()
        self.player = AudioPlayer(self)
        self.status = ElidedLabel()
        self._job: tuple[MidiPayload, MidiCodec, list[Window]] | None = None
        self._offer: MidiVariations | None = None
        """The variations on offer and the cells they repaint (kept by a project file)."""
        self._previewed: Score | None = None
        self._step_times = np.zeros(1)
        self.toolbar = QToolBar()
        self._build()

    # -- construction ---------------------------------------------------------------------

    def _build(self) -> None:
        self._build_toolbar()
        self.strip.selected.connect(self._preview_variation)
        self.strip.acceptRequested.connect(self.accept_variation)
        self.strip.discardRequested.connect(self.discard_variations)
        self.player.positionChanged.connect(self._on_position)
        self.player.playingChanged.connect(self._on_playing)
        self.player.message.connect(self.show_status)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.strip)
        layout.addWidget(self.status)
        self.status.setContentsMargins(6, 0, 6, 2)

    def _build_toolbar(self) -> None:
        bar = self.toolbar
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)  # swatch + voice name
        self.tool_actions = self._exclusive(
            [
                ("Notes", "Click: add a note · drag: move · Delete: remove"),
                ("Mask", "Drag over time to mark the current voice for repainting"),
            ],
            lambda i: setattr(self.view, "tool", PianoRollView.TOOLS[i]),
        )
        bind(self.tool_actions[0], "midi", "notes")
        bind(self.tool_actions[1], "midi", "brush")
        bar.addSeparator()
        self.voice_actions = self._exclusive(
            [
                (name, f"New notes and mask strokes go to the {name.lower()}")
                for name in VOICE_NAMES
            ],
            lambda i: setattr(self.view, "voice", i),
            icons=[swatch(voice_color(v)) for v in range(N_VOICES)],
        )
        bar.addSeparator()
        self._build_mask_menu()
        self.harmonize_action = self._button("Harmonize", self.harmonize)
        self.harmonize_action.setToolTip(
            "Harmonize the melody: mask alto, tenor and bass over the selected time range "
            "(or the whole piece)"
        )
        bar.addSeparator()
        self.play_action = self._button("Play", self.toggle_play, "play")
        self.play_action.setToolTip("Play the selection or the whole piece; again to stop (Space)")
        self.stop_action = self._button("Stop", self.player.stop, toolbar=False)
        self.loop_action = self._button("Loop", lambda: None)
        self.loop_action.setCheckable(True)
        self.loop_action.setToolTip("Loop the selected time range (drag on the ruler to select)")
        bar.addSeparator()
        self._build_zoom_and_keys()

    def _build_mask_menu(self) -> None:
        """Clear and Select bars on the Mask tool's arrow: the toolbar keeps room for the rest."""
        menu = QMenu("Mask", self)
        self.clear_mask_action = self._button(
            "Clear mask", self.delete_or_clear, "clear_mask", toolbar=False
        )
        self.clear_mask_action.setToolTip("Clear the mask (Delete: the selected notes first)")
        self.bars_action = self._button("Select bars…", self.select_bars_dialog, toolbar=False)
        menu.addActions([self.clear_mask_action, self.bars_action])
        self.mask_menu = menu
        button = self.toolbar.widgetForAction(self.tool_actions[1])
        if isinstance(button, QToolButton):
            button.setMenu(menu)
            button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)

    def _build_zoom_and_keys(self) -> None:
        zoom_out = self._button("−", lambda: self.view.zoom(factor_x=1 / 1.25), "zoom_out")
        zoom_out.setToolTip("Zoom out (time)")
        zoom_in = self._button("+", lambda: self.view.zoom(factor_x=1.25), "zoom_in")
        zoom_in.setToolTip("Zoom in (time)")
        self._button("↕−", lambda: self.view.zoom(factor_y=1 / 1.2)).setToolTip("Zoom out (pitch)")
        self._button("↕+", lambda: self.view.zoom(factor_y=1.2)).setToolTip("Zoom in (pitch)")
        for command, slot in (
            ("previous", lambda: self.step_bars(-1)),
            ("next", lambda: self.step_bars(1)),
            ("first", lambda: self.go_to_bar(0)),
            ("last", lambda: self.go_to_bar(-1)),
        ):
            self._button(command, slot, command, toolbar=False)

    def _button(
        self, text: str, slot: Callable[[], object], command: str = "", toolbar: bool = True
    ) -> QAction:
        """An action on the toolbar (unless ``toolbar`` is False) and on the editor.

        On the editor so that ``command``'s keys (:mod:`app.shortcuts`) work wherever the
        focus is while the MIDI tab is shown.
        """
        action = self.toolbar.addAction(text) if toolbar else QAction(text, self)
        action.triggered.connect(lambda _checked=False: slot())
        if command:
            bind(action, "midi", command)
        self.addAction(action)
        return action

    def _exclusive(
        self,
        items: Sequence[tuple[str, str]],
        on_pick: Callable[[int], None],
        icons: Sequence[QIcon] = (),
    ) -> list[QAction]:
        group = QActionGroup(self)
        actions = []
        for index, (text, tip) in enumerate(items):
            add = self.toolbar.addAction
            action = add(icons[index], text) if icons else add(text)
            action.setCheckable(True)
            action.setToolTip(tip)
            action.setChecked(index == 0)
            action.triggered.connect(lambda _checked=False, i=index: on_pick(i))
            group.addAction(action)
            actions.append(action)
        return actions

    def set_tool(self, tool: str) -> None:
        """ "notes" or "mask" (what the toolbar's tool buttons do)."""
        self.tool_actions[PianoRollView.TOOLS.index(tool)].trigger()

    def set_voice(self, voice: int) -> None:
        self.voice_actions[voice].trigger()

    # -- documents ------------------------------------------------------------------------

    def has_document(self) -> bool:
        return self.document is not None

    def open_path(self, path: Path) -> None:
        """Read, map voices (asking which four parts when there are more), then replace."""
        self.open_decoded(path, load_score(path))

    def prepare_decoded(self, path: Path, decoded: object) -> object:
        """In the loading worker: parts, document and step times (:class:`OpenedScore`)."""
        return OpenedScore.of(decoded) if isinstance(decoded, Score) else decoded

    def prepare_document(self, document: object) -> object | None:
        """In the loading worker: a project's roll made ready (:class:`ReadyRoll`)."""
        return ReadyRoll.of(document) if isinstance(document, RollDocument) else None

    def open_decoded(self, path: Path, decoded: object) -> None:
        """Take the prepared score, asking which four parts when there are more, then replace."""
        if isinstance(decoded, Score):
            decoded = OpenedScore.of(decoded)
        if not isinstance(decoded, OpenedScore):
            raise TypeError(f"{path.name}: the MIDI reader gave no score")
        ready, parts = decoded.ready, decoded.parts
        if ready is None:
            chosen = self.choose_parts(parts)
            if not chosen:
                raise MidiError(f"{path.name}: {len(parts)} parts and none chosen; nothing opened")
            ready = ReadyRoll.of(RollDocument(decoded.score, chosen))  # raises before replacing
        self.path = Path(path)
        self.set_document(ready.document, ready)

    def set_document(self, document: RollDocument, ready: ReadyRoll | None = None) -> None:
        """Show ``document``; ``ready`` (made in the loading worker) spares the GUI thread
        its step times, note spans and status line."""
        if ready is None or ready.document is not document:
            ready = ReadyRoll.of(document)
        self.player.stop()
        self._forget_results()
        self.document = document
        self.mark_saved()
        document.subscribe(self._on_document)
        self.view.set_document(document, ready.spans)
        self._label_voices()
        self._step_times = ready.step_times
        self.show_status(ready.status)
        self.stateChanged.emit()

    def _on_document(self, event: DocumentChanged) -> None:
        if event.kind == "notes":
            self._update_step_times()
            self._label_voices()
        if event.kind in ("history", "mask"):
            self.stateChanged.emit()

    def _label_voices(self) -> None:
        """The voice buttons take the parts' own names (Violin 1 …) when the file has them."""
        assert self.document is not None
        for action, name in zip(self.voice_actions, self.document.voice_labels, strict=True):
            action.setText(name)
            action.setToolTip(f"New notes and mask strokes go to {name}")

    def _update_step_times(self) -> None:
        assert self.document is not None
        self._step_times = step_times(self.document)

    def export_path(self, path: Path) -> None:
        """``.mid``/``.midi``: the score (an unedited file byte for byte); ``.wav``: a render.

        Only a MIDI export saves the document: a .wav cannot be opened again to edit.
        """
        if self.document is None:
            raise ValueError("nothing to export: open a MIDI file first")
        suffix = Path(path).suffix.lower()
        if suffix in (".mid", ".midi"):
            save_score(self.document.score, path)
            self.path = Path(path)  # the document is now that file
            self.mark_saved()
            self.stateChanged.emit()
        elif suffix == ".wav":
            score, grid = self.document.score, self.document.grid
            wait_in_thread(lambda: write_wav(path, render_range(score, grid)[0], SAMPLE_RATE))
        else:
            raise ValueError(f"cannot export {suffix or 'extension-less'} files: use .mid or .wav")

    def document_name(self) -> str:
        return self.path.name if self.path else ""

    # -- mask -----------------------------------------------------------------------------

    def has_mask(self) -> bool:
        return self.document is not None and self.document.has_mask()

    def clear_mask(self) -> None:
        if self.document is not None:
            self.document.clear_mask()

    def delete_or_clear(self) -> None:
        """Delete: the selected notes if there are any (as the roll did), else the mask."""
        if self.document is not None and self.view.selected:
            self.document.delete_notes(self.view.selected)
        else:
            self.clear_mask()

    def harmonize(self) -> None:
        """Mask the three lower voices over the selection or the whole piece (Bach Doodle)."""
        if self.document is not None:
            self.document.harmonize()
            self.show_status("Alto, tenor and bass masked: press Generate to harmonize the melody")

    def select_bars_dialog(self) -> None:
        """Ask for a bar range and voices, then add them to the mask."""
        choice = ask_bars(self.document, self) if self.document is not None else None
        if self.document is not None and choice is not None and choice[2]:
            self.document.mask_bars(*choice)

    # -- generation -----------------------------------------------------------------------

    def make_generate_payload(self, manifest: ModelManifest) -> tuple[Any, Codec]:
        """A snapshot of score and mask; any length: the codec plans the model windows."""
        if self.document is None or not self.document.has_mask():
            raise ValueError("paint a mask first")
        try:
            codec = MidiCodec.from_manifest(manifest)
        except MidiError as exc:
            raise ValueError(f"model {manifest.name} cannot repaint MIDI: {exc}") from None
        payload = self.document.payload(codec.model.contract)
        self._forget_results()
        self._job = (payload, codec, codec.windows(payload))
        return payload, codec

    def show_step(self, progress: Progress) -> None:
        """Draw the notes decided so far (variation 0) over the document; hatch undecided cells."""
        if self._job is None or self.document is None:
            return
        payload, codec, windows = self._job
        if payload.cell_mask.shape != self.document.mask.shape:
            return  # the piece changed length meanwhile: nothing sensible to overlay
        earlier = progress.states[0] if progress.states else None  # variation 0's grid so far
        tokens = progress.step.tokens[0]
        window = windows[progress.window]
        preview = preview_from_tokens(payload, window, codec.model, tokens, earlier)
        self.view.overlay = Overlay(preview.notes, payload.cell_mask, preview.masked)
        self.view.viewport().update()
        if progress.windows > 1:
            self.show_status(f"Generating window {progress.window + 1} of {progress.windows}…")

    def clear_preview(self) -> None:
        self.view.overlay = None
        self._previewed = None
        self.view.viewport().update()

    def show_results(self, result: GenerateResult) -> None:
        """One thumbnail per variation; the first is previewed (the document is untouched)."""
        if self._job is None or self.document is None:
            return
        self._show_offer(KeptVariations.of(result.variations, self._job[0].cell_mask))

    def kept_variations(self) -> MidiVariations | None:
        """The offer with the selected variation, for a project file (None: no offer)."""
        return None if self._offer is None else self._offer.showing(self.strip.current())

    def restore_variations(self, kept: MidiVariations) -> None:
        """Offer a reopened project's variations again, the saved one selected."""
        if self.document is not None:
            self._forget_results()
            self._show_offer(kept)

    def _show_offer(self, offer: MidiVariations | None) -> None:
        """One thumbnail per variation; ``offer.shown`` is selected (and previewed)."""
        self._offer = offer
        if offer is None:
            return
        parts = self.document.parts if self.document else None
        notes = [roll_notes(s, map_voices(s, parts), time_grid(s)) for s in offer.items]
        self.strip.set_variations([variation_pixmap(n, offer.context) for n in notes])
        if offer.shown:
            self.strip.select(offer.shown)
        self.show_status(
            "Click a variation to preview it, Play to hear it, then Accept or Discard all"
        )

    def _preview_variation(self, index: int) -> None:
        if self._offer is None or self.document is None:
            return
        score, mask = self._offer.items[index], self._offer.context
        mapping = map_voices(score, self.document.parts)
        notes = region_notes(score, mapping, time_grid(score), mask)
        self._previewed = score
        self.view.overlay = Overlay(tuple(notes), mask)
        self.view.viewport().update()
        if self.player.playing:
            self.play()  # auditioning: switch to the chosen variation at once

    def accept_variation(self, index: int) -> None:
        """Write variation ``index`` into the document as one undo step."""
        if self._offer is None or self.document is None:
            return
        score = self._offer.items[index]
        self._forget_results()
        self.document.accept(score)
        self.show_status(f"Variation {index + 1} accepted (Undo restores the previous notes)")

    def discard_variations(self) -> None:
        """Drop every variation; the view shows the document exactly as before."""
        self._forget_results()
        self.show_status("Variations discarded")

    def _forget_results(self) -> None:
        self._offer = None
        self._job = None
        self.strip.clear()
        self.clear_preview()

    # -- playback -------------------------------------------------------------------------

    def displayed_score(self) -> Score | None:
        """What Play plays: the variation being previewed, else the document."""
        if self._previewed is not None:
            return self._previewed
        return self.document.score if self.document is not None else None

    def play(self) -> bool:
        """Play the selection (or the whole piece), rendered as it plays; False when it cannot."""
        score = self.displayed_score()
        if score is None or self.document is None:
            return False
        audio = stream_range(score, self.document.grid, self.document.selection)
        loop = self.loop_action.isChecked()
        return self.player.play_stream(audio.chunks, audio.samples, SAMPLE_RATE, audio.start, loop)

    def _on_position(self, seconds: float) -> None:
        steps = np.arange(len(self._step_times))
        old = self.view.playhead
        self.view.playhead = float(np.interp(seconds, self._step_times, steps))
        for step in (old, self.view.playhead):  # only the strips it left and entered repaint
            self._update_playhead_strip(step)
        self.view.ruler.update()

    def _update_playhead_strip(self, step: float | None) -> None:
        if step is None:
            self.view.viewport().update()
            return
        x = round(self.view.step_x(step))
        self.view.viewport().update(QRect(x - 3, 0, 7, self.view.viewport().height()))

    def toggle_play(self) -> None:
        """Space: stop when playing, else play."""
        if self.player.playing:
            self.player.stop()
        else:
            self.play()

    def step_bars(self, delta: int) -> None:
        """Left / Right: scroll the roll so the previous or next bar starts at its left edge."""
        if self.document is None:
            return
        starts = self.document.grid.bar_steps
        current = int(np.searchsorted(starts, self.view.x_step(0) + 0.5, side="right")) - 1
        self.go_to_bar(int(np.clip(current + delta, 0, len(starts) - 1)))

    def go_to_bar(self, bar: int) -> None:
        """Home / End (0 / -1): show bar ``bar`` at the left edge (the last as far as it goes)."""
        if self.document is not None:
            self.view.scroll_to_step(float(self.document.grid.bar_steps[bar]))

    def _on_playing(self, playing: bool) -> None:
        self.play_action.setText("Stop" if playing else "Play")
        if not playing:
            self.view.playhead = None
            self.view.viewport().update()
            self.view.ruler.update()

    def show_status(self, text: str) -> None:
        self.status.setText(text)
