"""The registry's Python API: register, look up, load and delete model versions.

``register_model(...)`` in a step (or a step returning ``Model``) records the next version
with its run, step, metrics, requirements and signature; ``get_model_version(ref)`` is
its record, ``load_model(ref)`` the model object itself (the active stack by default,
as MLflow users expect).
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata as importlib_metadata
from typing import TYPE_CHECKING, Any

from dockyard.errors import (
    ArtifactCorruptedError,
    ArtifactError,
    ArtifactNotFoundError,
    RegistryError,
)
from dockyard.metadata.base import ArtifactDraft
from dockyard.pipelines.artifact_io import load_value, save_value
from dockyard.pipelines.execution import StepContext, get_step_context
from dockyard.registry.refs import ModelRef, check_alias, check_model_name, resolve
from dockyard.registry.signature import Signature
from dockyard.registry.store import ModelVersionRecord, VersionUsers

if TYPE_CHECKING:
    from dockyard.metadata.base import ArtifactRecord
    from dockyard.stacks.stack import Stack

__all__ = [
    "Model",
    "artifact_missing",
    "broken_artifact_error",
    "delete_model_version",
    "get_model_version",
    "load_model",
    "load_version",
    "register_model",
    "requirements_for",
    "version_users",
]

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


def _signature(signature: Any, sample: Any, model: Any) -> Signature | None:
    """The given signature, one inferred from ``sample`` and the model's answers to it,
    or (without a sample) what the fitted model says of its inputs."""
    from dockyard.registry.signature import infer_signature, signature_from_model

    if signature is not None:
        return signature if isinstance(signature, Signature) else Signature.from_dict(signature)
    if sample is None:
        return signature_from_model(model)
    from dataclasses import replace

    from dockyard.registry.profile import MAX_PROFILE_ROWS, build_profile

    answers = None
    predict = getattr(model, "predict", None)
    if callable(predict):
        head = (
            sample.head(MAX_PROFILE_ROWS) if hasattr(sample, "head") else sample[:MAX_PROFILE_ROWS]
        )
        try:
            answers = predict(head)
        except Exception:  # the output type stays unknown; the inputs still count
            answers = None
    inferred = infer_signature(sample, y=None if answers is None else answers[:5])
    if answers is None:
        return inferred
    try:  # the reference stream drift is measured against
        return replace(inferred, profile=build_profile(sample, answers))
    except Exception:  # a sample we cannot profile still registers
        return inferred


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


def _stack(stack: Stack | str | None) -> Stack:
    from dockyard.stacks.stack import Stack, load_stack

    return stack if isinstance(stack, Stack) else load_stack(stack)


def _record(
    name: str,
    draft: ArtifactDraft,
    model: Any,
    stack: Stack,
    context: StepContext | None,
    *,
    metrics: Mapping[str, Any] | None,
    signature: Any,
    sample: Any,
    description: str | None,
    aliases: Iterable[str],
) -> ModelVersionRecord:
    signature = _signature(signature, sample, model)
    requirements = requirements_for(model)
    clean = _clean_metrics(metrics)
    registry = stack.registry_store
    with stack.transaction():  # the artifact and the version: both or neither
        artifact = stack.metadata_store.record_artifact(draft)
        record = registry.create_model_version(
            name,
            artifact_id=artifact.id,
            run_id=context.run_id if context else None,
            step=context.step if context else None,
            metrics=clean,
            signature=signature,
            requirements=requirements,
            description=description,
        )
        for alias in aliases:
            registry.set_alias(name, alias, record.version)
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
        sample: training inputs (DataFrame, array, rows) to infer the signature from;
            without one, the fitted model's ``feature_names_in_`` / ``n_features_in_``
            give the inputs.
        aliases: aliases to point at the new version (``["staging"]``).
    """
    check_model_name(name)  # before anything is stored
    aliases = [check_alias(a) for a in aliases]
    context = get_step_context()
    s = context.stack if context is not None else _stack(stack)
    draft = save_value(model, s.artifact_store, s.materializers)
    return _record(
        name,
        draft,
        model,
        s,
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
        check_model_name(output)  # the output's name is the model's: refused before saving
        for alias in self.aliases:
            check_alias(alias)

        def register(draft: ArtifactDraft) -> None:
            self.version = _record(
                output,
                draft,
                self.obj,
                context.stack,
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


def get_model_version(ref: str | ModelRef, stack: Stack | str | None = None) -> ModelVersionRecord:
    """The record of the version ``ref`` names (``churn``, ``churn:3``, ``churn@production``).

    Raises:
        ModelNotFoundError: no such model, version or alias.
    """
    return resolve(ref, _stack(stack).registry_store)


def load_model(
    ref: str | ModelRef, stack: Stack | str | None = None, *, trust_pickle: bool = False
) -> Any:
    """The model object of the version ``ref`` names, from the stack's artifact store.

    Example::

        model = dockyard.load_model("churn@production")
        model.predict(X)

    Raises:
        ModelNotFoundError: no such model, version or alias.
        UnsafeArtifactError: the model was pickled and ``trust_pickle`` was not given.
        ArtifactNotFoundError, ArtifactCorruptedError: the version's stored bytes are
            gone or damaged; the message names the version and the repair.
    """
    s = _stack(stack)
    return load_version(get_model_version(ref, s), s, trust_pickle=trust_pickle)


def load_version(record: ModelVersionRecord, stack: Stack, *, trust_pickle: bool = False) -> Any:
    """The model object of a version record (when the record is already at hand).

    Raises:
        UnsafeArtifactError: the model was pickled and ``trust_pickle`` was not given.
        ArtifactNotFoundError, ArtifactCorruptedError: the version's stored bytes are
            gone or damaged (see :func:`broken_artifact_error`).
    """
    artifact = stack.metadata_store.get_artifact(record.artifact_id)
    try:
        return load_value(
            artifact, stack.artifact_store, stack.materializers, trust_pickle=trust_pickle
        )
    except (ArtifactNotFoundError, ArtifactCorruptedError) as exc:
        raise broken_artifact_error(
            record.ref, artifact, exc, run_id=record.run_id, aliases=record.aliases
        ) from exc


def artifact_missing(record: ModelVersionRecord, stack: Stack) -> bool:
    """Whether the stored bytes of a version's model are gone from the artifact store.

    An existence check (no download, no hash), cheap enough to run for every version a
    listing shows; damaged bytes are found when loading.
    """
    artifact = stack.metadata_store.get_artifact(record.artifact_id)
    return not stack.artifact_store.exists(artifact.uri)


def broken_artifact_error(
    ref: str,
    artifact: ArtifactRecord,
    cause: BaseException | None = None,
    *,
    run_id: str | None = None,
    aliases: Iterable[str] = (),
) -> ArtifactError:
    """The error for a model version whose stored bytes are missing or damaged.

    It names the version (``iris:1``), not only the blob, and gives the repairs that fix
    *that* version. Re-running the pipeline alone does not: it registers a new version
    and leaves this one, and its aliases, pointing at the broken bytes.

    Args:
        ref: the version, ``NAME:VERSION``.
        artifact: the version's artifact record (its URI and content hash).
        cause: the store's error: :class:`ArtifactCorruptedError` gives the damaged-bytes
            message and class, anything else (or nothing) the missing-bytes one.
        run_id, aliases: the run that registered it and the aliases on it, for the advice.
    """
    name = ref.rpartition(":")[0] or ref
    corrupted = isinstance(cause, ArtifactCorruptedError)
    state = "are damaged (they no longer match their SHA-256)" if corrupted else "are missing"
    alias_list = list(aliases)
    move = ""
    if alias_list:
        example = alias_list[0] if len(alias_list) == 1 else "ALIAS"
        move = f", point {', '.join(alias_list)} at it (dockyard models alias {name}:NEW {example})"
    if run_id:
        rerun = f"re-run the pipeline of run {run_id[:8]} with --no-cache"
    else:
        rerun = "call dockyard.register_model again"
    message = (
        f"Model version {ref} cannot be loaded: the stored bytes of its artifact "
        f"{artifact.id[:8]} ({artifact.uri}) {state}. To repair {ref}, put the original "
        f"bytes back at that URI (from a backup or another copy of the store; they are "
        f"checked against the hash {artifact.content_hash[:12]}...). Otherwise replace it: "
        f"{rerun} to register a new version{move}, then delete the broken one "
        f"(dockyard models delete {ref})."
    )
    cls = ArtifactCorruptedError if corrupted else ArtifactNotFoundError
    return cls(message)


def delete_model_version(ref: str | ModelRef, stack: Stack | str | None = None) -> None:
    """Delete one version (``churn:3``), refused while anything uses it.

    Raises:
        RegistryError: ``ref`` names no exact version, an alias points at it, or a
            deployment (any :class:`~dockyard.registry.store.VersionUsers`) uses it.
    """
    parsed = ModelRef.parse(ref) if isinstance(ref, str) else ref
    if parsed.version is None:
        raise RegistryError(f"Name the version to delete: {parsed.name}:VERSION, not {str(ref)!r}.")
    s = _stack(stack)
    store = s.registry_store
    store.get_model_version(parsed.name, parsed.version)  # ModelNotFoundError first
    who = version_users(parsed.name, s).get(parsed.version)
    if who:
        raise RegistryError(
            f"Model version {parsed} is in use by {', '.join(who)}; stop that first "
            "or roll out another version."
        )
    store.delete_model_version(parsed.name, parsed.version)


def version_users(name: str, stack: Stack | str | None = None) -> dict[int, list[str]]:
    """Which versions of model ``name`` are in use, and by whom (every stack component
    implementing :class:`~dockyard.registry.store.VersionUsers`: deployments...)."""
    s = _stack(stack)
    out: dict[int, list[str]] = {}
    for users in s.components_implementing(VersionUsers):
        for version, who in users.versions_in_use(name).items():
            out.setdefault(version, []).extend(who)
    return out
