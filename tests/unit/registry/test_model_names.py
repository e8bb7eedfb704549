"""One name rule for models and aliases, checked at registration (issue #8, item 14).

A name that ``NAME:VERSION`` / ``NAME@ALIAS`` cannot spell could be registered but never
served, loaded or deleted from the CLI; one longer than the column (255) or holding NUL
fails inside PostgreSQL with a raw DataError. Both are refused before anything is stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
from sklearn.linear_model import LogisticRegression

from dockyard import Model, pipeline, register_model, step
from dockyard.errors import RegistryError
from dockyard.registry.refs import ModelRef, check_alias, check_model_name
from dockyard.stacks.stack import clear_cache, load_stack

VALID = ["churn", "Churn_v2", "a.b-c", "x" * 255, "0", "iris-2024.1"]
INVALID = {
    "empty": "",
    "quote": "it's",
    "double quote": 'say "hi"',
    "newline": "a\nb",
    "NUL": "a\x00b",
    "non-ASCII": "modèle",
    "300 characters": "x" * 300,
    "256 characters": "x" * 256,
    "colon": "bad:name",
    "at": "bad@name",
    "slash": "a/b",
    "space": "with space",
    "leading dash": "-churn",
    "leading dot": ".churn",
}


@pytest.fixture(autouse=True)
def _fresh(project: Path):
    clear_cache()
    yield
    clear_cache()


@pytest.mark.parametrize("name", VALID)
def test_what_the_rule_accepts_a_reference_can_spell(name: str) -> None:
    assert check_model_name(name) == name
    assert ModelRef.parse(name).name == name
    assert ModelRef.parse(f"{name}:3") == ModelRef(name, version=3)
    assert ModelRef.parse(f"{name}@production") == ModelRef(name, alias="production")


@pytest.mark.parametrize("name", INVALID.values(), ids=INVALID.keys())
def test_what_the_rule_refuses_no_reference_can_spell(name: str) -> None:
    with pytest.raises(RegistryError, match="Invalid model name") as info:
        check_model_name(name)
    message = str(info.value)
    assert repr(name)[:40].rstrip("'") in message  # the offending value, shown
    assert "letters, digits, '_', '.' or '-'" in message  # the rule
    if not ("@" in name or ":" in name):  # those two spell another reference
        with pytest.raises(RegistryError, match="Invalid model reference"):
            ModelRef.parse(name)


def test_a_long_name_is_shown_short_with_its_length() -> None:
    with pytest.raises(RegistryError) as info:
        check_model_name("x" * 300)
    assert "(300 characters)" in str(info.value)
    assert "x" * 100 not in str(info.value)


@pytest.mark.parametrize(
    ("alias", "message"),
    [
        ("prod uction", "Invalid alias 'prod uction': use letters, digits"),
        ("3", "Invalid alias '3': an alias cannot be a number."),
        ("", "Invalid alias ''"),
        ("é", "Invalid alias 'é'"),
    ],
)
def test_alias_rule(alias: str, message: str) -> None:
    with pytest.raises(RegistryError) as info:
        check_alias(alias)
    assert message in str(info.value)
    assert check_alias("blue_green.2") == "blue_green.2"


def _tiny() -> LogisticRegression:
    return LogisticRegression(max_iter=200).fit([[0.0], [1.0]], [0, 1])


@pytest.mark.parametrize("name", ["a\nb", "x" * 300, "it's", "a\x00b"], ids=repr)
def test_register_model_refuses_a_bad_name_before_storing_anything(name: str) -> None:
    stack = load_stack()
    with pytest.raises(RegistryError, match="Invalid model name"):
        register_model(name, _tiny())
    assert stack.registry_store.list_models() == []
    assert not list((stack.config_dir / "artifacts").rglob("*")), "no orphan blob"


def test_register_model_refuses_a_bad_alias() -> None:
    with pytest.raises(RegistryError, match="Invalid alias 'no way'"):
        register_model("tiny", _tiny(), aliases=["no way"])
    assert load_stack().registry_store.list_models() == []


@step
def bad_output() -> Annotated[Model, "my model"]:
    return Model(_tiny())


@pipeline
def registers_a_bad_name() -> None:
    bad_output()


def test_a_model_output_with_a_bad_name_is_refused_before_it_is_stored() -> None:
    with pytest.raises(RegistryError, match="Invalid model name 'my model'"):
        registers_a_bad_name()
    stack = load_stack()
    assert stack.registry_store.list_models() == []
    assert not list((stack.config_dir / "artifacts").rglob("*")), "no orphan blob"
