"""The PipelineCompiler contract, for every compiler (``dockyard export ENGINE``).

A compiler turns plain data (:class:`~dockyard.orchestrators.compiler.PipelineSpec`) into
an engine's files; what the engine then does with them is proven by running the engine
(dockyard's own compilers are run by Airflow and kfp in ``tests/integration``). This suite
holds the rules that do not need the engine.

A subclass provides the ``compiler`` fixture (an instance), ``output`` (where to write:
a folder or a file path, as the compiler's convention has it) and, when the compiler needs
some, ``options`` (keyword options for ``compile``)::

    class TestMyCompiler(PipelineCompilerContract):
        @pytest.fixture
        def compiler(self):
            return MyCompiler()

        @pytest.fixture
        def output(self, tmp_path):
            return tmp_path / "out"
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dockyard.errors import ExportError
from dockyard.orchestrators.compiler import PipelineCompiler, PipelineSpec, StepSpec

__all__ = ["SPEC", "PipelineCompilerContract"]

#: A diamond with retries on one branch and two parameters.
SPEC = PipelineSpec(
    name="diamond",
    target="/srv/code/flow.py:diamond",
    params={"n": 4, "scale": 0.5},
    steps=(
        StepSpec("source", ()),
        StepSpec("square", ("source",), retries=2, retry_backoff_s=3.0),
        StepSpec("negate", ("source",)),
        StepSpec("combine", ("square", "negate")),
    ),
    schedule="0 2 * * *",
    description="A diamond.",
)


class PipelineCompilerContract:
    """The rules every compiler keeps. Subclass it in a ``Test*`` class.

    Fixtures to provide: ``compiler``, ``output``; optionally ``options``.
    """

    @pytest.fixture
    def compiler(self) -> PipelineCompiler:
        raise NotImplementedError(
            f"{type(self).__name__} must define the 'compiler' fixture (see "
            "dockyard.testing.PipelineCompilerContract)"
        )

    @pytest.fixture
    def output(self, tmp_path: Path) -> Path:
        return tmp_path / "out"

    @pytest.fixture
    def options(self) -> dict[str, Any]:
        return {}

    def test_writes_the_files_it_returns(
        self, compiler: PipelineCompiler, output: Path, options: dict[str, Any]
    ) -> None:
        """The CLI prints the returned paths: each must exist and hold something."""
        paths = compiler.compile(SPEC, output, **options)
        assert paths
        for path in paths:
            assert path.is_file(), path
            assert path.stat().st_size > 0, path

    def test_the_same_pipeline_compiles_to_the_same_bytes(
        self, compiler: PipelineCompiler, output: Path, options: dict[str, Any]
    ) -> None:
        """Exported files are committed and reviewed: exporting again without a change
        must not produce a diff (no timestamps, no random ids, a stable order)."""
        first = {p: p.read_bytes() for p in compiler.compile(SPEC, output, **options)}
        second = {p: p.read_bytes() for p in compiler.compile(SPEC, output, **options)}
        assert first == second

    def test_every_step_is_named_in_the_output(
        self, compiler: PipelineCompiler, output: Path, options: dict[str, Any]
    ) -> None:
        """A user finds a step in the engine's UI by the name it has in the pipeline."""
        text = "".join(p.read_text() for p in compiler.compile(SPEC, output, **options))
        for step in SPEC.steps:
            assert step.name in text, step.name

    def test_an_unknown_option_is_refused(
        self, compiler: PipelineCompiler, output: Path, options: dict[str, Any]
    ) -> None:
        """A misspelt option silently ignored would export something else than asked."""
        with pytest.raises(ExportError, match="no_such_option"):
            compiler.compile(SPEC, output, **options, no_such_option=1)
