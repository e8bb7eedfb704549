"""Stacks: named sets of components (a table of kinds), stored in the project config."""

from dockyard.stacks.config import ProjectConfig
from dockyard.stacks.kinds import ComponentKind
from dockyard.stacks.stack import Stack, load_stack

__all__ = ["ComponentKind", "ProjectConfig", "Stack", "load_stack"]
