"""Make the shared tiny-config helpers (model_helpers.py) importable under --import-mode=importlib."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture
def ids():
    g = torch.Generator().manual_seed(0)
    return torch.randint(5, 10, (2, 19), generator=g)
