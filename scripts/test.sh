#!/usr/bin/env bash
# The whole test suite: install dockyard with its test tools, lint, type-check, check
# layering, test.
source "$(dirname "$0")/_venv.sh" test
echo "== ruff"
.venv/bin/ruff check src tests benchmarks examples
.venv/bin/ruff format --check src tests benchmarks examples
echo "== mypy (strict, src/)"
.venv/bin/mypy
echo "== import-linter"
.venv/bin/lint-imports
echo "== pytest"
exec .venv/bin/pytest "$@"
