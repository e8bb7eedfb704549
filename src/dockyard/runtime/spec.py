"""Loading a registered version: :func:`load_runtime`, and :class:`RuntimeSpec` for
loading it in another process.

Light on purpose (no numpy, no framework): a process that only hands specs to its
workers (``dockyard serve --workers N``'s parent) imports this and nothing of the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dockyard.errors import ArtifactCorruptedError, ArtifactNotFoundError

if TYPE_CHECKING:
    from dockyard.artifacts.base import ArtifactStore
    from dockyard.artifacts.materializers.registry import MaterializerRegistry
    from dockyard.metadata.base import ArtifactRecord
    from dockyard.registry.refs import ModelRef
    from dockyard.registry.signature import Signature
    from dockyard.runtime.adapters import FrameworkAdapter
    from dockyard.runtime.model import ModelRuntime
    from dockyard.stacks.stack import Stack

__all__ = ["RuntimeSpec", "load_runtime"]


@dataclass(frozen=True)
class RuntimeSpec:
    """A registered version resolved to everything needed to load it, anywhere.

    What a process that serves or scores needs, without the registry's database: the
    version, its signature, its artifact and the artifact store's config. The CLI
    resolves it once; worker processes (``dockyard serve --workers N``, batch workers)
    each :meth:`load` it, so a parent process never holds a model copy it does not use.
    Picklable (frozen dataclasses only).
    """

    name: str
    version: int
    signature: Signature | None
    artifact: ArtifactRecord
    artifact_store: Mapping[str, Any]
    trust_pickle: bool = False
    predict_proba: bool = False

    @property
    def label(self) -> str:
        return f"{self.name}:{self.version}"

    @classmethod
    def resolve(
        cls,
        ref: str | ModelRef,
        stack: Stack | str | None = None,
        *,
        trust_pickle: bool = False,
        predict_proba: bool = False,
    ) -> RuntimeSpec:
        """Resolve ``ref`` on ``stack`` (default: the active one).

        Raises:
            ModelNotFoundError: no such model, version or alias.
            UnsafeArtifactError: the model was pickled and ``trust_pickle`` was not given
                (checked here, before any process is started).
        """
        from dockyard.pipelines.artifact_io import check_trust
        from dockyard.registry.model import broken_artifact_error, get_model_version
        from dockyard.stacks.stack import Stack, load_stack

        s = stack if isinstance(stack, Stack) else load_stack(stack)
        record = get_model_version(ref, s)
        artifact = s.metadata_store.get_artifact(record.artifact_id)
        check_trust(artifact, trust_pickle=trust_pickle)
        if not s.artifact_store.exists(artifact.uri):  # said now, before a process starts
            raise broken_artifact_error(
                record.ref, artifact, run_id=record.run_id, aliases=record.aliases
            )
        return cls(
            name=record.name,
            version=record.version,
            signature=record.signature,
            artifact=artifact,
            artifact_store=s.component_config("artifact_store"),
            trust_pickle=trust_pickle,
            predict_proba=predict_proba,
        )

    def to_dict(self) -> dict[str, Any]:
        """The spec as JSON-ready data (``dockyard containerize`` writes it into an image;
        ``dockyard serve --spec FILE`` reads it back with :meth:`from_dict`)."""
        import dataclasses

        artifact = dataclasses.asdict(self.artifact)
        artifact["created_at"] = self.artifact.created_at.isoformat()
        return {
            "name": self.name,
            "version": self.version,
            "signature": self.signature.to_dict() if self.signature is not None else None,
            "artifact": artifact,
            "artifact_store": dict(self.artifact_store),
            "trust_pickle": self.trust_pickle,
            "predict_proba": self.predict_proba,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base_dir: str | None = None) -> RuntimeSpec:
        """The spec :meth:`to_dict` wrote. A relative local artifact store ``path`` is
        taken from ``base_dir`` (the spec file's folder), so a model copied next to its
        spec is found wherever the folder is mounted.

        Raises:
            ServingError: the data is not such a spec.
        """
        import os
        from datetime import datetime

        from dockyard.errors import ServingError
        from dockyard.metadata.base import ArtifactRecord
        from dockyard.registry.signature import Signature

        try:
            artifact = dict(data["artifact"])
            artifact["created_at"] = datetime.fromisoformat(artifact["created_at"])
            store = dict(data["artifact_store"])
            path = store.get("path")
            if base_dir and isinstance(path, str) and "://" not in path and not os.path.isabs(path):
                store["path"] = os.path.join(base_dir, path)
            signature = data.get("signature")
            return cls(
                name=str(data["name"]),
                version=int(data["version"]),
                signature=Signature.from_dict(signature) if signature else None,
                artifact=ArtifactRecord(**artifact),
                artifact_store=store,
                trust_pickle=bool(data.get("trust_pickle", False)),
                predict_proba=bool(data.get("predict_proba", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ServingError(
                f"Not a serve spec written by dockyard containerize ({type(exc).__name__}: "
                f"{exc}); write it again with: dockyard containerize NAME:VERSION -o DIR."
            ) from exc

    def load(
        self,
        *,
        artifact_store: ArtifactStore | None = None,
        materializers: MaterializerRegistry | None = None,
        adapter: str | type[FrameworkAdapter] | FrameworkAdapter | None = None,
    ) -> ModelRuntime:
        """Load the model and build its runtime (in this process).

        Args:
            artifact_store, materializers: reuse these (a stack's) instead of building
                them from :attr:`artifact_store`'s config.
            adapter: force a framework adapter (default: chosen for the model).
        """
        from dockyard.pipelines.artifact_io import load_value
        from dockyard.runtime.model import ModelRuntime

        if artifact_store is None:
            from dockyard.stacks.kinds import CORE_KINDS
            from dockyard.stacks.stack import build_component

            artifact_store = build_component(
                CORE_KINDS["artifact_store"], dict(self.artifact_store)
            )
        if materializers is None:
            from dockyard.artifacts.materializers.registry import MaterializerRegistry

            materializers = MaterializerRegistry()
        try:
            model = load_value(
                self.artifact, artifact_store, materializers, trust_pickle=self.trust_pickle
            )
        except (ArtifactNotFoundError, ArtifactCorruptedError) as exc:
            from dockyard.registry.model import broken_artifact_error

            raise broken_artifact_error(self.label, self.artifact, exc) from exc
        return ModelRuntime(
            model,
            self.signature,
            name=self.name,
            version=self.version,
            predict_proba=self.predict_proba,
            adapter=adapter,
        )


def load_runtime(
    ref: str | ModelRef,
    stack: Stack | str | None = None,
    *,
    trust_pickle: bool = False,
    predict_proba: bool = False,
    adapter: str | type[FrameworkAdapter] | FrameworkAdapter | None = None,
) -> ModelRuntime:
    """Resolve a registered version and make it ready to predict, for any delivery mode.

    HTTP serving, batch scoring and stream consumers load models only through this (or
    through a :class:`RuntimeSpec`, its two halves): one loader, one validation path.

    Args:
        ref: ``churn``, ``churn:3`` or ``churn@production``.
        stack: the stack holding the registry and artifacts (default: the active one).
        trust_pickle: allow a pickled model artifact (loading it can run arbitrary code).
        predict_proba: answer class probabilities instead of labels.
        adapter: force a framework adapter (default: chosen for the model).

    Raises:
        ModelNotFoundError: no such model, version or alias.
        UnsafeArtifactError: the model was pickled and ``trust_pickle`` was not given.
        ServingError: no framework adapter can run the model.
    """
    from dockyard.stacks.stack import Stack, load_stack

    s = stack if isinstance(stack, Stack) else load_stack(stack)
    spec = RuntimeSpec.resolve(ref, s, trust_pickle=trust_pickle, predict_proba=predict_proba)
    return spec.load(
        artifact_store=s.artifact_store, materializers=s.materializers, adapter=adapter
    )
