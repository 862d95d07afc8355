"""Small persistent preferences over ``QSettings``: recent files, last folder, window layout.

Every class takes the ``QSettings`` to use, so tests pass one backed by an
INI file in ``tmp_path`` and never touch the user's real settings.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "remask"
APPLICATION = "remask"


def default_settings() -> QSettings:
    """The user's settings (platform-native location)."""
    return QSettings(ORGANIZATION, APPLICATION)


def _string_list(value: object) -> list[str]:
    """QSettings returns a str for a one-element list and None for none (INI backend)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return []


class RecentFiles:
    """Most recently opened files, newest first, without duplicates, at most ``limit``."""

    KEY = "recent/files"

    def __init__(self, settings: QSettings, limit: int = 10) -> None:
        self._settings = settings
        self._limit = limit

    def paths(self) -> list[Path]:
        return [Path(item) for item in _string_list(self._settings.value(self.KEY))]

    def add(self, path: Path) -> None:
        resolved = str(Path(path).resolve())
        items = [
            resolved,
            *(item for item in _string_list(self._settings.value(self.KEY)) if item != resolved),
        ]
        self._store(items[: self._limit])

    def remove(self, path: Path) -> None:
        gone = str(Path(path).resolve())
        self._store([item for item in _string_list(self._settings.value(self.KEY)) if item != gone])

    def clear(self) -> None:
        self._store([])

    def _store(self, items: list[str]) -> None:
        self._settings.setValue(self.KEY, items)
        self._settings.sync()


class WindowState:
    """Geometry, dock layout and the last folder of a file dialog."""

    def __init__(self, settings: QSettings) -> None:
        self._settings = settings

    def last_folder(self) -> str:
        return str(self._settings.value("dialogs/last_folder", "") or "")

    def set_last_folder(self, path: Path) -> None:
        self._settings.setValue("dialogs/last_folder", str(Path(path).parent))

    def geometry(self) -> QByteArray | None:
        return self._bytes("window/geometry")

    def dock_state(self) -> QByteArray | None:
        return self._bytes("window/state")

    def save(self, geometry: QByteArray, dock_state: QByteArray) -> None:
        self._settings.setValue("window/geometry", geometry)
        self._settings.setValue("window/state", dock_state)
        self._settings.sync()

    def _bytes(self, key: str) -> QByteArray | None:
        value = self._settings.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None
