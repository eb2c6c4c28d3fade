"""Generate the small data files the corpus scripts load.

Run ONCE with a Python that has scikit-learn (the host's python3):

    python3 tests/corpus/data/make_data.py

The corpus environments only have tensorflow + numpy, so everything the
scripts need from scikit-learn is frozen here into .npz files. Everything
else is generated with a fixed numpy seed so re-running gives the same bytes.
"""

from pathlib import Path

import numpy as np
from sklearn import datasets

HERE = Path(__file__).resolve().parent


def save(name, **arrays):
    np.savez_compressed(HERE / name, **arrays)
    print(f"{name}: " + ", ".join(f"{k} {v.dtype} {v.shape}" for k, v in arrays.items()))


def main():
    d = datasets.load_digits()
    save("digits.npz", x=d.images.astype(np.uint8), y=d.target.astype(np.int64))

    bc = datasets.load_breast_cancer()
    save("breast_cancer.npz", x=bc.data.astype(np.float32), y=bc.target.astype(np.int64))

    w = datasets.load_wine()
    save("wine.npz", x=w.data.astype(np.float32), y=w.target.astype(np.int64))

    rng = np.random.RandomState(1234)

    # Noisy multi-frequency sine series for the time-series scripts.
    t = np.arange(3000, dtype=np.float32)
    series = (
        np.sin(2 * np.pi * t / 50.0) + 0.5 * np.sin(2 * np.pi * t / 13.0) + 0.1 * rng.randn(t.size)
    ).astype(np.float32)
    save("sine_series.npz", series=series)

    # Toy "reviews": token ids from a 200-word vocabulary, label = whether
    # "positive" tokens (10..29) outnumber "negative" ones (30..49).
    n, maxlen, vocab = 1200, 40, 200
    lengths = rng.randint(8, maxlen + 1, size=n)
    tokens = np.zeros((n, maxlen), dtype=np.int32)
    labels = np.zeros(n, dtype=np.int64)
    for i, L in enumerate(lengths):
        seq = rng.randint(1, vocab, size=L)
        tokens[i, :L] = seq
        pos = np.sum((seq >= 10) & (seq < 30))
        neg = np.sum((seq >= 30) & (seq < 50))
        labels[i] = int(pos > neg) if pos != neg else rng.randint(0, 2)
    save("toy_reviews.npz", tokens=tokens, labels=labels)

    # Tabular regression: y = nonlinear function of 8 features + noise (1-D y).
    x = rng.randn(1500, 8).astype(np.float32)
    y = (
        2.0 * x[:, 0]
        - x[:, 1] * x[:, 2]
        + np.sin(x[:, 3]) * 3.0
        + 0.5 * x[:, 4] ** 2
        + 0.1 * rng.randn(1500)
    ).astype(np.float32)
    save("regression.npz", x=x, y=y)

    total = sum(p.stat().st_size for p in HERE.glob("*.npz"))
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
