"""The Orchestrator contract (:mod:`dockyard.testing.orchestrator`) on every built-in one.

Orchestrators: local (sequential), local-parallel with threads, with processes.
"""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.testing import OrchestratorContract


class TestLocal(OrchestratorContract):
    @pytest.fixture
    def orchestrator_config(self) -> dict[str, Any]:
        return {"flavor": "local"}


class TestLocalParallelThreads(OrchestratorContract):
    runs_steps_in_parallel = True

    @pytest.fixture
    def orchestrator_config(self) -> dict[str, Any]:
        return {"flavor": "local-parallel", "workers": 3}


class TestLocalParallelProcesses(OrchestratorContract):
    runs_steps_in_parallel = True

    @pytest.fixture
    def orchestrator_config(self) -> dict[str, Any]:
        return {"flavor": "local-parallel", "workers": 3, "mode": "process"}
