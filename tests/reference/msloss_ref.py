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
random directions (relative 1e-4; step 1e-9). Deterministic: a rerun gives the same bytes.
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
import make_golden  # noqa: E402  (the test signals, the golden model)
import paper_model as pm  # noqa: E402
import resample_ref  # noqa: E402

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


def check_fd(f, v0, grad, rng, directions=3, e=1e-9, tol=1e-4):
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
    smallest = min(float(magnitude(x + d.detach(), s)[r].min()) for s in SCALES for r in (0, -1))
    assert smallest > 1e-7, f"a real-valued bin of clean + delta at {smallest:.3g} (see case_rate)"
    print(f"msloss 16 kHz, {n} samples: loss {float(loss):.10g}")
    check_fd(lambda v: msloss(x, x + v), d.detach(), d.grad, rng)
    return {"clean": torch.from_numpy(clean), "delta": torch.from_numpy(delta),
            "loss": loss.detach(), "grad_delta": d.grad.to(torch.float32)}


def mscw_objective(wave, rate, delta16, eps, alpha, target, net, fe):
    """The MS-C&W objective of an attack at `rate` (src/attack.c, include/advinst/perturb.h):
    the 16 kHz perturbation brought to the rate (band-limited resampler, first n samples), clamped
    to [-eps, eps], added to every channel, clamped to [-1, 1], mixed to mono, resampled to 16 kHz;
    L_ms against the clean mono mix resampled alike, plus alpha * CE of the classifier on it.
    Returns (objective, distance)."""
    n = wave.shape[-1]
    u = resample_ref.resample(delta16, 16000, rate)[:n]
    heard = torch.clamp(wave + torch.clamp(u, -eps, eps)[None], -1.0, 1.0)
    h16 = resample_ref.resample(heard.mean(0), rate, 16000)
    c16 = resample_ref.resample(wave.mean(0), rate, 16000)
    dist = msloss(c16, h16)
    logits = net(fe(h16)[None, None])[0]
    ce = torch.nn.functional.cross_entropy(logits[None], torch.tensor([target]))
    return dist + alpha * ce, dist


def case_rate(name, rate, channels, seconds, seed, target):
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    wave = np.stack([make_golden.make_signal(n, rate, rng, n_tones=3) for _ in range(channels)]).astype(np.float32)
    n16 = resample_ref.n_out_for(n, rate, 16000)
    eps, alpha = 0.01, 2.0
    # as after a few sign-Adam steps clipped to eps: many samples at +-eps, where U overshoots
    delta16 = (eps * np.clip(1.5 * rng.standard_normal(n16), -1, 1)).astype(np.float32)
    net32, fe32, _ = pm.load_model(os.path.join(make_golden.GOLDEN, "model.safetensors"))
    net = net32.double().eval()
    fe = pm.make_frontend(fe32.mean.to(F64), fe32.std.to(F64), dtype=F64)
    x = torch.from_numpy(wave).to(F64)
    d = torch.from_numpy(delta16).to(F64).requires_grad_(True)
    loss, dist = mscw_objective(x, rate, d, eps, alpha, target, net, fe)
    loss.backward()
    # The log term weighs each bin by 1 / (|X| + 1e-7). The real-valued rows (DC, Nyquist) of the
    # heard signal's STFTs cross zero along a line, so some frame usually has |X| ~ 1e-8 there, and
    # no float32 implementation (ours, PyTorch's) resolves its sign: its share of the gradient
    # (up to the size of the whole gradient, leaking through the resamplers' transition band) is
    # float32 noise. The golden case is one whose heard real-valued bins stay above 1e-7, where
    # float32 agrees with float64 to the per cent.
    with torch.no_grad():
        u = resample_ref.resample(d.detach(), 16000, rate)[:n]
        h16 = resample_ref.resample(torch.clamp(x + torch.clamp(u, -eps, eps)[None], -1, 1).mean(0), rate, 16000)
        smallest = min(float(magnitude(h16, s)[r].min()) for s in SCALES for r in (0, -1))
    assert smallest > 1e-7, f"{name}: a real-valued bin of the heard signal at {smallest:.3g}: choose another seed"
    clamped = int((resample_ref.resample(d.detach(), 16000, rate)[:n].abs() > eps).sum())
    print(f"MS-C&W objective {name}: {rate} Hz x {channels}, {n} frames, {n16} samples at 16 kHz, "
          f"{clamped} samples clamped to eps: objective {float(loss):.10g}, distance {float(dist):.10g}")
    check_fd(lambda v: mscw_objective(x, rate, v, eps, alpha, target, net, fe)[0], d.detach(), d.grad, rng)
    return {"wave": torch.from_numpy(wave), "delta16": torch.from_numpy(delta16),
            "eps": torch.tensor(eps, dtype=torch.float32), "alpha": torch.tensor(alpha, dtype=torch.float32),
            "target": torch.tensor(target, dtype=torch.int64), "loss": loss.detach(), "distance": dist.detach(),
            "grad_delta16": d.grad.to(torch.float32)}


def main():
    torch.set_num_threads(1)
    root = os.path.join(HERE, "..", "..")
    path = os.path.join(make_golden.GOLDEN, "msloss.safetensors")
    st.save(path, case_16k(), {"description": "the paper's multi-scale loss in float64 torch at a non-zero "
                                              "perturbation (tests/reference/msloss_ref.py)"})
    print(f"wrote {os.path.relpath(path, root)}  {os.path.getsize(path)} bytes")
    for name, rate, channels, seconds, seed, target in [("441", 44100, 2, 0.8, 707, 5), ("48", 48000, 1, 0.7, 811, 8)]:
        path = os.path.join(make_golden.GOLDEN, f"mscw_{name}.safetensors")
        st.save(path, case_rate(name, rate, channels, seconds, seed, target),
                {"rate": str(rate), "description": "the MS-C&W objective at another rate in float64 torch: "
                 "16 kHz perturbation, resampled, clamped, 16 kHz loss (tests/reference/msloss_ref.py)"})
        print(f"wrote {os.path.relpath(path, root)}  {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
