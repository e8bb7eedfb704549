"""Dataset names and references: the shapes users type, and the message for each mistake."""

from __future__ import annotations

import pytest

from dockyard.errors import LakeError
from dockyard.lake import DatasetRef, parse_ref
from dockyard.lake.refs import DEFAULT_ZONES, check_name, check_zones


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lake://curated/customers", DatasetRef("curated/customers", None)),
        ("lake://curated/customers@3", DatasetRef("curated/customers", 3)),
        ("curated/customers", DatasetRef("curated/customers", None)),
        ("raw/images@0", DatasetRef("raw/images", 0)),
        ("  predictions/churn__rejects  ", DatasetRef("predictions/churn__rejects", None)),
    ],
)
def test_parse_ref(text: str, expected: DatasetRef) -> None:
    assert parse_ref(text) == expected


def test_ref_round_trips_through_str() -> None:
    ref = DatasetRef("curated/customers", 3)
    assert str(ref) == "lake://curated/customers@3"
    assert parse_ref(str(ref)) == ref
    assert ref.zone == "curated"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("customers", r"Bad dataset reference 'customers': write lake://ZONE/NAME"),
        ("lake://a/b/c", r"write lake://ZONE/NAME"),
        ("raw/x@latest", r"Bad version 'latest' .* whole number >= 0"),
        ("raw/x@-1", r"Bad version '-1'"),
        ("raw/x@", r"Bad version ''"),
        ("/x", r"write lake://ZONE/NAME"),
    ],
)
def test_bad_refs_say_the_shape(text: str, message: str) -> None:
    with pytest.raises(LakeError, match=message):
        parse_ref(text)


def test_check_name_splits_zone_and_name() -> None:
    assert check_name("features/churn.v2", DEFAULT_ZONES) == ("features", "churn.v2")


def test_unknown_zone_names_the_zones() -> None:
    with pytest.raises(
        LakeError,
        match=r"Unknown lake zone 'bronze' in dataset 'bronze/x'\. Zones: raw, curated, "
        r"features, predictions",
    ):
        check_name("bronze/x")


@pytest.mark.parametrize("name", ["x", "raw/a/b", "raw/_objects", "raw/.hidden", "raw/a b"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(LakeError, match="Bad dataset name"):
        check_name(name)


def test_configured_zones() -> None:
    zones = check_zones(["bronze", "silver", "gold"])
    assert check_name("gold/kpis", zones) == ("gold", "kpis")
    with pytest.raises(LakeError, match="Zones: bronze, silver, gold"):
        check_name("raw/x", zones)
    with pytest.raises(LakeError, match="non-empty list"):
        check_zones([])
    with pytest.raises(LakeError, match="non-empty list"):
        check_zones("raw")  # type: ignore[arg-type]
    with pytest.raises(LakeError, match="Bad lake zone name '_x'"):
        check_zones(["_x"])
