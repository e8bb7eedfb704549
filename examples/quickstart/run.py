"""The quickstart's main job: train a model with a pipeline on the embedded stack.

``bash scripts/quickstart.sh`` installs dockyard and runs this file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dockyard import load_stack
from dockyard.registry import resolve

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import training  # the example's own module, next to this file


def main() -> None:
    print("== 1. Train: the pipeline runs on the embedded stack (in-process, SQLite, local lake)")
    run = training(C=0.5)
    for name, s in run.steps.items():
        print(f"   {name:<10} {s.status:<10} {1000 * (s.duration_s or 0):7.1f} ms")
    metrics = run.steps["evaluate"].outputs["metrics"].load()
    print(f"   run {run.id[:8]}: accuracy={metrics['accuracy']:.3f} f1={metrics['f1_macro']:.3f}")

    print("== 2. Run again: every step is a cache hit")
    again = training(C=0.5)
    hits = sum(s.cache_hit for s in again.steps.values())
    print(f"   run {again.id[:8]}: {hits}/{len(again.steps)} steps from cache")

    print("== 3. Register: the model version carries its run, metrics and signature")
    stack = load_stack()
    version = run.steps["register"].outputs["version"].load()
    stack.metadata_store.set_alias("iris", "production", version)
    record = resolve("iris@production", stack.metadata_store)
    columns = ", ".join(c["name"] for c in (record.signature or {}).get("inputs", []))
    print(f"   iris:{record.version} is production (run {record.run_id[:8]}, inputs: {columns})")


if __name__ == "__main__":
    main()
