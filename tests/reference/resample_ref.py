"""Reference of the project's resampler, exactly per docs/resampler-spec.md, as a differentiable
torch function.

Forward y[j] = sum_{k=-K..K} taps[p_j][k+K] * x[base_j + k] (x zero outside [0, n_in)), written as
a gather + weighted sum, so autograd's backward is exactly the adjoint of the spec
(gx[base + k] += taps[p][k + K] * gy[j]).

Taps are computed in float64 and, as the spec stores them, rounded to float32; the reference then
accumulates in float64 (pass a float64 signal) while the C accumulates in float.
"""
import math
import os
import sys

try:
    import numpy as np
    import torch
except ImportError:  # another python3 (e.g. a pyenv shim) came first on PATH: use Debian's
    if __name__ == "__main__" and os.path.exists("/usr/bin/python3") and \
            os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

ROLLOFF = 0.92
ZERO_CROSSINGS = 32
KAISER_BETA = 8.0


def plan(rate_in, rate_out):
    """Returns (L, M, K, taps[L][2K+1] as float64 numpy holding float32-rounded values)."""
    g = math.gcd(rate_in, rate_out)
    L = rate_out // g
    M = rate_in // g
    rho = min(1.0, rate_out / rate_in)
    c = ROLLOFF * rho
    W = ZERO_CROSSINGS / c
    K = int(math.ceil(W))
    p = np.arange(L, dtype=np.float64)[:, None]
    k = np.arange(-K, K + 1, dtype=np.float64)[None, :]
    tau = p / L - k
    inside = np.abs(tau) < W
    u = np.where(inside, 1.0 - (tau / W) ** 2, 0.0)
    x = c * tau
    with np.errstate(invalid="ignore", divide="ignore"):
        sinc = np.where(x == 0.0, 1.0, np.sin(np.pi * x) / (np.pi * x))
    h = c * sinc * np.i0(KAISER_BETA * np.sqrt(u)) / np.i0(KAISER_BETA)
    h = np.where(inside, h, 0.0)
    taps = h.astype(np.float32).astype(np.float64)
    return L, M, K, taps


def n_out_for(n_in, rate_in, rate_out):
    g = math.gcd(rate_in, rate_out)
    L = rate_out // g
    M = rate_in // g
    return -((-n_in * L) // M)  # ceil(n_in * L / M), exact integer arithmetic


def resample(x, rate_in, rate_out):
    """x: tensor [..., n_in] -> [..., n_out]; differentiable. Equal rates: identity (a copy)."""
    if rate_in == rate_out:
        return x.clone()
    n_in = x.shape[-1]
    L, M, K, taps = plan(rate_in, rate_out)
    n_out = n_out_for(n_in, rate_in, rate_out)
    j = np.arange(n_out, dtype=np.int64)
    base = (j * M) // L
    phase = (j * M) % L
    idx = base[:, None] + np.arange(-K, K + 1, dtype=np.int64)[None, :]   # [n_out, 2K+1]
    w = taps[phase]                                                        # [n_out, 2K+1]
    valid = (idx >= 0) & (idx < n_in)
    w = np.where(valid, w, 0.0)
    idx = np.clip(idx, 0, n_in - 1)
    idx_t = torch.from_numpy(idx)
    w_t = torch.from_numpy(w).to(x.dtype)
    lead = x.shape[:-1]
    xf = x.reshape(-1, n_in)
    gathered = xf[:, idx_t]                       # [B, n_out, 2K+1]; backward = scatter-add
    y = (gathered * w_t).sum(-1)
    return y.reshape(*lead, n_out)


def resample_loop(x, rate_in, rate_out):
    """Plain-loop version of the spec (numpy float64), for self-checking."""
    x = np.asarray(x, dtype=np.float64)
    if rate_in == rate_out:
        return x.copy()
    L, M, K, taps = plan(rate_in, rate_out)
    n_in = len(x)
    n_out = n_out_for(n_in, rate_in, rate_out)
    y = np.zeros(n_out)
    for jj in range(n_out):
        base, p = (jj * M) // L, (jj * M) % L
        s = 0.0
        for k in range(-K, K + 1):
            i = base + k
            if 0 <= i < n_in:
                s += taps[p][k + K] * x[i]
        y[jj] = s
    return y


def _self_test():
    torch.manual_seed(0)
    # gradcheck in float64 on tiny inputs for both directions and a non-trivial ratio
    for rin, rout, n in [(44100, 16000, 300), (8000, 16000, 50), (22050, 16000, 200)]:
        x = torch.randn(n, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda t: resample(t, rin, rout), (x,)), (rin, rout)
        y = resample(x, rin, rout).detach().numpy()
        y2 = resample_loop(x.detach().numpy(), rin, rout)
        assert np.max(np.abs(y - y2)) < 1e-12, (rin, rout)
        # explicit adjoint check: <A x, g> == <x, A^T g>
        g = torch.randn(len(y), dtype=torch.float64)
        (gx,) = torch.autograd.grad((resample(x, rin, rout) * g).sum(), x)
        assert abs(float((resample(x, rin, rout) * g).sum() - (x * gx).sum())) < 1e-9
    # passband gain / stopband of 44.1k -> 16k
    n = 44100
    t = np.arange(n) / 44100.0
    for f, lo, hi in [(1000.0, 0.99, 1.01), (6000.0, 0.98, 1.02), (9000.0, 0.0, 1e-3)]:
        y = resample(torch.from_numpy(np.sin(2 * np.pi * f * t)), 44100, 16000).numpy()
        amp = np.sqrt(2 * np.mean(y[2000:-2000] ** 2))
        assert lo <= amp <= hi, (f, amp)
    L, M, K, taps = plan(44100, 16000)
    print(f"resample_ref self-test ok (44100->16000: L={L} M={M} K={K} taps {taps.shape})")


if __name__ == "__main__":
    _self_test()
