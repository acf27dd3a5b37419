#!/usr/bin/python3
"""The paper's multi-scale spectral loss, re-stated in float64 torch (torch.stft, autograd), and the
golden file of the Multi-Scale C&W distance at a non-zero perturbation.

    python3 tests/reference/msloss_ref.py        (Debian's python3 with python3-torch)

L_ms(x, y) = sum over n in {2048, 1024, 512, 256, 128, 64} of
             mean|S_n(x) - S_n(y)| + mean|log(S_n(x) + 1e-7) - log(S_n(y) + 1e-7)|
S_n = |torch.stft(., n, hop n/4, periodic Hann window of n, centred, reflect padding)| (power 1).

Writes tests/golden/msloss.safetensors (metadata `description`):
  - `clean` [n] (16 kHz), `delta` [n]: the clean clip and a perturbation within 0.01;
  - `loss` F64 []: L_ms(clean, clean + delta); `grad_delta` [n]: its gradient in delta.
Before writing, the autograd gradient is checked against float64 central finite differences along
random directions (relative 1e-5; step 1e-9). Deterministic: a rerun gives the same bytes.
"""
import math
import os
import sys

try:
    import numpy as np
    import torch
except ImportError:  # another python3 (e.g. a pyenv shim) came first on PATH: use Debian's
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import st  # noqa: E402
import make_golden  # noqa: E402  (the test signals)

F64 = torch.float64
SCALES = (2048, 1024, 512, 256, 128, 64)
EPS = 1e-7


def magnitude(y, n):
    """|STFT| of y [..., N] at scale n: [..., n/2 + 1, frames]."""
    w = torch.hann_window(n, periodic=True, dtype=y.dtype)
    return torch.stft(y, n, hop_length=n // 4, window=w, center=True, pad_mode="reflect",
                      return_complex=True).abs()


def msloss(x, y):
    """The paper's L_ms(x, y); scales whose n/2 is not shorter than the signal are skipped."""
    total = 0
    for n in SCALES:
        if n // 2 >= x.shape[-1]:
            continue
        a, b = magnitude(x, n), magnitude(y, n)
        total = total + (a - b).abs().mean() + (torch.log(a + EPS) - torch.log(b + EPS)).abs().mean()
    return total


def check_fd(f, v0, grad, rng, directions=3, e=1e-9, tol=1e-5):
    """Central differences of the float64 function f along random directions against grad."""
    for d in range(directions):
        u = torch.from_numpy(rng.standard_normal(v0.shape[-1]))
        fd = (float(f(v0 + e * u)) - float(f(v0 - e * u))) / (2 * e)
        an = float((grad * u).sum())
        assert abs(fd - an) <= tol * abs(an) + 1e-9, f"direction {d}: finite difference {fd} vs autograd {an}"
        print(f"  direction {d}: finite difference {fd:.10g} autograd {an:.10g}")


def case_16k():
    rng = np.random.default_rng(606)
    n = 20000
    clean = make_golden.make_signal(n, 16000, rng, n_tones=3).astype(np.float32)
    delta = (0.006 * rng.standard_normal(n) + 0.003 * np.sin(2 * math.pi * 3000 * np.arange(n) / 16000))
    delta = np.clip(delta, -0.01, 0.01).astype(np.float32)
    x = torch.from_numpy(clean).to(F64)
    d = torch.from_numpy(delta).to(F64).requires_grad_(True)
    loss = msloss(x, x + d)
    loss.backward()
    print(f"msloss 16 kHz, {n} samples: loss {float(loss):.10g}")
    check_fd(lambda v: msloss(x, x + v), d.detach(), d.grad, rng)
    return {"clean": torch.from_numpy(clean), "delta": torch.from_numpy(delta),
            "loss": loss.detach(), "grad_delta": d.grad.to(torch.float32)}


def main():
    torch.set_num_threads(1)
    path = os.path.join(make_golden.GOLDEN, "msloss.safetensors")
    st.save(path, case_16k(), {"description": "the paper's multi-scale loss in float64 torch at a non-zero "
                                              "perturbation (tests/reference/msloss_ref.py)"})
    print(f"wrote {os.path.relpath(path, os.path.join(HERE, '..', '..'))}  {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
