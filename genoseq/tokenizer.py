"""Single-nucleotide tokenizer.

Ids are stable and saved with every model (``Tokenizer.to_dict``):

=====  ======  =============================================
id     token   meaning
=====  ======  =============================================
0      [PAD]   padding (ignored by losses and pooling)
1      [MASK]  masked-LM mask
2      [CLS]   beginning of sequence / classification token
3      [SEP]   end of sequence / separator
4      [UNK]   unknown
5..9   A C G T N
=====  ======  =============================================

Encoding is a 256-entry lookup table applied with numpy fancy indexing, so a
100 Mb chromosome encodes in well under a second and no Python loop touches bases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from genoseq.errors import InputError

PAD_ID, MASK_ID, CLS_ID, SEP_ID, UNK_ID = 0, 1, 2, 3, 4
A_ID, C_ID, G_ID, T_ID, N_ID = 5, 6, 7, 8, 9
SPECIAL_TOKENS = ("[PAD]", "[MASK]", "[CLS]", "[SEP]", "[UNK]")
BASES = "ACGTN"
VOCAB: tuple[str, ...] = SPECIAL_TOKENS + tuple(BASES)
IUPAC_AMBIGUOUS = "RYKMSWBDHV"

_INVALID = 255  # marker in the lookup table for bytes that are not nucleotides


def _build_tables() -> tuple[np.ndarray, np.ndarray]:
    """(lookup, softmask): byte -> token id (255 = invalid), byte -> is lowercase base."""
    lookup = np.full(256, _INVALID, dtype=np.uint8)
    softmask = np.zeros(256, dtype=bool)
    for base, token_id in zip("ACGTN", (A_ID, C_ID, G_ID, T_ID, N_ID), strict=True):
        lookup[ord(base)] = token_id
        lookup[ord(base.lower())] = token_id
        softmask[ord(base.lower())] = True
    for code in IUPAC_AMBIGUOUS:
        lookup[ord(code)] = N_ID
        lookup[ord(code.lower())] = N_ID
        softmask[ord(code.lower())] = True
    lookup[ord("U")] = lookup[ord("u")] = T_ID  # RNA input reads as DNA
    softmask[ord("u")] = True
    return lookup, softmask


_LOOKUP, _SOFTMASK = _build_tables()
_LOOKUP_STRICT_IUPAC = _LOOKUP.copy()
for _code in IUPAC_AMBIGUOUS + IUPAC_AMBIGUOUS.lower():
    _LOOKUP_STRICT_IUPAC[ord(_code)] = _INVALID

# complement of every token id; specials map to themselves
_COMPLEMENT = np.arange(len(VOCAB), dtype=np.uint8)
_COMPLEMENT[[A_ID, C_ID, G_ID, T_ID, N_ID]] = [T_ID, G_ID, C_ID, A_ID, N_ID]
_DECODE = np.frombuffer(b"\x00\x00\x00\x00\x00ACGTN", dtype=np.uint8)


def _as_bytes(seq: str | bytes | bytearray | np.ndarray) -> np.ndarray:
    """View ``seq`` as a uint8 array of ASCII codes. (L,) -> (L,) uint8."""
    if isinstance(seq, np.ndarray):
        if seq.dtype == np.uint8:
            return seq
        if seq.dtype.kind == "S":
            return np.frombuffer(seq.tobytes(), dtype=np.uint8)
        raise InputError(f"expected a uint8 array of ASCII codes or a bytes array, got dtype {seq.dtype}")
    if isinstance(seq, str):
        try:
            seq = seq.encode("ascii")
        except UnicodeEncodeError as err:
            raise InputError(
                f"non-ASCII character {seq[err.start]!r} at position {err.start}; expected nucleotides",
            ) from None
    if isinstance(seq, (bytes, bytearray, memoryview)):
        return np.frombuffer(bytes(seq), dtype=np.uint8)
    raise InputError(f"expected str, bytes or numpy array, got {type(seq).__name__}")


@dataclass(frozen=True)
class BatchEncoding:
    """A padded batch. ``input_ids`` (B, L) int64, ``attention_mask`` (B, L) bool (True = real token),
    ``soft_mask`` (B, L) bool (True = lowercase base) or None."""

    input_ids: np.ndarray
    attention_mask: np.ndarray
    soft_mask: np.ndarray | None = None


class Tokenizer:
    """Maps nucleotides to token ids and back.

    Args:
        iupac_to_n: map the IUPAC ambiguity codes R Y K M S W B D H V to N (default). When False
            they are an error like any other non-nucleotide byte.
    """

    pad_id, mask_id, cls_id, sep_id, unk_id = PAD_ID, MASK_ID, CLS_ID, SEP_ID, UNK_ID
    base_ids = (A_ID, C_ID, G_ID, T_ID)
    n_id = N_ID
    vocab: tuple[str, ...] = VOCAB

    def __init__(self, iupac_to_n: bool = True) -> None:
        self.iupac_to_n = iupac_to_n
        self._lookup = _LOOKUP if iupac_to_n else _LOOKUP_STRICT_IUPAC

    @property
    def vocab_size(self) -> int:
        return len(VOCAB)

    def token_to_id(self, token: str) -> int:
        return VOCAB.index(token)

    def encode(
        self,
        seq: str | bytes | np.ndarray,
        *,
        unknown_to_n: bool = False,
        return_soft_mask: bool = False,
        source: str | None = None,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Encode one sequence. (L,) chars -> (L,) uint8 ids.

        Args:
            seq: str, bytes or uint8 ASCII array. Lowercase (soft-masked) bases map to the uppercase id.
            unknown_to_n: map bytes that are not nucleotides or IUPAC codes to N instead of raising.
            return_soft_mask: also return a (L,) bool array, True where the input was lowercase.
            source: a name for error messages (file and record), e.g. ``"genome.fa:chr1"``.

        Raises:
            InputError: naming the 0-based position and the byte, when ``seq`` holds a character
                that is not a nucleotide (and ``unknown_to_n`` is False).
        """
        raw = _as_bytes(seq)
        ids = self._lookup[raw]
        bad = ids == _INVALID
        if bad.any():
            if unknown_to_n:
                ids = ids.copy()
                ids[bad] = N_ID
            else:
                pos = int(np.flatnonzero(bad)[0])
                char = chr(raw[pos])
                where = f" in {source}" if source else ""
                raise InputError(
                    f"invalid nucleotide {char!r} (byte {raw[pos]}) at position {pos}{where}; "
                    f"expected A, C, G, T, N or an IUPAC code ({int(bad.sum())} invalid bytes in all; "
                    "pass unknown_to_n=True to map them to N)",
                )
        if return_soft_mask:
            return ids, _SOFTMASK[raw]
        return ids

    def decode(self, ids: Sequence[int] | np.ndarray, skip_special: bool = True) -> str:
        """Ids -> string. Special tokens are dropped (``skip_special``) or written as ``[PAD]`` etc."""
        arr = np.asarray(ids)
        if arr.size and (arr.min() < 0 or arr.max() >= len(VOCAB)):
            raise InputError(f"token id out of range 0..{len(VOCAB) - 1}: {int(arr.max())}")
        arr = arr.astype(np.uint8, copy=False)
        if skip_special:
            return _DECODE[arr[arr >= A_ID]].tobytes().decode("ascii")
        return "".join(VOCAB[i] for i in arr.tolist())

    def encode_batch(
        self,
        seqs: Sequence[str | bytes | np.ndarray],
        *,
        max_length: int | None = None,
        pad_to_multiple_of: int | None = None,
        truncate: bool = False,
        unknown_to_n: bool = False,
        return_soft_mask: bool = False,
    ) -> BatchEncoding:
        """Encode and right-pad a batch. Returns (B, L) ``input_ids`` int64 and ``attention_mask``.

        A sequence longer than ``max_length`` is an error unless ``truncate`` is True.
        """
        encoded = []
        for i, seq in enumerate(seqs):
            ids, soft = self.encode(seq, unknown_to_n=unknown_to_n, return_soft_mask=True, source=f"sequence {i}")
            if max_length is not None and len(ids) > max_length:
                if not truncate:
                    raise InputError(
                        f"sequence {i} has length {len(ids)} > max_length {max_length}; pass truncate=True to cut it"
                    )
                ids, soft = ids[:max_length], soft[:max_length]
            encoded.append((ids, soft))
        length = max((len(ids) for ids, _ in encoded), default=0)
        if pad_to_multiple_of:
            length = -(-length // pad_to_multiple_of) * pad_to_multiple_of
        input_ids = np.full((len(encoded), length), PAD_ID, dtype=np.int64)
        attention = np.zeros((len(encoded), length), dtype=bool)
        soft_mask = np.zeros((len(encoded), length), dtype=bool)
        for row, (ids, soft) in enumerate(encoded):
            input_ids[row, : len(ids)] = ids
            attention[row, : len(ids)] = True
            soft_mask[row, : len(ids)] = soft
        return BatchEncoding(input_ids, attention, soft_mask if return_soft_mask else None)

    @staticmethod
    def reverse_complement(ids: np.ndarray) -> np.ndarray:
        """Reverse complement along the last axis. (..., L) -> (..., L); N -> N, specials unchanged.

        Works on numpy arrays and torch tensors (any integer dtype).
        """
        if hasattr(ids, "flip") and not isinstance(ids, np.ndarray):  # torch.Tensor
            import torch

            table = torch.as_tensor(_COMPLEMENT, device=ids.device).to(ids.dtype)
            return table[ids.long()].flip(-1)
        arr = np.asarray(ids)
        return _COMPLEMENT.astype(arr.dtype)[arr][..., ::-1].copy()

    def to_dict(self) -> dict:
        """The vocabulary as saved beside a model (``tokenizer.json``)."""
        return {"type": "single_nucleotide", "vocab": list(VOCAB), "iupac_to_n": self.iupac_to_n}

    @classmethod
    def from_dict(cls, data: dict) -> Tokenizer:
        """Rebuild from :meth:`to_dict`; an unknown vocabulary is an error (ids must be stable)."""
        if list(data.get("vocab", [])) != list(VOCAB):
            raise InputError(f"tokenizer vocabulary {data.get('vocab')} differs from this genoseq's {list(VOCAB)}")
        return cls(iupac_to_n=bool(data.get("iupac_to_n", True)))


def reverse_complement_str(seq: str) -> str:
    """Reverse complement of a DNA string, case and IUPAC codes kept (A<->T, C<->G, R<->Y, ...)."""
    return seq.translate(_STR_COMPLEMENT)[::-1]


_STR_COMPLEMENT = str.maketrans("ACGTRYKMSWBDHVNacgtrykmswbdhvn", "TGCAYRMKSWVHDBNtgcayrmkswvhdbn")
