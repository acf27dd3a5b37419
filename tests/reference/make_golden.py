#!/usr/bin/python3
"""Regenerates every golden file in tests/golden/ (deterministic; single-threaded).

    python3 tests/reference/make_golden.py        (Debian's python3 with python3-torch)

Writes model.safetensors (a fixed random model), case_<name>.safetensors (waveform -> logits and
gradients through resampler, front end and network, eval mode) and train_batch.safetensors
(network alone, training-mode BatchNorm, dropout off). All maths in float64; stored as float32.
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

GOLDEN = os.path.normpath(os.path.join(HERE, "..", "golden"))
F64 = torch.float64


# ---------------------------------------------------------------- test signals
def harmonic_tone(t, f0, n_harm, vib_rate, vib_depth, onset, decay, bright, phase0):
    """A harmonic tone with sinusoidal vibrato (relative depth) and an attack/exp-decay envelope."""
    # instantaneous frequency f0 (1 + d sin(2 pi r t)); phase = 2 pi * integral
    if vib_depth > 0:
        integ = f0 * t - f0 * vib_depth / (2 * math.pi * vib_rate) * (np.cos(2 * math.pi * vib_rate * t) - 1)
    else:
        integ = f0 * t
    s = np.zeros_like(t)
    for h in range(1, n_harm + 1):
        if f0 * h * (1 + vib_depth) >= 7800:
            break
        s += (bright ** (h - 1)) / h * np.sin(2 * math.pi * h * integ + phase0 * h)
    tt = t - onset
    env = np.where(tt < 0, 0.0, np.minimum(tt / 0.01, 1.0) * np.exp(-np.maximum(tt, 0) / decay))
    return s * env


def make_signal(n, rate, rng, n_tones=3, amp=0.3, noise=0.004):
    t = np.arange(n, dtype=np.float64) / rate
    dur = n / rate
    s = np.zeros(n)
    for _ in range(n_tones):
        s += rng.uniform(0.4, 1.0) * harmonic_tone(
            t, f0=110.0 * 2 ** rng.uniform(0, 4), n_harm=int(rng.integers(3, 12)),
            vib_rate=rng.uniform(4, 7), vib_depth=rng.uniform(0, 0.01),
            onset=rng.uniform(0, 0.4 * dur), decay=rng.uniform(0.2, 1.5),
            bright=rng.uniform(0.5, 0.9), phase0=rng.uniform(0, 2 * math.pi))
    s *= amp / np.max(np.abs(s))
    s += noise * rng.standard_normal(n)
    return s


def case_signals():
    """name -> (wave float32 [channels, n], rate, target, description)."""
    cases = {}
    rng = np.random.default_rng(101)
    s = make_signal(16000, 16000, rng, noise=2e-5)   # quiet noise: the floor also raises non-silent values
    mid = 8000
    s[mid - 2400: mid + 2400] = 0.0          # 0.3 s of exact digital silence
    cases["short"] = (s[None], 16000, 3, "16 kHz mono, 1 s, middle 0.3 s exact silence "
                                         "(1e-10 clamp and top_db floor act; quiet noise so the floor also raises values above 1e-10)")
    rng = np.random.default_rng(202)
    cases["odd"] = (make_signal(37013, 16000, rng, n_tones=4)[None], 16000, 7,
                    "16 kHz mono, 37013 samples (odd length)")
    rng = np.random.default_rng(303)
    cases["tiny"] = (make_signal(5000, 16000, rng, n_tones=2)[None], 16000, 0,
                     "16 kHz mono, 5000 samples = 10 frames (circular padding to 35)")
    # circular padding where the paper's fixed split differs from re-splitting each round
    rng = np.random.default_rng(313)
    cases["pad12"] = (make_signal(5800, 16000, rng, n_tones=2)[None], 16000, 2,
                      "16 kHz mono, 5800 samples = 12 frames (circular padding 11 + 12 in one round)")
    rng = np.random.default_rng(323)
    cases["pad15"] = (make_signal(7400, 16000, rng, n_tones=3)[None], 16000, 9,
                      "16 kHz mono, 7400 samples = 15 frames (circular padding 10 + 10 in one round)")
    rng = np.random.default_rng(404)
    left = make_signal(35280, 44100, rng, n_tones=3)
    right = 0.6 * left + 0.4 * make_signal(35280, 44100, rng, n_tones=2)
    cases["stereo441"] = (np.stack([left, right]), 44100, 11,
                          "44.1 kHz stereo, 35280 frames, different channels (mono mix + resampler)")
    rng = np.random.default_rng(505)
    cases["clip116"] = (make_signal(59200, 16000, rng, n_tones=4)[None], 16000, 5,
                        "16 kHz mono, 59200 samples = 116 frames (the benchmark size)")
    return {k: (w.astype(np.float32), r, tg, d) for k, (w, r, tg, d) in cases.items()}


# ---------------------------------------------------------------- model
def calibration_inputs():
    """Normalised log-mels of a few extra seeded signals (not the test cases), float32."""
    rng = np.random.default_rng(7)
    waves = [make_signal(59200, 16000, rng, n_tones=int(rng.integers(1, 5))) for _ in range(8)]
    waves[1][20000:30000] = 0.0                             # some digital silence
    waves[2] = 0.05 * rng.standard_normal(59200)            # plain noise
    return torch.from_numpy(np.stack(waves).astype(np.float32))


def make_model():
    """PyTorch default init for the convolutions; BatchNorm made non-trivial. A literal
    running_mean ~ U(-0.2, 0.2), running_var ~ U(0.5, 2) leaves the activations unnormalised, so
    the input-dependent part of the signal shrinks layer by layer and every clip gets nearly the
    same logits. Instead each BN's running statistics are calibrated (in order) on a few extra
    signals and then perturbed: running_mean = mean + U(-0.2, 0.2) * sd, running_var =
    var * U(0.5, 2.0); weight ~ U(0.5, 1.5), bias ~ U(-0.2, 0.2); conv8 weights x 5."""
    torch.manual_seed(1234)
    net = pm.PaperNet()
    g = torch.Generator().manual_seed(5678)

    def U(shape, lo, hi):
        return lo + (hi - lo) * torch.rand(shape, generator=g)
    fe_mean = U(100, -70.0, -30.0)
    fe_std = U(100, 8.0, 20.0)
    # calibrated in float64, so that the stored float32 statistics do not depend on the CPU's
    # float32 kernels (a rerun on another machine gives the same bytes)
    fe = pm.make_frontend(fe_mean.to(F64), fe_std.to(F64), dtype=F64)
    with torch.no_grad():
        x = fe(calibration_inputs().to(F64))[:, None]  # [8, 1, 100, 116]
        net.double().eval()
        for i in range(1, 8):
            bn = getattr(net, f"bn{i}")
            c = bn.num_features
            bn.weight.copy_(U(c, 0.5, 1.5))
            bn.bias.copy_(U(c, -0.2, 0.2))
            seen = {}
            h = bn.register_forward_hook(lambda m, inp, out: seen.setdefault("x", inp[0]))
            net(x)
            h.remove()
            a = seen["x"].double()
            mean = a.mean(dim=(0, 2, 3))
            var = a.var(dim=(0, 2, 3), unbiased=False)
            var = var.clamp_min(0.1 * float(var.mean()))      # channels (nearly) dead in calibration
            bn.running_mean.copy_(mean + U(c, -0.2, 0.2).double() * var.sqrt())
            bn.running_var.copy_(var * U(c, 0.5, 2.0).double())
        net.float()
        net.conv8.weight.mul_(5.0)
    return net, fe_mean, fe_std


def f32(t):
    return t.detach().to(torch.float32).contiguous()


def run_case(net64, fe64, wave32, rate, target):
    wave = torch.from_numpy(wave32).to(F64).requires_grad_(True)
    mono = wave.mean(dim=0)
    if rate == pm.SAMPLE_RATE:
        w16 = mono
    else:
        w16 = resample_ref.resample(mono, rate, pm.SAMPLE_RATE)
    w16.retain_grad()
    db, x = fe64(w16, return_db=True)
    x.retain_grad()
    logits = net64(x[None, None])[0]
    tgt = torch.tensor(target, dtype=torch.int64)
    loss = F.cross_entropy(logits[None], tgt[None])
    loss.backward()
    return {
        "wave": torch.from_numpy(wave32),
        "wave16k": f32(w16),
        "mel_db": f32(db),
        "net_input": f32(x),
        "logits": f32(logits),
        "target": tgt,
        "loss": f32(loss),
        "grad_wave": f32(wave.grad),
        "grad_wave16k": f32(w16.grad),
        "grad_net_input": f32(x.grad),
    }


def train_batch(net32):
    net = pm.PaperNet()
    net.load_state_dict(net32.state_dict())
    net = net.double()
    net.train()
    net.dropout_enabled = False
    torch.manual_seed(999)
    x32 = torch.randn(2, 1, 100, 40)
    x = x32.to(F64).requires_grad_(True)
    labels = torch.tensor([4, 9], dtype=torch.int64)
    logits = net(x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    out = {"x": x32, "labels": labels, "logits": f32(logits), "loss": f32(loss), "grad_x": f32(x.grad)}
    for name in ["conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "conv4.weight",
                 "bn7.weight", "conv8.weight", "conv8.bias"]:
        out["grad." + name] = f32(net.get_parameter(name).grad)
    for name in ["bn1.running_mean", "bn1.running_var", "bn7.running_mean", "bn7.running_var"]:
        out["after." + name] = f32(net.get_buffer(name))
    return out


def main():
    torch.set_num_threads(1)
    os.makedirs(GOLDEN, exist_ok=True)
    written = []

    net32, fe_mean, fe_std = make_model()
    model_path = os.path.join(GOLDEN, "model.safetensors")
    pm.save_model(model_path, net32, fe_mean, fe_std, {
        "classes": ",".join(pm.CLASSES), "sample_rate": "16000",
        "description": "random model for golden tests"})
    written.append(model_path)

    # reload from the file so the golden values use exactly the stored float32 parameters
    net_file, fe_file, _ = pm.load_model(model_path)
    net64 = net_file.double().eval()
    fe64 = pm.make_frontend(fe_file.mean.to(F64), fe_file.std.to(F64), dtype=F64)

    summary = []
    for name, (wave32, rate, target, desc) in case_signals().items():
        out = run_case(net64, fe64, wave32, rate, target)
        path = os.path.join(GOLDEN, f"case_{name}.safetensors")
        st.save(path, out, {"rate": str(rate), "description": desc})
        written.append(path)
        lg = out["logits"].numpy()
        summary.append((name, rate, tuple(out["wave"].shape), tuple(out["net_input"].shape),
                        int(np.argmax(lg)), float(out["loss"]), lg))

    path = os.path.join(GOLDEN, "train_batch.safetensors")
    tb = train_batch(net_file)
    st.save(path, tb, {"description": "network alone, training-mode BatchNorm, dropout off, "
                                      "mean cross-entropy; model from model.safetensors"})
    written.append(path)

    total = 0
    for p in written:
        sz = os.path.getsize(p)
        total += sz
        print(f"wrote {os.path.relpath(p, os.path.join(GOLDEN, '..', '..'))}  {sz} bytes")
    print(f"total {total} bytes ({total / 1e6:.2f} MB)")
    np.set_printoptions(precision=5, suppress=True, linewidth=200)
    for name, rate, wshape, xshape, pred, loss, lg in summary:
        print(f"case {name}: rate {rate} wave {wshape} net_input {xshape} pred {pred} loss {loss:.6f}")
        print(f"  logits {lg}")
    print(f"train_batch: loss {float(tb['loss']):.6f} logits {tb['logits'].numpy()}")


if __name__ == "__main__":
    main()
