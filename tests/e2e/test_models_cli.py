"""`dockyard models` as a user drives it, on models registered by a pipeline."""

from __future__ import annotations

from pathlib import Path

TRAIN = """
from typing import Annotated
from sklearn.linear_model import LogisticRegression
from dockyard import Model, pipeline, step


@step
def fit(C: float = 1.0) -> Annotated[Model, "tiny"]:
    X = [[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]]
    y = [0, 1, 0, 1]
    model = LogisticRegression(C=C).fit(X, y)
    return Model(model, metrics={"acc": model.score(X, y)}, description=f"C={C}")


@pipeline
def train(C: float = 1.0):
    fit(C=C)
"""


def test_models_list_show_alias_delete(cli, project: Path) -> None:
    (project / "train.py").write_text(TRAIN)
    assert "No models yet" in cli("models", "list").stdout
    cli("run", "train.py:train", "-p", "C=1.0")
    cli("run", "train.py:train", "-p", "C=0.1")

    listing = cli("models", "list").stdout
    assert "tiny" in listing
    assert "2" in listing

    versions = cli("models", "show", "tiny").stdout
    assert "acc=1" in versions

    assert "production -> tiny:1" in cli("models", "alias", "tiny:1", "production").stdout
    shown = cli("models", "show", "tiny@production").stdout
    assert "Model tiny:1" in shown
    assert "aliases: production" in shown
    assert "C=1.0" in shown
    assert "scikit-learn==" in shown

    refused = cli("models", "delete", "tiny:1", ok=False)
    assert refused.returncode == 1
    assert "in use by alias(es) production" in refused.stderr
    assert "Deleted tiny:2." in cli("models", "delete", "tiny:2").stdout


def test_models_bad_input(cli, project: Path) -> None:
    (project / "train.py").write_text(TRAIN)
    cli("run", "train.py:train")
    for args, message in (
        (("models", "show", "ghost"), "No model named 'ghost'"),
        (("models", "show", "tiny:9"), "Model 'tiny' has no version 9. Versions: 1."),
        (("models", "show", "tiny@prod"), "Model 'tiny' has no alias 'prod'"),
        (("models", "show", "tiny::"), "Invalid model reference"),
        (("models", "alias", "tiny", "production"), "Name the version to alias"),
    ):
        proc = cli(*args, ok=False)
        assert proc.returncode == 1, args
        assert message in proc.stderr, (args, proc.stderr)
