#!/usr/bin/python3
"""PyTorch side of the project's benchmarks (float32, CPU), on a 3.7 s clip (59200 samples at
16 kHz = 116 frames), model in evaluation mode unless said:

  classify   front end + forward, no grad
  grad       front end + forward + cross-entropy + backward to the waveform
  cw         one C&W iteration: forward + backward to the waveform of
             ||delta||^2 + alpha * CE(f(x + delta), target), sign of the gradient, Adam step (lr 1e-5),
             clip delta to [-eps, eps] (alpha 0.1, eps 0.01). No separate check forward.
  mscw       one Multi-Scale C&W iteration: the same with L_ms(x, x + delta) instead of ||delta||^2
             (STFT magnitudes, n_fft 2048..64, hop n/4, centred reflect, periodic Hann; the clean
             clip's spectra are computed once, outside the timed loop)
  train      one training step: batch 16 of 1 x 100 x 116 random inputs, train mode (dropout on),
             cross-entropy, backward, Adam step (lr 1e-3)

    python3 bench/pytorch_bench.py [--threads N] [--repeat R] [--warmup W] [--model PATH] [--json]

Reports the median and minimum over R repeats, in ms per operation, and the median process CPU
time (all threads; at one thread the time the operation ran on a shared machine).
"""
import argparse
import json
import os
import statistics
import sys
import time

try:
    import numpy as np
    import torch
except ImportError:  # another python3 (e.g. a pyenv shim) came first on PATH: use Debian's
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise
import torch.nn.functional as F

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
import paper_model as pm  # noqa: E402

N_SAMPLES = 59200
MS_SIZES = (2048, 1024, 512, 256, 128, 64)


def stft_mag(x, n, windows):
    return torch.stft(x, n_fft=n, hop_length=n // 4, win_length=n, window=windows[n], center=True,
                      pad_mode="reflect", normalized=False, onesided=True, return_complex=True).abs()


def l_ms(clean_specs, x_adv, windows):
    loss = 0.0
    for n in MS_SIZES:
        s, s_log = clean_specs[n]
        a = stft_mag(x_adv, n, windows)
        loss = loss + (s - a).abs().mean() + (s_log - torch.log(a + 1e-7)).abs().mean()
    return loss


def sign_grad_(p):
    g = p.grad
    p.grad = torch.nan_to_num(torch.sign(g), nan=0.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--model", default=os.path.join(ROOT, "tests", "golden", "model.safetensors"))
    ap.add_argument("--only", default="", help="comma-separated subset of classify,grad,cw,mscw,train")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if os.path.exists(args.model):
        net, fe, _ = pm.load_model(args.model)
        model_desc = os.path.relpath(args.model, ROOT)
    else:
        net, fe = pm.PaperNet(), pm.FrontEnd()
        model_desc = "random (PyTorch default init)"
    net.eval()

    rng = np.random.default_rng(0)
    t = np.arange(N_SAMPLES) / 16000.0
    x = (0.2 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 1320 * t)
         + 0.01 * rng.standard_normal(N_SAMPLES))
    x = torch.from_numpy(x.astype(np.float32))
    label = torch.tensor([3])
    target = torch.tensor([0])
    alpha, eps = 0.1, 0.01

    def classify():
        with torch.no_grad():
            return net(fe(x)[None, None])

    def grad():
        w = x.clone().requires_grad_(True)
        loss = F.cross_entropy(net(fe(w)[None, None]), label)
        loss.backward()
        return w.grad

    delta = torch.zeros(N_SAMPLES, requires_grad=True)
    opt = torch.optim.Adam([delta], lr=1e-5)

    def cw():
        opt.zero_grad(set_to_none=True)
        logits = net(fe(x + delta)[None, None])
        loss = (delta ** 2).sum() + alpha * F.cross_entropy(logits, target)
        loss.backward()
        sign_grad_(delta)
        opt.step()
        with torch.no_grad():
            delta.clamp_(-eps, eps)
        return logits

    windows = {n: torch.hann_window(n) for n in MS_SIZES}
    with torch.no_grad():
        clean_specs = {}
        for n in MS_SIZES:
            s = stft_mag(x, n, windows)
            clean_specs[n] = (s, torch.log(s + 1e-7))
    delta_ms = torch.zeros(N_SAMPLES, requires_grad=True)
    opt_ms = torch.optim.Adam([delta_ms], lr=1e-5)

    def mscw():
        opt_ms.zero_grad(set_to_none=True)
        xa = x + delta_ms
        logits = net(fe(xa)[None, None])
        loss = l_ms(clean_specs, xa, windows) + alpha * F.cross_entropy(logits, target)
        loss.backward()
        sign_grad_(delta_ms)
        opt_ms.step()
        with torch.no_grad():
            delta_ms.clamp_(-eps, eps)
        return logits

    tnet = pm.PaperNet()
    tnet.load_state_dict(net.state_dict())
    tnet.train()
    topt = torch.optim.Adam(tnet.parameters(), lr=1e-3, betas=(0.9, 0.999))
    g = torch.Generator().manual_seed(1)
    xb = torch.randn(16, 1, 100, 116, generator=g)
    yb = torch.randint(0, 12, (16,), generator=g)

    def train():
        topt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(tnet(xb), yb)
        loss.backward()
        topt.step()
        return loss

    ops = {"classify": classify, "grad": grad, "cw": cw, "mscw": mscw, "train": train}
    if args.only:
        ops = {k: v for k, v in ops.items() if k in args.only.split(",")}
    results = {}
    for name, fn in ops.items():
        for _ in range(args.warmup):
            fn()
        times, cpu = [], []
        for _ in range(args.repeat):
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
            cpu.append((time.process_time() - c0) * 1e3)
        results[name] = {"median_ms": round(statistics.median(times), 3), "min_ms": round(min(times), 3),
                         "cpu_median_ms": round(statistics.median(cpu), 3)}

    info = {"implementation": "pytorch", "torch_version": torch.__version__,
            "threads": torch.get_num_threads(), "repeat": args.repeat, "warmup": args.warmup,
            "samples": N_SAMPLES, "frames": 1 + N_SAMPLES // 512, "model": model_desc,
            "results": results}
    if args.json:
        print(json.dumps(info))
    else:
        print(f"PyTorch {torch.__version__}, {info['threads']} thread(s), {N_SAMPLES} samples "
              f"({info['frames']} frames), median/min over {args.repeat} repeats")
        for name, r in results.items():
            print(f"  {name:9s} median {r['median_ms']:9.2f} ms   min {r['min_ms']:9.2f} ms")


if __name__ == "__main__":
    main()
