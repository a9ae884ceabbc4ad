"""genoseq.cpu_allocator: glibc malloc thresholds, set through mallopt, skipped on request; the training
commands apply them."""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genoseq import cpu_allocator
from genoseq.cli import app


class _FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

        def mallopt(param: int, value: int) -> int:
            self.calls.append((param, value))
            return 1

        self.mallopt = mallopt
        self.gnu_get_libc_version = lambda: b"2.36"


def test_sets_both_thresholds(monkeypatch):
    fake = _FakeLibc()
    monkeypatch.delenv("GENOSEQ_MALLOC", raising=False)
    monkeypatch.setattr(cpu_allocator.sys, "platform", "linux")
    monkeypatch.setattr(ctypes, "CDLL", lambda name: fake)
    assert cpu_allocator.tune_cpu_allocator() is True
    assert fake.calls == [(-3, 1 << 30), (-1, 2**31 - 1)]  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD


def test_env_var_and_other_platforms_leave_malloc_alone(monkeypatch):
    fake = _FakeLibc()
    monkeypatch.setattr(ctypes, "CDLL", lambda name: fake)
    monkeypatch.setenv("GENOSEQ_MALLOC", "default")
    assert cpu_allocator.tune_cpu_allocator() is False
    monkeypatch.delenv("GENOSEQ_MALLOC")
    monkeypatch.setattr(cpu_allocator.sys, "platform", "darwin")
    assert cpu_allocator.tune_cpu_allocator() is False
    assert fake.calls == []


def test_non_glibc_c_library_is_left_alone(monkeypatch):
    class Musl:  # no mallopt / gnu_get_libc_version
        pass

    monkeypatch.delenv("GENOSEQ_MALLOC", raising=False)
    monkeypatch.setattr(cpu_allocator.sys, "platform", "linux")
    monkeypatch.setattr(ctypes, "CDLL", lambda name: Musl())
    assert cpu_allocator.tune_cpu_allocator() is False


@pytest.mark.skipif(not cpu_allocator.sys.platform.startswith("linux"), reason="glibc only")
def test_real_glibc_accepts_the_settings(monkeypatch):
    monkeypatch.delenv("GENOSEQ_MALLOC", raising=False)
    try:
        ctypes.CDLL("libc.so.6").gnu_get_libc_version  # noqa: B018
    except (OSError, AttributeError):
        pytest.skip("not glibc")
    assert cpu_allocator.tune_cpu_allocator() is True


def test_training_commands_tune_before_running(monkeypatch):
    import genoseq.train.run as run_module
    from genoseq.errors import ConfigError

    calls = []

    def run_recipe(*args, **kwargs):
        calls.append("run")
        raise ConfigError("stop here")

    monkeypatch.setattr(cpu_allocator, "tune_cpu_allocator", lambda: calls.append("tune") or True)
    monkeypatch.setattr(run_module, "run_recipe", run_recipe)
    demo = Path(__file__).resolve().parents[1] / "recipes" / "demo.yaml"
    result = CliRunner().invoke(app, ["finetune", str(demo)])
    assert result.exit_code != 0 and "stop here" in str(result.exception)
    assert calls == ["tune", "run"]  # the allocator is set up before the run allocates anything
