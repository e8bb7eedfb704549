"""The one exception tree of dockyard.

Every error a user can meet is a ``DockyardError``. Each bounded context has its own
branch, and where the meaning fits, the class also derives from the matching built-in so
``except KeyError`` keeps working::

    DockyardError
    ├── ConfigError                         bad project config, bad run config
    │   └── ParameterError (ValueError)     unknown / missing / wrongly typed parameter
    ├── UserCodeError                       the user's own file or module cannot be used
    │   └── UserCodeLoadError (ImportError) unknown file, syntax error, unknown pipeline
    ├── PipelineError                       a pipeline cannot be traced or run
    │   ├── PipelineDefinitionError (TypeError)
    │   ├── StepOutputError (TypeError)     a step returned the wrong number of outputs
    │   ├── StepFailed                      the user's step raised; the cause is chained
    │   └── RunFailed                       a run ended with failed steps
    ├── LakeError                           a lake dataset cannot be read or written
    │   ├── DatasetNotFoundError (KeyError) no dataset, version or file by that name
    │   ├── LakeSchemaError (ValueError)    data or a filter does not fit the table's columns
    │   └── LakeUnavailableError (ConnectionError) the lake's storage cannot be reached
    ├── ArtifactError
    │   ├── ArtifactNotFoundError (KeyError)
    │   ├── ArtifactCorruptedError (ValueError)
    │   ├── NoMaterializerError (TypeError)
    │   └── UnsafeArtifactError (PermissionError)
    ├── MetadataError
    │   ├── MetadataUnavailableError (ConnectionError)
    │   ├── SchemaVersionError
    │   └── RecordNotFoundError (KeyError)
    ├── StackError
    │   ├── UnknownStackError (KeyError)
    │   └── UnknownComponentError (KeyError)
    ├── RegistryError
    │   └── ModelNotFoundError (KeyError)
    ├── ServingError
    │   └── InvalidInputError (ValueError)  client input that does not fit the signature
    ├── RolloutError
    │   └── StaleStateError                 a deployment's state changed since it was read
    ├── BatchError                          a batch scoring job cannot run or resume
    ├── OrchestratorError                   an orchestrator cannot run or compile a pipeline
    │   ├── OrchestratorUnavailableError (ConnectionError) its cluster cannot be reached
    │   └── ExportError (ValueError)        bad export input (an image name, a schedule)
    ├── EventError                          an event bus or stream consumer cannot work as asked
    │   ├── BusUnavailableError (ConnectionError) the broker cannot be reached (URL named,
    │   │                                   password masked)
    │   ├── UnknownBusError (ValueError)    a bus URL whose scheme no installed adapter takes
    │   ├── TopicNameError (ValueError)     a topic or group name the broker refuses
    │   ├── ConsumerConfigError (ValueError) bad stream-consumer options (--max-batch 0, ...)
    │   └── TriggerError (ValueError)       a trigger name in use, a bad source or command
    │       └── UnknownTriggerError (KeyError) no trigger of that name
    ├── ScheduleError (ValueError)          a bad cron, command or schedule name
    │   └── UnknownScheduleError (KeyError) no schedule of that name
    ├── PackagingError (ValueError)         an image, manifest or template cannot be made
    └── DashboardError                      the dashboard cannot start (missing extra, no token)

A message says what failed, the offending value, and what to do about it.
"""

from __future__ import annotations


class DockyardError(Exception):
    """Root of every error dockyard raises on purpose."""

    def __str__(self) -> str:  # KeyError quotes its message; we never want that.
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class ConfigError(DockyardError):
    """The project or run configuration is invalid."""


class ParameterError(ConfigError, ValueError):
    """A pipeline or step parameter is unknown, missing or of the wrong type."""


class UserCodeError(DockyardError):
    """The user's code cannot be used as asked."""


class UserCodeLoadError(UserCodeError, ImportError):
    """A pipeline file or module cannot be found, imported or does not hold the pipeline."""


class PipelineError(DockyardError):
    """A pipeline cannot be traced or run."""


class PipelineDefinitionError(PipelineError, TypeError):
    """The pipeline or step definition itself is wrong (found while tracing)."""


class StepOutputError(PipelineError, TypeError):
    """A step returned something that does not match its declared outputs."""


class StepFailed(PipelineError):
    """The user's step raised. The original exception is the ``__cause__``."""

    def __init__(self, message: str, *, step: str = "", run_id: str = "") -> None:
        super().__init__(message)
        self.step = step
        self.run_id = run_id


class RunFailed(PipelineError):
    """A run finished with at least one failed step."""

    def __init__(self, message: str, *, run_id: str = "") -> None:
        super().__init__(message)
        self.run_id = run_id


class LakeError(DockyardError):
    """A lake dataset cannot be named, read or written as asked."""


class DatasetNotFoundError(LakeError, KeyError):
    """No dataset, version or file of a file dataset by that name."""


class LakeSchemaError(LakeError, ValueError):
    """Data, columns or a filter do not fit the table's schema."""


class LakeUnavailableError(LakeError, ConnectionError):
    """The lake's storage cannot be reached, or refuses the credentials."""


class ArtifactError(DockyardError):
    """An artifact cannot be stored, found or read."""


class ArtifactNotFoundError(ArtifactError, KeyError):
    """No artifact with that id, or its bytes are gone from the store."""


class ArtifactCorruptedError(ArtifactError, ValueError):
    """The stored bytes do not match the recorded content hash."""


class NoMaterializerError(ArtifactError, TypeError):
    """No registered materializer can save a value of this type."""


class UnsafeArtifactError(ArtifactError, PermissionError):
    """A pickled artifact would be loaded without an explicit ``trust_pickle`` opt-in."""


class MetadataError(DockyardError):
    """The metadata store cannot do what was asked."""


class MetadataUnavailableError(MetadataError, ConnectionError):
    """The metadata database cannot be reached."""


class SchemaVersionError(MetadataError):
    """The metadata database was written by a newer dockyard."""


class RecordNotFoundError(MetadataError, KeyError):
    """No run, step run, artifact or other record with that id."""


class StackError(DockyardError):
    """A stack or one of its components cannot be used."""


class UnknownStackError(StackError, KeyError):
    """No stack of that name in the project config."""


class UnknownComponentError(StackError, KeyError):
    """No component plug-in of that flavor is installed."""


class RegistryError(DockyardError):
    """The model registry cannot do what was asked."""


class ModelNotFoundError(RegistryError, KeyError):
    """No model, version or alias by that reference."""


class ServingError(DockyardError):
    """A model cannot be served or cannot answer."""


class InvalidInputError(ServingError, ValueError):
    """A request's inputs do not fit the model's signature."""


class RolloutError(DockyardError):
    """A deployment or rollout cannot do what was asked."""


class StaleStateError(RolloutError):
    """A deployment's state changed since it was read (its revision moved on)."""

    def __init__(self, message: str, *, current_revision: int = 0) -> None:
        super().__init__(message)
        self.current_revision = current_revision


class BatchError(DockyardError):
    """A batch scoring job cannot run as asked: bad input, a reused job id, a scheduler
    that cannot be reached."""


class EventError(DockyardError):
    """An event bus or a stream consumer cannot do what was asked."""


class BusUnavailableError(EventError, ConnectionError):
    """The broker behind a bus URL cannot be reached or refused the connection."""


class UnknownBusError(EventError, ValueError):
    """A bus URL whose scheme no installed event-bus adapter handles."""


class TopicNameError(EventError, ValueError):
    """A topic or consumer-group name that dockyard or the broker refuses."""


class ConsumerConfigError(EventError, ValueError):
    """Stream-consumer options that cannot work (a batch of 0, a latency below 0, ...)."""


class TriggerError(EventError, ValueError):
    """A trigger cannot be added as asked: a name in use, an unknown dataset or command."""


class UnknownTriggerError(TriggerError, KeyError):
    """No trigger of that name."""


class OrchestratorError(DockyardError):
    """An orchestrator cannot run the stack's steps as configured (its extra is missing,
    its workers cannot reach the stack's stores), or a pipeline cannot be compiled."""


class OrchestratorUnavailableError(OrchestratorError, ConnectionError):
    """The orchestrator's cluster (a Dask scheduler) cannot be reached."""


class ExportError(OrchestratorError, ValueError):
    """An export was asked with bad input: an invalid image name, a schedule, a target."""


class ScheduleError(DockyardError, ValueError):
    """A schedule cannot be added or changed as asked: a cron expression that does not
    parse, an unknown timezone or command, a name in use."""


class UnknownScheduleError(ScheduleError, KeyError):
    """No schedule of that name."""


class PackagingError(DockyardError, ValueError):
    """An image, manifest, template or workflow cannot be made from the given input (an
    invalid image name, an output folder that is a file...)."""


class DashboardError(DockyardError):
    """The dashboard cannot start as asked (its extra is not installed, its token is unset)."""
