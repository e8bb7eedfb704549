"""Tracing builds the DAG without running steps, and checks every parameter first."""

from __future__ import annotations

from typing import Annotated

import pytest

from dockyard import pipeline, step
from dockyard.errors import ConfigError, ParameterError, PipelineDefinitionError

calls: list[str] = []


@step
def load() -> list:
    calls.append("load")
    return [1, 2, 3]


@step
def split(data: list, ratio: float = 0.5) -> tuple[Annotated[list, "a"], Annotated[list, "b"]]:
    calls.append("split")
    n = int(len(data) * ratio)
    return data[:n], data[n:]


@step
def total(xs: list, scale: int = 1) -> int:
    return sum(xs) * scale


@step
def notify() -> None:
    pass


@pipeline
def flow(scale: int = 1) -> None:
    data = load()
    a, b = split(data)
    total(a, scale=scale)
    total(b, scale=scale)
    notify(after=[a])


def test_tracing_runs_no_step_and_names_invocations() -> None:
    calls.clear()
    plan, steps = flow.plan({"scale": 2})
    assert calls == []
    assert list(plan.invocations) == ["load", "split", "total", "total_2", "notify"]
    assert plan.invocations["total_2"].inputs == {"xs": ("split", "b")}
    assert plan.invocations["total"].params == {"scale": 2}
    assert plan.invocations["split"].outputs == ["a", "b"]
    assert plan.invocations["split"].params == {"ratio": 0.5}
    assert plan.invocations["notify"].after == ["split"]
    assert plan.graph()["notify"] == ["split"]
    assert set(steps) == set(plan.invocations)


def test_step_outside_pipeline_is_the_plain_function() -> None:
    assert total([1, 2], scale=3) == 9


def test_explicit_ids() -> None:
    @pipeline
    def p() -> None:
        d = load(id="first")
        load(id="second", after=d)

    plan, _ = p.plan()
    assert list(plan.invocations) == ["first", "second"]
    assert plan.invocations["second"].after == ["first"]


def test_duplicate_explicit_id_is_an_error() -> None:
    @pipeline
    def p() -> None:
        load(id="x")
        load(id="x")

    with pytest.raises(PipelineDefinitionError, match="share the id 'x'"):
        p.plan()


def test_unknown_pipeline_parameter() -> None:
    with pytest.raises(
        ParameterError, match=r"Pipeline 'flow' has no parameter 'scal'\. Its parameters: scale"
    ):
        flow.plan({"scal": 2})


def test_wrong_parameter_type() -> None:
    with pytest.raises(
        ParameterError, match="Parameter 'scale' of pipeline 'flow' expects int, got str 'big'"
    ):
        flow.plan({"scale": "big"})


def test_int_is_accepted_for_float_but_bool_is_not_an_int() -> None:
    @pipeline
    def p(ratio: float = 0.5) -> None:
        split(load(), ratio=ratio)

    p.plan({"ratio": 1})
    with pytest.raises(ParameterError, match="expects int"):
        flow.plan({"scale": True})


def test_missing_required_parameter() -> None:
    @pipeline
    def needs(n: int) -> None:
        total(load(), scale=n)

    with pytest.raises(ParameterError, match="needs parameter 'n'"):
        needs.plan()


def test_missing_step_parameter() -> None:
    @step
    def needs_k(k: int) -> int:
        return k

    @pipeline
    def p() -> None:
        needs_k()

    with pytest.raises(ParameterError, match="Step 'needs_k' is missing parameter 'k'"):
        p.plan()


def test_run_config_sets_step_parameters_and_cache() -> None:
    plan, _ = flow.plan(
        config={
            "parameters": {"scale": 3},
            "steps": {"split": {"parameters": {"ratio": 0.25}, "enable_cache": False}},
        }
    )
    assert plan.params == {"scale": 3}
    assert plan.invocations["split"].params == {"ratio": 0.25}
    assert plan.cache_enabled("split") is False
    assert plan.cache_enabled("load") is True


def test_run_config_unknown_step_or_parameter() -> None:
    with pytest.raises(ConfigError, match=r"configures step\(s\) \['nope'\]"):
        flow.plan(config={"steps": {"nope": {"parameters": {}}}})
    with pytest.raises(ParameterError, match="sets parameter 'ratioo' of step 'split'"):
        flow.plan(config={"steps": {"split": {"parameters": {"ratioo": 0.1}}}})
    with pytest.raises(ConfigError, match="unknown key"):
        flow.plan(config={"paramters": {}})


def test_run_config_conflicting_with_code() -> None:
    with pytest.raises(ParameterError, match="set both in the pipeline code"):
        flow.plan(config={"steps": {"total": {"parameters": {"scale": 9}}}})


def test_run_config_file(tmp_path) -> None:
    conf = tmp_path / "run.yaml"
    conf.write_text("parameters:\n  scale: 4\nenable_cache: false\n")
    plan, _ = flow.plan(config=conf)
    assert plan.params == {"scale": 4}
    assert plan.enable_cache is False
    bad = tmp_path / "bad.yaml"
    bad.write_text("parameters: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        flow.plan(config=bad)
    with pytest.raises(ConfigError, match="does not exist"):
        flow.plan(config=tmp_path / "missing.yaml")


def test_non_json_parameter_is_refused() -> None:
    @step
    def takes(obj: object = None) -> None:
        pass

    @pipeline
    def p() -> None:
        takes(obj=object())

    with pytest.raises(ParameterError, match="not a JSON value"):
        p.plan()


def test_using_an_output_as_a_condition_is_explained() -> None:
    @pipeline
    def p() -> None:
        if load():
            pass

    with pytest.raises(PipelineDefinitionError, match="used as a condition while tracing"):
        p.plan()


def test_passing_a_tuple_of_outputs_is_explained() -> None:
    @pipeline
    def p() -> None:
        pair = split(load())
        total(pair)

    with pytest.raises(PipelineDefinitionError, match="not a single step output"):
        p.plan()


def test_plan_round_trips_through_dict() -> None:
    from dockyard.pipelines.plan import RunPlan

    plan, _ = flow.plan({"scale": 2})
    again = RunPlan.from_dict(plan.to_dict())
    assert again.to_dict() == plan.to_dict()
    assert again.invocations["total"].inputs["xs"] == ("split", "a")


def test_output_names_from_annotations() -> None:
    @step
    def plain() -> int:
        return 1

    @step
    def named() -> Annotated[int, "n"]:
        return 1

    @step
    def unnamed_tuple() -> tuple[int, str]:
        return 1, "a"

    @step
    def nothing() -> None:
        return None

    assert [o.name for o in plain.outputs] == ["output"]
    assert [o.name for o in named.outputs] == ["n"]
    assert [o.name for o in unnamed_tuple.outputs] == ["output_0", "output_1"]
    assert nothing.outputs == ()


def test_reserved_parameter_names() -> None:
    with pytest.raises(PipelineDefinitionError, match="reserved"):

        @step
        def bad(id: int) -> int:
            return id
