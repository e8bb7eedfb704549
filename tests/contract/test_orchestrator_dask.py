"""The Orchestrator contract on ``dask``: a LocalCluster of two worker processes per run."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.testing import OrchestratorContract

pytest.importorskip("distributed", reason="the dask extra is not installed")

pytestmark = pytest.mark.slow


class TestDask(OrchestratorContract):
    runs_steps_in_parallel = True

    @pytest.fixture
    def orchestrator_config(self) -> dict[str, Any]:
        return {"flavor": "dask", "workers": 3}
