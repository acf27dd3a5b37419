"""Minimal safetensors reader/writer (no third-party package needed).

File layout: 8-byte little-endian u64 header length N, N bytes of JSON header
({"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}),
padded with spaces to a multiple of 8, then the raw little-endian data block
(offsets are relative to the start of the data block).

Tensors are numpy arrays (or torch tensors, converted on write); F32, F64, I64, I32 supported.
"""
import json
import os
import struct

import numpy as np

_DTYPES = {
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
}
_NAMES = {v: k for k, v in _DTYPES.items()}


def _to_numpy(value):
    if hasattr(value, "detach"):  # torch tensor
        value = value.detach().cpu().numpy()
    arr = np.asarray(value)
    dt = arr.dtype.newbyteorder("<")
    if dt not in _NAMES:
        raise ValueError(f"unsupported dtype {arr.dtype}")
    # (np.ascontiguousarray would turn a 0-d array into shape [1])
    return np.array(arr, dtype=dt, order="C", copy=True)


def save(path, tensors, metadata=None):
    """tensors: dict name -> array (order kept); metadata: dict str -> str. Writes atomically."""
    header = {}
    chunks = []
    offset = 0
    for name, value in tensors.items():
        arr = _to_numpy(value)
        raw = arr.tobytes(order="C")
        header[name] = {
            "dtype": _NAMES[arr.dtype],
            "shape": [int(s) for s in arr.shape],
            "data_offsets": [offset, offset + len(raw)],
        }
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise ValueError("metadata must map str to str")
        header["__metadata__"] = dict(metadata)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((-len(hjson)) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for c in chunks:
            f.write(c)
    os.replace(tmp, path)


def load(path):
    """Returns (tensors: dict name -> numpy array, metadata: dict)."""
    with open(path, "rb") as f:
        image = f.read()
    return parse(image)


def parse(image):
    if len(image) < 8:
        raise ValueError("file shorter than 8 bytes")
    (n,) = struct.unpack("<Q", image[:8])
    if 8 + n > len(image):
        raise ValueError("header length beyond end of file")
    header = json.loads(image[8:8 + n].decode("utf-8"))
    data = memoryview(image)[8 + n:]
    metadata = header.pop("__metadata__", {}) or {}
    tensors = {}
    spans = []
    for name, info in header.items():
        dt = _DTYPES[info["dtype"]]
        shape = tuple(int(s) for s in info["shape"])
        b, e = info["data_offsets"]
        count = int(np.prod(shape)) if shape else 1
        if e - b != count * dt.itemsize or b < 0 or e > len(data):
            raise ValueError(f"{name}: bad data_offsets {b},{e} for shape {shape}")
        spans.append((b, e, name))
        tensors[name] = np.frombuffer(data[b:e], dtype=dt).reshape(shape).copy()
    spans.sort()
    for (b0, e0, n0), (b1, e1, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise ValueError(f"overlapping tensors {n0} and {n1}")
    return tensors, metadata
