"""Registering models: ``register_model(...)`` in a step, or a step returning ``Model``."""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata as importlib_metadata
from typing import TYPE_CHECKING, Any

from dockyard.errors import RegistryError
from dockyard.metadata.base import ArtifactDraft
from dockyard.metadata.registry import ModelRegistryStore, ModelVersionRecord
from dockyard.pipelines.artifact_io import load_value, save_value
from dockyard.pipelines.execution import StepContext, get_step_context
from dockyard.registry.refs import ModelRef, resolve

if TYPE_CHECKING:
    from dockyard.stacks.stack import Stack

#: Libraries whose versions a loaded model commonly depends on.
_COMMON = ("numpy", "scipy", "pandas", "scikit-learn", "skops", "pyarrow")


def requirements_for(model: Any) -> dict[str, str]:
    """Python and library versions needed to load ``model`` again."""
    reqs = {"python": platform.python_version()}
    top = type(model).__module__.split(".")[0]
    packages = importlib_metadata.packages_distributions()
    wanted = set(packages.get(top, []))
    wanted.update(d for d in _COMMON if _import_name(d) in sys.modules)
    wanted.add("dockyard")
    for dist in sorted(wanted):
        try:
            reqs[dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            continue
    return reqs


def _import_name(dist: str) -> str:
    return {"scikit-learn": "sklearn"}.get(dist, dist)


def _signature(signature: Any, sample: Any, model: Any) -> dict[str, Any] | None:
    """The given signature, or one inferred from ``sample`` and the model's answers to it."""
    if signature is not None:
        return dict(signature.to_dict() if hasattr(signature, "to_dict") else signature)
    if sample is None:
        return None
    from dockyard.registry.signature import infer_signature

    answers = None
    predict = getattr(model, "predict", None)
    if callable(predict):
        head = sample.head(5) if hasattr(sample, "head") else sample[:5]
        try:
            answers = predict(head)
        except Exception:  # the output type stays unknown; the inputs still count
            answers = None
    return infer_signature(sample, y=answers).to_dict()


def _clean_metrics(metrics: Mapping[str, Any] | None) -> dict[str, Any]:
    """Metrics are JSON numbers/strings; numpy scalars become Python numbers."""
    out: dict[str, Any] = {}
    for key, value in (metrics or {}).items():
        if hasattr(value, "item") and callable(value.item):
            value = value.item()
        if not isinstance(value, int | float | str | bool | type(None)):
            raise RegistryError(
                f"Metric {key!r} is a {type(value).__name__}; metrics must be numbers or strings."
            )
        out[str(key)] = value
    return out


def registry_store(store: Any) -> ModelRegistryStore:
    """The metadata store as the registry port (RegistryError if it has no registry)."""
    if not isinstance(store, ModelRegistryStore):
        raise RegistryError(
            f"The metadata store {type(store).__name__} does not support the model registry."
        )
    return store


def _record(
    name: str,
    draft: ArtifactDraft,
    model: Any,
    store: ModelRegistryStore,
    context: StepContext | None,
    *,
    metrics: Mapping[str, Any] | None,
    signature: Any,
    sample: Any,
    description: str | None,
    aliases: Iterable[str],
) -> ModelVersionRecord:
    record = store.create_model_version(
        name,
        artifact=draft,
        run_id=context.run_id if context else None,
        step=context.step if context else None,
        metrics=_clean_metrics(metrics),
        signature=_signature(signature, sample, model),
        requirements=requirements_for(model),
        description=description,
    )
    for alias in aliases:
        store.set_alias(name, alias, record.version)
    if context is not None:
        print(f"[dockyard] registered model {record.ref}")
    return record


def register_model(
    name: str,
    model: Any,
    *,
    metrics: Mapping[str, Any] | None = None,
    signature: Any = None,
    sample: Any = None,
    description: str | None = None,
    aliases: Iterable[str] = (),
    stack: Stack | str | None = None,
) -> ModelVersionRecord:
    """Register ``model`` as the next version of ``name``.

    Inside a step, the version records the run and step that produced it (and through
    the step's inputs, its training data). Outside a step it uses ``stack`` (default: the
    active one).

    Args:
        metrics: numbers to compare versions by (``{"auc": 0.91}``).
        signature: a :class:`~dockyard.registry.signature.Signature` (or its dict).
        sample: training inputs (DataFrame, array, rows) to infer the signature from.
        aliases: aliases to point at the new version (``["staging"]``).
    """
    context = get_step_context()
    if context is not None:
        store, artifacts, materializers = (
            context.metadata,
            context.artifact_store,
            context.materializers,
        )
    else:
        from dockyard.stacks.stack import Stack, load_stack

        s = stack if isinstance(stack, Stack) else load_stack(stack)
        store, artifacts, materializers = s.metadata_store, s.artifact_store, s.materializers
    draft = save_value(model, artifacts, materializers)
    return _record(
        name,
        draft,
        model,
        registry_store(store),
        context,
        metrics=metrics,
        signature=signature,
        sample=sample,
        description=description,
        aliases=aliases,
    )


class Model:
    """A step output that registers itself: ``-> Annotated[Model, "churn"]``.

    The output's name is the model's name. The stored artifact is the wrapped object.

    Example::

        @step
        def train(df: pd.DataFrame) -> Annotated[Model, "churn"]:
            clf = LogisticRegression().fit(df[FEATURES], df.target)
            return Model(clf, metrics={"acc": 0.93}, sample=df[FEATURES])
    """

    def __init__(
        self,
        obj: Any,
        *,
        metrics: Mapping[str, Any] | None = None,
        signature: Any = None,
        sample: Any = None,
        description: str | None = None,
        aliases: Iterable[str] = (),
    ) -> None:
        self.obj = obj
        self.metrics = dict(metrics or {})
        self.signature = signature
        self.sample = sample
        self.description = description
        self.aliases = tuple(aliases)
        self.version: ModelVersionRecord | None = None

    def __dockyard_output__(
        self, context: StepContext, output: str
    ) -> tuple[Any, Callable[[ArtifactDraft], None]]:
        def register(draft: ArtifactDraft) -> None:
            self.version = _record(
                output,
                draft,
                self.obj,
                registry_store(context.metadata),
                context,
                metrics=self.metrics,
                signature=self.signature,
                sample=self.sample,
                description=self.description,
                aliases=self.aliases,
            )

        return self.obj, register

    def __repr__(self) -> str:
        return f"Model({type(self.obj).__name__})"


def check_not_deployed(store: Any, name: str, version: int) -> None:
    """Refuse to touch a version a deployment serves (stable, candidate or shadow)."""
    from dockyard.metadata.deployments import DeploymentStore

    if not isinstance(store, DeploymentStore):
        return
    ref = f"{name}:{version}"
    for deployment in store.list_deployments():
        served = {deployment.state.get("stable_ref"), deployment.state.get("candidate_ref")}
        if ref in served:
            raise RegistryError(
                f"Model version {ref} is served by deployment {deployment.name!r}; take it "
                f"down first (dockyard deployments down {deployment.name}) or roll out "
                f"another version."
            )


def load_model(
    ref: str | ModelRef, stack: Stack, *, trust_pickle: bool = False
) -> tuple[ModelVersionRecord, Any]:
    """Resolve ``ref`` and load the model object from the artifact store."""
    record = resolve(ref, registry_store(stack.metadata_store))
    artifact = stack.metadata_store.get_artifact(record.artifact_id)
    model = load_value(
        artifact, stack.artifact_store, stack.materializers, trust_pickle=trust_pickle
    )
    return record, model
