"""The command line, through click's CliRunner: clean, ingest, explain, stats, bad input."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from dedupe.cli import cli, safe_name

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def run(*args: str, input: str | bytes | None = None, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), input=input, env=env, catch_exceptions=False)


def lines(result) -> list[dict]:
    return [json.loads(x) for x in result.stdout.splitlines() if x.strip()]


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "store.db")


def test_clean_samples_writes_every_article_as_json_lines(db):
    r = run("clean", "--db", db, str(SAMPLES))
    assert r.exit_code == 0, r.output
    out = {d["id"]: d for d in lines(r)}
    assert sorted(out) == sorted(p.stem for p in SAMPLES.glob("*.txt"))
    for d in out.values():
        keys = {"id", "source", "url", "outlet", "published", "title", "text", "removed", "reused"}
        assert keys <= set(d)
        original = (SAMPLES / f"{d['id']}.txt").read_text(encoding="utf-8")
        for cut in d["removed"]:
            assert 0 <= cut["start"] < cut["end"] <= len(original)
            assert {"start", "end", "verdict", "reason", "matched"} <= set(cut)
    assert out["002_b2bc5bbcef59be12"]["outlet"] == "thenewamerican.com"
    assert out["002_b2bc5bbcef59be12"]["published"].startswith("2023-09-25")
    assert out["000_df87a69fd44ca629"]["published_approx"] == "2024-04"  # passed through
    assert "5 articles added" in r.stderr


def test_the_furniture_of_the_samples_is_gone_and_the_content_intact(db):
    out = {d["id"]: d["text"] for d in lines(run("clean", "--db", db, str(SAMPLES)))}
    nypost = out["001_68b304cba8be002f"]
    assert nypost.startswith("Mexican drug cartels are taking advantage")
    for gone in ("Submit", "Δ", "Thanks for contacting us", "Share Selection"):
        assert gone not in nypost
    assert nypost.endswith("The whole thing is only going to get worse.”")
    tna = out["002_b2bc5bbcef59be12"]
    assert tna.count("Written by [David Kelly](#)") == 1
    assert "about 6,500 migrants are in custody in El Paso alone" in tna  # rejoined
    for gone in (
        "Click here",
        "Subscribe",
        "24 Issues Per Year",
        "Cancel anytime",
        "Getty Images",
        "Get exclusive digital access",
    ):
        assert gone not in tna
    assert tna.endswith(
        "border cities and states are now at a breaking point in fighting the invasion."
    )
    convoy = out["003_73172487f9671b7e"]
    assert "( –" not in convoy and "\nConvoys of tens of thousands" in convoy
    assert "What is your opinion" not in convoy and "[email" not in convoy
    assert convoy.endswith("on December 21.")
    dm = out["000_df87a69fd44ca629"]
    assert dm.count("The cartels are believed to make and sell the IDs") == 1
    assert dm.count("Recent data shows the immigration crisis is shifting west") == 1
    afpi = out["004_581cc1ed6cd9b8c5"]
    original = (SAMPLES / "004_581cc1ed6cd9b8c5.txt").read_text(encoding="utf-8")
    for kept in (
        "**Figure 1:** Example charts",
        'Vaughan, Jessica. "Map: Sanctuary',
        'Vaughan, Jessica. "Deportations',
        "## INTRODUCTION",
    ):
        assert kept in afpi
    assert len(afpi) > 0.99 * len(original)


def test_samples_report_no_reuse(db):
    for d in lines(run("clean", "--db", db, str(SAMPLES))):
        assert all(c["verdict"] != "reused" for c in d["removed"])
    with sqlite3.connect(db) as conn:
        assert (
            conn.execute(
                "SELECT COUNT(*) FROM segments WHERE verdict = 'reused' OR rule LIKE 'reuse%'"
            ).fetchone()[0]
            == 0
        )


def test_format_text_and_output_folder(db, tmp_path):
    r = run("clean", "--db", db, "--format", "text", str(SAMPLES))
    assert r.exit_code == 0
    assert "Mexican drug cartels" in r.stdout and '"removed"' not in r.stdout
    outdir = tmp_path / "out"
    r = run("clean", "--db", db, "-o", str(outdir))
    assert r.exit_code == 0
    assert len(list(outdir.glob("*.json"))) == 5


def test_output_folder_names_cannot_escape(db, tmp_path):
    records = [
        {"id": "../../etc/x", "text": "A first article about a council vote on the budget."},
        {"id": "/etc/passwd", "text": "A second article about a school board meeting tonight."},
        {"id": "a/../../b", "text": "A third article about the weather over the weekend."},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(x) for x in records), encoding="utf-8")
    outdir = tmp_path / "out"
    r = run("clean", "--db", db, "-o", str(outdir), "--format", "text", str(src))
    assert r.exit_code == 0, r.output
    written = sorted(p.name for p in outdir.iterdir())
    assert len(written) == 3
    assert all((outdir / n).resolve().parent == outdir.resolve() for n in written)
    assert safe_name("../../etc/x") == "etc_x"


def test_ingest_then_explain_and_stats(db):
    r = run("ingest", "--db", db, str(SAMPLES))
    assert r.exit_code == 0
    assert r.stdout == ""
    assert "5 articles added, 0 already known, 0 rejected" in r.stderr
    again = run("ingest", "--db", db, str(SAMPLES))
    assert "0 articles added, 5 already known" in again.stderr
    r = run("explain", "--db", db, "001_68b304cba8be002f")
    assert r.exit_code == 0
    assert "boilerplate" in r.stdout and 'rule lexicon: widget "submit"' in r.stdout
    assert "lexicon: lexicon:" not in r.stdout  # the rule is said once
    j = json.loads(run("explain", "--db", db, "--json", "000_df87a69fd44ca629").stdout)
    repeats = [s for s in j["segments"] if s["verdict"] == "repeat"]
    assert repeats and all(s["matched"][0]["article"] == "000_df87a69fd44ca629" for s in repeats)
    s = json.loads(run("stats", "--db", db, "--json").stdout)
    assert s["articles"] == 5
    assert s["segments"]["boilerplate"]["segments"] > 10
    assert "thenewamerican.com" in s["top_boilerplate"]
    human = run("stats", "--db", db)
    assert "5 articles from 4 outlets (1 article of unknown outlet); 2 runs" in human.stdout


def test_explain_unknown_id_and_missing_store(db, tmp_path):
    run("ingest", "--db", db, str(SAMPLES))
    r = CliRunner().invoke(cli, ["explain", "--db", db, "nope"])
    assert r.exit_code == 1 and "no article with id 'nope'" in r.output
    r = CliRunner().invoke(cli, ["stats", "--db", str(tmp_path / "none.db")])
    assert r.exit_code == 1 and "no such store" in r.output


def test_clean_says_when_it_writes_articles_of_earlier_runs(db, tmp_path):
    run("clean", "--db", db, str(SAMPLES))
    one = tmp_path / "one.jsonl"
    one.write_text('{"id": "x1", "text": "One more article about the harbour strike."}\n')
    r = run("clean", "--db", db, str(one))
    assert len(r.stdout.splitlines()) == 6
    assert "writing all 6 articles of " + db + ", 5 of them from earlier runs" in r.stderr
    alone = run("clean", "--db", ":memory:", str(one))
    assert len(alone.stdout.splitlines()) == 1 and "earlier runs" not in alone.stderr


def test_input_fields_named_like_output_fields_are_kept_under_another_name(tmp_path):
    src = tmp_path / "src.jsonl"
    record = {"id": "s1", "url": "https://ex.com/1", "text": "Wire copy about the port."}
    src.write_text(json.dumps(record | {"source": "Reuters", "removed": "no", "z": 1}) + "\n")
    (out,) = [
        json.loads(line) for line in run("clean", "--db", ":memory:", str(src)).stdout.splitlines()
    ]
    assert out["source"] == str(src) and out["removed"] == []
    assert (out["input_source"], out["input_removed"], out["z"]) == ("Reuters", "no", 1)


def test_output_that_fails_after_the_ingest_leaves_no_run_to_resume(db, monkeypatch):
    """`dedupe clean ... | head`: the reader goes away while the output is written; every
    batch was committed, so the next run reads its inputs again instead of resuming."""
    from dedupe import cli as cli_mod

    def closed_pipe(out, r, fmt):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli_mod, "_write_one", closed_pipe)
    r = CliRunner().invoke(cli, ["clean", "--db", db, str(SAMPLES)])
    assert r.exit_code != 0 and "5 articles added" in r.stderr
    monkeypatch.undo()
    again = run("clean", "--db", db, str(SAMPLES))
    assert "resumed" not in again.stderr
    assert "0 articles added, 5 already known" in again.stderr


def test_a_known_id_with_another_text_keeps_the_stored_one_and_says_so(db, tmp_path):
    first = {"id": "a", "url": "https://ex.org/a", "text": "Original text. It has two sentences."}
    src = tmp_path / "a.jsonl"
    src.write_text(json.dumps(first) + "\n")
    assert "another text" not in run("ingest", "--db", db, str(src)).stderr
    upd = tmp_path / "upd.jsonl"
    same_text = {"id": "b", "url": "https://ex.org/b", "text": first["text"]}
    upd.write_text(
        json.dumps(first | {"text": "Updated text, now different."})
        + "\n"
        + json.dumps(same_text)
        + "\n"
    )
    r = run("ingest", "--db", db, str(upd))
    assert "0 articles added, 2 already known" in r.stderr
    assert "1 article(s) already stored under the same id or URL came with another text" in r.stderr
    assert "first: id 'a'" in r.stderr
    (out,) = [json.loads(line) for line in run("clean", "--db", db).stdout.splitlines()]
    assert out["text"] == first["text"]


def test_clean_lists_reused_text_both_ways(tmp_path):
    shared = "The union said talks with the port operator would resume on Thursday night."
    src = tmp_path / "re.jsonl"
    src.write_text(
        json.dumps(
            {
                "id": "a1",
                "url": "https://a.example/1",
                "published": "2024-05-01",
                "text": "Dock workers stayed off the job for a third day on Monday.\n" + shared,
            }
        )
        + "\n"
        + json.dumps(
            {
                "id": "b1",
                "url": "https://b.example/1",
                "published": "2024-05-02",
                "text": "Our own lede about the harbour comes first here today.\n" + shared,
            }
        )
        + "\n"
    )
    out = {d["id"]: d for d in lines(run("clean", "--db", ":memory:", str(src)))}
    (origin,) = out["a1"]["reused"]
    (copy,) = out["b1"]["reused"]
    assert (origin["rule"], origin["verdict"], origin["matched"][0]["article"]) == (
        "reuse-origin",
        "kept",
        "b1",
    )
    assert (copy["rule"], copy["verdict"], copy["matched"][0]["article"]) == (
        "reuse",
        "reused",
        "a1",
    )
    assert out["b1"]["removed"] == [] and shared in out["b1"]["text"]  # kept unless asked


def test_clean_without_inputs_needs_an_existing_store(tmp_path):
    typo = tmp_path / "typo.db"
    r = CliRunner().invoke(cli, ["clean", "--db", str(typo)])
    assert r.exit_code == 1 and "no such store" in r.output
    assert not typo.exists()


def test_bad_record_stops_and_leaves_the_store_as_it_was(db, tmp_path):
    run("ingest", "--db", db, str(SAMPLES))
    with sqlite3.connect(db) as conn:
        before = conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": "ok1", "text": "A fine article about the harbour expansion plans."}\n'
        '{"id": "broken", "text": \n',
        encoding="utf-8",
    )
    r = CliRunner().invoke(cli, ["ingest", "--db", db, str(bad)])
    assert r.exit_code == 1
    assert f"{bad}, line 2" in r.output and "invalid JSON" in r.output
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == before
    r = run("ingest", "--db", db, "--skip-bad", str(bad))
    assert r.exit_code == 0
    assert "1 articles added, 0 already known, 1 rejected" in r.stderr
    assert "skipped:" in r.stderr


def test_stdin_and_env_db(tmp_path):
    db = str(tmp_path / "env.db")
    data = json.dumps(
        {
            "id": "s1",
            "url": "https://x.example/a",
            "text": "Submit\nA story from stdin about a new ferry line.",
        }
    )
    r = run("clean", "-", input=data, env={"DEDUPE_DB": db})
    assert r.exit_code == 0, r.output
    (d,) = lines(r)
    assert d["text"] == "A story from stdin about a new ferry line."
    assert d["outlet"] == "x.example"
    assert Path(db).exists()


def test_memory_store_is_throwaway(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run("clean", "--db", ":memory:", str(SAMPLES))
    assert r.exit_code == 0 and len(lines(r)) == 5
    assert not list(tmp_path.iterdir())


def test_usage_errors_exit_2(db):
    assert CliRunner().invoke(cli, ["ingest", "--db", db]).exit_code == 2
    assert CliRunner().invoke(cli, ["clean", "--format", "xml"]).exit_code == 2


def test_not_a_store_is_refused(tmp_path):
    bogus = tmp_path / "x.db"
    bogus.write_text("hello", encoding="utf-8")
    r = CliRunner().invoke(cli, ["stats", "--db", str(bogus)])
    assert r.exit_code == 1 and "not a dedupe store" in r.output


def test_deterministic_output(tmp_path):
    outs = [run("clean", "--db", ":memory:", str(SAMPLES)).stdout for _ in range(2)]
    assert outs[0] == outs[1]


def test_help_for_every_command():
    for name in cli.commands:
        r = run(name, "--help")
        assert r.exit_code == 0 and cli.commands[name].help


def test_samples_copy_with_text_only_has_unknown_metadata(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    shutil.copy(SAMPLES / "003_73172487f9671b7e.txt", folder)
    (d,) = lines(run("clean", "--db", ":memory:", str(folder)))
    assert d["outlet"] is None and d["published"] is None


def test_index_memory_option_changes_no_output(tmp_path):
    default = run("clean", "--db", str(tmp_path / "a.db"), str(SAMPLES))
    on_disk = run("clean", "--db", str(tmp_path / "b.db"), "--index-memory", "0", str(SAMPLES))
    assert default.exit_code == on_disk.exit_code == 0
    assert default.stdout == on_disk.stdout and len(lines(default)) == 5
    bad = CliRunner().invoke(
        cli, ["ingest", "--db", str(tmp_path / "c.db"), "--index-memory", "-1", str(SAMPLES)]
    )
    assert bad.exit_code == 2 and "--index-memory" in bad.output
    unbounded = run("clean", "--db", str(tmp_path / "d.db"), "--index-memory", "none", str(SAMPLES))
    assert unbounded.stdout == default.stdout
    word = CliRunner().invoke(cli, ["clean", "--db", ":memory:", "--index-memory", "lots"])
    assert word.exit_code == 2 and "neither a number of megabytes nor 'none'" in word.output
