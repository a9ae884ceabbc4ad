"""genoseq.omp_wait: when long-sequence runs ask OpenMP threads to sleep instead of spinning."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from genoseq.cli.train import _layer_types, _seq_lens
from genoseq.omp_wait import LONG_SEQUENCE, prefer_passive_openmp
from genoseq.train.recipe import load_recipe

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def test_long_sequences_before_torch_loads_get_the_passive_policy():
    env: dict[str, str] = {}
    assert prefer_passive_openmp([LONG_SEQUENCE, 131072], "HHSA", env, torch_loaded=False)
    assert env == {"OMP_WAIT_POLICY": "PASSIVE"}


@pytest.mark.parametrize("layers", ["HSMH", "M", None])
def test_mamba1_or_unknown_models_keep_openmp_as_is(layers):
    env: dict[str, str] = {}
    assert not prefer_passive_openmp([32768], layers, env, torch_loaded=False)
    assert env == {}


@pytest.mark.parametrize("lens", [[LONG_SEQUENCE - 1], [1024, 32768], [None], []])
def test_any_short_or_unknown_stage_keeps_openmp_as_is(lens):
    env: dict[str, str] = {}
    assert not prefer_passive_openmp(lens, "HH", env, torch_loaded=False)
    assert env == {}


@pytest.mark.parametrize("env", [{"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "1000"},
                                 {"GENOSEQ_OMP_WAIT": "default"}])
def test_the_users_settings_win(env):
    before = dict(env)
    assert not prefer_passive_openmp([32768], "HH", env, torch_loaded=False)
    assert env == before


def test_too_late_once_torch_is_loaded():
    import torch  # noqa: F401  (the policy is read when torch loads OpenMP)

    env: dict[str, str] = {}
    assert not prefer_passive_openmp([32768], "HH", env)
    assert env == {}


def test_in_a_fresh_interpreter_it_is_set_before_torch_loads():
    # as `genoseq pretrain` does it: the recipe's stages and layer letters are read without loading torch
    recipe = RECIPES / "pretrain" / "hybrid_hg38_131k.yaml"
    code = ("import os, sys; from genoseq.omp_wait import prefer_passive_openmp; "
            "from genoseq.cli.train import _layer_types, _seq_lens; "
            "from genoseq.train.recipe import load_recipe; "
            f"r = load_recipe({str(recipe)!r}, []); "
            "ok = prefer_passive_openmp(_seq_lens(r), _layer_types(r)); assert 'torch' not in sys.modules; "
            "print(ok, os.environ.get('OMP_WAIT_POLICY'))")
    env = {k: v for k, v in __import__("os").environ.items()
           if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "GENOSEQ_OMP_WAIT")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["True", "PASSIVE"]


def test_recipe_stages():
    long = load_recipe(RECIPES / "pretrain" / "hybrid_hg38_131k.yaml", [])
    warmup = load_recipe(RECIPES / "pretrain" / "hyenadna_small_hg38_32k_warmup.yaml", [])
    assert _seq_lens(long) == [8192, 16384, 32768, 65536, 131072, 131072]
    assert min(_seq_lens(warmup)) == 1024  # starts at 1k: OpenMP left spinning
    assert _seq_lens(load_recipe(RECIPES / "demo.yaml", [])) == [1024]
    assert "M" not in _layer_types(long)  # hybrid-small: Mamba-2 and attention
    assert "M" in _layer_types(load_recipe(RECIPES / "pretrain" / "caduceus_like_mlm_131k.yaml", []))
