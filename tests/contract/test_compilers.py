"""The PipelineCompiler contract (:mod:`dockyard.testing.compiler`) on every built-in one.

``kubeflow`` needs the kfp SDK (the ``kubeflow`` extra, not installed in the development
environment): its suite is skipped here and its compiler run, with kfp, by
``tests/integration/orchestrators/test_kubeflow_export.py``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from dockyard.orchestrators.airflow import AirflowCompiler
from dockyard.orchestrators.compiler import PipelineCompiler
from dockyard.orchestrators.kubeflow import KubeflowCompiler
from dockyard.testing import PipelineCompilerContract


class TestAirflow(PipelineCompilerContract):
    @pytest.fixture
    def compiler(self) -> PipelineCompiler:
        return AirflowCompiler()


@pytest.mark.skipif(
    importlib.util.find_spec("kfp") is None,
    reason="kfp is not installed (pip install 'dockyard[kubeflow]')",
)
class TestKubeflow(PipelineCompilerContract):
    @pytest.fixture
    def compiler(self) -> PipelineCompiler:
        return KubeflowCompiler()

    @pytest.fixture
    def output(self, tmp_path: Path) -> Path:
        return tmp_path / "pipeline.yaml"

    @pytest.fixture
    def options(self) -> dict[str, Any]:
        return {"image": "ghcr.io/acme/steps:1"}
