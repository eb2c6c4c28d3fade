"""The host's view of the release capability table (runner/tfrepro_guest/platform/capabilities.py).

One table for host and guest: the guest cannot import the host package, so the table lives in
the runner and the host reads it from there.
"""

from __future__ import annotations

from tfrepro.runner.tfrepro_guest.platform import capabilities as _table

CAPABILITIES: tuple[str, ...] = tuple(_table.FIRST_RELEASE)


def has(version: str | tuple[int, ...], capability: str) -> bool:
    """Whether TensorFlow `version` has `capability` (a key of the table)."""
    if capability not in _table.FIRST_RELEASE:
        raise KeyError(f"unknown capability {capability!r}; known: {', '.join(CAPABILITIES)}")
    return bool(_table.has(version, capability))
