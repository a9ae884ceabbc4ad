"""Dataset manifests: one YAML file per dataset in ``data_manifests/`` (installed as ``genoseq.data_manifests``).

A manifest says where a dataset comes from and how genoseq reads it::

    name: hg38                        # same as the file stem
    description: ...
    citation: ...
    licence: ...
    genome_build: hg38                # or null
    format: fasta.gz
    homepage: https://...             # optional
    url_source: "..."                 # optional: where the URLs are documented
    notes: "..."                      # optional
    loader: {function: Genome, file: hg38.fa.gz}
    files:
      - name: hg38.fa.gz              # path under the download folder
        url: https://...
        size: null                    # bytes, or null when not known
        sha256: null                  # null when not known: never invent a checksum
        md5: null                     # optional key

:func:`load_manifest` reads and validates one manifest (by name or by path);
:func:`manifest_names` lists the shipped ones. Every problem is a :class:`GenoseqError`
naming the file and the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

from genoseq.errors import GenoseqError

__all__ = [
    "LOADER_FUNCTIONS",
    "Manifest",
    "ManifestFile",
    "load_manifest",
    "manifest_names",
    "parse_manifest",
]

_PACKAGE = "genoseq.data_manifests"

_REQUIRED = ("name", "description", "citation", "licence", "genome_build", "format", "loader", "files")
_OPTIONAL = ("homepage", "url_source", "notes")
_FILE_REQUIRED = ("name", "url", "size")
_FILE_OPTIONAL = ("sha256", "md5", "note")
LOADER_FUNCTIONS = ("Genome", "read_bed", "read_task", "read_variants", "none")
_LOADER_KEYS = ("function", "file", "files", "splits", "split_column", "columns", "layout", "note")
_URL_SCHEMES = ("https", "http", "ftp", "file", "bundled")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_HEX = {"sha256": 64, "md5": 32}


@dataclass(frozen=True)
class ManifestFile:
    """One downloadable file of a manifest."""

    name: str  # relative path under the download folder
    url: str
    size: int | None  # bytes; None when not recorded
    sha256: str | None = None  # lowercase hex; None when not recorded
    md5: str | None = None
    note: str | None = None

    @property
    def checksum(self) -> tuple[str, str] | None:
        """``(algorithm, hex digest)`` to verify against (sha256 preferred), or None if none is recorded."""
        if self.sha256:
            return ("sha256", self.sha256)
        if self.md5:
            return ("md5", self.md5)
        return None


@dataclass(frozen=True)
class Manifest:
    """A validated dataset manifest."""

    name: str
    description: str
    citation: str
    licence: str
    genome_build: str | None
    format: str
    loader: dict[str, Any]
    files: tuple[ManifestFile, ...]
    homepage: str | None = None
    url_source: str | None = None
    notes: str | None = None
    source: str = field(default="<string>", compare=False)  # where it was read from

    @property
    def total_size(self) -> int | None:
        """Sum of the file sizes in bytes, or None if any size is unknown."""
        sizes = [f.size for f in self.files]
        return None if any(s is None for s in sizes) else sum(sizes)  # type: ignore[misc]

    def file(self, name: str) -> ManifestFile:
        """The entry called ``name``; GenoseqError listing the valid names otherwise."""
        for f in self.files:
            if f.name == name:
                return f
        raise GenoseqError(
            f"manifest {self.name!r} has no file {name!r}; its files: {', '.join(f.name for f in self.files)}"
        )


def manifest_names() -> list[str]:
    """Sorted names of the manifests shipped with genoseq."""
    root = resources.files(_PACKAGE)
    return sorted(p.name[: -len(".yaml")] for p in root.iterdir() if p.name.endswith(".yaml"))


def load_manifest(name_or_path: str | Path) -> Manifest:
    """Read and validate a manifest, given a shipped manifest's name or a path to a YAML file.

    A :class:`~pathlib.Path`, or a string that ends in ``.yaml``/``.yml`` or contains a ``/``,
    is taken as a path to a manifest file.

    Raises:
        GenoseqError: unknown name (the message lists the valid ones), unreadable file, bad YAML,
            unknown or missing keys, malformed values.
    """
    text_arg = str(name_or_path)
    as_path = Path(text_arg).expanduser()
    if isinstance(name_or_path, Path) or text_arg.endswith((".yaml", ".yml")) or "/" in text_arg:
        try:
            text = as_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise GenoseqError(f"{as_path}: manifest file not found") from None
        except (OSError, UnicodeDecodeError) as err:
            raise GenoseqError(f"{as_path}: cannot read manifest: {err}") from None
        return parse_manifest(text, source=str(as_path))
    names = manifest_names()
    if text_arg not in names:
        raise GenoseqError(f"unknown dataset {text_arg!r}; known datasets: {', '.join(names)}")
    resource = resources.files(_PACKAGE).joinpath(f"{text_arg}.yaml")
    manifest = parse_manifest(resource.read_text(encoding="utf-8"), source=f"data_manifests/{text_arg}.yaml")
    if manifest.name != text_arg:
        raise GenoseqError(
            f"data_manifests/{text_arg}.yaml: key 'name' is {manifest.name!r}, expected {text_arg!r}"
        )
    return manifest


def parse_manifest(text: str, source: str = "<string>") -> Manifest:
    """Parse and validate manifest YAML ``text``; ``source`` names the file in error messages."""
    import yaml  # pyyaml is a core dependency; imported here to keep `import genoseq` fast

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise GenoseqError(f"{source}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise GenoseqError(f"{source}: a manifest must be a YAML mapping of keys to values")
    _check_keys(data, _REQUIRED, _OPTIONAL, source, where="")
    for key in ("name", "description", "citation", "licence", "format"):
        _expect_str(data[key], source, key)
    if not _NAME_RE.match(data["name"]):
        raise GenoseqError(
            f"{source}: key 'name': {data['name']!r} must be lowercase letters, digits, '_', '-', '.'"
        )
    for key in ("genome_build", *_OPTIONAL):
        if data.get(key) is not None:
            _expect_str(data[key], source, key)
    loader = _check_loader(data["loader"], source)
    files = _check_files(data["files"], source)
    return Manifest(
        name=data["name"],
        description=data["description"].strip(),
        citation=data["citation"].strip(),
        licence=data["licence"].strip(),
        genome_build=data["genome_build"],
        format=data["format"],
        loader=loader,
        files=files,
        homepage=data.get("homepage"),
        url_source=data.get("url_source"),
        notes=None if data.get("notes") is None else data["notes"].strip(),
        source=source,
    )


def _check_keys(data: dict, required: tuple, optional: tuple, source: str, where: str) -> None:
    allowed = set(required) | set(optional)
    for key in data:
        if key not in allowed:
            raise GenoseqError(
                f"{source}: unknown key {where}{key!r} (allowed: {', '.join(sorted(allowed))})"
            )
    for key in required:
        if key not in data:
            raise GenoseqError(f"{source}: missing required key {where}{key!r}")


def _expect_str(value: Any, source: str, key: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise GenoseqError(f"{source}: key {key!r} must be a non-empty string, got {value!r}")


def _check_loader(loader: Any, source: str) -> dict[str, Any]:
    if not isinstance(loader, dict):
        raise GenoseqError(f"{source}: key 'loader' must be a mapping with a 'function' key, got {loader!r}")
    _check_keys(loader, ("function",), tuple(k for k in _LOADER_KEYS if k != "function"), source, "loader.")
    if loader["function"] not in LOADER_FUNCTIONS:
        raise GenoseqError(
            f"{source}: key 'loader.function' is {loader['function']!r}; "
            f"expected one of {', '.join(LOADER_FUNCTIONS)}"
        )
    return dict(loader)


def _check_files(files: Any, source: str) -> tuple[ManifestFile, ...]:
    if not isinstance(files, list) or not files:
        raise GenoseqError(f"{source}: key 'files' must be a non-empty list of file entries")
    out: list[ManifestFile] = []
    seen: set[str] = set()
    for i, entry in enumerate(files):
        where = f"files[{i}]."
        if not isinstance(entry, dict):
            raise GenoseqError(f"{source}: key 'files[{i}]' must be a mapping, got {entry!r}")
        _check_keys(entry, _FILE_REQUIRED, _FILE_OPTIONAL, source, where)
        if "sha256" not in entry and "md5" not in entry:
            raise GenoseqError(
                f"{source}: missing required key {where}'sha256' (write `sha256: null` when the checksum is unknown)"
            )
        name = entry["name"]
        _expect_str(name, source, f"{where}name")
        pure = PurePosixPath(name)
        if pure.is_absolute() or ".." in pure.parts or "\\" in name:
            raise GenoseqError(f"{source}: key '{where}name': {name!r} must be a relative path without '..'")
        if name in seen:
            raise GenoseqError(f"{source}: key '{where}name': duplicate file name {name!r}")
        seen.add(name)
        url = entry["url"]
        _expect_str(url, source, f"{where}url")
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme not in _URL_SCHEMES:
            raise GenoseqError(
                f"{source}: key '{where}url': {url!r} must start with one of "
                f"{', '.join(s + ':' for s in _URL_SCHEMES)}"
            )
        size = entry["size"]
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise GenoseqError(f"{source}: key '{where}size' must be a byte count or null, got {size!r}")
        digests: dict[str, str | None] = {}
        for algo, length in _HEX.items():
            value = entry.get(algo)
            if value is not None:
                if not isinstance(value, str) or not re.fullmatch(rf"[0-9a-fA-F]{{{length}}}", value):
                    raise GenoseqError(
                        f"{source}: key '{where}{algo}' must be {length} hex digits or null, got {value!r}"
                    )
                value = value.lower()
            digests[algo] = value
        note = entry.get("note")
        if note is not None:
            _expect_str(note, source, f"{where}note")
        out.append(ManifestFile(name=name, url=url, size=size, note=note, **digests))
    return tuple(out)
