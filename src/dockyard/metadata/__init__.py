"""Metadata: runs, step runs, artifacts and lineage, on SQLAlchemy."""

from dockyard.metadata.base import (
    ArtifactDraft,
    ArtifactRecord,
    DatasetUse,
    Lineage,
    MetadataStore,
    RunPage,
    RunRecord,
    RunSummary,
    StepRunRecord,
)

__all__ = [
    "ArtifactDraft",
    "ArtifactRecord",
    "DatasetUse",
    "Lineage",
    "MetadataStore",
    "RunPage",
    "RunRecord",
    "RunSummary",
    "StepRunRecord",
]
