"""The Image page: paint a mask on a picture, generate, pick a variation, export.

:class:`ImageEditor` implements :class:`app.editor_base.MediumEditor` over an
:class:`engine.media.image.document.ImageDocument`. The canvas forwards
gestures; this class applies them to the document and mirrors document
events back into the canvas layers (only the changed box).

Generation: :meth:`ImageEditor.make_generate_payload` snapshots picture and
mask and plans the crop windows (:class:`engine.media.image.edit.ImageEdit`);
:class:`engine.media.image.edit.ImageEditCodec` lets the worker run every
window, in order, as one request, and the result holds whole-image
variations. Steps are decoded on the GUI thread into a preview layer over the
window being generated; the document is written only when a variation is
accepted (one undo step).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QColor
from PySide6.QtWidgets import (
    QColorDialog,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QSlider,
    QSpinBox,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWidgetAction,
)

from app.editor_base import DocumentHistory, MediumEditor
from app.image.canvas import RADIUS_STEP, ImageCanvas, Tool
from app.image.heatmap import HeatControls, HeatSource
from app.image.widgets import THUMBNAIL, ExtendDialog, paint_mask, rgba_of, thumbnail
from app.preview_decoder import LatestDecoder
from app.shortcuts import bind
from app.status_line import ElidedLabel
from app.variations import VariationsStrip
from engine.document import DocumentChanged
from engine.jobs import Codec, GenerateResult, Progress
from engine.media.image.codec import ImageCodec
from engine.media.image.document import ImageDocument
from engine.media.image.edit import ImageEdit, ImageEditCodec, PreviewPatch, preview_patch
from engine.media.image.files import ImageError, LoadedImage
from engine.media.image.mask import bounding_box
from engine.media.image.spec import SPEC as IMAGE_SPEC
from engine.models import ModelManifest

_log = logging.getLogger(__name__)

DEFAULT_MASK_COLOUR = QColor(255, 60, 90)


class ImageEditor(DocumentHistory, MediumEditor):
    """Canvas, tool bar and variation strip over one :class:`ImageDocument`."""

    medium = "image"
    file_extensions = IMAGE_SPEC.extensions
    export_extensions = (".png", ".jpg", ".jpeg", ".webp")
    grow_px: QSpinBox
    """How far Grow and Shrink move the mask's edge (a row of the Mask menu)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document: ImageDocument | None = None
        self.canvas = ImageCanvas()
        self.strip = VariationsStrip()
        self.status = ElidedLabel()
        """Generation progress and the variation count, under the strip."""
        self.tools = QToolBar("Mask tools")
        self.settings_bar = QToolBar("Mask settings")
        self.mask_colour = QColor(DEFAULT_MASK_COLOUR)
        self.mask_opacity = 0.5
        self.feather_px = 2
        self.job: ImageEdit | None = None
        """The edit being generated or offered: snapshot and crop windows."""
        self.job_codec: ImageCodec | None = None
        self.variations: list[LoadedImage] = []
        self.heat: HeatSource | None = None
        """The last generation's confidence: drawn while the toggle is on, past the result."""
        self.decoder = LatestDecoder(self._show_preview, self)
        """Live previews off the GUI thread once the window sets ``decoder.threaded``."""
        self.preview_updates = 0
        """Steps drawn so far (tests and the status line read it)."""
        self._build()

    # -- construction ------------------------------------------------------------------

    def _build(self) -> None:
        self._build_tools()
        self._build_settings()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tools)
        layout.addWidget(self.settings_bar)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.strip)
        layout.addWidget(self.status)
        self.status.setContentsMargins(6, 0, 6, 2)  # in line with the window's status bar
        # The canvas takes the strip's room while no variations are offered (it keeps its
        # centre when they come): a strip held open would leave a blank band under the picture.
        self.strip.setFixedHeight(THUMBNAIL + 44)  # thumbnail, its label, margins
        self._connect_canvas()
        self.strip.selected.connect(self.select_variation)
        self.strip.acceptRequested.connect(self.accept_variation)
        self.strip.discardRequested.connect(self.discard_variations)

    def _build_tools(self) -> None:
        """Tools, the Mask menu, Extend canvas and the zoom: all visible at 1200 x 800."""
        group = QActionGroup(self)
        self.tool_actions: dict[Tool, QAction] = {}
        for tool in Tool:
            action = self._add(self.tools, tool.value.capitalize(), tool.value)
            action.setCheckable(True)
            action.setActionGroup(group)
            action.triggered.connect(lambda _c=False, t=tool: self.set_tool(t))
            self.tool_actions[tool] = action
        self.tool_actions[Tool.BRUSH].setChecked(True)
        self.tools.addSeparator()
        self.tools.addWidget(self._mask_menu_button())
        self._add(self.tools, "Extend canvas…", "", self.extend_canvas_dialog)
        self.tools.addSeparator()
        self._add(self.tools, "Fit", "fit", self.canvas.fit)
        self._add(self.tools, "100 %", "actual_size", self.canvas.actual_size)
        self._add(None, "Smaller brush", "brush_smaller", lambda: self._step_brush(-1))
        self._add(None, "Larger brush", "brush_larger", lambda: self._step_brush(1))

    def _mask_menu_button(self) -> QToolButton:
        """Mask edits and settings used now and then, in one menu (their keys work without it).

        Out of the toolbars, so that the tools and the heat-map controls fit at 1200 x 800.
        """
        menu = QMenu("Mask", self)
        for text, command, edit in (
            ("Invert", "invert_mask", lambda d: d.invert_mask()),
            ("Clear", "clear_mask", lambda d: d.clear_mask()),
            ("Grow", "", lambda d: d.grow_mask(self.grow_px.value())),
            ("Shrink", "", lambda d: d.shrink_mask(self.grow_px.value())),
        ):
            self._add(menu, text, command, lambda e=edit: self._edit_mask(e))
        self.grow_px = self._menu_spin(menu, "Grow/shrink by", 1, 200, 4)
        self.grow_px.setToolTip("How many pixels Grow and Shrink move the mask's edge")
        menu.addSeparator()
        self._add(menu, "Colour…", "", self.choose_mask_colour)
        self.feather = self._menu_spin(menu, "Feather", 0, 64, self.feather_px)
        self.feather.setToolTip("Seam blend width inside the mask, in pixels")
        menu.addSeparator()
        self._add(menu, "Import mask…", "", self.import_mask_dialog)
        self._add(menu, "Export mask…", "", self.export_mask_dialog)
        self.mask_menu = menu
        button = QToolButton()
        button.setText("Mask")
        button.setMenu(menu)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        return button

    def _step_brush(self, direction: int) -> None:
        """``]`` / ``[``: the canvas's own step, so keys and the wheel agree."""
        radius = self.canvas.brush_radius * RADIUS_STEP**direction
        self.canvas.set_brush_radius(radius)

    def _build_settings(self) -> None:
        bar = self.settings_bar
        self.brush_size = self._spin(bar, "Brush", 2, 1000, round(2 * self.canvas.brush_radius))
        self.brush_size.setToolTip("Brush diameter in image pixels ([ and ] change it)")
        self.tolerance = self._spin(bar, "Fill tolerance", 0, 255, 24)
        bar.addWidget(QLabel(" Overlay "))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(self.mask_opacity * 100))
        self.opacity.setFixedWidth(90)
        bar.addWidget(self.opacity)
        bar.addSeparator()
        self.heat_controls = HeatControls()
        self.heat_box = self.heat_controls.toggle
        bar.addWidget(self.heat_controls)
        self.show_mask_action = self._add(
            getattr(self, "mask_menu", None), "Show mask", "show_mask", None
        )
        self.show_mask_action.setCheckable(True)
        self.show_mask_action.setChecked(True)
        self.show_mask_action.toggled.connect(self.show_mask)
        self.brush_size.valueChanged.connect(lambda v: self.canvas.set_brush_radius(v / 2))
        self.feather.valueChanged.connect(self._set_feather)
        self.opacity.valueChanged.connect(lambda v: self.set_mask_style(opacity=v / 100))
        self.heat_box.toggled.connect(self._on_heat_toggled)
        self.heat_controls.opacity.valueChanged.connect(
            lambda v: self.canvas.set_heat_opacity(v / 100)
        )

    @staticmethod
    def _menu_spin(menu: QMenu, label: str, low: int, high: int, value: int) -> QSpinBox:
        """A labelled spin box as a menu row: a setting used now and then, out of the bar."""
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(24, 2, 8, 2)
        layout.addWidget(QLabel(label))
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setValue(value)
        spin.setSuffix(" px")
        layout.addWidget(spin)
        action = QWidgetAction(menu)
        action.setDefaultWidget(row)
        menu.addAction(action)
        return spin

    def _add(
        self, bar: QToolBar | QMenu | None, text: str, command: str, slot: Any = None
    ) -> QAction:
        """An action on ``bar`` (if any) and on the editor, with ``command``'s keys if it has one.

        On the editor, so its keys work wherever the focus is while the Image tab is shown.
        """
        action = QAction(text, self)
        if command:
            bind(action, "image", command)
        if slot is not None:
            action.triggered.connect(lambda _checked=False: slot())
        if bar is not None:
            bar.addAction(action)
        self.addAction(action)
        return action

    @staticmethod
    def _spin(bar: QToolBar, label: str, low: int, high: int, value: int) -> QSpinBox:
        bar.addWidget(QLabel(f" {label} "))
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setValue(value)
        bar.addWidget(spin)
        return spin

    def _connect_canvas(self) -> None:
        canvas = self.canvas
        canvas.strokeBegan.connect(self._stroke_began)
        canvas.strokeSegment.connect(self._stroke_segment)
        canvas.strokeEnded.connect(self._stroke_ended)
        canvas.rectangleDrawn.connect(self._rectangle)
        canvas.lassoDrawn.connect(self._lasso)
        canvas.fillClicked.connect(self._fill)
        canvas.brushRadiusChanged.connect(self._show_brush_radius)
        canvas.fileDropped.connect(self._open_dropped)

    # -- documents ----------------------------------------------------------------------

    def has_document(self) -> bool:
        return self.document is not None

    def open_path(self, path: Path) -> None:
        """Decode fully first; on error nothing here changes (the window shows the message)."""
        self.set_document(ImageDocument.open(path))

    def open_decoded(self, path: Path, decoded: object) -> None:
        """The image medium's reader gave an :class:`ImageDocument` (decoded off the GUI thread)."""
        if not isinstance(decoded, ImageDocument):
            raise TypeError(f"{path.name}: the image reader gave no image document")
        self.set_document(decoded)

    def set_document(self, document: ImageDocument) -> None:
        self._forget_job()
        self.document = document
        self.mark_saved()
        document.subscribe(self._on_change)
        self._show_document()
        for note in document.image.notes:
            _log.info("%s: %s", document.name, note)
        self.stateChanged.emit()

    def export_path(self, path: Path) -> None:
        """Any picture format saves the document (the mask is kept only while it is open)."""
        if self.document is None:
            raise ValueError("nothing to export: open an image first")
        self.document.export(path)
        self.document.name = Path(path).name  # the document is now that file
        self.mark_saved()
        self.stateChanged.emit()

    def document_name(self) -> str:
        return self.document.name if self.document is not None else ""

    def _show_document(self) -> None:
        assert self.document is not None
        image = self.document.image
        self.canvas.set_picture(rgba_of(image.rgb, image.alpha))
        box = bounding_box(self.document.mask)  # the new overlay is clear: paint only the mask
        if box is not None:
            self._repaint_mask(box)

    def _on_change(self, event: DocumentChanged) -> None:
        """Mirror one document event into the canvas (only the changed box)."""
        if event.kind == "reset":  # the canvas changed size: old results no longer fit
            self._forget_job()
            self._show_document()
        elif event.kind == "mask" and event.region is not None:
            self._repaint_mask(event.region)
            self.show_mask(True)  # editing a hidden mask would be editing blind
        elif event.kind == "pixels" and event.region is not None:
            self._repaint_picture(event.region)
        self.stateChanged.emit()

    # -- view updates (only the changed box) ---------------------------------------------

    def _repaint_mask(self, box: tuple[slice, ...]) -> None:
        assert self.document is not None
        rows, cols = box[0], box[1]
        colour = self.mask_colour
        rgba = (colour.red(), colour.green(), colour.blue(), round(255 * self.mask_opacity))
        paint_mask(self.canvas.mask_layer.pixels, self.document.mask, rows, cols, rgba)
        self.canvas.mask_layer.changed((rows, cols))

    def _repaint_picture(self, box: tuple[slice, ...]) -> None:
        assert self.document is not None
        rows, cols = box[0], box[1]
        self.canvas.picture.pixels[rows, cols, :3] = self.document.rgb[rows, cols]
        self.canvas.picture.changed((rows, cols))

    def set_mask_style(self, colour: QColor | None = None, opacity: float | None = None) -> None:
        if colour is not None:
            self.mask_colour = QColor(colour)
        if opacity is not None:
            self.mask_opacity = min(max(opacity, 0.0), 1.0)
        if self.document is not None:
            height, width = self.document.shape
            self._repaint_mask((slice(0, height), slice(0, width)))

    def choose_mask_colour(self) -> None:
        colour = QColorDialog.getColor(self.mask_colour, self, "Mask colour")
        if colour.isValid():
            self.set_mask_style(colour=colour)

    def _show_brush_radius(self, radius: float) -> None:
        self.brush_size.blockSignals(True)
        self.brush_size.setValue(round(2 * radius))
        self.brush_size.blockSignals(False)

    def _set_feather(self, value: int) -> None:
        self.feather_px = value

    # -- tools ----------------------------------------------------------------------------

    def set_tool(self, tool: Tool) -> None:
        self.canvas.tool = tool
        self.tool_actions[tool].setChecked(True)

    def _stroke_began(self, erase: bool) -> None:
        if self.document is not None:
            self.document.begin_stroke(erase)

    def _stroke_segment(self, x0: float, y0: float, x1: float, y1: float) -> None:
        if self.document is not None:
            self.document.stroke((x0, y0), (x1, y1), self.canvas.brush_radius)

    def _stroke_ended(self) -> None:
        if self.document is not None:
            self.document.end_stroke()

    def _rectangle(self, x0: float, y0: float, x1: float, y1: float) -> None:
        if self.document is not None:
            self.document.fill_rectangle((x0, y0), (x1, y1))

    def _lasso(self, points: list[tuple[float, float]]) -> None:
        if self.document is not None:
            self.document.fill_lasso(points)

    def _fill(self, x: float, y: float) -> None:
        if self.document is not None:
            self.document.fill_similar((x, y), self.tolerance.value())

    def _edit_mask(self, edit: Callable[[ImageDocument], None]) -> None:
        if self.document is not None:
            edit(self.document)

    # -- mask files, outpainting, drops ----------------------------------------------------

    def import_mask(self, path: Path) -> bool:
        """Load a mask PNG; a bad file or another size gives a dialog and changes nothing."""
        if self.document is None:
            return False
        try:
            self.document.import_mask(path)
        except (ImageError, OSError, ValueError) as exc:
            self.show_error(f"Cannot use {path.name} as a mask", str(exc))
            return False
        return True

    def import_mask_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import mask", "", "Mask (*.png)")
        if path:
            self.import_mask(Path(path))

    def export_mask(self, path: Path) -> bool:
        if self.document is None:
            return False
        try:
            self.document.export_mask(path)
        except (ImageError, OSError) as exc:
            self.show_error(f"Cannot save {path.name}", str(exc))
            return False
        return True

    def export_mask_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export mask", "mask.png", "Mask (*.png)")
        if path:
            self.export_mask(Path(path))

    def extend_canvas(self, left: int, top: int, right: int, bottom: int) -> None:
        """Outpainting: grow the canvas and mask the new area (one undo step)."""
        if self.document is not None:
            self.document.extend_canvas(left, top, right, bottom)

    def extend_canvas_dialog(self) -> None:
        if self.document is None:
            return
        dialog = ExtendDialog(self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.extend_canvas(*dialog.values())

    def _open_dropped(self, path: str) -> None:
        """A dropped file opens through the window (recent files, error dialog) if there is one."""
        open_path = getattr(self.window(), "open_path", None)
        if callable(open_path):
            open_path(Path(path))
            return
        try:
            self.open_path(Path(path))
        except Exception as exc:  # noqa: BLE001 - any reader error becomes a dialog
            self.show_error(f"Cannot open {Path(path).name}", str(exc))

    def show_error(self, title: str, message: str) -> None:
        """Through the main window's non-modal error path when embedded in it."""
        show = getattr(self.window(), "show_error", None)
        if callable(show) and self.window() is not self:
            show(title, message)
            return
        box = QMessageBox(
            QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    # -- generation -----------------------------------------------------------------------

    def has_mask(self) -> bool:
        return self.document is not None and self.document.has_mask()

    def make_generate_payload(self, manifest: ModelManifest) -> tuple[Any, Codec]:
        """A snapshot of picture + mask with its crop windows, run by the worker as one job."""
        if self.document is None or not self.document.has_mask():
            raise ValueError("paint a mask first")
        codec = self._codec(manifest)
        image, mask = self.document.snapshot()
        try:
            job = ImageEdit.plan(codec, image, mask)
        except ImageError as exc:
            self.show_error("Cannot generate", str(exc))
            raise ValueError(str(exc)) from None
        self.discard_variations()
        self.job, self.job_codec = job, codec
        self.heat = HeatSource(codec)
        self.preview_updates = 0
        self._show_progress()
        return job, ImageEditCodec(codec)

    def _codec(self, manifest: ModelManifest) -> ImageCodec:
        try:
            return ImageCodec(manifest, feather_px=self.feather_px)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"model {manifest.name} cannot edit images: {exc}") from None

    def show_step(self, progress: Progress) -> None:
        """Decode this step into its window's holes (and the heat-map); the document is untouched.

        The decode (the VQ decoder, ~0.1 s on a small CPU) runs in :attr:`decoder`'s
        thread, newest step first; :meth:`_show_preview` draws it when it is done.
        """
        job, codec, step = self.job, self.job_codec, progress.step
        if job is None or codec is None or self.variations:
            return
        payload = job.windows[progress.window]
        known = progress.problem.tokens
        self.decoder.submit(
            progress.window,
            lambda: preview_patch(codec, payload, known, step.tokens, step.still_masked),
        )
        if self.heat is not None:
            self.heat.record(progress.window, payload, step.confidence)
            if self.heat_box.isChecked():
                self.heat.draw(self.canvas, progress.window)
                self.canvas.show_heat(True)
        note = self._window_note(progress.window)
        self.status.setText(f"step {step.index}/{step.total}{note}")

    def _show_preview(self, window: int, patch: PreviewPatch) -> None:
        """A decoded step arrives on the GUI thread: drawn unless the job ended meanwhile."""
        if self.job is None or self.variations:
            return
        self.canvas.set_preview(patch.rgba, patch.top, patch.left, window)
        self.preview_updates += 1

    def _window_note(self, window: int) -> str:
        job = self.job
        return f" · window {window + 1}/{job.count}" if job is not None and job.count > 1 else ""

    def _show_progress(self) -> None:
        self.strip.clear()
        self.status.setText(f"generating{self._window_note(0)}…")

    def clear_preview(self) -> None:
        """The job was cancelled or failed: drop plan and preview; the document is as it was."""
        self.job = self.job_codec = self.heat = None
        self.decoder.reset()
        self.canvas.clear_preview()
        if not self.variations:
            self.strip.clear()
            self.status.clear()

    def show_results(self, result: GenerateResult) -> None:
        """Offer the whole-image variations (every window merged by the worker's run)."""
        if self.job is None or self.variations:
            return
        self.variations = list(result.variations)
        self.decoder.reset()
        self.canvas.drop_previews()  # the heat-map stays: it is about the result
        count = len(self.variations)
        self.strip.set_variations([thumbnail(image) for image in self.variations])
        self.status.setText(f"{count} variation{'s' * (count != 1)}: pick one, then Accept")

    def select_variation(self, index: int) -> None:
        """Preview variation ``index`` over the picture (only its edited pixels)."""
        if not (0 <= index < len(self.variations)) or self.job is None:
            return
        region = self._edited_region()
        box = bounding_box(region)
        if box is None:
            return
        variation = self.variations[index]
        alpha = np.where(region[box], 255, 0).astype(np.uint8)
        rgba = np.concatenate([variation.rgb[box], alpha[:, :, None]], axis=2)
        self.canvas.drop_previews()  # one layer for the whole variation
        self.canvas.set_preview(np.ascontiguousarray(rgba), box[0].start, box[1].start)
        if self.heat is not None:
            self.heat.which = index
            self._on_heat_toggled(self.heat_box.isChecked())

    def accept_variation(self, index: int) -> None:
        """Write variation ``index`` into the document as one undo step; only its region changes."""
        if self.document is None or self.job is None or not (0 <= index < len(self.variations)):
            return
        variation, region = self.variations[index], self._edited_region()
        heat = self.heat
        self._forget_job()
        self.heat = heat  # it outlives the result: where did the model guess?
        if heat is not None:
            heat.which = index
            self._on_heat_toggled(self.heat_box.isChecked())
        self.document.accept(variation, region)
        self.show_mask(False)  # the result, not the mask, is what to look at now
        self.status.setText("Accepted (Undo takes it back) · mask hidden: M shows it")

    def discard_variations(self) -> None:
        """Back to exactly the previous view: no preview, no strip, document untouched."""
        self._forget_job()

    def _edited_region(self) -> np.ndarray:
        assert self.job is not None
        regions = self.job.regions()
        return np.logical_or.reduce(regions) if regions else np.zeros((0, 0), bool)

    def _forget_job(self) -> None:
        self.job = self.job_codec = self.heat = None
        self.decoder.reset()
        self.variations = []
        self.canvas.clear_preview()
        self.strip.clear()
        self.status.clear()

    def _on_heat_toggled(self, on: bool) -> None:
        if on and self.heat is not None:
            self.heat.draw(self.canvas)
        self.canvas.show_heat(on)

    def show_mask(self, visible: bool) -> None:
        """Show or hide the mask overlay (M); the mask itself is unchanged."""
        self.canvas.mask_layer.setVisible(visible)
        self.show_mask_action.blockSignals(True)
        self.show_mask_action.setChecked(visible)
        self.show_mask_action.blockSignals(False)
