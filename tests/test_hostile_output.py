"""Hostile content in what dedupe writes: terminals, JSON and files.

A payload list (markup, script and URL tricks, bidi overrides, ANSI and OSC escapes, C1
controls) goes into every field an input can set: text, title, outlet, id and URL. Then:

* terminal output (``explain``, ``stats``, ``provenance``, the ``ingest`` summary and its
  skip messages) holds no control, bidi or separator character: each is shown escaped;
* JSON output (``clean``, ``explain --json``, ``stats --json``) is strict JSON, one document
  per line, and decodes to exactly the strings that went in;
* ``clean -o DIR`` writes every article, and only inside DIR, whatever its id.

(The HTML report has its own hostile test with the report.)
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner

from dedupe.cli import cli, safe_name

PAYLOADS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '"><svg onload=alert(1)>',
    "' onmouseover='alert(1)' x='",
    "javascript:alert(document.cookie)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "</script><script>alert(1)</script>",
    "<svg><script>alert(1)</script></svg>",
    "\u202eevil.com\u202c",
    "\u2066isolate\u2069 \u200fmark\u200e \u061c",
    "\x1b[31mred\x1b[0m \x1b[2J\x1b[H",
    "\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07",
    "\x1b]0;owned\x07 \x1bP+q\x1b\\",
    "\x9b31m C1 csi \x85 next line \x7f del",
    "safe\rOVERWRITTEN \x08\x08 \x00 nul",
    "line\u2028separator\u2029para \u200bzero",
]
SHARED = "Officials said the storm closed every harbour on the coast for the whole weekend."


#: Characters a terminal must never receive raw from scraped data.
def _unsafe(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return (cat in ("Cc", "Cf", "Zl", "Zp") and ch not in "\n\t") or ch == "\x7f"


def records() -> list[dict]:
    """Per payload, two articles of two outlets named by it, sharing a sentence (so reuse,
    provenance and boilerplate views all carry the payload), plus a bad date naming it."""
    out = []
    for i, p in enumerate(PAYLOADS):
        for k, day in ((0, "2024-05-01"), (1, "2024-05-02")):
            out.append(
                {
                    "id": f"{p}#{i}.{k}",
                    "url": f"https://site{k}.example/{i}?q={p}",
                    "outlet": f"{p} outlet {k}",
                    "title": f"Title {p}",
                    "published": f"{day}T08:00:00Z",
                    "text": f"Story {i}.{k} begins {p} here, told our own way.\n{SHARED} {i}\n{p}",
                    "extra": p,
                }
            )
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[dict]]:
    tmp = tmp_path_factory.mktemp("hostile")
    recs = records()
    src = tmp / "in.jsonl"
    lines = [json.dumps(r) for r in recs]
    lines.append(json.dumps({"id": "bad", "text": "x y z", "published": PAYLOADS[10]}))
    lines.append(json.dumps({"id": PAYLOADS[11], "text": ""}))
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = tmp / "s.db"
    return db, src, recs


def run(*args: str):
    return CliRunner().invoke(cli, list(args), color=True)


def assert_terminal_safe(text: str) -> None:
    bad = sorted({f"U+{ord(c):04X}" for c in text if _unsafe(c)})
    assert not bad, f"raw control or bidi characters reach the terminal: {bad}"


def test_ingest_summary_and_skip_messages(store: tuple[Path, Path, list[dict]]) -> None:
    db, src, recs = store
    r = run("ingest", "--db", str(db), "--skip-bad", str(src))
    assert r.exit_code == 0, r.output
    assert f"{len(recs)} articles added" in r.stderr
    assert r.stderr.count("skipped: ") == 2
    assert "\\x1b[31m" in r.stderr  # the bad date is named, escaped
    assert_terminal_safe(r.stdout + r.stderr)
    stopped = run("ingest", "--db", str(db.with_name("strict.db")), str(src))
    assert stopped.exit_code == 1
    assert_terminal_safe(stopped.stdout + stopped.stderr)


def test_explain_stats_and_provenance_escape_controls(store: tuple[Path, Path, list[dict]]) -> None:
    db, src, recs = store
    run("ingest", "--db", str(db), "--skip-bad", str(src))
    seen = []
    for rec in recs:
        r = run("explain", "--db", str(db), rec["id"])
        assert r.exit_code == 0, r.output
        assert_terminal_safe(r.stdout + r.stderr)
        seen.append(r.stdout)
    assert any("\\u202e" in s for s in seen) and any("\\x1b]8;;" in s for s in seen)
    for args in (["stats"], ["stats", "--top", "50"], ["provenance"]):
        r = run(*args, "--db", str(db))
        assert r.exit_code == 0, r.output
        assert_terminal_safe(r.stdout + r.stderr)
    r = run("explain", "--db", str(db), "\x1b[31mno such id\u202e")
    assert r.exit_code == 1
    assert_terminal_safe(r.stdout + r.stderr)


def test_json_output_is_strict_and_round_trips(store: tuple[Path, Path, list[dict]]) -> None:
    db, src, recs = store
    run("ingest", "--db", str(db), "--skip-bad", str(src))
    r = run("clean", "--db", str(db))
    assert r.exit_code == 0
    assert_terminal_safe(r.stdout)  # escaped inside JSON strings, so even `cat` is safe

    def strict(s: str) -> object:
        return json.loads(s, parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))

    out = {d["id"]: d for d in map(strict, r.stdout.splitlines())}
    assert len(out) == len(recs)
    for rec in recs:
        d = out[rec["id"]]
        for k in ("url", "outlet", "title", "extra"):
            assert d[k] == rec[k]
        assert rec["text"].startswith(d["text"].split("\n")[0])
    for rec in recs[:6]:
        e = run("explain", "--db", str(db), "--json", rec["id"])
        assert_terminal_safe(e.stdout)
        got = strict(e.stdout)
        assert got["id"] == rec["id"] and got["segments"]
        for seg in got["segments"]:  # every quoted text is the original's, byte for byte
            assert seg["text"] == rec["text"][seg["start"] : seg["end"]]
    s = run("stats", "--db", str(db), "--json")
    assert_terminal_safe(s.stdout)
    assert {o["outlet"] for o in strict(s.stdout)["outlets"]} == {r["outlet"] for r in recs}
    # the export and provenance JSON Lines too: escaped, and the same strings decoded
    e = run("export", "--db", str(db), "--what", "articles")
    assert e.exit_code == 0
    assert_terminal_safe(e.stdout)
    assert {d["outlet"] for d in map(strict, e.stdout.splitlines())} == {r["outlet"] for r in recs}
    p = run("provenance", "--db", str(db), "--json")
    assert p.exit_code == 0 and p.stdout
    assert_terminal_safe(p.stdout)
    chains = [strict(x) for x in p.stdout.splitlines()]
    named = {a["article"] for c in chains for a in c["articles"]}
    assert named and named <= {rec["id"] for rec in recs}
    assert any(_unsafe(ch) for a in named for ch in a)  # the payloads did reach this output


def test_the_json_escape_list_covers_every_control_and_format_character() -> None:
    from dedupe.cli import _JSON_UNSAFE

    missing = [
        f"U+{cp:04X}"
        for cp in range(0x7F, 0x110000)
        if _unsafe(chr(cp)) and not _JSON_UNSAFE.match(chr(cp))
    ]
    assert missing == []


def test_non_finite_numbers_are_written_as_null(tmp_path: Path) -> None:
    src = tmp_path / "n.jsonl"
    src.write_text(
        '{"id": "n", "text": "A story with odd numbers beside it.", "a": NaN, "b": [Infinity],'
        ' "c": {"d": -Infinity}, "e": "NaN stays a string"}\n',
        encoding="utf-8",
    )
    r = run("clean", "--db", str(tmp_path / "n.db"), str(src))
    assert r.exit_code == 0
    d = json.loads(r.stdout, parse_constant=lambda c: pytest.fail(c))
    assert (d["a"], d["b"], d["c"], d["e"]) == (None, [None], {"d": None}, "NaN stays a string")


IDS = [
    "../../etc/x",
    "/etc/passwd",
    "a/../../b",
    "x\x00y",
    "CON",
    "nul",
    "COM1",
    "..",
    ".",
    "~",
    "a/b",
    "a?b",
    "A?B",
    "a_b",
    "a_b-2",
    "日本語",
    "中文",
    "\u202egnp.exe",
    "x" * 5000,
    "x" * 5000 + "y",
    "\\\\server\\share\\file",
    "C:\\Windows\\win.ini",
    " leading and trailing ",
]


@pytest.mark.parametrize("fmt", ["jsonl", "text"])
def test_clean_output_folder_stays_inside_and_writes_every_article(
    tmp_path: Path, fmt: str
) -> None:
    src = tmp_path / "ids.jsonl"
    src.write_text(
        "\n".join(
            json.dumps({"id": i, "text": f"Article number {n} about the council and the ferry."})
            for n, i in enumerate(IDS)
        )
        + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out" / "nested"
    r = run("clean", "--db", str(tmp_path / "o.db"), "--format", fmt, "-o", str(out), str(src))
    assert r.exit_code == 0, r.output
    files = sorted(out.iterdir())
    assert len(files) == len(IDS)  # colliding names both written
    names = [f.name for f in files]
    assert len({n.lower() for n in names}) == len(names)  # distinct on case-blind file systems
    root = out.resolve()
    for f in files:
        assert f.resolve().parent == root
        assert len(f.name.encode()) <= 255
        stem = f.name.split(".")[0].upper()
        assert stem not in {"CON", "PRN", "AUX", "NUL", "COM1", "LPT1"}
        assert all(not _unsafe(c) for c in f.name)
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and root not in p.resolve().parents]
    assert sorted(p.name for p in outside if not p.name.startswith("o.db")) == ["ids.jsonl"]
    if fmt == "jsonl":
        ids = {json.loads(f.read_text(encoding="utf-8"))["id"] for f in files}
        assert ids == set(IDS)


def test_safe_name_is_a_plain_file_name() -> None:
    for i in IDS:
        n = safe_name(i)
        assert n and "/" not in n and "\\" not in n and "\x00" not in n
        assert n not in (".", "..") and not n.startswith(".")
