"""Tokenizer: exact ids, soft-mask, IUPAC handling, errors, reverse complement."""

import numpy as np
import pytest
import torch

from genoseq import GenoseqError, Tokenizer
from genoseq.tokenizer import A_ID, C_ID, G_ID, N_ID, PAD_ID, T_ID, VOCAB, reverse_complement_str

tok = Tokenizer()


def test_vocab_ids_are_stable():
    assert VOCAB == ("[PAD]", "[MASK]", "[CLS]", "[SEP]", "[UNK]", "A", "C", "G", "T", "N")
    assert (A_ID, C_ID, G_ID, T_ID, N_ID, PAD_ID) == (5, 6, 7, 8, 9, 0)
    assert tok.vocab_size == 10


def test_encode_exact_values_and_inputs_agree():
    expected = np.array([5, 6, 7, 8, 9], dtype=np.uint8)
    np.testing.assert_array_equal(tok.encode("ACGTN"), expected)
    np.testing.assert_array_equal(tok.encode(b"ACGTN"), expected)
    np.testing.assert_array_equal(tok.encode(np.frombuffer(b"ACGTN", dtype=np.uint8)), expected)
    assert tok.encode("ACGTN").dtype == np.uint8


def test_lowercase_maps_to_uppercase_and_soft_mask_is_returned():
    ids, soft = tok.encode("ACgtN", return_soft_mask=True)
    np.testing.assert_array_equal(ids, [5, 6, 7, 8, 9])
    np.testing.assert_array_equal(soft, [False, False, True, True, False])


def test_iupac_codes_map_to_n_by_default_and_error_when_strict():
    np.testing.assert_array_equal(tok.encode("RYKMSWBDHVryk"), [N_ID] * 13)
    with pytest.raises(GenoseqError, match=r"invalid nucleotide 'R' .* at position 1"):
        Tokenizer(iupac_to_n=False).encode("AR")


def test_invalid_byte_names_position_and_can_be_mapped_to_n():
    with pytest.raises(GenoseqError, match=r"invalid nucleotide 'X' \(byte 88\) at position 3 in chr1"):
        tok.encode("ACGXT", source="chr1")
    np.testing.assert_array_equal(tok.encode("ACGX-", unknown_to_n=True), [5, 6, 7, 9, 9])
    with pytest.raises(GenoseqError, match="non-ASCII"):
        tok.encode("ACé")


def test_decode_roundtrip_and_specials():
    assert tok.decode(tok.encode("ACGTNacgt")) == "ACGTNACGT"
    assert tok.decode([2, 5, 0], skip_special=False) == "[CLS]A[PAD]"
    with pytest.raises(GenoseqError):
        tok.decode([10])


def test_encode_batch_pads_and_masks():
    batch = tok.encode_batch(["ACG", "T"], return_soft_mask=True)
    np.testing.assert_array_equal(batch.input_ids, [[5, 6, 7], [8, 0, 0]])
    np.testing.assert_array_equal(batch.attention_mask, [[1, 1, 1], [1, 0, 0]])
    assert batch.input_ids.dtype == np.int64
    padded = tok.encode_batch(["ACG"], pad_to_multiple_of=4)
    assert padded.input_ids.shape == (1, 4)
    with pytest.raises(GenoseqError, match="sequence 0 has length 3 > max_length 2"):
        tok.encode_batch(["ACG"], max_length=2)
    assert tok.encode_batch(["ACG"], max_length=2, truncate=True).input_ids.shape == (1, 2)


def test_reverse_complement_on_ids_numpy_and_torch():
    ids = tok.encode("AACGTN")
    rc = Tokenizer.reverse_complement(ids)
    assert tok.decode(rc) == "NACGTT"
    with_specials = np.array([[2, 5, 6, 0]])
    np.testing.assert_array_equal(Tokenizer.reverse_complement(with_specials), [[0, 7, 8, 2]])
    t = torch.tensor([[5, 6, 7, 8, 9]])
    assert Tokenizer.reverse_complement(t).tolist() == [[9, 5, 6, 7, 8]]
    # involution
    np.testing.assert_array_equal(Tokenizer.reverse_complement(rc), ids)


def test_reverse_complement_string_keeps_case_and_iupac():
    assert reverse_complement_str("ACgtRN") == "NYacGT"


def test_tokenizer_dict_roundtrip_and_mismatch():
    assert Tokenizer.from_dict(tok.to_dict()).vocab == VOCAB
    with pytest.raises(GenoseqError, match="vocabulary"):
        Tokenizer.from_dict({"vocab": ["A", "C"]})
