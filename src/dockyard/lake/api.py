"""Open the lake of a stack."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

from dockyard.errors import StackError

if TYPE_CHECKING:
    from dockyard.lake.base import Lake
    from dockyard.stacks.stack import Stack

__all__ = ["open"]


def open(stack: Stack | None = None) -> Lake:
    """The lake of ``stack`` (default: the active stack), built on first use.

    Example::

        lake = dockyard.lake.open()
        lake.write("raw/customers", df)
    """
    from dockyard.lake.base import Lake

    if stack is None:
        from dockyard.stacks.stack import load_stack

        stack = load_stack()
    lake = stack.component("lake")
    if not isinstance(lake, Lake):  # pragma: no cover - build_component checks the port
        raise StackError(f"The stack's lake is a {builtins.type(lake).__name__}, not a Lake.")
    return lake
