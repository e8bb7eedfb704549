#!/usr/bin/env bash
# The main job: install dockyard and run the quickstart on the embedded stack.
source "$(dirname "$0")/_venv.sh" all
exec .venv/bin/python examples/quickstart/run.py "$@"
