"""Skydive's partial-update ops: applied to a new dict, the given metadata untouched,
the parts no op reaches shared rather than copied."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dragonscope.graph import OpError, apply_ops

SET, DELETE = 1, 2


def _stored() -> dict[str, Any]:
    return {
        "Name": "p1",
        "Neutron": {"PortID": "x", "IPs": ["10.0.0.1"]},
        "Dragonflow": {"binding": {"chassis": "c1", "type": "local"}, "version": 3},
        "Empty": {},
    }


def _apply(ops: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    stored = _stored()
    before = copy.deepcopy(stored)
    result = apply_ops(stored, ops)
    assert stored == before, "the stored metadata was changed in place"
    return stored, result


def test_a_set_copies_only_the_dicts_on_its_path() -> None:
    stored, result = _apply([{"Type": SET, "Key": "Dragonflow.binding.chassis", "Value": "c2"}])
    assert result["Dragonflow"]["binding"]["chassis"] == "c2"
    assert result["Dragonflow"]["version"] == 3
    assert result["Neutron"] is stored["Neutron"]  # not on the path: shared
    assert result["Dragonflow"] is not stored["Dragonflow"]
    assert result["Dragonflow"]["binding"] is not stored["Dragonflow"]["binding"]


def test_a_set_creates_missing_levels_and_ignores_a_path_through_a_value() -> None:
    _, result = _apply(
        [
            {"Type": SET, "Key": "New.Deep.Key", "Value": [1]},
            {"Type": SET, "Key": "Name.Sub", "Value": 1},  # Name is a string
            {"Type": SET, "Key": "New.Deep.Other", "Value": {"a": 1}},
        ]
    )
    assert result["New"] == {"Deep": {"Key": [1], "Other": {"a": 1}}}
    assert result["Name"] == "p1"


def test_the_value_that_goes_in_is_a_copy() -> None:
    value = {"a": [1, 2]}
    result = apply_ops({}, [{"Type": SET, "Key": "V", "Value": value}])
    value["a"].append(3)
    assert result["V"] == {"a": [1, 2]}
    doubled = apply_ops({}, [{"Type": SET, "Key": "V", "Value": 2.0}], copy_value=lambda v: v * 2)
    assert doubled == {"V": 4.0}


def test_a_delete_removes_the_parents_it_empties() -> None:
    _, result = _apply(
        [
            {"Type": DELETE, "Key": "Neutron.PortID"},
            {"Type": DELETE, "Key": "Neutron.IPs"},
            {"Type": DELETE, "Key": "Dragonflow.binding.type"},
            {"Type": DELETE, "Key": "Missing.Key"},
            {"Type": DELETE, "Key": "Name.Sub"},
        ]
    )
    assert "Neutron" not in result
    assert result["Dragonflow"] == {"binding": {"chassis": "c1"}, "version": 3}
    assert result["Name"] == "p1" and result["Empty"] == {}
    _, emptied = _apply([{"Type": DELETE, "Key": "Empty.Absent"}])
    assert "Empty" not in emptied  # an empty parent on the path goes, as in Skydive


def test_no_ops_is_the_metadata_itself_and_bad_ops_say_why() -> None:
    stored = _stored()
    assert apply_ops(stored, None) is stored
    for ops, text in [
        ({}, "must be a list"),
        ([1], "must be an object"),
        ([{"Type": SET, "Key": ""}], "non-empty string"),
        ([{"Type": 3, "Key": "a"}], "unknown op Type"),
    ]:
        with pytest.raises(OpError, match=text):
            apply_ops(stored, ops)
    assert stored == _stored()
