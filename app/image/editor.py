"""The Image page: paint a mask on a picture, generate, pick a variation, export.

:class:`ImageEditor` implements :class:`app.editor_base.MediumEditor` over an
:class:`engine.media.image.document.ImageDocument`. The canvas forwards
gestures; this class applies them to the document and mirrors document
events back into the canvas layers (only the changed box).

Generation: :meth:`ImageEditor.make_generate_payload` snapshots picture and
mask and plans the crop windows (:class:`engine.media.image.edit.ImageEdit`);
:class:`engine.media.image.edit.ImageEditCodec` lets the worker run every
window, in order, as one request, and the result holds whole-image
variations. :class:`app.image.generation.ImageGeneration` shows the run (live
preview, variations, heat-map); the document is written only when a variation
is accepted (one undo step). The tool bars and the Mask menu are built in
:mod:`app.image.toolbars`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QColorDialog,
    QDialog,
    QFileDialog,
    QMessageBox,
    QSpinBox,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.editor_base import DocumentHistory, MediumEditor
from app.image.canvas import RADIUS_STEP, ImageCanvas, Tool
from app.image.generation import ImageGeneration
from app.image.heatmap import HeatSource
from app.image.toolbars import MaskMenu, SettingsBar, add_action, add_tool_actions
from app.image.widgets import THUMBNAIL, ExtendDialog, ShownImage, paint_mask, rgba_of
from app.status_line import ElidedLabel
from app.variations import VariationsStrip
from engine.document import DocumentChanged
from engine.jobs import Codec, GenerateResult, Progress
from engine.media.image.codec import DEFAULT_FEATHER_PX, ImageCodec
from engine.media.image.document import ImageDocument
from engine.media.image.edit import ImageEdit, ImageEditCodec
from engine.media.image.files import ImageError, LoadedImage
from engine.media.image.mask import bounding_box
from engine.media.image.project import ImageVariations
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
        self._has_mask: bool | None = None
        """:meth:`has_mask`'s answer until the document's next event."""
        self.canvas = ImageCanvas()
        self.strip = VariationsStrip()
        self.status = ElidedLabel()
        """Generation progress and the variation count, under the strip."""
        self.tools = QToolBar("Mask tools")
        self.mask_colour = QColor(DEFAULT_MASK_COLOUR)
        self.mask_opacity = 0.5
        self.feather_px = DEFAULT_FEATHER_PX  # as the CLI: the fill meets the kept pixels
        self.settings_bar = SettingsBar(round(2 * self.canvas.brush_radius), self.mask_opacity)
        self.heat_controls = self.settings_bar.heat_controls
        self.heat_box = self.heat_controls.toggle
        self.generation = ImageGeneration(
            self.canvas, self.strip, self.status, self.heat_box, parent=self
        )
        """The job being generated or offered, its variations and its heat-map."""
        self.decoder = self.generation.decoder
        """Live previews off the GUI thread once the window sets ``decoder.threaded``."""
        self._build()

    # -- construction ------------------------------------------------------------------

    def _build(self) -> None:
        self._build_tools()
        self._connect_settings()
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
        self.tool_actions = add_tool_actions(self, self.tools, self.set_tool)
        self.tools.addSeparator()
        self.mask_menu = MaskMenu(self, self, self.feather_px)
        self.grow_px, self.feather = self.mask_menu.grow_px, self.mask_menu.feather
        self.tools.addWidget(self.mask_menu.button())
        add_action(self, self.tools, "Extend canvas…", "", self.extend_canvas_dialog)
        self.tools.addSeparator()
        add_action(self, self.tools, "Fit", "fit", self.canvas.fit)
        add_action(self, self.tools, "100 %", "actual_size", self.canvas.actual_size)
        add_action(self, None, "Smaller brush", "brush_smaller", lambda: self._step_brush(-1))
        add_action(self, None, "Larger brush", "brush_larger", lambda: self._step_brush(1))

    def _step_brush(self, direction: int) -> None:
        """``]`` / ``[``: the canvas's own step, so keys and the wheel agree."""
        radius = self.canvas.brush_radius * RADIUS_STEP**direction
        self.canvas.set_brush_radius(radius)

    def _connect_settings(self) -> None:
        """The settings bar's widgets (and Show mask, in the Mask menu) drive the view."""
        bar = self.settings_bar
        self.brush_size, self.tolerance, self.opacity = bar.brush_size, bar.tolerance, bar.opacity
        self.show_mask_action = add_action(self, self.mask_menu, "Show mask", "show_mask")
        self.show_mask_action.setCheckable(True)
        self.show_mask_action.setChecked(True)
        self.show_mask_action.toggled.connect(self.show_mask)
        self.brush_size.valueChanged.connect(lambda v: self.canvas.set_brush_radius(v / 2))
        self.feather.valueChanged.connect(self._set_feather)
        self.opacity.valueChanged.connect(lambda v: self.set_mask_style(opacity=v / 100))
        self.heat_box.toggled.connect(self.generation.show_heat)
        self.heat_controls.opacity.valueChanged.connect(
            lambda v: self.canvas.set_heat_opacity(v / 100)
        )

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

    def prepare_decoded(self, path: Path, decoded: object) -> object:
        """In the loading worker: the decoded document's canvas arrays (:class:`ShownImage`).

        Reads the mask colour, a value the GUI thread only ever replaces whole.
        """
        if not isinstance(decoded, ImageDocument):
            return decoded  # open_decoded refuses it on the GUI thread
        return ShownImage.of(decoded, self._mask_rgba())

    def prepare_document(self, document: object) -> object | None:
        """In the loading worker: a project's document's canvas arrays."""
        if not isinstance(document, ImageDocument):
            return None
        return ShownImage.of(document, self._mask_rgba())

    def open_decoded(self, path: Path, decoded: object) -> None:
        """Take what the worker read and prepared: a :class:`ShownImage` (or a bare document)."""
        if isinstance(decoded, ImageDocument):
            decoded = ShownImage.of(decoded, self._mask_rgba())
        if not isinstance(decoded, ShownImage):
            raise TypeError(f"{path.name}: the image reader gave no image document")
        self.set_document(decoded.document, decoded)

    def set_document(self, document: ImageDocument, shown: ShownImage | None = None) -> None:
        """Show ``document``; ``shown`` (its canvas arrays, built in a worker) spares the
        GUI thread the conversion."""
        self.generation.forget()
        self.document = document
        self._has_mask = None
        self.mark_saved()
        document.subscribe(self._on_change)
        self._show_document(shown if shown is not None and shown.document is document else None)
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

    def _show_document(self, shown: ShownImage | None = None) -> None:
        """Hand the canvas the document's arrays: ``shown`` when the loading worker made them."""
        assert self.document is not None
        if shown is not None:
            self.canvas.set_picture(shown.picture, shown.overlay)
            self._has_mask = shown.mask_box is not None
            return
        image = self.document.image
        self.canvas.set_picture(rgba_of(image.rgb, image.alpha))
        box = bounding_box(self.document.mask)  # the new overlay is clear: paint only the mask
        if box is not None:
            self._repaint_mask(box)

    def _on_change(self, event: DocumentChanged) -> None:
        """Mirror one document event into the canvas (only the changed box)."""
        self._has_mask = None
        if event.kind == "reset":  # the canvas changed size: old results no longer fit
            self.generation.forget()
            self._show_document()
        elif event.kind == "mask" and event.region is not None:
            self._repaint_mask(event.region)
            self.show_mask(True)  # editing a hidden mask would be editing blind
        elif event.kind == "pixels" and event.region is not None:
            self._repaint_picture(event.region)
        self.stateChanged.emit()

    # -- view updates (only the changed box) ---------------------------------------------

    def _mask_rgba(self) -> tuple[int, int, int, int]:
        colour = self.mask_colour
        return colour.red(), colour.green(), colour.blue(), round(255 * self.mask_opacity)

    def _repaint_mask(self, box: tuple[slice, ...]) -> None:
        assert self.document is not None
        rows, cols = box[0], box[1]
        paint_mask(self.canvas.mask_layer.pixels, self.document.mask, rows, cols, self._mask_rgba())
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

    def edit_mask(self, edit: Callable[[ImageDocument], None]) -> None:
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
        """Cached until the document's next event: the window asks after every change, and
        scanning a 4096² mask each time adds up to a stall while a large file opens."""
        if self.document is None:
            return False
        if self._has_mask is None:
            self._has_mask = self.document.has_mask()
        return self._has_mask

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
        self.generation.start(job, codec)
        return job, ImageEditCodec(codec)

    def _codec(self, manifest: ModelManifest) -> ImageCodec:
        try:
            return ImageCodec(manifest, feather_px=self.feather_px)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"model {manifest.name} cannot edit images: {exc}") from None

    def show_step(self, progress: Progress) -> None:
        self.generation.show_step(progress)

    def clear_preview(self) -> None:
        self.generation.clear_preview()

    def show_results(self, result: GenerateResult) -> None:
        self.generation.show_results(result)

    def select_variation(self, index: int) -> None:
        self.generation.select(index)

    def accept_variation(self, index: int) -> None:
        """Write variation ``index`` into the document as one undo step; only its region changes."""
        if self.document is None:
            return
        chosen = self.generation.take(index)
        if chosen is None:
            return
        self.document.accept(*chosen)
        self.show_mask(False)  # the result, not the mask, is what to look at now
        self.status.setText("Accepted (Undo takes it back) · mask hidden: M shows it")

    def discard_variations(self) -> None:
        """Back to exactly the previous view: no preview, no strip, document untouched."""
        self.generation.forget()

    def kept_variations(self) -> ImageVariations | None:
        """The variations on offer and the one selected, for a project file (None: no offer)."""
        return self.generation.kept(self.strip.current())

    def restore_variations(self, kept: ImageVariations) -> None:
        """Offer a reopened project's variations again; Accept writes what it would have."""
        if self.document is not None:
            self.generation.restore(kept)

    @property
    def job(self) -> ImageEdit | None:
        """The edit being generated or offered: snapshot and crop windows."""
        return self.generation.job

    @property
    def variations(self) -> list[LoadedImage]:
        return self.generation.variations

    @property
    def heat(self) -> HeatSource | None:
        return self.generation.heat

    @property
    def preview_updates(self) -> int:
        """Steps drawn so far (tests and the status line read it)."""
        return self.generation.preview_updates

    def show_mask(self, visible: bool) -> None:
        """Show or hide the mask overlay (M); the mask itself is unchanged."""
        self.canvas.mask_layer.setVisible(visible)
        self.show_mask_action.blockSignals(True)
        self.show_mask_action.setChecked(visible)
        self.show_mask_action.blockSignals(False)
