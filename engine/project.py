"""Project files (``.remask``): a document with its mask, undo history, sampler choice, variations.

An export (PNG, MIDI, BVH) keeps the content only; a project keeps the work:
reopening one gives the document as it was, modified state aside, and Undo
walks back through the edits made before it was saved. The container is a zip:

* ``manifest.json``: format name and version, the medium, the source name, the
  model and sampler settings, the medium's own facts (``"document"``) and the
  undo history (``"history"``, see :mod:`engine.project_history`) and, while
  an offer is open, the kept variations (``"variations"``, see
  :mod:`engine.project_variations`; format version 2, version 1 files have none);
* the document in the medium's own form (``document.png``, ``document.mid``,
  ``document.bvh``), so any tool can get the content out, and the arrays that
  form cannot hold exactly (the mask, history diffs) as ``.npy`` members.

Each medium says how its document is written and read in a module named by
:attr:`MediumSpec.project <engine.media.registry.MediumSpec.project>` (for
instance :mod:`engine.media.image.project`). Reading validates everything
before a document exists: a broken, foreign or newer file is one
:class:`ProjectError` line. Writing builds a :class:`ProjectSnapshot` first,
cheaply and from private copies, so the zip can be encoded and written
(atomically) on another thread while the user goes on editing.
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from engine.atomic import write_atomic
from engine.media.registry import medium as medium_spec
from engine.project_history import ProjectError, ProjectReader, ProjectWriter
from engine.project_variations import KeptVariations, check_record
from engine.sampling.types import SamplerSettings

__all__ = [
    "FORMAT_VERSION",
    "SUFFIX",
    "KeptVariations",
    "MediumProject",
    "Project",
    "ProjectError",
    "ProjectReader",
    "ProjectSnapshot",
    "ProjectWriter",
    "decode_project",
    "read_project",
    "save_project",
    "snapshot_project",
]

FORMAT = "remask-project"
FORMAT_VERSION = 2
"""Written into every project; a file of a higher version is refused, never half read.
Version 2 added the kept variations; version 1 files (without them) open as before."""
SUFFIX = ".remask"
MANIFEST = "manifest.json"
MAX_MEMBERS = 200_000
MAX_PROJECT_BYTES = 8 << 30
"""Largest total of unpacked members: a small zip cannot make remask allocate more."""
_STORED_SUFFIXES = (".png", ".mid")
"""Members already compressed (or tiny): stored, so saving spends no time deflating them."""


class MediumProject(Protocol):
    """What a medium's project module (``engine/media/<medium>/project.py``) provides."""

    def save_document(self, document: Any, out: ProjectWriter) -> None:
        """Add the document (own-form file, arrays, ``out.meta``, history) to ``out``."""

    def load_document(self, source: ProjectReader) -> Any:
        """Build the document from ``source`` (history restored); raise on anything wrong."""

    def encode_object(self, value: Any, out: ProjectWriter) -> dict[str, Any]:
        """A JSON record for a non-array value a history step holds (an older score)."""

    def decode_object(self, record: dict[str, Any], source: ProjectReader) -> Any:
        """The value :meth:`encode_object` described; raise on a bad record."""

    def save_variations(self, kept: Any, out: ProjectWriter) -> dict[str, Any]:
        """Add the kept variations' members (``variations/``); return their manifest fields."""

    def load_variations(
        self, record: dict[str, Any], count: int, shown: int, source: ProjectReader, document: Any
    ) -> KeptVariations[Any, Any]:
        """The ``count`` variations ``record`` describes, for ``document``; raise if wrong."""


@dataclass(frozen=True)
class Project:
    """One document and the choices around it, as a project file holds them."""

    medium: str
    document: Any
    name: str = ""
    """The source document's name (``walk.bvh``): titles and the next export's default."""
    model: str | None = None
    sampler: SamplerSettings | None = None
    variations: KeptVariations[Any, Any] | None = None
    """The variations on offer when it was saved (None: no offer open)."""


def medium_project(key: str, name: str = "project") -> MediumProject:
    """The project module of medium ``key``; ProjectError (about file ``name``) when none."""
    try:
        spec = medium_spec(key)
    except KeyError:
        raise ProjectError(f"{name}: this remask knows no medium called {key[:40]!r}") from None
    if not spec.project:
        raise ProjectError(f"{name}: {spec.label} documents cannot be saved as projects")
    return cast(MediumProject, importlib.import_module(spec.project))


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class ProjectSnapshot:
    """A project frozen on the GUI thread: its manifest and a maker per member.

    The makers hold private copies only, so :meth:`to_bytes` and :meth:`write`
    may run on any thread while the document changes.
    """

    manifest: dict[str, Any]
    members: dict[str, Callable[[], bytes]]

    def to_bytes(self) -> bytes:
        """The zip file's bytes (members encoded now: PNG, npy)."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(MANIFEST, json.dumps(self.manifest, indent=1), zipfile.ZIP_DEFLATED)
            for name, make in self.members.items():
                stored = name.endswith(_STORED_SUFFIXES)
                method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
                archive.writestr(name, make(), method, compresslevel=None if stored else 1)
        return buffer.getvalue()

    def write(self, path: str | Path) -> Path:
        """Write the project atomically: ``path`` holds the old file or the new one, whole."""
        return write_atomic(path, self.to_bytes())


def snapshot_project(project: Project) -> ProjectSnapshot:
    """Freeze ``project`` for writing (cheap: arrays are copied, nothing is encoded yet)."""
    module = medium_project(project.medium)
    out = ProjectWriter(module.encode_object)
    module.save_document(project.document, out)
    manifest = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "medium": project.medium,
        "name": project.name,
        "model": project.model,
        "sampler": None if project.sampler is None else dataclasses.asdict(project.sampler),
        "document": out.meta,
        "history": out.history_record,
    }
    kept = project.variations
    if kept is not None:
        fields = module.save_variations(kept, out)
        manifest["variations"] = {**fields, "count": len(kept.items), "shown": kept.shown}
    return ProjectSnapshot(manifest, out.members)


def save_project(path: str | Path, project: Project) -> Path:
    """Write ``project`` to ``path`` atomically (see :class:`ProjectSnapshot`)."""
    return snapshot_project(project).write(path)


# --------------------------------------------------------------------------- reading


def read_project(path: str | Path) -> Project:
    """Read and validate a project file; any problem is one :class:`ProjectError` line."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise ProjectError(f"{path.name}: is a folder, not a project file") from None
    except OSError as exc:
        raise ProjectError(f"{path.name}: cannot be read ({exc.strerror or exc})") from None
    return decode_project(data, path.name)


def decode_project(data: bytes, name: str = "project") -> Project:
    """The project in ``data``; nothing is built unless all of it is sound."""
    try:
        return _decode(data, name)
    except ProjectError:
        raise
    except RecursionError:
        raise ProjectError(f"{name}: the project is nested too deeply") from None
    except MemoryError:
        raise ProjectError(f"{name}: the project is too large to open") from None
    except Exception as exc:  # noqa: BLE001 - every reader error becomes one clean line
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ProjectError(f"{name}: not a valid remask project ({detail})") from None


def _decode(data: bytes, name: str) -> Project:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ProjectError(f"{name}: not a remask project (not a zip file)") from None
    with archive:
        members = _checked_members(archive, name)
        manifest = _manifest(archive, members, name)
        key = _field(manifest, "medium", str, name)
        module = medium_project(key, name)
        source = ProjectReader(
            archive,
            members,
            _field(manifest, "document", dict, name),
            _field(manifest, "history", dict, name),
            module.decode_object,
            name,
        )
        document = module.load_document(source)
        variations = _variations(manifest.get("variations"), module, source, document)
    model = manifest.get("model")
    if model is not None and not isinstance(model, str):
        raise ProjectError(f"{name}: the model name is not text")
    return Project(
        medium=key,
        document=document,
        name=_field(manifest, "name", str, name),
        model=model,
        sampler=_sampler(manifest.get("sampler"), name),
        variations=variations,
    )


def _variations(
    record: object, module: MediumProject, source: ProjectReader, document: Any
) -> KeptVariations[Any, Any] | None:
    """The kept variations (None in a file without them: version 1, or no offer open)."""
    if record is None:
        return None
    fields, count, shown = check_record(record, source.name)
    return module.load_variations(fields, count, shown, source, document)


def _checked_members(archive: zipfile.ZipFile, name: str) -> dict[str, zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ProjectError(f"{name}: {len(infos)} members is more than a project holds")
    total = sum(info.file_size for info in infos)
    if total > MAX_PROJECT_BYTES:
        raise ProjectError(
            f"{name}: unpacks to {total / 2**30:.1f} GiB, over the {MAX_PROJECT_BYTES >> 30} GiB "
            "limit for a project"
        )
    return {info.filename: info for info in infos}


def _manifest(
    archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], name: str
) -> dict[str, Any]:
    if MANIFEST not in members:
        raise ProjectError(f"{name}: not a remask project (no {MANIFEST})")
    try:
        manifest = json.loads(archive.read(MANIFEST).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProjectError(f"{name}: {MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ProjectError(f"{name}: not a remask project (wrong format name)")
    version = manifest.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ProjectError(f"{name}: the project's format version is missing or not a number")
    if version > FORMAT_VERSION:
        raise ProjectError(
            f"{name}: saved by a newer remask (project format {version}; this one reads up to "
            f"{FORMAT_VERSION}): update remask to open it"
        )
    return manifest


def _field(record: dict[str, Any], key: str, kind: type, name: str) -> Any:
    value = record.get(key)
    if not isinstance(value, kind):
        raise ProjectError(f"{name}: the manifest's {key!r} is missing or not {kind.__name__}")
    return value


def _sampler(record: object, name: str) -> SamplerSettings | None:
    """Known settings of the right type; unknown keys (a newer minor field) are ignored."""
    if record is None:
        return None
    if not isinstance(record, dict):
        raise ProjectError(f"{name}: the sampler settings are not a record")
    defaults = SamplerSettings()
    values: dict[str, Any] = {}
    for item in dataclasses.fields(SamplerSettings):
        if item.name not in record:
            continue
        value, default = record[item.name], getattr(defaults, item.name)
        kind = (int, float) if isinstance(default, float) else (type(default),)
        if isinstance(value, bool) or not isinstance(value, kind):
            raise ProjectError(f"{name}: sampler setting {item.name!r} has the wrong type")
        values[item.name] = type(default)(value)
    return SamplerSettings(**values)
