"""The Image page's tool bar pieces: tool actions, the Mask menu and the settings bar.

Widgets only: they show settings and forward clicks; :class:`app.image.editor.ImageEditor`
connects them to the document. Every action is also added to the editor (``owner``),
so its keys work wherever the focus is while the Image tab is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QSlider,
    QSpinBox,
    QToolBar,
    QToolButton,
    QWidget,
    QWidgetAction,
)

from app.image.canvas import Tool
from app.image.heatmap import HeatControls
from app.shortcuts import bind
from engine.media.image.document import ImageDocument

MaskEdit = Callable[[ImageDocument], None]


class MaskCommands(Protocol):
    """What the Mask menu's rows call (the editor's mask edits, colour and files)."""

    def edit_mask(self, edit: MaskEdit) -> None: ...

    def choose_mask_colour(self) -> None: ...

    def import_mask_dialog(self) -> None: ...

    def export_mask_dialog(self) -> None: ...


def add_action(
    owner: QWidget, bar: QToolBar | QMenu | None, text: str, command: str, slot: Any = None
) -> QAction:
    """An action on ``bar`` (if any) and on ``owner``, with ``command``'s keys if it has one.

    On the owner (the editor), so its keys work wherever the focus is while its tab is shown.
    """
    action = QAction(text, owner)
    if command:
        bind(action, "image", command)
    if slot is not None:
        action.triggered.connect(lambda _checked=False: slot())
    if bar is not None:
        bar.addAction(action)
    owner.addAction(action)
    return action


def add_tool_actions(
    owner: QWidget, bar: QToolBar, choose: Callable[[Tool], None]
) -> dict[Tool, QAction]:
    """One checkable action per :class:`Tool`, exclusive, Brush checked."""
    group = QActionGroup(owner)
    actions: dict[Tool, QAction] = {}
    for tool in Tool:
        action = add_action(owner, bar, tool.value.capitalize(), tool.value)
        action.setCheckable(True)
        action.setActionGroup(group)
        action.triggered.connect(lambda _c=False, t=tool: choose(t))
        actions[tool] = action
    actions[Tool.BRUSH].setChecked(True)
    return actions


def menu_spin(menu: QMenu, label: str, low: int, high: int, value: int) -> QSpinBox:
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


class MaskMenu(QMenu):
    """Mask edits and settings used now and then, in one menu (their keys work without it).

    Out of the toolbars, so that the tools and the heat-map controls fit at 1200 x 800.
    """

    grow_px: QSpinBox
    """How far Grow and Shrink move the mask's edge (read when they run)."""

    def __init__(self, owner: QWidget, commands: MaskCommands, feather_px: int) -> None:
        super().__init__("Mask", owner)
        edits: tuple[tuple[str, str, MaskEdit], ...] = (
            ("Invert", "invert_mask", lambda d: d.invert_mask()),
            ("Clear", "clear_mask", lambda d: d.clear_mask()),
            ("Grow", "", lambda d: d.grow_mask(self.grow_px.value())),
            ("Shrink", "", lambda d: d.shrink_mask(self.grow_px.value())),
        )
        for text, command, edit in edits:
            add_action(owner, self, text, command, lambda e=edit: commands.edit_mask(e))
        self.grow_px = menu_spin(self, "Grow/shrink by", 1, 200, 4)
        self.grow_px.setToolTip("How many pixels Grow and Shrink move the mask's edge")
        self.addSeparator()
        add_action(owner, self, "Colour…", "", commands.choose_mask_colour)
        self.feather = menu_spin(self, "Feather", 0, 64, feather_px)
        self.feather.setToolTip(
            "How far inside the mask the fill is corrected to meet the kept pixels around it"
            " (0: pasted as generated)"
        )
        self.addSeparator()
        add_action(owner, self, "Import mask…", "", commands.import_mask_dialog)
        add_action(owner, self, "Export mask…", "", commands.export_mask_dialog)

    def button(self) -> QToolButton:
        """A tool-bar button that opens this menu at once."""
        button = QToolButton()
        button.setText("Mask")
        button.setMenu(self)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        return button


class SettingsBar(QToolBar):
    """Brush size, fill tolerance, mask overlay opacity and the heat-map controls."""

    def __init__(self, brush_diameter: int, overlay_opacity: float) -> None:
        super().__init__("Mask settings")
        self.brush_size = self._spin("Brush", 2, 1000, brush_diameter)
        self.brush_size.setToolTip("Brush diameter in image pixels ([ and ] change it)")
        self.tolerance = self._spin("Fill tolerance", 0, 255, 24)
        self.addWidget(QLabel(" Overlay "))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(overlay_opacity * 100))
        self.opacity.setFixedWidth(90)
        self.addWidget(self.opacity)
        self.addSeparator()
        self.heat_controls = HeatControls()
        self.addWidget(self.heat_controls)

    def _spin(self, label: str, low: int, high: int, value: int) -> QSpinBox:
        self.addWidget(QLabel(f" {label} "))
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setValue(value)
        self.addWidget(spin)
        return spin
