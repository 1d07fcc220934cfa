"""Read a legacy (pre-zip) ``torch.save`` file into numpy arrays, without PyTorch.

The legacy format is five pickles in a row — magic number, protocol version, system info, the saved
object (whose tensors point at storages through pickle "persistent ids"), the list of storage keys —
followed, for each key in that order, by an 8-byte little-endian element count and the storage's raw
little-endian bytes. Only what a state dict of plain tensors needs is understood; anything else is a
clear error rather than a silently wrong array.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from pathlib import Path
from typing import NamedTuple

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {
    "DoubleStorage": np.float64,
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType(NamedTuple):
    name: str


class _TensorRef(NamedTuple):
    """A tensor as pickled: a view (offset, shape, strides in elements) into a storage."""

    key: str
    offset: int
    shape: tuple
    strides: tuple


class _Storage(NamedTuple):
    key: str
    dtype: np.dtype
    numel: int


def _rebuild_tensor(storage, offset, shape, strides, *_ignored):
    return _TensorRef(storage.key, int(offset), tuple(shape), tuple(strides))


class _Unpickler(pickle.Unpickler):
    """Resolves torch's globals to inert stand-ins and records the storages tensors point at."""

    def __init__(self, file):
        super().__init__(file)
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(
            f"unsupported object in the torch file: {module}.{name} (only state dicts of plain tensors are read)"
        )

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r} in the torch file")
        _, storage_type, key, _location, numel, view = pid
        if view is not None:
            raise pickle.UnpicklingError("storage views (pre-2018 torch files) are not supported")
        storage = _Storage(str(key), np.dtype(_STORAGE_DTYPES[storage_type.name]).newbyteorder("<"), int(numel))
        self.storages[storage.key] = storage
        return storage


def read_state_dict(path) -> OrderedDict[str, np.ndarray]:
    """The tensors of a legacy ``torch.save`` state dict, by name, as numpy arrays (copies)."""
    path = Path(path)
    with path.open("rb") as f:
        header = [pickle.load(f) for _ in range(3)]  # plain pickles: nothing of torch's in them
        if header[0] != LEGACY_MAGIC:
            raise ValueError(
                f"{path} is not a legacy torch.save file (wrong magic number); zip-format files need a different reader"
            )
        if not header[2].get("little_endian", False):
            raise ValueError(f"{path} was written on a big-endian machine; not supported")
        unpickler = _Unpickler(f)
        state = unpickler.load()
        keys = pickle.load(f)
        buffers = {}
        for key in keys:
            storage = unpickler.storages[str(key)]
            count = int(np.frombuffer(f.read(8), "<i8")[0])
            if count != storage.numel:
                raise ValueError(
                    f"{path}: storage {key} holds {count} values, its header says {storage.numel}; the file is damaged"
                )
            data = f.read(count * storage.dtype.itemsize)
            if len(data) != count * storage.dtype.itemsize:
                raise ValueError(f"{path} ends inside storage {key}; the file is truncated")
            buffers[storage.key] = np.frombuffer(data, storage.dtype)
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a state dict of tensors")
    out = OrderedDict()
    for name, ref in state.items():
        if not isinstance(ref, _TensorRef):
            raise ValueError(f"{path}: entry {name!r} is not a tensor")
        flat = buffers[ref.key]
        itemsize = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[ref.offset :], shape=ref.shape, strides=[s * itemsize for s in ref.strides]
        )
        out[name] = np.array(view, dtype=flat.dtype.newbyteorder("="))
    return out
