#!/usr/bin/python3
"""Self-checks of the reference and the golden files (run after make_golden.py):

- every golden file reads back with st.py, with the expected names, dtypes and shapes;
- the torchaudio front end equals an independent numpy implementation of the paper's front end
  (reflect-padded STFT, periodic Hann, HTK mel bank built from the stated formula, dB, top-80 floor);
- the circular padding matches the documented algorithm's source columns;
- the golden gradients agree with central finite differences (float64) along random directions;
- the short case really exercises the 1e-10 clamp and the top_db floor, and the maxima are unique;
- the same pipeline in float32 agrees with the (float64) golden values within the tolerances the
  C tests use (logits 1e-4 relative, gradient cosine > 0.999): a float32 implementation can pass.
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
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import st  # noqa: E402
import paper_model as pm  # noqa: E402
import resample_ref  # noqa: E402
import make_golden as mg  # noqa: E402

GOLDEN = mg.GOLDEN
F64 = torch.float64


def cos(a, b):
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-300))


def numpy_frontend(w, mean, std):
    """Independent front end as the paper describes it (STFT, HTK mel, dB, top_db 80), float64 numpy."""
    n = len(w)
    xp = np.concatenate([w[1:1025][::-1], w, w[n - 1025:n - 1][::-1]])
    T = 1 + n // 512
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(2048) / 2048)
    frames = np.stack([xp[t * 512: t * 512 + 2048] * win for t in range(T)])
    S = np.abs(np.fft.rfft(frames, axis=1)) ** 2                      # [T, 1025]
    mel = lambda f: 2595 * np.log10(1 + f / 700)                      # noqa: E731
    imel = lambda m: 700 * (10 ** (m / 2595) - 1)                     # noqa: E731
    p = imel(np.linspace(mel(40.0), mel(8000.0), 102))
    fk = np.arange(1025) * 8000.0 / 1024
    fb = np.zeros((1025, 100))
    for m in range(100):
        fb[:, m] = np.maximum(0, np.minimum((fk - p[m]) / (p[m + 1] - p[m]),
                                            (p[m + 2] - fk) / (p[m + 2] - p[m + 1])))
    M = (S @ fb).T                                                    # [100, T]
    db = 10 * np.log10(np.maximum(M, 1e-10))
    db = np.maximum(db, db.max() - 80)
    x = (db - mean[:, None]) / std[:, None]
    return M, db, x


def circ_index(T, Tp):
    """The paper's circular_pad as its code does it, with F.pad(mode="circular") on the column
    indices: the split pre = pad // 2, post = pad - pre fixed once, then rounds of at most the
    current length on each side."""
    idx = torch.arange(T, dtype=F64)[None, None]
    pre = max(Tp - T, 0) // 2
    post = max(Tp - T, 0) - pre
    while pre + post > 0:
        cur = idx.shape[-1]
        a, b = min(pre, cur), min(post, cur)
        idx = F.pad(idx, [a, b], mode="circular")
        pre -= a
        post -= b
    return [int(i) for i in idx[0, 0]]


def main():
    torch.set_num_threads(1)
    ok = True

    def check(cond, msg):
        nonlocal ok
        print(("ok   " if cond else "FAIL ") + msg)
        ok &= bool(cond)

    model, meta = st.load(os.path.join(GOLDEN, "model.safetensors"))
    check(len(model) == 8 * 2 + 7 * 5 + 2 and model["bn3.num_batches_tracked"].dtype == np.int64
          and model["bn3.num_batches_tracked"].shape == () and model["frontend.std"].shape == (100,)
          and meta["classes"].split(",") == pm.CLASSES and meta["sample_rate"] == "16000",
          "model.safetensors names/dtypes/metadata")
    net32, fe32, _ = pm.load_model(os.path.join(GOLDEN, "model.safetensors"))
    net32.eval()
    net64 = pm.load_model(os.path.join(GOLDEN, "model.safetensors"))[0].double().eval()
    mean = model["frontend.mean"].astype(np.float64)
    std = model["frontend.std"].astype(np.float64)
    fe64 = pm.make_frontend(torch.from_numpy(mean), torch.from_numpy(std), dtype=F64)
    fe32 = pm.make_frontend(torch.from_numpy(model["frontend.mean"]), torch.from_numpy(model["frontend.std"]))

    signals = mg.case_signals()
    names = ["wave", "wave16k", "mel_db", "net_input", "logits", "target", "loss", "grad_wave",
             "grad_wave16k", "grad_net_input"]
    for name, (wave32, rate, target, _) in signals.items():
        g, gm = st.load(os.path.join(GOLDEN, f"case_{name}.safetensors"))
        C, n = wave32.shape
        n16 = n if rate == 16000 else resample_ref.n_out_for(n, rate, 16000)
        T = 1 + n16 // 512
        Tp = max(T, 35)
        shapes = {"wave": (C, n), "wave16k": (n16,), "mel_db": (100, T), "net_input": (100, Tp),
                  "logits": (12,), "target": (), "loss": (), "grad_wave": (C, n),
                  "grad_wave16k": (n16,), "grad_net_input": (100, Tp)}
        check(sorted(g) == sorted(names) and all(g[k].shape == shapes[k] for k in names)
              and g["target"].dtype == np.int64 and int(g["target"]) == target
              and gm["rate"] == str(rate) and np.array_equal(g["wave"], wave32),
              f"{name}: names, shapes, dtypes, metadata")

        # independent front end
        w16 = g["wave16k"].astype(np.float64)
        if rate != 16000:
            w16_ref = resample_ref.resample_loop(wave32.astype(np.float64).mean(0), rate, 16000)
            check(np.max(np.abs(w16_ref - w16)) < 1e-6, f"{name}: wave16k = loop resampler of the mono mix")
        M, db, x = numpy_frontend(w16, mean, std)
        err_db = np.max(np.abs(db - g["mel_db"]))
        xi = x[:, circ_index(T, Tp)]
        err_x = np.max(np.abs(xi - g["net_input"]))
        check(err_db < 1e-3 and err_x < 1e-4, f"{name}: numpy front end: max |d dB| {err_db:.2e}, "
              f"max |d net_input| {err_x:.2e}")
        floor = db.max() - 80
        raised = int((10 * np.log10(np.maximum(M, 1e-10)) < floor).sum())
        clamped = int((M < 1e-10).sum())
        top2 = np.sort(db.ravel())[-2:]
        check(top2[1] - top2[0] > 1e-6, f"{name}: unique maximum (gap {top2[1] - top2[0]:.3g} dB); "
              f"{raised} values raised to the floor, {clamped} below 1e-10")
        if name == "short":
            check(raised > clamped > 0, "short: clamp and top_db floor both act")

        # finite differences along random directions (float64 through the whole system)
        sysm = pm.System(net64, fe64)
        w0 = torch.from_numpy(wave32).to(F64)
        tgt = torch.tensor([target])
        lossf = lambda w: F.cross_entropy(sysm(w, rate)[None], tgt)  # noqa: E731
        gw = g["grad_wave"].astype(np.float64)
        rng = np.random.default_rng(1)
        for trial in range(2):
            d = rng.standard_normal(wave32.shape)
            d /= np.linalg.norm(d)
            h = 1e-6
            with torch.no_grad():
                fd = (float(lossf(w0 + h * torch.from_numpy(d))) - float(lossf(w0 - h * torch.from_numpy(d)))) / (2 * h)
            an = float((gw * d).sum())
            check(abs(fd - an) <= 1e-5 * abs(an) + 1e-7,
                  f"{name}: directional derivative fd {fd:.6e} vs grad {an:.6e}")

        # float32 pipeline against the golden (what a float32 C implementation can reach)
        wv = torch.from_numpy(wave32).requires_grad_(True)
        mono = wv.mean(0)
        w16t = mono if rate == 16000 else resample_ref.resample(mono, rate, 16000)
        w16t.retain_grad()
        xx = fe32(w16t)
        xx.retain_grad()
        lg = net32(xx[None, None])[0]
        F.cross_entropy(lg[None], tgt).backward()
        rel = float(np.max(np.abs(lg.detach().numpy() - g["logits"])) / np.max(np.abs(g["logits"])))
        c1 = cos(wv.grad.numpy(), g["grad_wave"])
        c2 = cos(xx.grad.numpy(), g["grad_net_input"])
        c3 = cos(w16t.grad.numpy(), g["grad_wave16k"])
        check(rel < 1e-4 and min(c1, c2, c3) > 0.999,
              f"{name}: float32 torch vs golden: logits rel {rel:.2e}, cos grad_wave {c1:.7f}, "
              f"grad_wave16k {c3:.7f}, grad_net_input {c2:.7f}")

    # train batch: float32 torch vs golden
    tb, _ = st.load(os.path.join(GOLDEN, "train_batch.safetensors"))
    net = pm.load_model(os.path.join(GOLDEN, "model.safetensors"))[0].train()
    net.dropout_enabled = False
    x = torch.from_numpy(tb["x"]).requires_grad_(True)
    lg = net(x)
    loss = F.cross_entropy(lg, torch.from_numpy(tb["labels"]))
    loss.backward()
    rel = float(np.max(np.abs(lg.detach().numpy() - tb["logits"])) / np.max(np.abs(tb["logits"])))
    worst = min(cos(net.get_parameter(k[5:]).grad.numpy(), tb[k]) for k in tb if k.startswith("grad."))
    worst = min(worst, cos(x.grad.numpy(), tb["grad_x"]))
    run = max(float(np.max(np.abs(net.get_buffer(k[6:]).numpy() - tb[k]) / (np.abs(tb[k]) + 1e-3)))
              for k in tb if k.startswith("after."))
    check(rel < 1e-4 and worst > 0.999 and run < 1e-4 and tb["labels"].tolist() == [4, 9],
          f"train_batch: float32 vs golden: logits rel {rel:.2e}, worst grad cos {worst:.7f}, "
          f"running stats rel {run:.2e}")

    total = sum(os.path.getsize(os.path.join(GOLDEN, f)) for f in os.listdir(GOLDEN))
    print(f"golden total {total} bytes")
    print("ALL OK" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
