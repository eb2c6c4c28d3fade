"""Content hashes of arrays, shared by the host and the guest so both agree byte for byte."""

import hashlib

import numpy as np


def arrays_sha256(arrays):
    """sha256 over an ordered sequence of (name, array): name, dtype, shape, then raw bytes."""
    h = hashlib.sha256()
    for name, arr in arrays:
        arr = np.ascontiguousarray(arr)
        h.update(str(name).encode())
        h.update(arr.dtype.str.encode())
        h.update(str(arr.shape).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def weights_sha256(weights):
    """Hash of a list of weight arrays, in model order."""
    return arrays_sha256(("w%d" % i, w) for i, w in enumerate(weights))


DATA_KEYS = ("x_train", "y_train", "x_test", "y_test")


def data_sha256(data):
    return arrays_sha256((k, data[k]) for k in DATA_KEYS)
