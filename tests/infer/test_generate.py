"""Generation: cached (prefill + step) equals full-forward decoding; sampling controls."""

from __future__ import annotations

import pytest
import torch

from genoseq.errors import ConfigError
from genoseq.infer.generate import generate, sample_next, write_fasta


@pytest.mark.parametrize("prompt", ["ACGTTAGC", None])
def test_greedy_step_equals_full_forward(toy_lm, prompt):
    a = generate(toy_lm, 25, prompt=prompt, num_samples=2, temperature=0, seed=1)
    b = generate(toy_lm, 25, prompt=prompt, num_samples=2, temperature=0, seed=1, use_cache=False)
    assert a == b
    assert all(len(s) == 25 and set(s) <= set("ACGT") for s in a)


def test_sampling_cached_equals_uncached_with_seed(toy_lm):
    a = generate(toy_lm, 30, prompt="GATTACA", num_samples=3, temperature=1.3, top_p=0.9, seed=7)
    b = generate(toy_lm, 30, prompt="GATTACA", num_samples=3, temperature=1.3, top_p=0.9, seed=7, use_cache=False)
    assert a == b
    assert len(set(a)) > 1  # samples differ from each other


def test_top_k_and_top_p_masks():
    logits = torch.full((1, 10), -50.0)
    logits[0, 5:9] = torch.tensor([3.0, 2.0, 1.0, 0.0])  # A > C > G > T
    g = torch.Generator().manual_seed(0)
    picks = {int(sample_next(logits, 1.0, 2, None, g)) for _ in range(200)}
    assert picks == {5, 6}
    picks = {int(sample_next(logits, 1.0, None, 0.5, g)) for _ in range(200)}
    assert picks == {5}  # P(A) = 0.64 >= 0.5 alone
    assert int(sample_next(logits, 0.0, None, None, g)) == 5


def test_bad_arguments(toy_lm, toy_mlm):
    with pytest.raises(ConfigError):
        generate(toy_lm, 5, top_k=9)
    with pytest.raises(ConfigError, match="causal"):
        generate(toy_mlm, 5)


def test_write_fasta(tmp_path):
    write_fasta(tmp_path / "o.fa", ["s1", "s2"], ["ACGT" * 25, "GG"], width=60)
    lines = (tmp_path / "o.fa").read_text().splitlines()
    assert lines == [">s1", ("ACGT" * 25)[:60], ("ACGT" * 25)[60:], ">s2", "GG"]
