"""Datasets: the JSONL loader's errors name the line, subsets are reproducible, names resolve."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collab.errors import UserError
from collab.evaluation.builtin_qa import builtin_qa
from collab.evaluation.datasets import load_dataset, load_jsonl, select


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_jsonl_items_keep_ids_and_extra_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        json.dumps({"input": "2 + 2?", "reference": "4"}),
        "",
        json.dumps({"id": "q7", "input": "Capital of Peru?", "reference": "Lima", "topic": "geo"}),
    )
    dataset = load_jsonl(path)
    assert dataset.name == "qa" and dataset.metric == "contains"
    assert [(i.id, i.input, i.reference) for i in dataset.items] == [
        ("line-1", "2 + 2?", "4"),
        ("q7", "Capital of Peru?", "Lima"),
    ]
    assert dataset.items[1].extra == {"topic": "geo"}


def test_bad_json_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps({"input": "a", "reference": "b"}), '{"input": "x",')
    with pytest.raises(UserError) as error:
        load_jsonl(path)
    assert f"{path}:2: not valid JSON" in error.value.message
    assert '"reference"' in error.value.hint


def test_missing_key_names_the_key_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps({"input": "a", "reference": "b"}), json.dumps({"input": "c"}))
    with pytest.raises(UserError, match=r"qa.jsonl:2: missing key 'reference'"):
        load_jsonl(path)


def test_a_line_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r":1: expected a JSON object, got list"):
        load_jsonl(write(tmp_path, '["input", "reference"]'))


def test_empty_and_missing_files_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="has no items"):
        load_jsonl(write(tmp_path, "", "  "))
    with pytest.raises(UserError, match="cannot read dataset"):
        load_jsonl(tmp_path / "nope.jsonl")


def test_select_is_reproducible_and_keeps_dataset_order() -> None:
    dataset = builtin_qa()
    first = select(dataset, limit=5, seed=3)
    again = select(dataset, limit=5, seed=3)
    other = select(dataset, limit=5, seed=4)
    ids = [i.id for i in first.items]
    assert ids == [i.id for i in again.items] and ids == sorted(ids) and len(ids) == 5
    assert ids != [i.id for i in other.items]
    assert select(dataset, limit=100) is dataset
    with pytest.raises(UserError, match="at least 1"):
        select(dataset, limit=0)


def test_builtin_qa_has_twenty_short_questions() -> None:
    dataset = load_dataset("builtin-qa")
    assert len(dataset) == 20 and len({i.id for i in dataset.items}) == 20
    assert all(i.reference and len(i.reference.split()) <= 2 for i in dataset.items)


def test_load_dataset_takes_a_path_and_names_the_choices_otherwise(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps({"input": "a", "reference": "b"}))
    assert len(load_dataset(str(path))) == 1
    with pytest.raises(UserError) as error:
        load_dataset("humaneva")
    assert "humaneval, bfcl-simple, bfcl-multiple" in error.value.hint
