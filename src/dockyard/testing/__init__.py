"""Contract test suites for plug-in authors: one class of pytest tests per port.

Every built-in adapter runs these suites (``tests/contract/``), and a plug-in (a metadata
store on another database, an S3-like artifact store, an orchestrator, a materializer, a
framework adapter) runs the same ones to show it keeps the rules the rest of dockyard
relies on. Each test's docstring says the rule and why it exists.

A suite is a plain class whose name does not start with ``Test``, so pytest collects
nothing from it until you subclass it in a test module, as with Prefect's
``prefect.testing.standard_test_suites``. The subclass provides the fixtures the suite
asks for (each suite's docstring lists them) and may switch rules off with class
attributes such as ``supports_durability = False``::

    # tests/test_my_store.py of a plug-in
    import pytest
    from dockyard.testing import MetadataStoreContract
    from my_plugin import MyMetadataStore

    class TestMyMetadataStore(MetadataStoreContract):
        @pytest.fixture
        def make_store(self, tmp_path):
            return lambda: MyMetadataStore(tmp_path / "db")  # same data on every call

The suites need pytest (and, for some, numpy, pandas and scikit-learn): install
``pip install 'dockyard[test]'``. They use no pytest plug-in and no fixture from
dockyard's own test folder. Nothing in dockyard imports this package, and its names are
imported lazily: ``import dockyard.testing`` loads neither pytest nor any store.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.testing.artifact_store import ArtifactStoreContract
    from dockyard.testing.batch_store import BatchStoreContract
    from dockyard.testing.compiler import PipelineCompilerContract
    from dockyard.testing.deployment_store import DeploymentStoreContract
    from dockyard.testing.event_bus import EventBusContract
    from dockyard.testing.framework_adapter import FrameworkAdapterContract
    from dockyard.testing.lake import LakeContract
    from dockyard.testing.materializer import MaterializerContract
    from dockyard.testing.metadata_store import MetadataStoreContract
    from dockyard.testing.orchestrator import OrchestratorContract
    from dockyard.testing.registry_store import RegistryStoreContract

_EXPORTS = {
    "ArtifactStoreContract": "artifact_store",
    "BatchStoreContract": "batch_store",
    "DeploymentStoreContract": "deployment_store",
    "EventBusContract": "event_bus",
    "FrameworkAdapterContract": "framework_adapter",
    "LakeContract": "lake",
    "MaterializerContract": "materializer",
    "MetadataStoreContract": "metadata_store",
    "OrchestratorContract": "orchestrator",
    "PipelineCompilerContract": "compiler",
    "RegistryStoreContract": "registry_store",
}

__all__ = [
    "ArtifactStoreContract",
    "BatchStoreContract",
    "DeploymentStoreContract",
    "EventBusContract",
    "FrameworkAdapterContract",
    "LakeContract",
    "MaterializerContract",
    "MetadataStoreContract",
    "OrchestratorContract",
    "PipelineCompilerContract",
    "RegistryStoreContract",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dockyard.testing' has no attribute {name!r}")
    value = getattr(import_module(f"dockyard.testing.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
