"""Read-only views of recorded runs: ``run.steps["evaluate"].outputs["metrics"].load()``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from dockyard.metadata.base import ArtifactRecord, RunRecord, StepRunRecord
from dockyard.pipelines.artifact_io import load_value
from dockyard.settings import Settings

if TYPE_CHECKING:
    from dockyard.stacks.stack import Stack


@dataclass(frozen=True)
class ArtifactView:
    record: ArtifactRecord
    stack: Stack

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def uri(self) -> str:
        return self.record.uri

    @property
    def data_type(self) -> str:
        return self.record.data_type

    def load(self, *, trust_pickle: bool | None = None) -> Any:
        """The artifact's value. Pickled artifacts from other processes need trust."""
        if trust_pickle is None:
            trust_pickle = Settings.from_env().trust_pickle
        return load_value(
            self.record,
            self.stack.artifact_store,
            self.stack.materializers,
            trust_pickle=trust_pickle,
        )

    def __repr__(self) -> str:
        return f"<Artifact {self.id[:12]} {self.data_type} {self.record.size}B>"


class StepView:
    def __init__(self, record: StepRunRecord, stack: Stack) -> None:
        self.record = record
        self._stack = stack

    name = property(lambda self: self.record.name)
    status = property(lambda self: self.record.status)
    cache_hit = property(lambda self: self.record.cache_hit)
    duration_s = property(lambda self: self.record.duration_s)
    error = property(lambda self: self.record.error)

    @cached_property
    def outputs(self) -> Mapping[str, ArtifactView]:
        md = self._stack.metadata_store
        return {
            k: ArtifactView(md.get_artifact(v), self._stack) for k, v in self.record.outputs.items()
        }

    @cached_property
    def inputs(self) -> Mapping[str, ArtifactView]:
        md = self._stack.metadata_store
        return {
            k: ArtifactView(md.get_artifact(v), self._stack) for k, v in self.record.inputs.items()
        }

    def logs(self) -> str:
        return self._stack.metadata_store.get_step_logs(self.record.run_id, self.name)

    def __repr__(self) -> str:
        hit = " (cached)" if self.cache_hit else ""
        return f"<Step {self.name} {self.status}{hit}>"


class Run:
    """A pipeline run as recorded in the metadata store."""

    def __init__(self, record: RunRecord, stack: Stack) -> None:
        self.record = record
        self._stack = stack

    @classmethod
    def load(cls, run_id: str, stack: Stack) -> Run:
        return cls(stack.metadata_store.get_run(run_id), stack)

    id = property(lambda self: self.record.id)
    pipeline = property(lambda self: self.record.pipeline)
    #: ``running``, ``completed``, ``failed``, or ``crashed`` (its process is gone).
    status = property(lambda self: self.record.status)
    #: Why it failed or crashed, in one line (None while it runs or once it completed).
    error = property(lambda self: self.record.error)
    params = property(lambda self: self.record.params)

    @property
    def created_at(self) -> datetime:
        return self.record.created_at

    @cached_property
    def steps(self) -> Mapping[str, StepView]:
        records = self._stack.metadata_store.list_step_runs(self.id)
        return {r.name: StepView(r, self._stack) for r in records}

    def __repr__(self) -> str:
        return f"<Run {self.id[:8]} {self.pipeline} {self.status}>"
