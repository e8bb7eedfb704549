"""Stacks: named sets of components, stored in the project config."""

from dockyard.stacks.config import ProjectConfig
from dockyard.stacks.stack import Stack, load_stack

__all__ = ["ProjectConfig", "Stack", "load_stack"]
