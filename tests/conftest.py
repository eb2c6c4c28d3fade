import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def env_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The environment cache for integration tests.

    A fresh folder per session by default, so CI really builds every environment (uv's own
    package cache keeps that to seconds). TFREPRO_TEST_CACHE reuses a folder across sessions.
    """
    reuse = os.environ.get("TFREPRO_TEST_CACHE")
    if reuse:
        path = Path(reuse)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("tfrepro-cache")
