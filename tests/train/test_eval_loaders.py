"""The data modules' shared evaluation loaders (train.datamodules.SplitsData): split names, order, padding,
and the error for an empty split."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from genoseq.errors import GenoseqError
from genoseq.tokenizer import PAD_ID
from genoseq.train.datamodules import FinetuneData, TaskLMData


def _split(seqs: list[str], labels: list[int]) -> SimpleNamespace:
    return SimpleNamespace(sequences=seqs, labels=torch.tensor(labels))


def test_finetune_loaders_read_dev_for_validation_and_test_for_test_and_predict():
    splits = {"train": _split(["ACGT"] * 4, [0, 1, 0, 1]),
              "dev": _split(["AC", "ACGTA"], [1, 0]),
              "test": _split(["G", "GG", "GGG"], [0, 0, 1])}
    data = FinetuneData(splits, batch_size=4, eval_batch_size=2)
    dev = list(data.val_dataloader())
    assert [b["input_ids"].shape for b in dev] == [torch.Size([2, 5])]  # padded to the batch's longest item
    assert dev[0]["input_ids"][0, 2:].tolist() == [PAD_ID] * 3
    assert dev[0]["labels"].tolist() == [1, 0]
    for loader in (data.test_dataloader(), data.predict_dataloader()):
        labels = torch.cat([b["labels"] for b in loader]).tolist()
        assert labels == [0, 0, 1]  # ordered, every item once


def test_empty_validation_split_is_a_clear_error():
    data = TaskLMData(["ACGTACGT"] * 4, [], batch_size=2, objective="causal")
    with pytest.raises(GenoseqError, match="the dev split is empty"):
        data.val_dataloader()
