"""The image canvas: shows picture, mask, live preview and heat-map; forwards what the mouse does.

The canvas owns no document state. It draws layers from arrays the editor
hands it and turns mouse gestures into intent signals in *image* coordinates
(pixel (row r, column c) has its centre at (c, r), as in
:mod:`engine.media.image.mask`). Layers update only the rectangle that
changed, so a brush dab repaints a few hundred pixels, not the picture.

Navigation: wheel zooms about the cursor, :meth:`ImageCanvas.fit` and
:meth:`ImageCanvas.actual_size`; space-drag or the middle button pans.
``[`` and ``]`` change the brush size, shown as a circle that follows the mouse.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QAbstractGraphicsShapeItem,
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsItemGroup,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QWidget,
)

Box = tuple[slice, ...]
Point = tuple[float, float]
RGBA = npt.NDArray[np.uint8]

MIN_ZOOM, MAX_ZOOM = 0.02, 64.0
MIN_RADIUS, MAX_RADIUS = 1.0, 500.0
RADIUS_STEP = 1.25
DEFAULT_HEAT_OPACITY = 0.6
"""Of the heat colours' own alpha: enough to read, the result still visible beneath."""
"""``]`` multiplies the brush radius by this, ``[`` divides (even steps at any size)."""


class Tool(enum.Enum):
    BRUSH = "brush"
    ERASER = "eraser"
    RECTANGLE = "rectangle"
    LASSO = "lasso"
    FILL = "fill"


class ArrayLayer(QGraphicsItem):
    """A QGraphicsItem over an RGBA uint8 [H, W, 4] array; one scene unit = one pixel.

    The QImage wraps the array's memory, so writing a box of the array and
    calling :meth:`changed` repaints exactly that box.
    """

    def __init__(self, z: float, smooth: bool = False) -> None:
        super().__init__()
        self.setZValue(z)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption)
        self._pixels: RGBA = np.zeros((1, 1, 4), dtype=np.uint8)
        self._image = QImage()
        self._smooth = smooth
        self.set_pixels(self._pixels)

    @property
    def pixels(self) -> RGBA:
        """The live array (write a box, then call :meth:`changed`)."""
        return self._pixels

    def set_pixels(self, rgba: RGBA) -> None:
        """Show a new array (its size may differ); the layer keeps its own contiguous copy."""
        self.prepareGeometryChange()
        self._pixels = np.ascontiguousarray(rgba, dtype=np.uint8)
        height, width = self._pixels.shape[:2]
        self._image = QImage(
            self._pixels.data, width, height, width * 4, QImage.Format.Format_RGBA8888
        )
        self.update()

    def changed(self, box: Box) -> None:
        rows, cols = box[0], box[1]
        self.update(QRectF(cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start))

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt override
        height, width = self._pixels.shape[:2]
        return QRectF(0, 0, width, height)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, _widget: QWidget | None = None
    ) -> None:
        exposed = option.exposedRect.toAlignedRect().intersected(self.boundingRect().toRect())
        if exposed.isEmpty():
            return
        zoomed_out = painter.worldTransform().m11() < 1.0
        painter.setRenderHint(
            QPainter.RenderHint.SmoothPixmapTransform, self._smooth and zoomed_out
        )
        painter.drawImage(exposed, self._image, exposed)


def checkerboard() -> QBrush:
    """The usual grey checks behind transparent pixels."""
    tile = QImage(16, 16, QImage.Format.Format_RGB32)
    tile.fill(QColor(200, 200, 200))
    painter = QPainter(tile)
    painter.fillRect(0, 0, 8, 8, QColor(150, 150, 150))
    painter.fillRect(8, 8, 8, 8, QColor(150, 150, 150))
    painter.end()
    return QBrush(tile)


class ImageCanvas(QGraphicsView):
    """Zoomable view of the picture with mask, preview and heat-map layers.

    Intent signals carry image coordinates; the editor applies them to the
    document (a stroke is ``strokeBegan``, one ``strokeSegment`` per mouse
    event, ``strokeEnded``).
    """

    strokeBegan = Signal(bool)  # noqa: N815 - Qt signal naming  # erase
    strokeSegment = Signal(float, float, float, float)  # noqa: N815 - x0, y0, x1, y1
    strokeEnded = Signal()  # noqa: N815 - Qt signal naming
    rectangleDrawn = Signal(float, float, float, float)  # noqa: N815 - x0, y0, x1, y1
    lassoDrawn = Signal(object)  # noqa: N815 - Qt signal naming  # list[tuple[float, float]]
    fillClicked = Signal(float, float)  # noqa: N815 - Qt signal naming
    brushRadiusChanged = Signal(float)  # noqa: N815 - Qt signal naming
    fileDropped = Signal(str)  # noqa: N815 - Qt signal naming
    zoomChanged = Signal(float)  # noqa: N815 - Qt signal naming

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tool = Tool.BRUSH
        self.brush_radius = 12.0
        self.picture = ArrayLayer(0, smooth=True)
        self.mask_layer = ArrayLayer(1)
        self.previews: dict[int, ArrayLayer] = {}  # one per model window, above the mask
        self.heat = QGraphicsItemGroup()
        """The confidence heat-map: one layer per model window, shown, hidden and faded as one."""
        self.heat_layers: dict[int, ArrayLayer] = {}
        self._cursor = QGraphicsEllipseItem()
        self._outline = QGraphicsPathItem()
        self._rubber = QGraphicsRectItem()
        self._gesture: str | None = None  # "stroke", "rect", "lasso", "pan"
        self._last: QPointF = QPointF()
        self._pan_from = QPoint()
        self._lasso: list[QPointF] = []
        self._space = False
        self._auto_fit = True  # keep fitting on resize until the user zooms
        self._build()

    def _build(self) -> None:
        scene = QGraphicsScene(self)
        # A handful of items: a BSP index only costs, re-filing a 4096² layer on every resize.
        scene.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        for item in (self.picture, self.mask_layer, self.heat):
            scene.addItem(item)
        self.heat.setZValue(3)
        self.heat.setOpacity(DEFAULT_HEAT_OPACITY)
        self.heat.setVisible(False)
        pen = QPen(QColor(255, 255, 255), 0)  # cosmetic: one screen pixel at any zoom
        pen.setCosmetic(True)
        outlines: tuple[QAbstractGraphicsShapeItem, ...] = (
            self._rubber,
            self._outline,
            self._cursor,
        )
        for z, outline in enumerate(outlines, start=10):
            outline.setPen(pen)
            outline.setZValue(z)
            outline.setVisible(False)
            scene.addItem(outline)
        self.setScene(scene)
        self.setBackgroundBrush(QColor(48, 48, 48))
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setMouseTracking(True)
        self.viewport().setMouseTracking(True)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setCursor(Qt.CursorShape.CrossCursor)

    # -- content -----------------------------------------------------------------------

    def set_picture(self, rgba: RGBA, overlay: RGBA | None = None) -> None:
        """A new picture (size may change): every layer is resized and the view fits it.
        ``overlay``: the mask layer's array, made off the GUI thread (``ShownImage``)."""
        height, width = rgba.shape[:2]
        self.picture.set_pixels(rgba)
        if overlay is None or overlay.shape != (height, width, 4):
            overlay = np.zeros((height, width, 4), dtype=np.uint8)
        self.mask_layer.set_pixels(overlay)
        self.clear_preview()
        self.scene().setSceneRect(QRectF(0, 0, width, height))
        self._auto_fit = True
        self.fit()

    def set_preview(self, rgba: RGBA, top: int, left: int, window: int = 0) -> None:
        """Show generated pixels over the picture at (top, left); transparent where unchanged.

        Each model window of a request has its own layer, so the holes already filled stay in
        sight while the next window decodes. The layers sit above the mask: the fill is seen
        untinted.
        """
        layer = self.previews.get(window)
        if layer is None:
            layer = self.previews[window] = ArrayLayer(2, smooth=True)
            self.scene().addItem(layer)
        layer.set_pixels(rgba)
        layer.setPos(left, top)

    def set_heat(
        self, rgba: RGBA, top: float, left: float, sy: float, sx: float, window: int = 0
    ) -> None:
        """Window ``window``'s token-grid heat-map, each cell ``sy`` × ``sx`` image pixels.

        Drawing it does not show it: :meth:`show_heat` does (the toggle's state).
        """
        layer = self.heat_layers.get(window)
        if layer is None:
            layer = self.heat_layers[window] = ArrayLayer(0)
            layer.setParentItem(self.heat)
        layer.set_pixels(rgba)
        layer.setTransform(QTransform.fromScale(sx, sy))
        layer.setPos(left, top)

    def show_heat(self, visible: bool) -> None:
        self.heat.setVisible(visible and bool(self.heat_layers))

    def set_heat_opacity(self, opacity: float) -> None:
        """0 (invisible) .. 1 (the colours' own alpha): the picture shows through below."""
        self.heat.setOpacity(min(max(opacity, 0.0), 1.0))

    def clear_heat(self) -> None:
        for layer in self.heat_layers.values():
            self.scene().removeItem(layer)
        self.heat_layers.clear()
        self.heat.setVisible(False)

    def clear_preview(self) -> None:
        """Previews and heat-map both gone (a cancelled job, a discard, another picture)."""
        self.drop_previews()
        self.clear_heat()

    def drop_previews(self) -> None:
        """Remove every preview layer (the heat-map stays: it outlives the preview)."""
        for layer in self.previews.values():
            self.scene().removeItem(layer)
        self.previews.clear()

    @property
    def preview_visible(self) -> bool:
        return bool(self.previews)

    # -- navigation ----------------------------------------------------------------------

    @property
    def zoom(self) -> float:
        return float(self.transform().m11())

    def fit(self) -> None:
        """Whole picture in view (never enlarged beyond 8×, so tiny images stay usable)."""
        rect = self.scene().sceneRect()
        if rect.isEmpty():
            return
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom > 8:
            self.setTransform(QTransform.fromScale(8, 8))
        self._auto_fit = True
        self.zoomChanged.emit(self.zoom)

    def actual_size(self) -> None:
        """100 %: one image pixel per screen pixel."""
        self.set_zoom(1.0)

    def set_zoom(self, zoom: float) -> None:
        zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        self._auto_fit = False
        self.setTransform(QTransform.fromScale(zoom, zoom))
        self.zoomChanged.emit(self.zoom)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        """Zoom about the cursor (the scene point under it stays put)."""
        steps = event.angleDelta().y() / 120
        if not steps:
            return
        factor = 1.25**steps
        target = min(max(self.zoom * factor, MIN_ZOOM), MAX_ZOOM)
        self._auto_fit = False
        self.scale(target / self.zoom, target / self.zoom)
        self.zoomChanged.emit(self.zoom)
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self._auto_fit:
            self.fit()

    # -- brush size ------------------------------------------------------------------------

    def set_brush_radius(self, radius: float) -> None:
        radius = min(max(radius, MIN_RADIUS), MAX_RADIUS)
        if radius != self.brush_radius:
            self.brush_radius = radius
            self.brushRadiusChanged.emit(radius)
        self._place_cursor(self._cursor.rect().center() if self._cursor.isVisible() else None)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        key = event.key()
        if key == Qt.Key.Key_BracketRight:
            self.set_brush_radius(self.brush_radius * RADIUS_STEP)
        elif key == Qt.Key.Key_BracketLeft:
            self.set_brush_radius(self.brush_radius / RADIUS_STEP)
        elif key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.viewport().setCursor(Qt.CursorShape.CrossCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    # -- mouse -------------------------------------------------------------------------------

    def image_point(self, position: QPointF | QPoint) -> QPointF:
        """Viewport position -> image coordinates (pixel centres at integers).

        The centre of the screen pixel under the mouse is mapped with the exact
        float transform, so at high zoom a click lands in the image pixel shown.
        """
        inverse, _ok = self.viewportTransform().inverted()
        scene = inverse.map(QPointF(position.x() + 0.5, position.y() + 0.5))
        return QPointF(scene.x() - 0.5, scene.y() - 0.5)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and self._space
        ):
            self._begin_pan(event.position().toPoint())
        elif button == Qt.MouseButton.LeftButton and self._gesture is None:
            self._begin_tool(self.image_point(event.position()))
        else:
            super().mousePressEvent(event)
            return
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        position = event.position()
        point = self.image_point(position)
        self._place_cursor(QPointF(point.x() + 0.5, point.y() + 0.5))
        if self._gesture == "pan":
            self._pan_to(position.toPoint())
        elif self._gesture == "stroke":
            self._emit_segment(self._last, point)
            self._last = point
        elif self._gesture == "rect":
            self._rubber.setRect(_scene_rect(self._last, point))
        elif self._gesture == "lasso":
            self._lasso.append(point)
            self._outline.setPath(_path(self._lasso))
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        gesture, self._gesture = self._gesture, None
        point = self.image_point(event.position())
        if gesture == "pan":
            cursor = Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.CrossCursor
            self.viewport().setCursor(cursor)
        elif gesture == "stroke":
            self.strokeEnded.emit()
        elif gesture == "rect":
            self._rubber.setVisible(False)
            self.rectangleDrawn.emit(self._last.x(), self._last.y(), point.x(), point.y())
        elif gesture == "lasso":
            self._outline.setVisible(False)
            self.lassoDrawn.emit([(p.x(), p.y()) for p in [*self._lasso, point]])
        event.accept()

    def leaveEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        self._cursor.setVisible(False)

    def _begin_pan(self, position: QPoint) -> None:
        self._gesture = "pan"
        self._auto_fit = False
        self._pan_from = position
        self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)

    def _pan_to(self, position: QPoint) -> None:
        delta = position - self._pan_from
        self._pan_from = position
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())

    def _begin_tool(self, point: QPointF) -> None:
        self._last = point
        if self.tool in (Tool.BRUSH, Tool.ERASER):
            self._gesture = "stroke"
            self.strokeBegan.emit(self.tool is Tool.ERASER)
            self._emit_segment(point, point)
        elif self.tool is Tool.RECTANGLE:
            self._gesture = "rect"
            self._rubber.setRect(_scene_rect(point, point))
            self._rubber.setVisible(True)
        elif self.tool is Tool.LASSO:
            self._gesture = "lasso"
            self._lasso = [point]
            self._outline.setPath(_path(self._lasso))
            self._outline.setVisible(True)
        elif self.tool is Tool.FILL:
            self.fillClicked.emit(point.x(), point.y())

    def _emit_segment(self, start: QPointF, end: QPointF) -> None:
        self.strokeSegment.emit(start.x(), start.y(), end.x(), end.y())

    def _place_cursor(self, centre: QPointF | None) -> None:
        """The brush circle, in scene units so it shows the true footprint at any zoom."""
        brush = self.tool in (Tool.BRUSH, Tool.ERASER)
        if centre is None or not brush:
            self._cursor.setVisible(False)
            return
        r = self.brush_radius
        self._cursor.setRect(QRectF(centre.x() - r, centre.y() - r, 2 * r, 2 * r))
        self._cursor.setVisible(True)

    # -- drag and drop ------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if _dropped_file(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802 - Qt override
        if _dropped_file(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        path = _dropped_file(event)
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.fileDropped.emit(path)


def _dropped_file(event: QDropEvent) -> str | None:
    urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
    local = [url.toLocalFile() for url in urls if url.isLocalFile()]
    return local[0] if local else None


def _scene_rect(a: QPointF, b: QPointF) -> QRectF:
    """Outline of the pixels a rectangle from ``a`` to ``b`` selects (image -> scene units)."""
    left, right = math.ceil(min(a.x(), b.x())), math.floor(max(a.x(), b.x())) + 1
    top, bottom = math.ceil(min(a.y(), b.y())), math.floor(max(a.y(), b.y())) + 1
    return QRectF(left, top, max(right - left, 0), max(bottom - top, 0))


def _path(points: Sequence[QPointF]) -> QPainterPath:
    path = QPainterPath(QPointF(points[0].x() + 0.5, points[0].y() + 0.5))
    for point in points[1:]:
        path.lineTo(point.x() + 0.5, point.y() + 0.5)
    path.closeSubpath()
    return path
