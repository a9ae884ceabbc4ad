"""Sequence embeddings: ``genoseq.embed``.

Example::

    import genoseq
    model = genoseq.build_model("hyenadna-tiny")
    result = genoseq.embed(model, ["ACGTACGT", "GGGCCCAAAT"])       # pooled: (2, D)
    ids, X = result                                                  # unpacks to (ids, array)
    result = genoseq.embed(model, "genome.fa", regions="peaks.bed")  # one row per BED interval
    result = genoseq.embed(model, "task_dir/")                       # labelled task: .labels, .splits

Sequences longer than ``chunk_size`` (default 16,384 bases) are embedded with
chunked prefill (``model.backbone.prefill`` continuing a state over chunks; causal models only), so
memory stays bounded by the chunk, not the sequence: mean/max/last pooling accumulate as chunks pass.
Hyena models whose filters reach far past a chunk (max_len of the order of the input, e.g. 1M-token
models) instead go one layer at a time over the whole sequence, in place (``Backbone.embed_layerwise``:
~6 bytes per position and channel), where chunked prefill would re-transform the whole history per chunk.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genoseq.errors import ConfigError, InputError
from genoseq.infer._runner import is_causal, model_device
from genoseq.tokenizer import PAD_ID, Tokenizer

POOLINGS = ("mean", "max", "last", None)
DEFAULT_CHUNK = 16384  # tokens per forward pass / prefill chunk: bounds activation memory
_FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fas", ".gbk", ".gb", ".genbank")


@dataclass
class Embeddings:
    """Embeddings with their row identifiers, in input order.

    Attributes:
        ids: one identifier per row (input index, FASTA record name, ``contig:start-end(strand)`` or
            BED name, ``split:path:line`` for tasks).
        array: (N, D) float32 pooled embeddings, or (N, L, D) per token when ``pooling=None``
            (zero-padded to the longest sequence; see ``lengths``).
        lengths: (N,) sequence lengths.
        labels: task labels (N,) or (N, K) when the input was a labelled task, else None.
        splits: task split of each row (``train``/``valid``/``test``), else None.
    """

    ids: list[str]
    array: np.ndarray
    lengths: np.ndarray
    layer: int = -1
    pooling: str | None = "mean"
    labels: np.ndarray | None = None
    splits: list[str] | None = None

    def __iter__(self):  # noqa: ANN204 - lets ``ids, X = embed(...)`` work
        return iter((self.ids, self.array))

    def __len__(self) -> int:
        return len(self.ids)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``.npz`` (ids, embeddings[, lengths, labels, splits]) or ``.parquet`` atomically."""
        from genoseq.infer.table import atomic_path, import_pyarrow

        path = Path(path)
        name = path.name.lower()
        if name.endswith(".npz"):
            arrays: dict[str, Any] = {"ids": np.array(self.ids), "embeddings": self.array, "lengths": self.lengths}
            if self.labels is not None:
                arrays["labels"] = self.labels
            if self.splits is not None:
                arrays["splits"] = np.array(self.splits)
            with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
        elif name.endswith(".parquet"):
            if self.array.ndim != 2:
                raise ConfigError("parquet output holds pooled embeddings only; use .npz for per-token output")
            pa, pq = import_pyarrow("parquet output")
            cols: dict[str, Any] = {"id": self.ids, "length": self.lengths.tolist()}
            if self.splits is not None:
                cols["split"] = self.splits
            if self.labels is not None and self.labels.ndim == 1:
                cols["label"] = self.labels.tolist()
            cols["embedding"] = pa.FixedSizeListArray.from_arrays(
                pa.array(self.array.astype(np.float32).ravel()), self.array.shape[1])
            with atomic_path(path) as tmp:
                pq.write_table(pa.table(cols), tmp)
        else:
            raise ConfigError(f"output {path} must end in .npz or .parquet")
        return path


def embed(
    model: torch.nn.Module,
    inputs: Any,
    layer: int = -1,
    pooling: str | None = "mean",
    rc_average: bool = False,
    batch_size: int = 16,
    *,
    regions: str | os.PathLike[str] | None = None,
    chunk_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Embeddings:
    """Embed sequences with ``model``'s backbone.

    Args:
        model: a GenoseqModel (any head; only the backbone is used).
        inputs: a list of sequences, a ``{id: sequence}`` dict, a list of ``(id, sequence)``, a FASTA
            path (whole records, or the intervals of ``regions``), or a labelled task (CSV/TSV file or
            folder, read with :func:`genoseq.read_task`).
        layer: index into ``backbone(..., return_all_layers=True)`` (0 = token embeddings, -1 = final
            normed output).
        pooling: ``"mean"`` (padding ignored), ``"max"``, ``"last"`` or None for per-token output.
        rc_average: average with the reverse complement's embedding (per-token outputs are flipped back).
        batch_size: sequences per forward pass (sorted by length; right-padded for causal models).
        regions: a BED file of intervals to embed from the FASTA ``inputs`` (strand ``-`` is reverse
            complemented); ids are the BED names or ``contig:start-end(strand)``.
        chunk_size: sequences longer than this (default 16,384) go through chunked prefill (causal models);
            peak activation memory is that of one chunk.
        progress: optional ``progress(done, total)`` callback.

    Returns:
        :class:`Embeddings` (``ids``, ``array`` and, for tasks, ``labels`` and ``splits``).
    """
    if pooling not in POOLINGS:
        raise ConfigError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    ids, seqs, labels, splits = load_inputs(inputs, regions)
    chunk = int(chunk_size or DEFAULT_CHUNK)
    model.eval()
    out = embed_token_arrays(model, seqs, layer, pooling, rc_average, batch_size, chunk, progress)
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    return Embeddings(ids, out, lengths, layer, pooling, labels, splits)


# ------------------------------------------------------------------------------------- inputs
def load_inputs(
    inputs: Any, regions: Any = None
) -> tuple[list[str], list[np.ndarray], np.ndarray | None, list[str] | None]:
    """(ids, token arrays, labels, splits) from any supported input."""
    tok = Tokenizer()
    if isinstance(inputs, (str, os.PathLike)):
        path = Path(inputs)
        name = path.name.lower().removesuffix(".gz")
        if regions is not None or name.endswith(_FASTA_SUFFIXES):
            return (*_from_fasta(path, regions), None, None)
        if path.is_dir() or name.endswith((".csv", ".tsv", ".tab", ".txt")):
            return _from_task(path)
        raise InputError(f"cannot tell the input type of {path}: expected a FASTA (.fa/.fasta/.fna[.gz]), "
                         "a task CSV/TSV or a task folder")
    if regions is not None:
        raise ConfigError("regions= needs a FASTA path as inputs")
    if isinstance(inputs, Mapping):
        items = [(str(k), v) for k, v in inputs.items()]
    else:
        items = []
        for i, item in enumerate(inputs):
            if isinstance(item, (tuple, list)) and len(item) == 2:
                items.append((str(item[0]), item[1]))
            else:
                items.append((str(i), item))
    seqs = []
    for name, seq in items:
        arr = tok.encode(seq, source=f"sequence {name}") if not isinstance(seq, np.ndarray) or seq.dtype.kind == "S" \
            else np.asarray(seq, dtype=np.uint8)
        if len(arr) == 0:
            raise InputError(f"sequence {name} is empty")
        seqs.append(arr)
    return [n for n, _ in items], seqs, None, None


def _from_fasta(path: Path, regions: Any) -> tuple[list[str], list[np.ndarray]]:
    from genoseq.data.genome import Genome

    genome = Genome(path, aliases=True, unknown_to_n=True)
    if regions is None:
        names = list(genome.contigs)
        return names, [genome.tokens(n) for n in names]
    from genoseq.data.intervals import read_bed

    ids, seqs = [], []
    for iv in read_bed(regions):
        strand = "-" if iv.strand == "-" else "+"
        if iv.end <= iv.start:
            raise InputError(f"empty interval {iv.contig}:{iv.start}-{iv.end}", regions)
        seqs.append(genome.tokens(iv.contig, iv.start, iv.end, strand))
        ids.append(iv.name or f"{iv.contig}:{iv.start}-{iv.end}({strand})")
    return ids, seqs


def _from_task(path: Path) -> tuple[list[str], list[np.ndarray], np.ndarray, list[str]]:
    from genoseq.data.tasks import read_task

    task = read_task(path)
    tok = Tokenizer()
    ids, seqs, labels, splits = [], [], [], []
    for split_name, split in task.splits.items():
        for j, seq in enumerate(split.sequences):
            src = split.lines[j] if j < len(split.lines) else str(j)
            ids.append(f"{split_name}:{src}")
            seqs.append(tok.encode(seq, unknown_to_n=True, source=src))
            splits.append(split_name)
        labels.append(split.labels)
    return ids, seqs, np.concatenate(labels) if labels else np.zeros(0), splits


# ----------------------------------------------------------------------------------- compute
def embed_token_arrays(
    model: torch.nn.Module,
    seqs: Sequence[np.ndarray],
    layer: int,
    pooling: str | None,
    rc_average: bool,
    batch_size: int,
    chunk: int,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Pooled (N, D) or per-token (N, Lmax, D) float32 embeddings of token arrays, in input order."""
    device = model_device(model)
    causal = is_causal(model)
    results: list[np.ndarray | None] = [None] * len(seqs)
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    short = [i for i in order if len(seqs[i]) <= chunk]
    long = [i for i in order if len(seqs[i]) > chunk]
    if long and not causal:
        raise ConfigError(
            f"{len(long)} sequence(s) are longer than {chunk} bases; a bidirectional model cannot embed them "
            "in chunks: embed regions (--bed) or pass a larger chunk_size")
    done = 0
    with torch.inference_mode():
        batches: list[list[int]] = []
        for i in short:
            fits = (batches and len(batches[-1]) < batch_size
                    and (len(batches[-1]) + 1) * len(seqs[i]) <= 4 * chunk  # token budget per batch
                    and (causal or len(seqs[batches[-1][0]]) == len(seqs[i])))
            if fits:
                batches[-1].append(i)
            else:
                batches.append([i])
        for batch in batches:
            for i, emb in zip(batch, _embed_batch(model, [seqs[i] for i in batch], layer, pooling, rc_average,
                                                  device), strict=True):
                results[i] = emb
            done += len(batch)
            if progress:
                progress(done, len(seqs))
        for i in long:
            results[i] = _embed_chunked(model, seqs[i], layer, pooling, rc_average, chunk, device)
            done += 1
            if progress:
                progress(done, len(seqs))
    if pooling is not None:
        return np.stack(results).astype(np.float32) if results else np.zeros((0, 0), np.float32)
    lmax = max(len(s) for s in seqs)
    out = np.zeros((len(seqs), lmax, results[0].shape[-1]), dtype=np.float32)
    for i, r in enumerate(results):
        out[i, : len(r)] = r
    return out


def _hidden(model: torch.nn.Module, x: torch.Tensor, layer: int) -> torch.Tensor:
    backbone = model.backbone
    if layer == -1:
        return backbone(x)
    layers = backbone(x, return_all_layers=True)
    try:
        return layers[layer]
    except IndexError:
        raise ConfigError(f"layer {layer} does not exist: the backbone returns {len(layers)} layers "
                          f"(0 = embeddings .. {len(layers) - 1} = final)") from None


def _pool(h: torch.Tensor, mask: torch.Tensor, pooling: str | None, lengths: torch.Tensor) -> torch.Tensor:
    """(B, L, D) -> (B, D) (or (B, L, D) unchanged for None), ignoring padded positions."""
    h = h if h.dtype == torch.float64 else h.float()  # pool in at least float32
    if pooling == "mean":
        return (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
    if pooling == "max":
        return h.masked_fill(~mask[..., None], float("-inf")).amax(1)
    if pooling == "last":
        return h[torch.arange(h.shape[0]), lengths - 1]
    return h


def _embed_batch(model, seqs, layer, pooling, rc_average, device) -> list[np.ndarray]:  # noqa: ANN001
    lengths = torch.tensor([len(s) for s in seqs])
    lmax = int(lengths.max())
    x = torch.full((len(seqs), lmax), PAD_ID, dtype=torch.long)
    for j, s in enumerate(seqs):
        x[j, : len(s)] = torch.from_numpy(s.astype(np.int64))
    mask = torch.arange(lmax)[None] < lengths[:, None]  # (B, L)
    pooled = _pool(_hidden(model, x.to(device), layer), mask.to(device), pooling, lengths.to(device)).cpu()
    if rc_average:
        xr = torch.full_like(x, PAD_ID)
        for j, s in enumerate(seqs):
            xr[j, : len(s)] = torch.from_numpy(Tokenizer.reverse_complement(s).astype(np.int64))
        hr = _pool(_hidden(model, xr.to(device), layer), mask.to(device), pooling, lengths.to(device)).cpu()
        if pooling is None:  # flip the per-token RC embeddings back onto forward positions
            for j, n in enumerate(lengths.tolist()):
                hr[j, :n] = hr[j, :n].flip(0)
        pooled = (pooled + hr) / 2
    return [pooled[j, : int(lengths[j])].numpy() if pooling is None else pooled[j].numpy() for j in range(len(seqs))]


def _embed_chunked(model, seq, layer, pooling, rc_average, chunk, device) -> np.ndarray:  # noqa: ANN001
    out = _chunked_one(model, seq, layer, pooling, chunk, device)
    if rc_average:
        rc = _chunked_one(model, Tokenizer.reverse_complement(seq), layer, pooling, chunk, device)
        out = (out + (rc[::-1] if pooling is None else rc)) / 2
    return out


def _chunked_one(model, seq, layer, pooling, chunk, device) -> np.ndarray:  # noqa: ANN001
    if layer not in (-1, getattr(getattr(model, "config", None), "n_layer", None)):
        raise ConfigError(f"chunked embedding of sequences longer than {chunk} bases uses the final layer only "
                          f"(layer=-1); got layer={layer}")
    ids = torch.from_numpy(np.asarray(seq, dtype=np.int64))[None].to(device)  # (1, L)
    preferred = getattr(model.backbone, "layerwise_preferred", None)  # genoseq backbones (not every model has it)
    if preferred is not None and preferred(ids, chunk):  # filters far longer than a chunk: one pass per layer
        h = model.backbone.embed_layerwise(ids, pooling)
        h = h[0] if h.dtype == torch.float64 else h[0].float()
        return h.cpu().numpy()
    state = model.allocate_state(1)
    total = None
    tokens: list[np.ndarray] = []
    for a in range(0, len(seq), chunk):
        h = model.backbone.prefill(ids[:, a : a + chunk], state)[0]  # (c, D)
        h = h if h.dtype == torch.float64 else h.float()
        if pooling == "mean":
            part = h.double().sum(0)
            total = part if total is None else total + part
        elif pooling == "max":
            part = h.amax(0)
            total = part if total is None else torch.maximum(total, part)
        elif pooling == "last":
            total = h[-1]
        else:
            tokens.append(h.cpu().numpy())
    if pooling is None:
        return np.concatenate(tokens)
    if pooling == "mean":
        total = total / len(seq)
    return total.float().cpu().numpy()
