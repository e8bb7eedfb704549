"""The MetadataStore contract, for every adapter.

Each test states the rule and, in its docstring, why the rule exists: the pipelines,
the CLI and the registry rely on these behaviours whatever database sits underneath.

A subclass provides the ``make_store`` fixture: a function that opens the store under
test, with the same data on every call (a second call after ``close()`` must see what
the first one wrote, unless ``supports_durability = False``). It may also provide
``store_with_secret``. Example::

    class TestMyStore(MetadataStoreContract):
        @pytest.fixture
        def make_store(self, tmp_path):
            return lambda: MyMetadataStore(tmp_path / "metadata")

        @pytest.fixture
        def store_with_secret(self, tmp_path):
            store = MyMetadataStore(tmp_path / "metadata", password="s3cret")
            yield store, "s3cret"
            store.close()
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest

from dockyard.errors import MetadataError, RecordNotFoundError
from dockyard.metadata.base import ArtifactDraft, ArtifactRecord, DatasetUse, MetadataStore

__all__ = ["MetadataStoreContract", "draft", "new_run"]


def draft(
    content: str, *, uri: str | None = None, data_type: str = "builtins.dict"
) -> ArtifactDraft:
    """An artifact draft for bytes ``content`` (its hash, size, a URI made from them)."""
    digest = hashlib.sha256(content.encode()).hexdigest()
    return ArtifactDraft(
        uri=uri or f"file:///lake/{digest}",
        content_hash=digest,
        size=len(content),
        data_type=data_type,
        materializer="builtins",
        materializer_version="1",
    )


def new_run(store: MetadataStore, pipeline: str = "training") -> str:
    """The id of a new run of ``pipeline``."""
    return store.create_run(pipeline, spec={"steps": []}, params={}, stack="default").id


class MetadataStoreContract:
    """The rules every metadata store keeps. Subclass it in a ``Test*`` class.

    Fixtures to provide: ``make_store`` (required) and ``store_with_secret`` (optional),
    see the module docstring.

    Attributes:
        supports_durability: the data outlives the store object (False for a database
            in memory): switches the reopening test on or off.
        supports_crash_detection: a run whose process died reads as ``crashed`` (the
            store records the owner and its heartbeats). Needs ``supports_durability``.
    """

    supports_durability: ClassVar[bool] = True
    supports_crash_detection: ClassVar[bool] = True

    # fixtures the subclass provides ----------------------------------------------------
    @pytest.fixture
    def make_store(self) -> Callable[[], MetadataStore]:
        """Opens the store under test; every call opens the same (initially empty) data."""
        raise NotImplementedError(
            f"{type(self).__name__} must define the 'make_store' fixture (see "
            "dockyard.testing.MetadataStoreContract)"
        )

    @pytest.fixture
    def store_with_secret(self) -> tuple[MetadataStore, str] | None:
        """A store configured with a secret (a password...), and that secret; None when
        the store's configuration holds no secret."""
        return None

    @pytest.fixture
    def store(self, make_store: Callable[[], MetadataStore]) -> Iterator[MetadataStore]:
        s = make_store()
        yield s
        s.close()

    # helpers a subclass may override ---------------------------------------------------
    def force_next_ids(self, monkeypatch: pytest.MonkeyPatch, *hexes: str) -> None:
        """Make the store's next new run ids ``hexes`` (then random ones).

        The default makes ``uuid.uuid4()`` return them; a store that makes ids another
        way overrides this.
        """
        queue = [uuid.UUID(hex=h) for h in hexes]
        real = uuid.uuid4
        monkeypatch.setattr(uuid, "uuid4", lambda: queue.pop(0) if queue else real())

    # runs --------------------------------------------------------------------------------
    def test_run_lifecycle(self, store: MetadataStore) -> None:
        """A run is born running and ends completed or failed, with its end time and error.

        The CLI shows status, duration and error of every run; a resumed run goes back to
        running, so its end time must be cleared, not left from the failed attempt.
        """
        spec = {"steps": [{"name": "load", "inputs": {}}], "version": 1}
        run = store.create_run("training", spec=spec, params={"C": 0.5, "tags": ["a"]}, stack="s")
        assert len(run.id) == 32
        assert int(run.id, 16) >= 0
        assert run.status == "running"
        assert run.ended_at is None
        assert run.created_at.tzinfo is not None
        assert run.created_at.utcoffset() == timedelta(0)

        got = store.get_run(run.id)
        assert got == run
        assert got.spec == spec
        assert got.params == {"C": 0.5, "tags": ["a"]}

        store.finish_run(run.id, "failed", error="boom")
        failed = store.get_run(run.id)
        assert failed.status == "failed"
        assert failed.error == "boom"
        assert failed.ended_at is not None
        assert failed.ended_at >= failed.created_at

        store.finish_run(run.id, "running")
        resumed = store.get_run(run.id)
        assert (resumed.status, resumed.ended_at, resumed.error) == ("running", None, None)

        store.finish_run(run.id, "completed")
        assert store.get_run(run.id).status == "completed"

    def test_a_run_whose_process_died_reads_as_crashed(
        self, store: MetadataStore, make_store: Callable[[], MetadataStore]
    ) -> None:
        """A `dockyard run` killed with SIGKILL, or that lost the database at its end,
        never calls finish_run: without crash detection its run says `running` forever and
        nobody knows to run it again. A run whose owner is gone reads as `crashed`, with a
        one-line error saying what happened and what to do; a run whose owner lives stays
        `running`; a status written later (by hand, or by a late finish_run) wins."""
        if not (self.supports_durability and self.supports_crash_detection):
            pytest.skip(f"{type(self).__name__}: no crash detection across store objects")
        if not hasattr(os, "fork"):
            pytest.skip("needs os.fork to make a process that dies mid-run")
        orphan = _create_run_in_a_process_that_dies(make_store)
        live = new_run(store)

        crashed = store.get_run(orphan)
        assert crashed.status == "crashed"
        assert crashed.error
        assert "\n" not in crashed.error
        assert store.get_run(live).status == "running"
        statuses = {r.id: r.status for r in store.list_runs()}
        assert statuses == {orphan: "crashed", live: "running"}

        store.finish_run(orphan, "failed", error="marked failed by hand")
        assert (store.get_run(orphan).status, store.get_run(orphan).error) == (
            "failed",
            "marked failed by hand",
        )

    def test_heartbeat_never_revives_a_finished_run(self, store: MetadataStore) -> None:
        """The running process reports every few seconds that it lives; a heartbeat that
        arrives after finish_run (a slow thread) must not make a finished run `running`
        again, and one for a run that is gone is nothing to keep alive (no error)."""
        run = new_run(store)
        before = store.get_run(run)
        store.heartbeat(run)
        after = store.get_run(run)
        assert after.status == "running"
        if before.heartbeat_at is not None:
            assert after.heartbeat_at is not None
            assert after.heartbeat_at >= before.heartbeat_at
        store.finish_run(run, "completed")
        store.heartbeat(run)
        assert store.get_run(run).status == "completed"
        store.heartbeat(uuid.uuid4().hex)

    def test_finish_unknown_run_is_not_found(self, store: MetadataStore) -> None:
        """Finishing a run that does not exist must fail loudly, not silently do nothing:
        otherwise an orchestrator that lost its run id would believe the run was closed."""
        with pytest.raises(RecordNotFoundError, match="No run matches"):
            store.finish_run(uuid.uuid4().hex, "completed")

    def test_get_run_by_unique_prefix(self, store: MetadataStore) -> None:
        """Users type the first characters of an id (``dockyard runs show 3fa8``), as with
        git commits; any unique prefix of 4 or more characters must resolve."""
        run = new_run(store)
        new_run(store)
        assert store.get_run(run[:8]).id == run
        assert store.get_run(run[:8].upper()).id == run  # pasted from an upper-case display

    def test_ambiguous_prefix_is_refused(
        self, store: MetadataStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An ambiguous prefix must never pick one of the matches at random: the user would
        act on (delete, promote, compare) the wrong run. The message says what to do."""
        self.force_next_ids(monkeypatch, "abcd" + "1" * 28, "abcd" + "2" * 28)
        first = new_run(store)
        second = new_run(store)
        assert (first[:4], second[:4]) == ("abcd", "abcd")
        with pytest.raises(RecordNotFoundError) as info:
            store.get_run("abcd")
        message = str(info.value)
        assert "ambiguous" in message
        assert "'abcd'" in message
        assert "more characters" in message
        assert store.get_run("abcd1").id == first
        assert store.get_run("abcd2").id == second

    def test_missing_and_too_short_ids(self, store: MetadataStore) -> None:
        """A missing record names the id and the command that lists valid ones, so the
        user's next step is obvious; a prefix under 4 characters is refused as too short
        because it would be ambiguous as soon as a project has a few hundred runs."""
        new_run(store)
        with pytest.raises(RecordNotFoundError) as info:
            store.get_run("ffff0000")
        assert str(info.value) == "No run matches 'ffff0000'. List runs with: dockyard runs list"
        with pytest.raises(RecordNotFoundError, match="No run matches 'not-an-id'"):
            store.get_run("not-an-id")
        with pytest.raises(RecordNotFoundError, match="too short"):
            store.get_run("abc")
        with pytest.raises(RecordNotFoundError, match="No artifact matches 'abcdef'"):
            store.get_artifact("abcdef")
        with pytest.raises(KeyError):  # RecordNotFoundError is also a KeyError
            store.get_run("0000000000")

    def test_list_runs_newest_first_with_limit_and_filter(self, store: MetadataStore) -> None:
        """``dockyard runs list`` shows the newest runs first, a page at a time, and can be
        narrowed to one pipeline."""
        ids = [new_run(store, "training" if i % 2 else "scoring") for i in range(7)]
        runs = store.list_runs()
        assert [r.id for r in runs] == ids[::-1]
        assert [r.id for r in store.list_runs(limit=3)] == ids[::-1][:3]
        training = store.list_runs(pipeline="training")
        assert [r.id for r in training] == [i for n, i in enumerate(ids) if n % 2][::-1]
        assert all(r.pipeline == "training" for r in training)
        assert store.list_runs(pipeline="nope") == []
        assert store.list_runs(limit=0) == []

    def test_page_runs_walks_every_run_once_with_step_counts(self, store: MetadataStore) -> None:
        """The dashboard lists runs a page at a time by a cursor (keyset pagination): every
        run appears exactly once, newest first, however many there are, and each carries
        its step counts (cache hits) without loading steps run by run."""
        ids = [new_run(store, "training" if i % 3 else "scoring") for i in range(11)]
        store.record_step_run(ids[-1], "a", status="completed")
        store.record_step_run(ids[-1], "b", status="cached", cache_hit=True)
        store.record_step_run(ids[-1], "c", status="failed", error="boom")
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            page = store.page_runs(before=cursor, limit=4)
            seen += [s.run.id for s in page.runs]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == ids[::-1]
        first = store.page_runs(limit=1).runs[0]
        assert (first.run.id, first.steps, first.cached, first.failed) == (ids[-1], 3, 1, 1)
        training = store.page_runs(pipeline="training", limit=50)
        assert [s.run.id for s in training.runs] == [i for n, i in enumerate(ids) if n % 3][::-1]
        assert training.next_cursor is None
        store.finish_run(ids[0], "failed", "boom")
        assert [s.run.id for s in store.page_runs(status="failed").runs] == [ids[0]]
        assert "training" in store.list_pipelines()

    def test_page_runs_refuses_a_cursor_it_did_not_give(self, store: MetadataStore) -> None:
        """A hand-edited or stale URL must say what is wrong, never list from a random
        place or fail with a database error."""
        new_run(store)
        with pytest.raises(MetadataError, match="first page"):
            store.page_runs(before="not-a-cursor")
        with pytest.raises(MetadataError, match="1 to 500"):
            store.page_runs(limit=0)

    # step runs, artifacts, lineage -------------------------------------------------------
    def test_record_step_run_with_artifacts_and_lineage(self, store: MetadataStore) -> None:
        """A step run records what it read and wrote, so any artifact can be traced back to
        the run and step that produced it and forward to every consumer (lineage is how a
        registered model is tied to its training data)."""
        run = new_run(store)
        t0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
        t1 = t0 + timedelta(seconds=2.5)
        load = store.record_step_run(
            run,
            "load",
            status="completed",
            started_at=t0,
            ended_at=t1,
            cache_key="key-load",
            outputs={"train": draft("train"), "test": draft("test")},
        )
        assert load.duration_s == pytest.approx(2.5)
        assert (load.started_at, load.ended_at) == (t0, t1)
        assert list(load.outputs) == ["train", "test"]
        train_id = load.outputs["train"]

        fit = store.record_step_run(
            run,
            "fit",
            status="completed",
            inputs={"data": train_id},
            outputs={"model": draft("model", data_type="sklearn.SVC")},
        )
        assert store.get_step_run(run, "load") == load
        got = store.get_step_run(run, "fit")
        assert got == fit
        assert got.inputs == {"data": train_id}
        assert got.duration_s is None

        artifact = store.get_artifact(train_id)
        assert artifact.content_hash == hashlib.sha256(b"train").hexdigest()
        assert (artifact.size, artifact.data_type, artifact.materializer) == (
            5,
            "builtins.dict",
            "builtins",
        )
        assert artifact.unsafe is False
        assert artifact.created_at.utcoffset() == timedelta(0)
        assert store.get_artifact(train_id[:6]) == artifact

        lineage = store.get_lineage(train_id)
        assert lineage.artifact == artifact
        assert lineage.produced_by == [(run, "load", load.id)]
        assert lineage.consumed_by == [(run, "fit", fit.id)]
        model_lineage = store.get_lineage(fit.outputs["model"])
        assert model_lineage.produced_by == [(run, "fit", fit.id)]
        assert model_lineage.consumed_by == []

        assert [s.name for s in store.list_step_runs(run)] == ["load", "fit"]

    def test_step_run_errors_are_not_found(self, store: MetadataStore) -> None:
        """Recording against a run or artifact that does not exist must fail before anything
        is written: dangling lineage would break every later lineage query."""
        run = new_run(store)
        with pytest.raises(RecordNotFoundError, match="no run"):
            store.record_step_run(uuid.uuid4().hex, "x", status="completed")
        with pytest.raises(RecordNotFoundError, match="no artifact"):
            store.record_step_run(run, "x", status="cached", outputs={"o": "0" * 32})
        with pytest.raises(RecordNotFoundError, match="no artifact"):
            store.record_step_run(run, "x", status="completed", inputs={"i": "1" * 32})
        assert store.list_step_runs(run) == []
        with pytest.raises(RecordNotFoundError, match="no step named 'x'"):
            store.get_step_run(run, "x")
        with pytest.raises(RecordNotFoundError, match="No run matches"):
            store.list_step_runs(uuid.uuid4().hex)

    def test_identical_artifacts_are_deduplicated_across_runs(self, store: MetadataStore) -> None:
        """The same bytes with the same type and materializer are one artifact whatever run
        wrote them: storage is not paid twice, and the id is stable (a sha256 of the triple)
        so caches and registries can refer to it across runs and databases."""
        first_run, second_run = new_run(store), new_run(store)
        a = store.record_step_run(
            first_run, "s", status="completed", outputs={"o": draft("same", uri="file:///one")}
        )
        b = store.record_step_run(
            second_run, "s", status="completed", outputs={"o": draft("same", uri="file:///two")}
        )
        assert a.outputs == b.outputs
        digest = hashlib.sha256(b"same").hexdigest()
        key = "\x00".join((digest, "builtins.dict", "builtins"))
        assert a.outputs["o"] == hashlib.sha256(key.encode()).hexdigest()[:32]
        assert store.get_artifact(a.outputs["o"]).uri == "file:///one"  # the first one is kept

        other_type = store.record_step_run(
            second_run, "t", status="completed", outputs={"o": draft("same", data_type="str")}
        )
        assert other_type.outputs["o"] != a.outputs["o"]
        producers = store.get_lineage(a.outputs["o"]).produced_by
        assert [(r, n) for r, n, _ in producers] == [(first_run, "s"), (second_run, "s")]

    def test_find_cached_returns_latest_completed(self, store: MetadataStore) -> None:
        """A rerun reuses the outputs of the newest completed step with the same cache key,
        in one query; a failed step must never be reused, or a rerun would skip the very
        step that needs re-executing."""
        assert store.find_cached("nothing-here") is None
        old_run, new_run_id, failed_run = new_run(store), new_run(store), new_run(store)
        store.record_step_run(
            old_run, "fit", status="completed", cache_key="k", outputs={"m": draft("v1")}
        )
        newest = store.record_step_run(
            new_run_id, "fit", status="completed", cache_key="k", outputs={"m": draft("v2")}
        )
        store.record_step_run(failed_run, "fit", status="failed", cache_key="k", error="boom")
        store.finish_run(failed_run, "failed")

        hit = store.find_cached("k")
        assert hit is not None
        assert hit == newest
        assert hit.outputs == newest.outputs

        only_failed = new_run(store)
        store.record_step_run(only_failed, "x", status="failed", cache_key="k-failed")
        assert store.find_cached("k-failed") is None

    def test_cache_hit_records_reuse_existing_artifacts(self, store: MetadataStore) -> None:
        """A cache hit records the step in the new run pointing at the existing artifacts
        (no copy), so the new run's lineage is complete and `runs show` lists every step."""
        first, second = new_run(store), new_run(store)
        original = store.record_step_run(
            first, "fit", status="completed", cache_key="k", outputs={"m": draft("m")}
        )
        hit = store.find_cached("k")
        assert hit is not None
        reused = store.record_step_run(
            second, "fit", status="cached", cache_key="k", cache_hit=True, outputs=hit.outputs
        )
        assert reused.cache_hit is True
        assert reused.outputs == original.outputs
        assert store.get_step_run(second, "fit").cache_hit is True
        cached = store.find_cached("k")
        assert cached is not None
        assert cached.outputs == original.outputs

    def test_re_recording_a_step_replaces_it(self, store: MetadataStore) -> None:
        """A resumed run re-executes its failed step under the same name: the new record
        replaces the old one with its lineage and logs, so a run never shows a step twice."""
        run = new_run(store)
        upstream = store.record_step_run(run, "load", status="completed", outputs={"d": draft("d")})
        failed = store.record_step_run(
            run,
            "fit",
            status="failed",
            cache_key="k",
            error="ValueError: bad",
            logs="first attempt\n",
            inputs={"data": upstream.outputs["d"]},
        )
        done = store.record_step_run(
            run,
            "fit",
            status="completed",
            cache_key="k",
            attempts=2,
            logs="second attempt\n",
            inputs={"data": upstream.outputs["d"]},
            outputs={"model": draft("model")},
        )
        assert done.id != failed.id
        steps = store.list_step_runs(run)
        assert [s.name for s in steps] == ["load", "fit"]
        assert steps[1] == done
        assert (steps[1].status, steps[1].attempts, steps[1].error) == ("completed", 2, None)
        assert store.get_step_logs(run, "fit") == "second attempt\n"
        consumers = store.get_lineage(upstream.outputs["d"]).consumed_by
        assert consumers == [(run, "fit", done.id)]
        assert store.find_cached("k") == done

    def test_step_logs(self, store: MetadataStore) -> None:
        """Captured output is kept per step (the CLI's ``runs logs``) and kept out of step
        listings, which must stay fast however chatty a step was."""
        run = new_run(store)
        text = "épsilon ✓\n" + "line\n" * 20_000
        store.record_step_run(run, "chatty", status="completed", logs=text)
        store.record_step_run(run, "quiet", status="completed")
        assert store.get_step_logs(run, "chatty") == text
        assert store.get_step_logs(run, "quiet") == ""
        assert store.get_step_logs(run[:8], "chatty") == text
        with pytest.raises(RecordNotFoundError, match="no step named 'ghost'"):
            store.get_step_logs(run, "ghost")

    def test_list_step_runs_in_recording_order(self, store: MetadataStore) -> None:
        """Steps are listed in the order they ran, which is how users read a run."""
        run = new_run(store)
        names = ["z-last-alphabetically", "a", "m", "b"]
        for name in names:
            store.record_step_run(run, name, status="completed")
        assert [s.name for s in store.list_step_runs(run)] == names
        assert [s.name for s in store.list_step_runs(run[:10])] == names

    def test_concurrent_recording_from_threads(self, store: MetadataStore) -> None:
        """The local-parallel orchestrator records steps from several threads at once: no
        write may be lost, no call may fail, and shared artifacts stay deduplicated."""
        runs = [new_run(store) for _ in range(4)]
        errors: list[BaseException] = []
        barrier = threading.Barrier(8)

        def work(worker: int) -> None:
            try:
                barrier.wait()
                run = runs[worker % len(runs)]
                for i in range(15):
                    store.record_step_run(
                        run,
                        f"w{worker}-s{i}",
                        status="completed",
                        cache_key=f"k{i}",
                        logs=f"worker {worker} step {i}",
                        outputs={"shared": draft(f"shared-{i}"), "own": draft(f"{worker}-{i}")},
                    )
                    store.get_run(run)
                    store.find_cached(f"k{i}")
            except BaseException as exc:  # collected and re-raised by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        steps = [s for run in runs for s in store.list_step_runs(run)]
        assert len(steps) == 8 * 15
        shared = {s.outputs["shared"] for s in steps}
        assert len(shared) == 15
        assert len({s.outputs["own"] for s in steps}) == 8 * 15
        assert store.get_step_logs(runs[1], "w5-s14") == "worker 5 step 14"

    def test_dataset_uses_are_recorded_with_the_step(self, store: MetadataStore) -> None:
        """The lake dataset versions a step read and wrote come back with the run and
        step, in the order first used, each once; re-recording the step replaces them.

        ``runs show`` and a model version's lineage name the dataset versions a model
        was trained on; a resumed step must not keep the versions of its failed attempt.
        """
        run = new_run(store)
        uses = [
            DatasetUse("raw/iris", 3, "input"),
            DatasetUse("features/iris", 0, "output"),
            DatasetUse("raw/iris", 3, "input"),  # read twice: recorded once
            DatasetUse("raw/iris", 4, "input"),
        ]
        store.record_step_run(run, "load", status="completed", datasets=uses)
        store.record_step_run(run, "train", status="completed")
        got = store.list_dataset_uses(run)
        assert [(u.dataset, u.version, u.direction) for u in got] == [
            ("raw/iris", 3, "input"),
            ("features/iris", 0, "output"),
            ("raw/iris", 4, "input"),
        ]
        assert {(u.run_id, u.step) for u in got} == {(run, "load")}
        assert got[0].ref == "lake://raw/iris@3"
        assert store.list_dataset_uses(run[:8], step="train") == []

        store.record_step_run(
            run, "load", status="completed", datasets=[DatasetUse("raw/iris", 5, "input")]
        )
        assert [(u.dataset, u.version) for u in store.list_dataset_uses(run)] == [("raw/iris", 5)]

    def test_find_dataset_uses_newest_first(self, store: MetadataStore) -> None:
        """Who read or wrote a dataset version is answerable from the dataset's side.

        Before overwriting or deleting a version, a user asks which runs (and models)
        depend on it.
        """
        first, second = new_run(store), new_run(store)
        store.record_step_run(
            first, "load", status="completed", datasets=[DatasetUse("raw/iris", 1, "input")]
        )
        store.record_step_run(
            second, "load", status="completed", datasets=[DatasetUse("raw/iris", 2, "input")]
        )
        store.record_step_run(
            second, "ingest", status="completed", datasets=[DatasetUse("raw/iris", 2, "output")]
        )
        any_version = store.find_dataset_uses("raw/iris")
        assert [(u.run_id, u.step, u.version) for u in any_version] == [
            (second, "ingest", 2),
            (second, "load", 2),
            (first, "load", 1),
        ]
        assert [u.run_id for u in store.find_dataset_uses("raw/iris", 1)] == [first]
        assert store.find_dataset_uses("raw/iris", limit=1)[0].step == "ingest"
        assert store.find_dataset_uses("raw/other") == []

    def test_list_dataset_uses_of_an_unknown_run(self, store: MetadataStore) -> None:
        """An unknown run id is an error naming it, as everywhere else in the store."""
        with pytest.raises(RecordNotFoundError):
            store.list_dataset_uses("ffffffffffff")

    def test_record_artifact_is_idempotent(self, store: MetadataStore) -> None:
        """The registry records a model's artifact outside any step run, often bytes a step
        recorded already, and two registrations may race: the same bytes, type and
        materializer give back the one record there (same id, the first URI kept), never
        a second artifact or an error; the id is the one a step output of them gets."""
        first = store.record_artifact(draft("model", uri="file:///one"))
        again = store.record_artifact(draft("model", uri="file:///two"))
        assert again == first
        assert first.uri == "file:///one"
        assert store.get_artifact(first.id) == first
        digest = hashlib.sha256(b"model").hexdigest()
        key = "\x00".join((digest, "builtins.dict", "builtins"))
        assert first.id == hashlib.sha256(key.encode()).hexdigest()[:32]
        run = new_run(store)
        step = store.record_step_run(run, "s", status="completed", outputs={"o": draft("model")})
        assert step.outputs["o"] == first.id
        assert store.record_artifact(draft("model", data_type="str")).id != first.id

        results: list[ArtifactRecord] = []
        errors: list[BaseException] = []
        barrier = threading.Barrier(6)

        def record() -> None:
            try:
                barrier.wait()
                results.append(store.record_artifact(draft("raced")))
            except BaseException as exc:  # collected and asserted by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=record) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len({r.id for r in results}) == 1
        assert len(results) == 6

    def test_list_artifacts_in_pages(self, store: MetadataStore) -> None:
        """`dockyard artifacts verify` checks every artifact of a project, registered
        models included (they belong to no run): the store lists them all, a page at a
        time in id order, so a walk over a large project is bounded and resumable."""
        assert store.list_artifacts() == []
        ids = sorted(store.record_artifact(draft(f"blob {i}")).id for i in range(7))
        assert [a.id for a in store.list_artifacts()] == ids
        first = store.list_artifacts(limit=3)
        assert [a.id for a in first] == ids[:3]
        rest = store.list_artifacts(after=first[-1].id, limit=10)
        assert [a.id for a in rest] == ids[3:]
        assert store.list_artifacts(after=ids[-1]) == []
        assert store.list_artifacts(limit=0) == []
        assert first[0] == store.get_artifact(ids[0])

    def test_describe_names_the_flavor_and_hides_secrets(
        self, store: MetadataStore, store_with_secret: tuple[MetadataStore, str] | None
    ) -> None:
        """``dockyard stack show`` prints describe(): it must say what the store is but
        never leak a password into terminals or CI logs."""
        assert store.flavor
        assert store.describe()["flavor"] == store.flavor
        if store_with_secret is not None:
            secret_store, secret = store_with_secret
            described = secret_store.describe()
            assert described["flavor"] == secret_store.flavor
            assert secret not in repr(described)

    def test_data_survives_reopening(self, make_store: Callable[[], MetadataStore]) -> None:
        """The metadata outlives the process that wrote it (resume, `runs list` later)."""
        if not self.supports_durability:
            pytest.skip(f"{type(self).__name__}: the data does not outlive the store object")
        first = make_store()
        run = new_run(first)
        step = first.record_step_run(run, "s", status="completed", outputs={"o": draft("x")})
        first.close()
        second = make_store()
        try:
            assert second.get_run(run).id == run
            assert second.get_step_run(run, "s") == step
        finally:
            second.close()


def _create_run_in_a_process_that_dies(
    make_store: Callable[[], MetadataStore], timeout_s: float = 60.0
) -> str:
    """The id of a run created by a forked process that then exits without finishing it."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: record a run, then vanish as SIGKILL would (no cleanup)
        code = 1
        try:
            os.close(read_fd)
            os.write(write_fd, new_run(make_store()).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                pytest.fail(f"the child process did not record a run within {timeout_s} s")
            time.sleep(0.01)
        run_id = os.read(read_fd, 64).decode()
    finally:
        os.close(read_fd)
    assert os.waitstatus_to_exitcode(status) == 0, "the child process failed to record a run"
    assert len(run_id) == 32
    return run_id
