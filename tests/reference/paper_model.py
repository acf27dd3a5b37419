"""PyTorch reference of the paper's system (Prinz & Flexer, "End-to-end adversarial white box attacks
on music instrument classification", and its published PyTorch code):
torchaudio front end (16 kHz waveform -> normalised, circularly padded log-mel, band-major 100 x T')
and the CNN (state_dict names conv1..conv8, bn1..bn7).

Everything here works in float32 or float64 (call .double() on the modules and pass float64
tensors); make_golden.py uses float64 so the golden values are the exact maths.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchaudio

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
import resample_ref  # noqa: E402

SAMPLE_RATE = 16000
N_MELS = 100
MIN_FRAMES = 35
CLASSES = ("accordion,acoustic_guitar,bass_drum,bass_guitar,electric_guitar,female_singing,"
           "glockenspiel,gong,harmonica,hi-hat,male_singing,marimba_and_xylophone").split(",")
N_CLASSES = 12


class PaperNet(nn.Module):
    """conv -> ReLU -> BatchNorm blocks; avgpool 2x2, (2,3), (2,3); dropout 0.3/0.3/0.3/0.5;
    conv8 1x1 to 12; head = mean over frequency (dim 2) then max over time."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 64, 5, stride=2, padding=2)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = nn.Conv2d(64, 64, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(64)
        self.conv3 = nn.Conv2d(64, 128, 3, padding=1)
        self.bn3 = nn.BatchNorm2d(128)
        self.conv4 = nn.Conv2d(128, 128, 3, padding=1)
        self.bn4 = nn.BatchNorm2d(128)
        self.conv5 = nn.Conv2d(128, 256, 3, padding=1)
        self.bn5 = nn.BatchNorm2d(256)
        self.conv6 = nn.Conv2d(256, 256, 3, padding=1)
        self.bn6 = nn.BatchNorm2d(256)
        self.conv7 = nn.Conv2d(256, 512, 1)
        self.bn7 = nn.BatchNorm2d(512)
        self.conv8 = nn.Conv2d(512, 12, 1)
        self.dropout_p = (0.3, 0.3, 0.3, 0.5)
        self.dropout_enabled = True

    def _drop(self, x, i):
        return F.dropout(x, self.dropout_p[i], training=self.training and self.dropout_enabled)

    def forward(self, x):
        """x: [N, 1, 100, T] (T >= 35) -> logits [N, 12]."""
        x = self.bn1(F.relu(self.conv1(x)))
        x = self.bn2(F.relu(self.conv2(x)))
        x = self._drop(F.avg_pool2d(x, (2, 2)), 0)
        x = self.bn3(F.relu(self.conv3(x)))
        x = self.bn4(F.relu(self.conv4(x)))
        x = self._drop(F.avg_pool2d(x, (2, 3)), 1)
        x = self.bn5(F.relu(self.conv5(x)))
        x = self.bn6(F.relu(self.conv6(x)))
        x = self._drop(F.avg_pool2d(x, (2, 3)), 2)
        x = self._drop(self.bn7(F.relu(self.conv7(x))), 3)
        x = self.conv8(x)                    # [N, 12, F'', T'']
        return x.mean(dim=2).max(dim=2).values


def circular_pad(x, min_frames=MIN_FRAMES):
    """Pads the last (time) axis circularly to at least min_frames as the paper's code does:
    pre = pad // 2 and post = pad - pre are fixed once; then, while pre + post > 0, the current
    array (length T) gets min(pre, T) of its last columns before and min(post, T) of its first
    columns after (F.pad(x, [a, b], mode="circular")), which are taken off pre and post."""
    pad = min_frames - x.shape[-1]
    if pad <= 0:
        return x
    pre, post = pad // 2, pad - pad // 2
    while pre + post > 0:
        T = x.shape[-1]
        a, b = min(pre, T), min(post, T)
        x = torch.cat([x[..., T - a:], x, x[..., :b]], dim=-1)
        pre -= a
        post -= b
    return x


class FrontEnd(nn.Module):
    """16 kHz waveform [n] -> (mel_db [100, T] after the top-80 floor, net_input [100, T'])."""

    def __init__(self, mean=None, std=None):
        super().__init__()
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=16000, n_fft=2048, win_length=2048, hop_length=512, f_min=40.0,
            f_max=8000.0, n_mels=100, power=2.0, norm=None, mel_scale="htk", center=True,
            pad_mode="reflect")
        self.to_db = torchaudio.transforms.AmplitudeToDB("power", top_db=80)
        self.register_buffer("mean", torch.zeros(N_MELS) if mean is None else torch.as_tensor(mean).clone())
        self.register_buffer("std", torch.ones(N_MELS) if std is None else torch.as_tensor(std).clone())

    def forward(self, wave, return_db=False):
        # wave: [n] or [B, n]; the top_db maximum is taken per clip.
        db = self.to_db(self.mel(wave))                    # [..., 100, T]
        x = (db - self.mean[:, None]) / self.std[:, None]
        x = circular_pad(x)
        return (db, x) if return_db else x


class System(nn.Module):
    """Waveform at any rate [channels, n] -> logits [12]: mono mix, resample to 16 kHz (spec),
    front end, network."""

    def __init__(self, net, frontend):
        super().__init__()
        self.net = net
        self.frontend = frontend

    def forward(self, wave, rate=SAMPLE_RATE):
        mono = wave.mean(dim=0)
        w16 = mono if rate == SAMPLE_RATE else resample_ref.resample(mono, rate, SAMPLE_RATE)
        x = self.frontend(w16)
        return self.net(x[None, None])[0]


def load_model(path):
    """Reads a model in the project's safetensors format -> (PaperNet, FrontEnd, metadata)."""
    tensors, meta = st.load(path)
    net = PaperNet()
    sd = {k: torch.from_numpy(v) for k, v in tensors.items() if not k.startswith("frontend.")}
    net.load_state_dict(sd, strict=True)
    fe = FrontEnd(torch.from_numpy(tensors["frontend.mean"]), torch.from_numpy(tensors["frontend.std"]))
    return net, fe, meta


def save_model(path, net, fe_mean, fe_std, metadata):
    tensors = {}
    for k, v in net.state_dict().items():
        tensors[k] = v.detach().to(torch.int64 if k.endswith("num_batches_tracked") else torch.float32)
    tensors["frontend.mean"] = torch.as_tensor(fe_mean, dtype=torch.float32)
    tensors["frontend.std"] = torch.as_tensor(fe_std, dtype=torch.float32)
    st.save(path, tensors, metadata)


def n_params(net):
    return sum(p.numel() for p in net.parameters())


def make_frontend(mean=None, std=None, dtype=torch.float32):
    """A FrontEnd whose window and mel filter bank are computed directly in `dtype`
    (float64: no float32 rounding of the Hann window or the filters)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        fe = FrontEnd(mean, std)
    finally:
        torch.set_default_dtype(old)
    return fe.to(dtype)
