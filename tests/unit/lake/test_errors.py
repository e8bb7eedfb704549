"""Failures turned into one line: storage errors, schemas, filters (no storage needed)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from dockyard.errors import DockyardError, LakeError, LakeSchemaError, LakeUnavailableError
from dockyard.lake.arrow import check_schema, parse_filters
from dockyard.lake.delta import DeltaLake, _storage_options
from dockyard.lake.storage import storage_failure

# What delta-rs raised against moto's server (OSError, many lines, ANSI arrows).
REFUSED = OSError(
    "Kernel error -> Generic S3 error\n  \x1b[31m↳\x1b[0m Error performing GET "
    "http://127.0.0.1:1/b/lake/t/_delta_log/_last_checkpoint in 105ms, after 1 retries\n"
    "   ↳ client error (Connect)\n    ↳ tcp connect error\n     ↳ Connection refused (os error 111)"
)
NO_BUCKET = OSError(
    "Kernel error -> Generic S3 error ↳ 404 Not Found ↳ <Error><Code>NoSuchBucket</Code>"
    "<Message>The specified bucket does not exist</Message></Error>"
)
DENIED = OSError("Generic S3 error: 403 Forbidden <Code>InvalidAccessKeyId</Code>")


def test_refused_connection_is_one_line_naming_url_and_endpoint() -> None:
    err = storage_failure("s3://b/lake", REFUSED, "read 'raw/t'", "http://127.0.0.1:1")
    assert isinstance(err, LakeUnavailableError) and isinstance(err, ConnectionError)
    text = str(err)
    assert "\n" not in text
    assert text.startswith("Cannot reach the lake at s3://b/lake (endpoint http://127.0.0.1:1)")
    assert "AWS_ENDPOINT_URL" in text


def test_missing_bucket_and_denied_credentials() -> None:
    assert "bucket 'b' (s3://b/lake) does not exist" in str(
        storage_failure("s3://b/lake", NO_BUCKET, "x")
    )
    denied = storage_failure("s3://user:pw@b/lake", DENIED, "x")
    assert "refused the credentials" in str(denied)
    assert "pw" not in str(denied)


def test_other_failures_keep_their_reason_short() -> None:
    err = storage_failure("/data/lake", OSError("x" * 1000), "write 'raw/t'")
    assert type(err) is LakeError
    assert len(str(err)) < 400


def test_lake_errors_are_dockyard_errors() -> None:
    assert issubclass(LakeSchemaError, DockyardError) and issubclass(LakeSchemaError, ValueError)


def test_schema_mismatch_names_every_column() -> None:
    table = pa.schema([("id", pa.int64()), ("region", pa.string())])
    data = pa.schema([("id", pa.string()), ("score", pa.float64())])
    with pytest.raises(LakeSchemaError) as info:
        check_schema("raw/c", table, data, "append")
    text = str(info.value)
    assert "columns not in the table: score (double)" in text
    assert "columns missing from the data: region (string)" in text
    assert "different types: id (table int64, data string)" in text
    assert 'schema_mode="merge"' in text


def test_compatible_types_pass() -> None:
    table = pa.schema([("id", pa.int64()), ("x", pa.float64()), ("s", pa.string())])
    data = pa.schema([("id", pa.int32()), ("x", pa.int64()), ("s", pa.large_string())])
    check_schema("raw/c", table, data, "append")


def test_dnf_filters_become_expressions() -> None:
    expr, dnf = parse_filters("raw/c", [("region", "=", "EU"), ("id", ">", 3)], ["id", "region"])
    assert dnf == [("region", "=", "EU"), ("id", ">", 3)]
    assert str(expr) == str((pc.field("region") == "EU") & (pc.field("id") > 3))
    expr, _ = parse_filters("raw/c", [[("id", "in", [1, 2])], [("id", "not in", [3])]], ["id"])
    assert "is_in" in str(expr)
    assert parse_filters("raw/c", None, ["id"]) == (None, None)


@pytest.mark.parametrize(
    ("filters", "error", "message"),
    [
        (
            [("nope", "=", 1)],
            LakeSchemaError,
            r"Unknown column 'nope' in the filter on 'raw/c'; its columns are id, region",
        ),
        ([("id", "~", 1)], LakeError, r"Unknown filter operator '~'"),
        ([("id", "=")], LakeError, r"each is \(column, op, value\)"),
        ("id = 1", LakeError, r"give a pyarrow expression or DNF tuples"),
    ],
)
def test_badparse_filters(filters: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        parse_filters("raw/c", filters, ["id", "region"])


def test_storage_options_from_config_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "env-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    options = _storage_options(
        "s3://b/lake", {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "max_retries": 1}
    )
    assert options["AWS_ACCESS_KEY_ID"] == "env-key"
    assert options["AWS_REGION"] == "eu-west-1"
    assert options["AWS_ALLOW_HTTP"] == "true"  # a plain-HTTP endpoint was named
    assert options["max_retries"] == "1"
    assert _storage_options("/data/lake", {}) == {}


def test_lake_url_and_table_uri(tmp_path) -> None:
    lake = DeltaLake(str(tmp_path / "lake"))
    assert lake.url == str(tmp_path / "lake")
    assert lake.table_uri("raw/c") == f"{tmp_path}/lake/raw/c"
    assert lake.storage_options == {}
    with pytest.raises(LakeError, match="Zones: raw, curated, features, predictions"):
        lake.table_uri("gold/c")
    assert DeltaLake("s3://bucket/prefix/").url == "s3://bucket/prefix"
