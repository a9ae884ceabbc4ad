"""Download the files of a data manifest: resumable, verified, atomic.

For each file ``NAME`` of a manifest, :func:`fetch_manifest` downloads into ``DIR/NAME.part``,
resumes a partial ``.part`` with an HTTP ``Range`` request, checks the size and checksum
(sha256, else md5) and only then renames the file to ``DIR/NAME`` (``os.replace``). A file
already present and verified is skipped. Failures are :class:`GenoseqError` messages that say
what to do next:

- checksum mismatch: the download is kept as ``DIR/NAME.bad``; expected and computed digests;
- transfer ended early (fewer bytes than Content-Length): ``DIR/NAME.part`` is kept; run again to resume;
- server unreachable: "could not reach HOST: ...; are you offline? download URL manually to DIR/NAME";
- an HTML page instead of the file (Google Drive confirmation pages): download it in a browser.

Only the standard library is used (urllib). URLs ``bundled:RELPATH`` copy a file out of
:mod:`genoseq.bundled`.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from genoseq import __version__
from genoseq.data.manifests import Manifest, ManifestFile
from genoseq.errors import GenoseqError

__all__ = ["FetchResult", "fetch", "fetch_file", "fetch_manifest", "file_digests"]

_CHUNK = 1 << 20
# progress callback: (file name, bytes done, total bytes or None)
ProgressFn = Callable[[str, int, "int | None"], None]


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch_file` did for one file."""

    name: str
    path: Path
    status: str  # "downloaded", "resumed", "copied" or "present" (already there, skipped)
    sha256: str
    verified: bool  # False when the manifest records no checksum (nothing to verify against)
    message: str


def file_digests(path: str | os.PathLike[str]) -> dict[str, str]:
    """``{"sha256": ..., "md5": ...}`` hex digests of a file, computed in one pass."""
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
            md5.update(chunk)
    return {"sha256": sha.hexdigest(), "md5": md5.hexdigest()}


def fetch(
    dataset: str | os.PathLike[str],
    dest_dir: str | os.PathLike[str],
    only: Iterable[str] | None = None,
    progress: ProgressFn | None = None,
    timeout: float = 60.0,
) -> list[FetchResult]:
    """Fetch a dataset given by manifest name (``"hg38"``) or manifest path into ``dest_dir``.

    Example::

        from genoseq.data.fetch import fetch
        for r in fetch("hg38_hyenadna", "data/hg38"):
            print(r.message)
    """
    from genoseq.data.manifests import load_manifest

    return fetch_manifest(load_manifest(dataset), dest_dir, only=only, progress=progress, timeout=timeout)


def fetch_manifest(
    manifest: Manifest,
    dest_dir: str | os.PathLike[str],
    only: Iterable[str] | None = None,
    progress: ProgressFn | None = None,
    timeout: float = 60.0,
) -> list[FetchResult]:
    """Fetch every file of ``manifest`` (or only the names in ``only``) into ``dest_dir``.

    Stops at the first failure (files fetched before it stay in place and verified).
    """
    entries = manifest.files if only is None else tuple(manifest.file(n) for n in only)
    return [fetch_file(entry, dest_dir, progress=progress, timeout=timeout) for entry in entries]


def fetch_file(
    entry: ManifestFile,
    dest_dir: str | os.PathLike[str],
    progress: ProgressFn | None = None,
    timeout: float = 60.0,
) -> FetchResult:
    """Download one manifest file into ``dest_dir / entry.name``, resuming and verifying it."""
    target = Path(dest_dir) / entry.name
    part = target.with_name(target.name + ".part")
    if target.exists():
        return _check_present(entry, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if entry.url.startswith("bundled:"):
        _copy_bundled(entry, part)
        status = "copied"
    else:
        status = _download(entry, part, target, progress, timeout)
    return _verify_and_commit(entry, part, target, status)


def _check_present(entry: ManifestFile, target: Path) -> FetchResult:
    digests = file_digests(target)
    problem = _mismatch(entry, target.stat().st_size, digests)
    if problem:
        raise GenoseqError(
            f"{target} is already there but {problem}; delete it (or move it away) and run the fetch again"
        )
    return _result(entry, target, "present", digests)


def _verify_and_commit(entry: ManifestFile, part: Path, target: Path, status: str) -> FetchResult:
    digests = file_digests(part)
    problem = _mismatch(entry, part.stat().st_size, digests)
    if problem:
        bad = target.with_name(target.name + ".bad")
        os.replace(part, bad)
        raise GenoseqError(
            f"checksum mismatch for {target.name} from {entry.url}: {problem}; "
            f"the download was kept as {bad} for inspection (delete it and run the fetch again)"
        )
    os.replace(part, target)  # atomic on one filesystem
    return _result(entry, target, status, digests)


def _mismatch(entry: ManifestFile, size: int, digests: dict[str, str]) -> str | None:
    """Why the file does not match the manifest, or None when it does."""
    if entry.checksum is not None:
        algo, expected = entry.checksum
        if digests[algo] != expected:
            return f"expected {algo} {expected}, got {digests[algo]} ({size} bytes)"
    if entry.size is not None and size != entry.size:
        return f"expected {entry.size} bytes, got {size}"
    return None


def _result(entry: ManifestFile, path: Path, status: str, digests: dict[str, str]) -> FetchResult:
    verb = {
        "present": "already present",
        "downloaded": "downloaded",
        "resumed": "resumed and completed",
        "copied": "copied",
    }[status]
    if entry.checksum is None:
        msg = f"{entry.name}: {verb}; no checksum recorded; computed sha256 = {digests['sha256']}"
        return FetchResult(entry.name, path, status, digests["sha256"], False, msg)
    algo = entry.checksum[0]
    msg = f"{entry.name}: {verb}, {algo} verified"
    return FetchResult(entry.name, path, status, digests["sha256"], True, msg)


def _copy_bundled(entry: ManifestFile, part: Path) -> None:
    from importlib import resources

    rel = entry.url[len("bundled:") :]
    source = resources.files("genoseq.bundled").joinpath(rel)
    if not source.is_file():
        raise GenoseqError(f"{entry.url}: no such file in the installed genoseq.bundled package")
    with source.open("rb") as src, open(part, "wb") as dst:
        shutil.copyfileobj(src, dst, _CHUNK)


def _download(
    entry: ManifestFile, part: Path, target: Path, progress: ProgressFn | None, timeout: float
) -> str:
    """Stream ``entry.url`` into ``part`` (appending to an existing partial file). Returns the status."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": f"genoseq/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(entry.url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # the .part already holds everything the server has
            return "resumed"
        raise GenoseqError(f"{entry.url}: server answered HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        raise _offline_error(entry, target, err) from None

    with response:
        status = getattr(response, "status", None) or 200
        if offset and status != 206:  # the server ignored the Range request: start over
            offset = 0
        content_type = response.headers.get("Content-Type", "") or ""
        if content_type.startswith("text/html") and not entry.name.endswith((".html", ".htm")):
            raise GenoseqError(
                f"{entry.url} returned an HTML page instead of {entry.name} (hosts such as Google Drive ask "
                f"for a confirmation in a browser); download the URL manually and save it as {target}, "
                f"then run the same fetch again to verify it"
            )
        length = response.headers.get("Content-Length")
        expected = int(length) if length is not None and length.isdigit() else None
        total = None if expected is None else offset + expected
        received = 0
        mode = "ab" if offset else "wb"
        try:
            with open(part, mode) as out:
                while True:
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    received += len(chunk)
                    if progress is not None:
                        progress(entry.name, offset + received, total)
        except (http.client.IncompleteRead, ConnectionError, TimeoutError) as err:
            raise _truncated_error(entry, part, offset + received, total, err) from None
        if expected is not None and received < expected:
            raise _truncated_error(entry, part, offset + received, total, None)
    return "resumed" if offset else "downloaded"


def _truncated_error(
    entry: ManifestFile, part: Path, have: int, total: int | None, err: BaseException | None
) -> GenoseqError:
    of = f" of {total}" if total is not None else ""
    why = f" ({type(err).__name__})" if err is not None else ""
    return GenoseqError(
        f"transfer of {entry.url} ended early{why}: got {have}{of} bytes; the partial download was kept "
        f"as {part}; run the same fetch again to resume it"
    )


def _offline_error(entry: ManifestFile, target: Path, err: BaseException) -> GenoseqError:
    reason = getattr(err, "reason", err)
    host = urllib.parse.urlsplit(entry.url).hostname or entry.url
    return GenoseqError(
        f"could not reach {host}: {reason}; are you offline? download {entry.url} manually to {target}, "
        f"then run the same fetch again to verify it"
    )
