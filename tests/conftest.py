import os
from pathlib import Path

import pytest

os.environ.setdefault("MUJOCO_GL", "disable")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo() -> Path:
    return REPO
