"""Atomic file writes: a reader, or a crash, sees the old file or the new one, never half of one.

Every file remask writes (exports, masks, MIDI, BVH, WAV) goes through here. The
bytes are written to a temporary file beside the target, named
``.<name>.remask-tmp-<pid>-<random>``, flushed and fsynced, then renamed over
the target, and the folder is fsynced so the rename itself survives a power
cut. On any error the temporary file is removed and the target is untouched.

A killed process cannot remove its temporary file, so before each write the
folder is swept of remask temporaries whose process no longer runs
(:func:`sweep_stale_temps`): a kill leaves litter only until the next write there.

A symlinked target is written through (its destination is replaced, the link
stays a link). A hard-linked target is replaced by a new file: the other names
keep the old bytes, which is what keeps an input safe from an output that
happens to be a hard link to it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

__all__ = [
    "TEMP_MARK",
    "is_temp_name",
    "pid_alive",
    "same_file",
    "sweep_stale_temps",
    "write_atomic",
    "write_set_atomic",
]

TEMP_MARK = ".remask-tmp-"
"""What every temporary file's name contains, before ``<pid>-<random>``."""
_TEMP_PATTERN = re.compile(r"^\..*\.remask-tmp-(\d+)-[0-9a-f]+$", re.DOTALL)
_NAME_KEEP = 180
"""Characters of the target's name kept in a temporary name, so it stays under NAME_MAX."""

PathLike = str | os.PathLike[str]


def write_atomic(path: PathLike, data: bytes) -> Path:
    """Replace ``path`` by ``data`` atomically; returns the file actually written.

    Raises :class:`OSError` (with nothing changed on disk) when the folder
    cannot be written, the disk is full, or the target is a folder.
    """
    write_set_atomic([(path, data)])
    return _real_target(Path(path))


def write_set_atomic(files: Iterable[tuple[PathLike, bytes]]) -> list[Path]:
    """Write several files as one step: every temporary first, then every rename.

    A failure before the renames (a full disk, an unwritable folder) writes
    nothing. A failure during the renames, which only move names in folders
    already written to, leaves the files renamed so far. Returns the files
    written, in order.
    """
    pairs = [(_real_target(Path(path)), data) for path, data in files]
    targets = [target for target, _ in pairs]
    if len(set(targets)) != len(targets):
        raise ValueError("the same file is named twice in one atomic write")
    for folder in dict.fromkeys(target.parent for target in targets):
        sweep_stale_temps(folder)
    temps: list[Path] = []
    try:
        for target, data in pairs:
            temps.append(_temp_path(target))
            with _naming(target):
                _write_temp(temps[-1], target, data)
        for temp, target in zip(temps, targets, strict=True):
            with _naming(target):
                os.replace(temp, target)
    finally:
        for temp in temps:
            _unlink_quietly(temp)
    for folder in dict.fromkeys(target.parent for target in targets):
        _fsync_folder(folder)
    return targets


@contextlib.contextmanager
def _naming(target: Path) -> Iterator[None]:
    """Re-raise an OS error with the target's name, never the temporary's."""
    try:
        yield
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror or str(exc), str(target)) from None


def _real_target(path: Path) -> Path:
    """``path`` with symlinks resolved, so a link is written through and stays a link."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _temp_path(target: Path) -> Path:
    token = secrets.token_hex(4)
    return target.with_name(f".{target.name[:_NAME_KEEP]}{TEMP_MARK}{os.getpid()}-{token}")


def _write_temp(temp: Path, target: Path, data: bytes) -> None:
    """Create ``temp`` (new, with the target's mode or the umask's), write, flush and fsync."""
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder", str(target))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    handle = os.open(temp, flags, 0o666)  # the umask applies, as for any new file
    with os.fdopen(handle, "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())
    _copy_mode(target, temp)


def _copy_mode(target: Path, temp: Path) -> None:
    """Keep an existing file's permissions: saving must not make it private or executable."""
    try:
        mode = target.stat().st_mode & 0o7777
    except OSError:
        return
    os.chmod(temp, mode)


def _fsync_folder(folder: Path) -> None:
    """Make the renames durable; a platform that cannot open folders (Windows) skips this."""
    try:
        handle = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(handle)
    finally:
        os.close(handle)


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is one of our temporary files (any process's)."""
    return _TEMP_PATTERN.match(name) is not None


def sweep_stale_temps(folder: PathLike) -> int:
    """Remove the temporaries of processes that no longer run from ``folder``; returns how many.

    Best effort: an unreadable folder or a file that cannot be removed is left
    alone, and so is every temporary of a running process (a write under way).
    """
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        match = _TEMP_PATTERN.match(entry.name)
        if match is None or pid_alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed += 1
    return removed


def pid_alive(pid: int, *, unknown: bool = True) -> bool:
    """Whether process ``pid`` runs (this process does).

    Where it cannot be told (not POSIX: ``os.kill(pid, 0)`` would terminate the
    process on Windows) the answer is ``unknown``: alive by default, so nothing
    live is ever removed.
    """
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return unknown
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def same_file(path: PathLike, others: Sequence[PathLike]) -> bool:
    """Whether ``path`` exists and is the same file (device and inode) as one of ``others``.

    Catches what comparing resolved paths misses: a hard link to an input.
    """
    try:
        mine = os.stat(path)
    except (OSError, ValueError):
        return False
    for other in others:
        try:
            theirs = os.stat(other)
        except (OSError, ValueError):
            continue
        if (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino):
            return True
    return False
