"""genoseq.ops.cpu_fft: reused MKL plans give torch.fft's exact results, in place or not, and fall back cleanly."""

from __future__ import annotations

import threading

import pytest
import torch

from genoseq.ops import cpu_fft

needs_mkl = pytest.mark.skipif(cpu_fft.backend() != "mkl", reason="this torch build has no exported MKL DFTI")


@pytest.fixture
def fresh_state(monkeypatch):
    """Run the first-use check again inside the test; the module's state is restored afterwards."""
    monkeypatch.setattr(cpu_fft, "_state", "unchecked")
    monkeypatch.setattr(cpu_fft, "_lib", cpu_fft._lib)
    monkeypatch.setattr(cpu_fft, "_local", threading.local())
    yield


@needs_mkl
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n", [1, 2, 7, 30, 31, 1000, 4096, 6000])
def test_bitwise_equal_to_torch_fft(dtype, n):
    x = torch.randn(2, 3, n, dtype=dtype, generator=torch.Generator().manual_seed(n))
    spec = cpu_fft.rfft(x)
    assert spec.shape == (2, 3, n // 2 + 1)
    assert torch.equal(spec, torch.fft.rfft(x))
    assert torch.equal(cpu_fft.irfft(spec, n), torch.fft.irfft(spec, n=n))


@needs_mkl
def test_strided_rows_and_out_buffers():
    base = torch.randn(5, 100)
    x = base[1:4, :64]  # rows 100 apart
    out = torch.empty(3, 40, dtype=torch.complex64)[:, :33]  # rows 40 apart
    got = cpu_fft.rfft(x, out=out)
    assert got.data_ptr() == out.data_ptr()
    assert torch.equal(out, torch.fft.rfft(x))
    back = torch.empty(3, 70)[:, :64]
    cpu_fft.irfft(out, 64, out=back)
    assert torch.equal(back, torch.fft.irfft(out, n=64))


@needs_mkl
@pytest.mark.parametrize("n", [30, 31])
def test_in_place_layout(n):
    width = 2 * (n // 2 + 1)
    rows = torch.zeros(3, width, dtype=torch.float64)
    x = torch.randn(3, n, dtype=torch.float64)
    rows[:, :n] = x
    spec = torch.view_as_complex(rows.view(3, width // 2, 2))
    cpu_fft.rfft(rows[:, :n], out=spec)
    assert torch.equal(spec, torch.fft.rfft(x))
    expect = torch.fft.irfft(spec.clone(), n=n)
    cpu_fft.irfft(spec, n, out=rows[:, :n])
    assert torch.equal(rows[:, :n], expect)
    torch.testing.assert_close(rows[:, :n], x, rtol=0, atol=1e-13)


def test_partial_overlap_is_computed_through_a_copy():
    buf = torch.randn(2, 40)
    x = buf[:, :32].clone()
    cpu_fft.irfft(torch.fft.rfft(x), 32, out=buf[:, 4:36])  # the output overlaps nothing of the input here
    torch.testing.assert_close(buf[:, 4:36], x, rtol=0, atol=1e-5)
    spec = torch.view_as_complex(torch.randn(2, 20, 2))
    expect = torch.fft.irfft(spec[:, :17], n=32)
    real = torch.view_as_real(spec).view(2, 40)
    got = cpu_fft.irfft(spec[:, :17], 32, out=real[:, 2:34])  # overlaps its input, shifted: not MKL's layout
    torch.testing.assert_close(got, expect, rtol=0, atol=0)


def test_autograd_inputs_take_torch_fft():
    x = torch.randn(2, 16, requires_grad=True)
    spec = cpu_fft.rfft(x)
    assert spec.grad_fn is not None
    back = cpu_fft.irfft(spec, 16)
    back.sum().backward()
    assert x.grad is not None


def test_env_var_selects_torch(fresh_state, monkeypatch):
    monkeypatch.setenv("GENOSEQ_CPU_FFT", "torch")
    assert cpu_fft.backend() == "torch"
    x = torch.randn(3, 10)
    assert torch.equal(cpu_fft.rfft(x), torch.fft.rfft(x))


@needs_mkl
def test_failed_self_check_warns_and_falls_back(fresh_state, monkeypatch):
    monkeypatch.setattr(cpu_fft, "_rfft_mkl", lambda x, out: torch.zeros(*x.shape[:-1], x.shape[-1] // 2 + 1,
                                                                           dtype=torch.complex64))
    with pytest.warns(RuntimeWarning, match="using torch.fft"):
        assert cpu_fft.backend() == "torch"


@needs_mkl
def test_threads_keep_their_own_plans():
    x = torch.randn(8, 2048)
    expect = torch.fft.rfft(x)
    results, errors = [], []

    def work() -> None:
        try:
            for _ in range(20):
                results.append(torch.equal(cpu_fft.rfft(x), expect))
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 80 and all(results)
