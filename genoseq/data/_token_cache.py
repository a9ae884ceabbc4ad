"""On-disk token cache of a genome: one uint8 file per contig, memory-mapped.

Layout of a cache directory (``<fasta>.gstok/``)::

    index.json        format version, source path/size/mtime, tokenizer settings, contigs
    000000.tok        uint8 token ids of contig 0 (Tokenizer ids, one byte per base)
    000000.mask       soft-mask bits of contig 0 (np.packbits, big-endian bit order);
                      only written when the contig has lowercase bases

``index.json`` carries ``index_sha256``, a hash of the contig table, so a truncated or
hand-edited index is rebuilt rather than trusted. The cache is valid only while the source
file's size and modification time (ns) are unchanged; touching the FASTA rebuilds it.
The directory is written to a temporary sibling and renamed into place, so a crashed build
never leaves a half-written cache behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genoseq.tokenizer import N_ID

FORMAT_VERSION = 1
INDEX_NAME = "index.json"


@dataclass(frozen=True)
class CachedContig:
    name: str
    length: int
    tokens: str  # file name inside the cache directory
    mask: str | None  # packed soft-mask bits file, None when the contig has no lowercase base
    n_count: int


def source_stamp(source: Path) -> dict:
    st = source.stat()
    return {"source": str(source.resolve()), "source_size": st.st_size, "source_mtime_ns": st.st_mtime_ns}


def _contig_hash(contigs: list[dict]) -> str:
    return hashlib.sha256(json.dumps(contigs, sort_keys=True).encode()).hexdigest()


def load_index(cache: Path, source: Path, settings: dict) -> list[CachedContig] | None:
    """Contig table of a valid cache for ``source`` built with ``settings``, else None."""
    try:
        index = json.loads((cache / INDEX_NAME).read_text())
    except (OSError, ValueError):
        return None
    try:
        if index.get("format_version") != FORMAT_VERSION or index.get("settings") != settings:
            return None
        stamp = source_stamp(source)
        if any(index.get(key) != value for key, value in stamp.items()):
            return None
        contigs = index["contigs"]
        if index.get("index_sha256") != _contig_hash(contigs):
            return None
        table = [CachedContig(**c) for c in contigs]
        for c in table:
            if (cache / c.tokens).stat().st_size != c.length:
                return None
            if c.mask is not None and (cache / c.mask).stat().st_size != (c.length + 7) // 8:
                return None
    except (OSError, KeyError, TypeError):
        return None
    return table


def build(
    cache: Path,
    source: Path,
    settings: dict,
    records: Iterable[tuple[str, np.ndarray, np.ndarray]],
) -> list[CachedContig]:
    """Write a cache for ``source`` from ``(name, ids (L,) uint8, soft_mask (L,) bool)`` records.

    The stamp of ``source`` is taken before reading, so a file modified during the build
    leaves a cache that is rejected next time.
    """
    stamp = source_stamp(source)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=cache.name + ".tmp-", dir=cache.parent))
    try:
        table: list[dict] = []
        for i, (name, ids, soft) in enumerate(records):
            tok_name = f"{i:06d}.tok"
            ids.tofile(tmp / tok_name)
            mask_name = None
            if soft.any():
                mask_name = f"{i:06d}.mask"
                np.packbits(soft).tofile(tmp / mask_name)
            n_count = int(np.count_nonzero(ids == N_ID))
            table.append({"name": name, "length": int(ids.size), "tokens": tok_name, "mask": mask_name,
                          "n_count": n_count})
        index = {"format_version": FORMAT_VERSION, **stamp, "settings": settings, "contigs": table,
                 "index_sha256": _contig_hash(table)}
        (tmp / INDEX_NAME).write_text(json.dumps(index, indent=1))
        _replace_dir(tmp, cache)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [CachedContig(**c) for c in table]


def _replace_dir(new: Path, target: Path) -> None:
    """Move directory ``new`` to ``target``, replacing an old one."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=target.name + ".old-", dir=target.parent))
        os.rmdir(old)
        try:
            os.replace(target, old)
        except OSError:
            old = None
    try:
        os.replace(new, target)
    except OSError:
        # another process put a cache there first; keep theirs
        shutil.rmtree(new, ignore_errors=True)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def open_tokens(cache: Path, contig: CachedContig) -> np.ndarray:
    """Read-only memory map of a contig's tokens. (L,) uint8; slicing it copies nothing."""
    if contig.length == 0:
        return np.zeros(0, dtype=np.uint8)
    return np.memmap(cache / contig.tokens, dtype=np.uint8, mode="r").view(np.ndarray)


def open_mask(cache: Path, contig: CachedContig) -> np.ndarray | None:
    """Read-only memory map of the packed soft-mask bits, or None when the contig has none."""
    if contig.mask is None:
        return None
    return np.memmap(cache / contig.mask, dtype=np.uint8, mode="r").view(np.ndarray)


def unpack_mask(packed: np.ndarray | None, start: int, end: int) -> np.ndarray:
    """Soft-mask bits [start, end) from packed bits. (end-start,) bool."""
    if packed is None or end <= start:
        return np.zeros(max(end - start, 0), dtype=bool)
    lo, hi = start // 8, (end + 7) // 8
    bits = np.unpackbits(packed[lo:hi])
    off = start - lo * 8
    return bits[off : off + end - start].astype(bool)
