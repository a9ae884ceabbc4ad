"""Variant effect scoring: ``genoseq.score_variants``.

Methods (``method=``):

- ``"llr"`` (causal LMs): log-likelihood of the alt window minus the ref window. Both windows have the
  same length (indels shift the far boundary, see :mod:`genoseq.infer.windows`). Columns ``llr_sum``
  (sum over positions) and ``llr_mean`` (``llr_sum / (window length - 1)``, i.e. mean per-token
  log-likelihood of alt minus that of ref), per strand ``llr_fwd``/``llr_rev``; averaged over strands.
  Fast path: a causal model's log-probabilities before the first differing position are identical
  for ref and alt and cancel exactly, so each (window, strand) prefix is prefilled once, its state is
  expanded to the ref and alt continuations, and only the suffix from the variant on is computed.
  Variants sharing a window and a prefix (several ALTs, ISM) share one prefix and one ref suffix.
- ``"masked_llr"`` (bidirectional masked LMs): log P(alt) - log P(ref) at the masked variant
  position(s), averaged over strands (substitutions only: SNVs and MNPs). For a model with
  ``config.rc_equivariant`` both strands give the same value exactly, so only the forward strand is run.
- ``"embedding"``: cosine similarity and L2 distance between ref and alt embeddings at ``layer``,
  mean-pooled over ``pool_window`` bases around the variant (whole window when None).
- ``"head"`` (fine-tuned models): difference (and log-ratio) of the head's predictions, alt - ref
  (probabilities for classification heads).

Every input variant gives one row, in input order; variants that cannot be scored keep their row
with ``status`` (e.g. ``ref_mismatch``, ``unknown_contig``, ``skipped_symbolic``, ``out_of_range``, the statuses of
:func:`genoseq.read_variants`)
and a ``message``; score columns are then NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from genoseq.errors import ConfigError
from genoseq.infer._runner import (
    as_ids,
    buckets,
    chunks,
    model_device,
    per_batch,
    require_causal,
    token_logprobs,
)
from genoseq.infer.table import ScoreTable
from genoseq.infer.variant_input import VariantIn, normalize_variants, validate
from genoseq.infer.windows import AlleleWindows, GenomeAccess, allele_windows, centered_window, encode_allele
from genoseq.tokenizer import MASK_ID

METHODS = ("llr", "masked_llr", "embedding", "head")
BLOCK = 2048  # variants whose windows are built and scored together
BASE_COLUMNS = ["index", "record", "chrom", "pos", "ref", "alt", "status", "message"]
METHOD_COLUMNS = {
    "llr": ["llr_sum", "llr_mean", "llr_fwd", "llr_rev", "window_start", "window_end"],
    "masked_llr": ["masked_llr", "masked_llr_fwd", "masked_llr_rev", "window_start", "window_end"],
    "embedding": ["emb_cosine", "emb_l2", "window_start", "window_end"],
    "head": ["window_start", "window_end"],  # head_diff[_k], head_log_ratio[_k] added per output
}


@dataclass
class _Unit:
    """One (variant, strand) piece of work."""

    variant: int  # position in the variants list
    strand: str
    win: AlleleWindows | None  # dropped (None) once the unit is scored
    extra: dict[str, Any] = field(default_factory=dict)


def score_variants(
    model: torch.nn.Module,
    genome: Any,
    variants: Any,
    method: str = "llr",
    window: int | None = None,
    rc_average: bool = True,
    *,
    layer: int = -1,
    pool_window: int | None = None,
    batch_size: int = 8,
    max_tokens: int = 8192,
    fast: bool = True,
    progress: Any = None,
) -> ScoreTable:
    """Score variants with ``model`` on ``genome``.

    Args:
        model: a GenoseqModel (causal LM for ``llr``, bidirectional for ``masked_llr``, any for
            ``embedding``, a sequence/token head for ``head``).
        genome: a :class:`genoseq.Genome`, a FASTA path or a ``{contig: sequence}`` dict.
        variants: a VCF path, a DataFrame / list of ``(chrom, pos, ref, alt)`` (pos 1-based) or dicts,
            or the records of :func:`genoseq.read_variants`.
        method: one of ``llr``, ``masked_llr``, ``embedding``, ``head``.
        window: window length centred on the variant (clipped at contig ends); default
            ``min(model.config.max_len, 8192)``.
        rc_average: score both strands and average (forward strand only when False).
        layer: backbone layer for ``embedding`` (index into ``return_all_layers``).
        pool_window: bases around the variant pooled for ``embedding``/token heads (None = whole window).
        batch_size: at most this many sequences per forward pass ...
        max_tokens: ... and at most this many tokens (sequences x length). On CPU small batches of long
            windows are fastest (memory bound); short windows batch up to ``batch_size``.
        fast: for ``llr``, use the shared-prefix path (False = two full forward passes per strand, the
            reference used by tests and benchmarks).
        progress: optional callable ``progress(n_done)`` called as units finish.

    Returns:
        A :class:`~genoseq.infer.table.ScoreTable` with one row per input variant (``to_tsv``,
        ``to_pandas``); columns ``index record chrom pos ref alt status message`` then the method's.
    """
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    access = GenomeAccess(genome)
    width = int(window) if window else default_window(model)
    if width < 2:
        raise ConfigError(f"window must be at least 2 bases, got {width}")
    vs = normalize_variants(variants)
    validate(vs, access, max_allele=width // 2)
    if method == "masked_llr":
        for v in vs:
            if v.status == "ok" and len(v.ref) != len(v.alt):
                v.skip("unsupported", "masked_llr scores substitutions only (REF and ALT of equal length)")
    strands = ("+", "-") if rc_average else ("+",)
    # an exactly RC-equivariant masked LM gives the same masked log-probabilities on both strands
    mirror = rc_average and method == "masked_llr" and bool(getattr(getattr(model, "config", None),
                                                                    "rc_equivariant", False))
    model.eval()
    if method == "llr":
        require_causal(model, "method 'llr'")
    scorer = {"llr": _score_llr, "masked_llr": _score_masked, "embedding": _score_embedding, "head": _score_head}
    extra_cols: list[str] = []
    units: dict[int, list[_Unit]] = {}
    bounds: dict[int, tuple[int, int]] = {}
    ok = [i for i, v in enumerate(vs) if v.status == "ok"]
    done = 0
    # blocks of variants bound the memory held in windows (a 10k-variant VCF at window 8192 would hold ~0.3 GB)
    for block in chunks(ok, BLOCK):
        bunits, bbounds = build_units(access, vs, width, ("+",) if mirror else strands, block)
        n_block = sum(len(us) for us in bunits.values())
        report = None if progress is None else (lambda n, base=done: progress(base + n))
        with torch.inference_mode():
            if method == "llr":
                llr_units(model, bunits, (batch_size, max_tokens), fast=fast, progress=report)
            elif method == "head":
                extra_cols = _head_units(model, bunits, (batch_size, max_tokens), pool_window, report)
            elif method == "masked_llr":
                _masked_units(model, bunits, (batch_size, max_tokens), report)
                if mirror:
                    for us in bunits.values():
                        us.append(_Unit(us[0].variant, "-", us[0].win, dict(us[0].extra)))
            else:
                _embedding_units(model, bunits, (batch_size, max_tokens), layer, pool_window, report)
        done += n_block
        for us in bunits.values():
            for u in us:
                u.win = None  # scores are in u.extra; free the token windows
        units.update(bunits)
        bounds.update(bbounds)
    rows = []
    for i, v in enumerate(vs):
        row = {"index": v.index, "record": v.record, "chrom": v.chrom, "pos": v.pos, "ref": v.ref,
               "alt": v.alt, "status": v.status, "message": v.message, "alt_index": v.alt_index}
        row.update(scorer[method](units.get(i, []), extra_cols))
        ws, we = bounds.get(i, (None, None))
        row["window_start"], row["window_end"] = ws, we
        rows.append(row)
    return ScoreTable(rows, BASE_COLUMNS + METHOD_COLUMNS[method][:-2] + extra_cols + ["window_start", "window_end"])


def default_window(model: torch.nn.Module) -> int:
    """``min(model.config.max_len, 8192)`` (8192 when the model has no max_len)."""
    max_len = getattr(getattr(model, "config", None), "max_len", None)
    return min(int(max_len), 8192) if max_len else 8192


def build_units(
    access: GenomeAccess, vs: Sequence[VariantIn], width: int, strands: Sequence[str],
    indices: Sequence[int] | None = None,
) -> tuple[dict[int, list[_Unit]], dict[int, tuple[int, int]]]:
    """Equal-length ref/alt windows per (ok variant, strand); also each variant's window bounds."""
    units: dict[int, list[_Unit]] = {}
    bounds: dict[int, tuple[int, int]] = {}
    for i in range(len(vs)) if indices is None else indices:
        v = vs[i]
        if v.status != "ok":
            continue
        ref_ids, alt_ids = encode_allele(v.ref), encode_allele(v.alt)
        ws, we = centered_window(v.start, len(ref_ids), access.lengths[v.contig], width)
        bounds[i] = (ws, we)
        units[i] = [
            _Unit(i, s, allele_windows(access, v.contig, v.start, ref_ids, alt_ids, ws, we, s)) for s in strands
        ]
    return units, bounds


# ----------------------------------------------------------------------------------------- llr
def llr_units(
    model: torch.nn.Module, units: dict[int, list[_Unit]], budget: tuple[int, int], fast: bool = True,
    progress: Any = None,
) -> None:
    """Set ``unit.extra["llr"]`` (sum over the window of alt minus ref log-likelihood) for every unit."""
    flat = [u for us in units.values() for u in us]
    if fast:
        _llr_shared_prefix(model, flat, budget, progress)
    else:
        _llr_naive(model, flat, progress)


def window_loglik(model: torch.nn.Module, ids: np.ndarray) -> float:
    """Sum over t >= 1 of log p(x_t | x_<t) for one window, with one full forward pass (reference)."""
    x = as_ids([ids], model_device(model))
    logits = model(x)  # (1, L, V)
    return float(token_logprobs(logits[0, :-1], x[0, 1:]).sum())


def _llr_naive(model: torch.nn.Module, flat: list[_Unit], progress: Any) -> None:
    for n, u in enumerate(flat):
        u.extra["llr"] = window_loglik(model, u.win.alt) - window_loglik(model, u.win.ref)
        u.extra["n_tokens"] = len(u.win.ref) - 1
        if progress:
            progress(n + 1)


def _llr_shared_prefix(model: torch.nn.Module, flat: list[_Unit], budget: tuple[int, int], progress: Any) -> None:
    device = model_device(model)
    # one group per (ref window, shared prefix): its continuations are the ref suffix and each distinct alt suffix
    groups: dict[tuple[bytes, int], list[_Unit]] = buckets(flat, lambda u: (u.win.ref.tobytes(), u.win.shared))
    jobs = []  # (prefix ids, [suffix ids...], [units per suffix (None for ref)])
    for (_, k), us in groups.items():
        ref = us[0].win.ref
        suffixes = {ref[k:].tobytes(): ref[k:]}
        for u in us:
            suffixes.setdefault(u.win.alt[k:].tobytes(), u.win.alt[k:])
        keys = list(suffixes)
        for u in us:
            u.extra["_slot"] = keys.index(u.win.alt[k:].tobytes())
        jobs.append((us[0].win.ref[:k], [suffixes[key] for key in keys], us))
    done = 0
    by_shape = buckets(jobs, lambda j: (len(j[0]), len(j[1][0])))
    for (k, m), shape_jobs in by_shape.items():
        if m == 0:  # ref and alt windows identical (e.g. a shift inside a repeat at the window end)
            for job in shape_jobs:
                for u in job[2]:
                    u.extra.pop("_slot")
                    u.extra["llr"], u.extra["n_tokens"] = 0.0, len(u.win.ref) - 1
                    done += 1
            if progress:
                progress(done)
            continue
        for batch in chunks(shape_jobs, per_batch(budget, len(shape_jobs[0][1]), m)):
            suffix_ll = _prefix_continuations(model, [j[0] for j in batch], [j[1] for j in batch], k, m, device)
            for job, lls in zip(batch, suffix_ll, strict=True):
                for u in job[2]:
                    u.extra["llr"] = lls[u.extra.pop("_slot")] - lls[0]
                    u.extra["n_tokens"] = len(u.win.ref) - 1
                    done += 1
            if progress:
                progress(done)


def _prefix_continuations(
    model: torch.nn.Module, prefixes: list[np.ndarray], conts: list[list[np.ndarray]], k: int, m: int,
    device: torch.device,
) -> list[list[float]]:
    """Log-likelihood of each continuation (positions k..k+m-1) given its group's shared prefix (length k)."""
    n_per = [len(c) for c in conts]
    state = model.allocate_state(len(prefixes))
    last = None
    if k > 0:
        logits = model.prefill(as_ids(prefixes, device), state)  # (G, k, V)
        last = logits[:, -1]  # (G, V) predicts position k
    index = torch.repeat_interleave(torch.arange(len(prefixes)), torch.tensor(n_per))
    if all(n == n_per[0] for n in n_per):
        state = state.repeat_interleave(n_per[0])
    else:
        state = state.select(index.to(device))
    x = as_ids([c for cs in conts for c in cs], device)  # (N, m)
    logits = model.prefill(x, state)  # (N, m, V)
    lp = token_logprobs(logits[:, :-1], x[:, 1:]).sum(-1) if m > 1 else torch.zeros(len(x), dtype=torch.float64)
    if last is not None:
        lp = lp + token_logprobs(last[index.to(device)], x[:, 0])
    lp = lp.cpu().tolist()
    out, i = [], 0
    for n in n_per:
        out.append(lp[i : i + n])
        i += n
    return out


def _score_llr(us: list[_Unit], _cols: list[str]) -> dict[str, float]:
    nan = math.nan
    per = {u.strand: u.extra["llr"] for u in us if "llr" in u.extra}
    if not per:
        return {"llr_sum": nan, "llr_mean": nan, "llr_fwd": nan, "llr_rev": nan}
    total = float(np.mean(list(per.values())))
    n_tok = us[0].extra["n_tokens"]
    return {"llr_sum": total, "llr_mean": total / max(n_tok, 1), "llr_fwd": per.get("+", nan),
            "llr_rev": per.get("-", nan)}


# ---------------------------------------------------------------------------------- masked_llr
def _masked_units(model: torch.nn.Module, units: dict[int, list[_Unit]], budget: tuple[int, int], progress: Any) -> None:
    if getattr(getattr(model, "config", None), "bidirectional", False) is False:
        raise ConfigError("method 'masked_llr' needs a bidirectional (masked LM) model; use 'llr' for causal models")
    device = model_device(model)
    flat = [u for us in units.values() for u in us]
    for u in flat:
        pos = np.flatnonzero(u.win.ref != u.win.alt)
        masked = u.win.ref.copy()
        masked[pos] = MASK_ID
        u.extra["_masked"], u.extra["_pos"] = masked, pos
    groups = buckets(flat, lambda u: u.extra["_masked"].tobytes())
    reps = [us for us in groups.values()]
    done = 0
    for _, same_len in buckets(reps, lambda us: len(us[0].win.ref)).items():
        for batch in chunks(same_len, per_batch(budget, 1, len(same_len[0][0].win.ref))):
            logits = model(as_ids([us[0].extra["_masked"] for us in batch], device))  # (B, L, V)
            lp = torch.log_softmax(logits.double(), dim=-1).cpu().numpy()
            for row, us in enumerate(batch):
                for u in us:
                    pos = u.extra.pop("_pos")
                    u.extra.pop("_masked")
                    u.extra["masked_llr"] = float(lp[row, pos, u.win.alt[pos]].sum() - lp[row, pos, u.win.ref[pos]].sum())
                    done += 1
            if progress:
                progress(done)


def _score_masked(us: list[_Unit], _cols: list[str]) -> dict[str, float]:
    nan = math.nan
    per = {u.strand: u.extra["masked_llr"] for u in us if "masked_llr" in u.extra}
    return {"masked_llr": float(np.mean(list(per.values()))) if per else nan,
            "masked_llr_fwd": per.get("+", nan), "masked_llr_rev": per.get("-", nan)}


# ----------------------------------------------------------------------------------- embedding
def pool_span(u: _Unit, pool_window: int | None, length: int, allele_len: int) -> tuple[int, int]:
    """Reading-order span [a, b) of ``pool_window`` bases centred on the variant (whole window when None)."""
    if pool_window is None:
        return 0, length
    a = u.win.variant_offset + (allele_len - pool_window) // 2
    return max(0, a), min(length, a + pool_window)


def _allele_len(u: _Unit) -> int:
    diff = np.flatnonzero(u.win.ref != u.win.alt)
    return 1 if diff.size == 0 else max(1, int(diff[-1]) - u.win.variant_offset + 1)


def _embedding_units(
    model: torch.nn.Module, units: dict[int, list[_Unit]], budget: tuple[int, int], layer: int,
    pool_window: int | None,
    progress: Any,
) -> None:
    device = model_device(model)
    flat = [u for us in units.values() for u in us]
    backbone = getattr(model, "backbone", model)
    done = 0
    for _, same in buckets(flat, lambda u: len(u.win.ref)).items():
        for batch in chunks(same, per_batch(budget, 2, len(same[0].win.ref))):
            x = as_ids([w for u in batch for w in (u.win.ref, u.win.alt)], device)
            hidden = _layer(backbone(x, return_all_layers=True), layer)  # (2B, L, D)
            for j, u in enumerate(batch):
                a, b = pool_span(u, pool_window, x.shape[1], _allele_len(u))
                er = hidden[2 * j, a:b].double().mean(0)
                ea = hidden[2 * j + 1, a:b].double().mean(0)
                u.extra["cos"] = float(torch.nn.functional.cosine_similarity(er, ea, dim=0))
                u.extra["l2"] = float(torch.linalg.vector_norm(er - ea))
                done += 1
            if progress:
                progress(done)


def _layer(layers: Any, layer: int) -> torch.Tensor:
    try:
        return layers[layer]
    except IndexError:
        raise ConfigError(f"layer {layer} does not exist: the backbone returns {len(layers)} layers") from None


def _score_embedding(us: list[_Unit], _cols: list[str]) -> dict[str, float]:
    if not us or "cos" not in us[0].extra:
        return {"emb_cosine": math.nan, "emb_l2": math.nan}
    return {"emb_cosine": float(np.mean([u.extra["cos"] for u in us])),
            "emb_l2": float(np.mean([u.extra["l2"] for u in us]))}


# ---------------------------------------------------------------------------------------- head
def _head_task(model: torch.nn.Module) -> str:
    for obj in (model, getattr(model, "head", None), getattr(model, "config", None)):
        for attr in ("task", "head_task"):
            val = getattr(obj, attr, None)
            if isinstance(val, str):
                return val
    return "classification"


def _head_units(
    model: torch.nn.Module, units: dict[int, list[_Unit]], budget: tuple[int, int], pool_window: int | None,
    progress: Any,
) -> list[str]:
    head_type = getattr(model, "head_type", "lm")
    if head_type not in ("sequence", "token"):
        raise ConfigError(f"method 'head' needs a fine-tuned sequence or token head; this model has {head_type!r}")
    classification = _head_task(model) != "regression"
    device = model_device(model)
    flat = [u for us in units.values() for u in us]
    n_out = 0
    done = 0
    for _, same in buckets(flat, lambda u: len(u.win.ref)).items():
        for batch in chunks(same, per_batch(budget, 2, len(same[0].win.ref))):
            x = as_ids([w for u in batch for w in (u.win.ref, u.win.alt)], device)
            out = model(x).double()  # (2B, n) or (2B, L, n)
            for j, u in enumerate(batch):
                pr, pa = out[2 * j], out[2 * j + 1]
                if out.dim() == 3:
                    a, b = pool_span(u, pool_window, x.shape[1], _allele_len(u))
                    pr, pa = pr[a:b].mean(0), pa[a:b].mean(0)
                if classification:
                    pr, pa = _probs(pr), _probs(pa)
                u.extra["ref_pred"], u.extra["alt_pred"] = pr.cpu().numpy(), pa.cpu().numpy()
                n_out = len(pr)
                done += 1
            if progress:
                progress(done)
    suffixes = [""] if n_out == 1 else [f"_{k}" for k in range(n_out)]
    return [f"head_diff{s}" for s in suffixes] + [f"head_log_ratio{s}" for s in suffixes]


def _probs(logits: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(logits) if logits.numel() == 1 else torch.softmax(logits, -1)


def _score_head(us: list[_Unit], cols: list[str]) -> dict[str, float]:
    if not us or "ref_pred" not in us[0].extra:
        return {c: math.nan for c in cols}
    ref = np.mean([u.extra["ref_pred"] for u in us], axis=0)
    alt = np.mean([u.extra["alt_pred"] for u in us], axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where((ref > 0) & (alt > 0), np.log(alt / ref), np.nan)
    n = len(ref)
    out = {}
    for k, c in enumerate(cols[:n]):
        out[c] = float(alt[k] - ref[k])
    for k, c in enumerate(cols[n:]):
        out[c] = float(ratio[k])
    return out

