"""remask desktop app: Qt widgets and the command line over the ``engine`` package.

Importing ``app`` itself stays free of Qt so that ``remask --help`` and the
batch subcommands start fast and work on machines without a display.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def _installed_version() -> str:
    """The distribution's version; a bare source tree (not pip-installed) has none."""
    try:
        return version("remask")
    except PackageNotFoundError:
        return "0+unknown"


__version__ = _installed_version()
__all__ = ["__version__"]
