"""tfrepro: measure whether, where and why TensorFlow training results change."""

__version__ = "0.1.0"
