"""Rendered objects as YAML text (pure: strings in, a string out)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["to_yaml"]


def to_yaml(documents: Mapping[str, Any] | Iterable[Mapping[str, Any]], header: str = "") -> str:
    """One YAML document, or several separated by ``---``, keys in the order given."""
    import yaml

    docs = [documents] if isinstance(documents, Mapping) else list(documents)
    body = yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False, width=100)
    return (f"# {header}\n" if header else "") + body
