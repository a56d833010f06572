"""`dedupe provenance` and `dedupe report` through click's test runner."""

from __future__ import annotations

import json

from click.testing import CliRunner
from conftest import WIRE, corpus, day

from dedupe import Article, Tracker
from dedupe.cli import cli


def make_store(path, extra=()) -> str:
    with Tracker(path) as t:
        t.add_many([*corpus(), *extra])
    return str(path)


def test_provenance_table_names_origin_copy_order_and_lag(tmp_path):
    db = make_store(tmp_path / "s.db")
    r = CliRunner().invoke(cli, ["provenance", "--db", db])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith("chain b1@0  (origin by published)")
    origin = next(x for x in lines if x.strip().startswith("origin"))
    copy = next(x for x in lines if x.strip().startswith("copy"))
    assert "b1" in origin and "b.example" in origin
    assert "c1" in copy and "c.example" in copy and "3d00h" in copy and "1.00" in copy
    assert "1 chain(s)" in r.stderr


def test_provenance_json_lines_and_filters(tmp_path):
    db = make_store(tmp_path / "s.db")
    run = CliRunner().invoke
    r = run(cli, ["provenance", "--db", db, "--json"])
    assert r.exit_code == 0
    (chain,) = [json.loads(x) for x in r.stdout.splitlines()]
    assert chain["origin"] == "b1" and chain["order"] == "published"
    assert [(k["source"], k["target"], k["lag_seconds"]) for k in chain["links"]] == [
        ("b1", "c1", 3 * 86400)
    ]
    assert run(cli, ["provenance", "--db", db, "--json", "c1"]).stdout.count("\n") == 1
    assert run(cli, ["provenance", "--db", db, "--json", "a1"]).stdout == ""
    assert run(cli, ["provenance", "--db", db, "--json", "--outlet", "c.example"]).stdout
    r = run(cli, ["provenance", "--db", db, "--outlet", "a.example"])
    assert r.exit_code == 0 and r.stdout == "" and "no reuse found" in r.stderr


def test_provenance_errors_name_the_problem(tmp_path):
    run = CliRunner().invoke
    r = run(cli, ["provenance", "--db", str(tmp_path / "missing.db")])
    assert r.exit_code == 1 and "no such store" in r.output
    db = make_store(tmp_path / "s.db")
    r = run(cli, ["provenance", "--db", db, "nope"])
    assert r.exit_code == 1 and "no article with id 'nope'" in r.output


def test_provenance_escapes_control_characters(tmp_path):
    evil = Article(
        "e\x1b[31m1",
        "Intro written by the evil desk for this story today.\n\n" + WIRE,
        url="https://evil.example/1",
        outlet="evil\x1b]0;title\x07.example\u202e",
        published=day(9),
    )
    db = make_store(tmp_path / "s.db", [evil])
    r = CliRunner().invoke(cli, ["provenance", "--db", db])
    assert r.exit_code == 0
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout and "\u202e" not in r.stdout
    assert "e\\x1b[31m1" in r.stdout and "\\u202e" in r.stdout


def test_report_ingests_inputs_then_writes_the_file(tmp_path):
    src = tmp_path / "in.jsonl"
    with open(src, "w", encoding="utf-8") as fh:
        for a in corpus():
            fh.write(
                json.dumps(
                    {
                        "id": a.id,
                        "url": a.url,
                        "outlet": a.outlet,
                        "published": a.published.isoformat(),
                        "text": a.text,
                    }
                )
                + "\n"
            )
    out = tmp_path / "report.html"
    db = str(tmp_path / "r.db")
    r = CliRunner().invoke(cli, ["report", "--db", db, str(src), "-o", str(out), "--silent"])
    assert r.exit_code == 0, r.output
    assert "5 articles added" in r.stderr and f"wrote {out}" in r.stderr
    html = out.read_text(encoding="utf-8")
    assert 'id="overview"' in html and "b.example" in html and "<mark" in html
    # again, from the store only
    r = CliRunner().invoke(cli, ["report", "--db", db, "-o", str(tmp_path / "again.html")])
    assert r.exit_code == 0
    assert (tmp_path / "again.html").read_text(encoding="utf-8") == html


def test_report_needs_a_store_or_inputs(tmp_path):
    r = CliRunner().invoke(
        cli, ["report", "--db", str(tmp_path / "x.db"), "-o", str(tmp_path / "r.html")]
    )
    assert r.exit_code == 1 and "no such store" in r.output
    r = CliRunner().invoke(cli, ["report", "--db", str(tmp_path / "x.db")])
    assert r.exit_code == 2 and "-o" in r.output
