#!/usr/bin/env python3
"""Convert a PyTorch checkpoint of the paper's CNN into an advinst model (safetensors).

    convert_pytorch_checkpoint.py CHECKPOINT.pt OUT.safetensors --mean MEAN --std STD
                                  [--classes a,b,...] [--meta key=value ...]

CHECKPOINT: a state_dict, a dict holding one under 'state_dict' / 'model_state_dict' / 'model',
or a pickled nn.Module ('module.' prefixes from DataParallel are stripped).
MEAN, STD: the 100 per-mel-band normalisation values (.npy, .npz with one array, .pt, or text).
They may be omitted if the state_dict already holds 'frontend.mean' / 'frontend.std'.
Needs torch and numpy only (the safetensors writer is a few lines of struct + json).
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

CLASSES = ["accordion", "acoustic_guitar", "bass_drum", "bass_guitar", "electric_guitar", "female_singing",
           "glockenspiel", "gong", "harmonica", "hi-hat", "male_singing", "marimba_and_xylophone"]
# (cin, cout, k) of conv1..conv8; bn i (i <= 7) has cout of conv i channels.
CONVS = [(1, 64, 5), (64, 64, 3), (64, 128, 3), (128, 128, 3), (128, 256, 3), (256, 256, 3), (256, 512, 1),
         (512, 12, 1)]
N_MELS = 100


def expected_tensors():
    """[(name, numpy dtype, shape)] in state_dict order."""
    out = []
    for i, (cin, cout, k) in enumerate(CONVS, 1):
        out.append((f"conv{i}.weight", np.float32, (cout, cin, k, k)))
        out.append((f"conv{i}.bias", np.float32, (cout,)))
        if i <= 7:
            for p in ("weight", "bias", "running_mean", "running_var"):
                out.append((f"bn{i}.{p}", np.float32, (cout,)))
            out.append((f"bn{i}.num_batches_tracked", np.int64, ()))
    out.append(("frontend.mean", np.float32, (N_MELS,)))
    out.append(("frontend.std", np.float32, (N_MELS,)))
    return out


def load_state_dict(path):
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except TypeError:  # torch < 1.13 has no weights_only
        obj = torch.load(path, map_location="cpu")
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            inner = obj.get(key)
            if isinstance(inner, torch.nn.Module):
                inner = inner.state_dict()
            if isinstance(inner, dict):
                obj = inner
                break
    if not isinstance(obj, dict):
        sys.exit(f"{path}: no state_dict found (got {type(obj).__name__})")
    sd = {}
    for k, v in obj.items():
        if k.startswith("module."):
            k = k[len("module."):]
        sd[k] = v.detach().cpu().numpy() if torch.is_tensor(v) else np.asarray(v)
    return sd


def load_array(path):
    if path.endswith(".npy"):
        a = np.load(path)
    elif path.endswith(".npz"):
        z = np.load(path)
        if len(z.files) != 1:
            sys.exit(f"{path}: expected one array, found {z.files}")
        a = z[z.files[0]]
    elif path.endswith((".pt", ".pth")):
        a = torch.load(path, map_location="cpu")
        a = a.detach().cpu().numpy() if torch.is_tensor(a) else np.asarray(a)
    else:
        a = np.loadtxt(path)
    return np.asarray(a, dtype=np.float64).reshape(-1)


def write_safetensors(path, tensors, metadata):
    """tensors: [(name, array)] written in order; metadata: {str: str}."""
    dtypes = {np.dtype(np.float32): ("F32", "<f4"), np.dtype(np.float64): ("F64", "<f8"),
              np.dtype(np.int32): ("I32", "<i4"), np.dtype(np.int64): ("I64", "<i8")}
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, a in tensors:
        tag, le = dtypes[a.dtype]
        blob = np.ascontiguousarray(a, dtype=le).tobytes()
        header[name] = {"dtype": tag, "shape": list(a.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("checkpoint")
    ap.add_argument("output")
    ap.add_argument("--mean", help="per-band mean (100 values)")
    ap.add_argument("--std", help="per-band standard deviation (100 values)")
    ap.add_argument("--classes", default=",".join(CLASSES), help="12 comma-separated names in index order")
    ap.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE", help="extra metadata")
    args = ap.parse_args()

    sd = load_state_dict(args.checkpoint)
    for key, opt in (("frontend.mean", args.mean), ("frontend.std", args.std)):
        if opt:
            sd[key] = load_array(opt)
        elif key not in sd:
            sys.exit(f"--{key.split('.')[1]} is required (the checkpoint has no '{key}')")

    expected = expected_tensors()
    names = {n for n, _, _ in expected}
    missing = [n for n in names if n not in sd]
    extra = [k for k in sd if k not in names]
    if missing:
        sys.exit(f"{args.checkpoint}: missing tensors: {', '.join(sorted(missing))}")
    if extra:
        sys.exit(f"{args.checkpoint}: unexpected tensors (not the paper's model?): {', '.join(sorted(extra))}")

    tensors = []
    for name, dtype, shape in expected:
        a = np.asarray(sd[name])
        if name.endswith("num_batches_tracked"):
            a = a.reshape(())
        if a.shape != shape:
            sys.exit(f"{name}: shape {a.shape}, expected {shape}")
        a = a.astype(dtype)
        if dtype == np.float32 and not np.all(np.isfinite(a)):
            sys.exit(f"{name}: non-finite values")
        tensors.append((name, a))
    if np.any(sd["frontend.std"] <= 0):
        sys.exit("frontend.std: values must be > 0")

    classes = [c.strip() for c in args.classes.split(",")]
    if len(classes) != 12 or not all(classes):
        sys.exit("--classes needs 12 non-empty names")
    metadata = {"classes": ",".join(classes), "sample_rate": "16000",
                "source": os.path.basename(args.checkpoint)}
    for kv in args.meta:
        key, sep, value = kv.partition("=")
        if not sep or not key or key in ("classes", "sample_rate"):
            sys.exit(f"--meta {kv!r}: expected KEY=VALUE with a free-form key")
        metadata[key] = value
    write_safetensors(args.output, tensors, metadata)
    print(f"wrote {args.output}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()
