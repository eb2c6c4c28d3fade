"""tfrepro: measure whether, where and why TensorFlow training results change."""

__version__ = "0.1.0"

from pathlib import Path as _Path

DEFAULT_STORE = _Path(".tfrepro")  # the result store every command uses unless given --store
