"""The Lake contract (:mod:`dockyard.testing.lake`) on the delta flavor in a local folder.

The same suite runs on S3 (moto's server as a subprocess) in
``tests/integration/lake/test_delta_lake.py``, where the server fixture lives.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dockyard.lake.delta import DeltaLake
from dockyard.testing import LakeContract


class TestLocalDeltaLake(LakeContract):
    @pytest.fixture
    def make_lake(self, tmp_path: Path) -> Callable[..., DeltaLake]:
        return lambda **options: DeltaLake(str(tmp_path / "lake dir"), **options)
