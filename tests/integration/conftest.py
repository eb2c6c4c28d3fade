"""Fixtures of the integration tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CORPUS = Path(__file__).parents[1] / "corpus"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A copy of tests/corpus (cells copy their folder, the scripts write files next to them)."""
    folder = tmp_path / "corpus"
    shutil.copytree(CORPUS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder
