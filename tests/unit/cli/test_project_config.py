"""The files and settings a user writes by hand, each wrong shape refused with the file,
the value and the fix (issue #8, items 11 and 16): ``.dockyard/config.yaml``, run
configs, stack names and ``DOCKYARD_HOME``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dockyard.errors import ConfigError, StackError
from dockyard.pipelines.params import load_run_config, validate_run_config
from dockyard.settings import Settings, find_project_root
from dockyard.stacks.config import ProjectConfig, check_stack_name, read_config_text


def _config(root: Path, text: str) -> Path:
    (root / ".dockyard").mkdir(exist_ok=True)
    path = root / ".dockyard" / "config.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stacks:\n  default: 5\n", "stacks.default must be a mapping of components (orchestrator, artifact_store, metadata_store), got int 5"),
        ("stacks:\n  s:\n", "stacks.s must be a mapping of components"),
        ("stacks:\n  s: {}\n", "stack 's' has no components; give it an orchestrator"),
        ("stacks:\n  s:\n    orchestrator: local\n", "stacks.s.orchestrator must be a mapping with a 'flavor', got 'local'; e.g. orchestrator: {flavor: local}"),
        ("stacks:\n  s:\n    artifact_store: {path: x}\n", "stacks.s.artifact_store must be a mapping with a 'flavor'"),
        ("stacks:\n  1: {orchestrator: {flavor: local}}\n", "stack names are text; quote 1 as '1'"),
        ("stacks: [a, b]\n", "must be a mapping with a 'stacks' mapping"),
        ("- a\n", "must be a mapping with a 'stacks' mapping"),
        ("active_stack: [x]\n", "active_stack must be a stack name, got ['x']"),
        ("stacks: {a: [}\n", "is not valid YAML"),
    ],
    ids=["number", "empty", "no components", "component string", "no flavor", "name int",
         "stacks list", "top list", "active list", "yaml"],
)  # fmt: skip
def test_bad_config_shapes_name_the_file_and_the_fix(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _config(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        ProjectConfig.load(tmp_path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_a_config_that_is_not_utf8(tmp_path: Path) -> None:
    path = _config(tmp_path, "")
    path.write_bytes(b"active_stack: caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        ProjectConfig.load(tmp_path)
    assert str(info.value) == (
        f"Project config '{path}' is not UTF-8 text (byte 0xe9 at offset 17); save it as UTF-8."
    )


def test_a_config_path_that_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / ".dockyard" / "config.yaml").mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"config\.yaml is not a file; remove it"):
        ProjectConfig.load(tmp_path)


def test_a_good_config_with_kinds_left_out_still_loads(tmp_path: Path) -> None:
    _config(tmp_path, "active_stack: s\nstacks:\n  s:\n    orchestrator: {flavor: local}\n")
    config = ProjectConfig.load(tmp_path)
    assert config.stack("s") == {"orchestrator": {"flavor": "local"}}
    assert "default" in config.stacks


def test_read_config_text_of_an_unreadable_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Deploy file '.*' cannot be read: Is a directory"):
        read_config_text(tmp_path, what="Deploy file")


@pytest.mark.parametrize("name", ["team", "gpu-2", "a.b_c", "0", "x" * 64])
def test_good_stack_names(name: str) -> None:
    assert check_stack_name(name) == name


@pytest.mark.parametrize("name", ["", "../x", "a/b", "my stack", "-x", ".x", "x" * 65, "é", "a:b"])
def test_bad_stack_names(name: str) -> None:
    with pytest.raises(StackError) as info:
        check_stack_name(name)
    assert str(info.value) == (
        f"Invalid stack name {name!r}: use 1 to 64 letters, digits, '_', '.' or '-', "
        "starting with a letter or digit (e.g. team, gpu-2)."
    )


def test_register_checks_the_name(tmp_path: Path) -> None:
    config = ProjectConfig.load(tmp_path)
    with pytest.raises(StackError, match="Invalid stack name 'a b'"):
        config.register("a b", {})


# -- DOCKYARD_HOME ----------------------------------------------------------------------


def _settings(home: Path) -> Settings:
    return Settings(home=home, stack=None, trust_pickle=False, debug=False)


def test_a_missing_dockyard_home_is_refused(tmp_path: Path) -> None:
    """A typo in DOCKYARD_HOME used to start a new, empty project silently."""
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError) as info:
        find_project_root(_settings(missing))
    assert str(info.value) == (
        f"DOCKYARD_HOME={missing} does not exist; create it with dockyard init {missing} "
        "(or correct DOCKYARD_HOME)."
    )
    assert not missing.exists()


def test_a_dockyard_home_that_is_a_file_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "f"
    file.write_text("")
    with pytest.raises(ConfigError, match=r"DOCKYARD_HOME=.*/f is a file, not a folder"):
        find_project_root(_settings(file))


def test_an_existing_dockyard_home_is_the_root(tmp_path: Path) -> None:
    assert find_project_root(_settings(tmp_path)) == tmp_path.resolve()


def test_init_creates_the_missing_dockyard_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from dockyard.cli import main as cli_main

    home = tmp_path / "new" / "project"
    monkeypatch.setenv("DOCKYARD_HOME", str(home))
    monkeypatch.setattr(sys, "argv", ["dockyard", "init"])
    with pytest.raises(SystemExit) as info:
        cli_main.main()
    assert info.value.code == 0
    assert (home / ".dockyard" / "config.yaml").is_file()
    assert f"Initialised dockyard project in {home}" in capsys.readouterr().out
    assert find_project_root() == home


def test_init_of_a_path_under_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from dockyard.cli import main as cli_main

    (tmp_path / "f").write_text("")
    monkeypatch.setattr(sys, "argv", ["dockyard", "init", str(tmp_path / "f" / "p")])
    with pytest.raises(SystemExit) as info:
        cli_main.main()
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert f"Error: Cannot create the project folder {tmp_path / 'f' / 'p'}: " in err
    assert "Pick another folder." in err


# -- run configs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"steps": ["a"]}, "run.yaml: steps must be a mapping of step names, got list."),
        ({"steps": {"a": {"parameters": [1]}}}, "run.yaml: steps.a.parameters must be a mapping."),
        ({"enable_cache": "maybe"}, "run.yaml: enable_cache must be true or false, got 'maybe'."),
        ({"trust_pickle": 1}, "run.yaml: trust_pickle must be true or false, got 1."),
        ({"steps": {"a": {"enable_cache": "no"}}}, "run.yaml: steps.a: enable_cache must be true or false, got 'no'."),
    ],
)  # fmt: skip
def test_run_config_shapes(data: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_run_config(data, source="run.yaml")
    assert str(info.value) == message


def test_a_run_config_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_bytes(b"parameters: {n: 3}  # caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_run_config(path)
    assert str(info.value) == (
        f"Run config '{path}' is not UTF-8 text (byte 0xe9 at offset 25); save it as UTF-8."
    )


def test_a_run_config_that_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder, not a file"):
        load_run_config(tmp_path)
