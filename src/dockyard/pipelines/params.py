"""Parameter checks and the YAML run config, all done before anything runs."""

from __future__ import annotations

import inspect
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from dockyard.errors import ConfigError, ParameterError

_RUN_CONFIG_KEYS = {"parameters", "steps", "enable_cache", "trust_pickle"}
_STEP_CONFIG_KEYS = {"parameters", "enable_cache"}


def type_matches(value: Any, annotation: Any) -> bool:
    """A lenient runtime check: builtins, containers, Optional/Union, Literal.

    Unknown annotations are accepted: parameters are JSON values, and a wrong guess here
    would block a valid run.
    """
    if annotation in (Any, inspect.Parameter.empty, object) or (
        annotation is None and value is None
    ):
        return True
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return any(type_matches(value, arg) for arg in get_args(annotation))
    if origin is Literal:
        return value in get_args(annotation)
    if origin is typing.Annotated:
        return type_matches(value, get_args(annotation)[0])
    target = origin or annotation
    if target is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if target is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if target in (list, tuple):
        return isinstance(value, list | tuple)
    if isinstance(target, type):
        try:
            return isinstance(value, target)
        except TypeError:
            return True
    return True


def resolved_hints(func: Any) -> dict[str, Any]:
    """Parameter annotations with string (postponed) annotations evaluated."""
    try:
        return typing.get_type_hints(func, include_extras=True)
    except Exception:  # an unresolvable name: check nothing rather than fail the run
        return {}


def type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def check_param(owner: str, name: str, value: Any, annotation: Any) -> None:
    """Raise ParameterError when ``value`` does not fit ``annotation`` or is not JSON."""
    if not type_matches(value, annotation):
        raise ParameterError(
            f"Parameter {name!r} of {owner} expects {type_name(annotation)}, "
            f"got {type(value).__name__} {value!r}."
        )
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise ParameterError(
            f"Parameter {name!r} of {owner} is a {type(value).__name__}, which is not a "
            f"JSON value. Pass data between steps as step outputs; parameters must be "
            f"numbers, strings, booleans, lists or dicts."
        ) from None


def parse_cli_params(pairs: list[str]) -> dict[str, Any]:
    """``["C=0.5", "name=x"]`` -> ``{"C": 0.5, "name": "x"}`` (values read as YAML)."""
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"Expected key=value for a parameter, got {pair!r}.")
        try:
            out[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            out[key.strip()] = raw
    return out


def load_run_config(path: str | Path) -> dict[str, Any]:
    """Read and shape-check a run config::

    parameters: {C: 0.5}          # pipeline parameters
    enable_cache: true
    steps:
      split:
        parameters: {test_size: 0.3}
        enable_cache: false
    """
    import yaml

    from dockyard.stacks.config import read_config_text

    p = Path(path)
    if not p.is_file():
        what = "is a folder, not a file" if p.is_dir() else "does not exist"
        raise ConfigError(f"Run config {str(p)!r} {what}.")
    try:
        data = yaml.safe_load(read_config_text(p, what="Run config")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"Run config {str(p)!r} is not valid YAML: {exc}") from None
    return validate_run_config(data, source=str(p))


def validate_run_config(data: Any, source: str = "run config") -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source} must be a mapping, got {type(data).__name__}.")
    unknown = set(data) - _RUN_CONFIG_KEYS
    if unknown:
        raise ConfigError(
            f"{source} has unknown key(s) {sorted(unknown)}; allowed: {sorted(_RUN_CONFIG_KEYS)}."
        )
    steps = data.get("steps") or {}
    if not isinstance(steps, Mapping):
        raise ConfigError(
            f"{source}: steps must be a mapping of step names, got {type(steps).__name__}."
        )
    for name, conf in steps.items():
        if not isinstance(conf, Mapping) or set(conf) - _STEP_CONFIG_KEYS:
            raise ConfigError(f"{source}: steps.{name} may only hold {sorted(_STEP_CONFIG_KEYS)}.")
        if not isinstance(conf.get("parameters") or {}, Mapping):
            raise ConfigError(f"{source}: steps.{name}.parameters must be a mapping.")
        _check_flag(conf, "enable_cache", f"{source}: steps.{name}")
    if not isinstance(data.get("parameters") or {}, Mapping):
        raise ConfigError(f"{source}: parameters must be a mapping.")
    for key in ("enable_cache", "trust_pickle"):
        _check_flag(data, key, source)
    return dict(data)


def _check_flag(conf: Mapping[str, Any], key: str, where: str) -> None:
    value = conf.get(key)
    if value is not None and not isinstance(value, bool):
        raise ConfigError(f"{where}: {key} must be true or false, got {value!r}.")
