"""Malformed and hostile input: nothing crashes, no valid record is lost, every bad record is
reported with its file, line and reason, and ``--skip-bad`` keeps it in the ``rejected`` table.

One table of input classes (invalid UTF-8, binary, NUL bytes, lone surrogates, NaN and huge
numbers, deep nesting, malformed lines, empty files and texts, missing and mistyped fields,
HTML as text, odd dates, invisible and bidi characters, mixed scripts) is run through the
readers and through the command line; a Hypothesis fuzz run throws generated files at
``read_inputs`` (300 cases here, 10,000 more in the slow run).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedupe import Article, Tracker
from dedupe.cli import cli
from dedupe.readers import MAX_RAW_CHARS, BadRecord, read_inputs

BODY = "The harbour authority approved the new ferry terminal after a long public hearing."


def line(record: object, ascii_only: bool = True) -> bytes:
    return json.dumps(record, ensure_ascii=ascii_only).encode("utf-8")


def rec(i: str, text: str = BODY, **fields: object) -> dict:
    return {"id": i, "text": f"{text} ({i})" if text == BODY else text, **fields}


@dataclass(frozen=True)
class Case:
    """An input file: its name and bytes, the ids of the valid records in it, and for each
    bad record its line (None: the whole file) and a word of the expected reason."""

    name: str
    data: bytes
    valid: tuple[str, ...]
    bad: tuple[tuple[int | None, str], ...]


def jsonl(*lines: bytes) -> bytes:
    return b"\n".join(lines) + b"\n"


CASES = [
    Case(
        "invalid-utf8.jsonl",
        jsonl(line(rec("u1")), b'{"id": "u2", "text": "caf\xe9 au lait on the harbour"}'),
        ("u1",),
        ((2, "not valid UTF-8"),),
    ),
    Case(
        "png.jsonl",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        (),
        ((1, "not valid UTF-8"), (2, "invalid JSON"), (3, "invalid JSON"), (4, "not valid UTF-8")),
    ),
    Case(
        "png.txt",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        (),
        ((None, "binary"),),
    ),
    Case("random.json", bytes((i * 97 + 13) % 256 for i in range(4096)), (), ((None, ""),)),
    Case("nul.txt", b"a\x00b", (), ((None, "binary"),)),
    Case(
        "nul-in-json.jsonl",
        jsonl(
            line(rec("n1", "A story\u0000with a NUL byte inside it, about the harbour.")),
            line(rec("n2")),
        ),
        ("n1", "n2"),
        (),
    ),
    Case(
        "surrogate.jsonl",
        jsonl(b'{"id": "s1", "text": "lone \\ud800 surrogate in a story"}', line(rec("s2"))),
        ("s2",),
        ((1, "lone surrogate"),),
    ),
    Case(
        "surrogate-key.jsonl",
        jsonl(b'{"id": "s3", "text": "fine text of a story", "\\udfff": 1}'),
        (),
        ((1, "lone surrogate"),),
    ),
    Case(
        "numbers.jsonl",
        jsonl(
            b'{"id": "f1", "text": "A story with a NaN beside it.", "score": NaN}',
            b'{"id": "f2", "text": "A story with an infinity beside it.", "score": 1e999}',
            b'{"id": "f3", "text": "A story with a huge number.", "n": 1' + b"0" * 5000 + b"}",
            b'{"id": 1e400, "text": "A story whose id is a float."}',
            b'{"id": "f5", "text": "A story with a NaN date.", "published": NaN}',
            b'{"id": "f6", "text": "A story with an infinite date.", "published": -Infinity}',
        ),
        ("f1", "f2"),
        ((3, "invalid JSON"), (4, "must be a string"), (5, "not a date"), (6, "not a date")),
    ),
    Case(
        "deep.jsonl",
        jsonl(
            b"[" * 100_000,
            b'{"id": "d2", "text": "A record with deep extras.", "x": '
            + b"[" * 500
            + b"]" * 500
            + b"}",
            b'{"id": "d3", "text": "Nested too deep.", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        ),
        ("d2",),
        ((1, "nested too deeply"), (3, "nested too deeply")),
    ),
    Case(
        "malformed.jsonl",
        jsonl(
            line(rec("m1")),
            b'{"id": "m2", "text": "cut short',
            b'{"id": "m3", "text": "trailing"} garbage',
            b"[1, 2, 3]",
            b'"just a string"',
            b"42",
            b"null",
            b"",
            b"   \t ",
            line(rec("m4")),
            b"{'id': 'single quotes', 'text': 'not JSON'}",
            b'{"id": "m6", "text": "dup keys", "text": ""}',
        ),
        ("m1", "m4"),
        (
            (2, "invalid JSON"),
            (3, "invalid JSON"),
            (4, "expected a JSON object"),
            (5, "expected a JSON object"),
            (6, "expected a JSON object"),
            (7, "expected a JSON object"),
            (11, "invalid JSON"),
            (12, "empty text"),
        ),
    ),
    Case("empty.jsonl", b"", (), ((None, "empty file"),)),
    Case("blank.jsonl", b"\n\n  \n", (), ((None, "empty file"),)),
    Case("empty.json", b"  ", (), ((None, "empty file"),)),
    Case("empty.txt", b" \n\t\n", (), ((None, "empty"),)),
    Case("empty.csv", b"", (), ((None, "empty file"),)),
    Case(
        "texts.jsonl",
        jsonl(
            line({"id": "t1", "text": ""}),
            line({"id": "t2", "text": " \n\t\u00a0\u3000 "}),
            line({"id": "t3"}),
            line({"id": "t4", "text": None}),
            line({"id": "t5", "text": 12}),
            line({"id": "t6", "text": ["a", "list"]}),
            line({"id": "t7", "text": {"a": "dict"}}),
            line({"id": "t8", "text": True}),
            line({"id": ["x"], "text": BODY}),
            line({"id": "", "text": BODY}),
            line({"id": "t11", "text": BODY, "url": 5}),
            line({"id": "t12", "text": BODY, "title": ["x"]}),
            line({"id": "t13", "text": BODY, "outlet": {"x": 1}}),
            line({"id": 7, "text": "An integer id is fine for a story like this one."}),
        ),
        ("7",),
        (
            (1, "empty text"),
            (2, "empty text"),
            (3, "missing text"),
            (4, "null"),
            (5, "must be a string"),
            (6, "must be a string"),
            (7, "must be a string"),
            (8, "must be a string"),
            (9, "must be a string or an integer"),
            (10, "empty id"),
            (11, "must be a string"),
            (12, "must be a string"),
            (13, "must be a string"),
        ),
    ),
    Case(
        "html.jsonl",
        jsonl(
            line(rec("h1", '<script>alert(1)</script><p onclick="x()">Hello harbour</p>')),
            line(rec("h2", "<svg onload=alert(1)><img src=x onerror=alert(2)>", title="<b>t</b>")),
        ),
        ("h1", "h2"),
        (),
    ),
    Case(
        "dates.jsonl",
        jsonl(
            line(rec("o1", published=None)),
            line(rec("o2", published=0)),
            line(rec("o3", published=-1)),
            line(rec("o4", published="9999-12-31")),
            line(rec("o5", published="NaN")),
            line(rec("o6", published="2024-02-30")),
            line(rec("o7", published="2024-05-01T10:00")),
            line(rec("o8", published=1714550400000)),
            line(rec("o9", published=1714550400)),
            line(rec("o10", published="01/02/2024")),
            line(rec("o11", published="yesterday")),
            line(rec("o12", published="1970-01-01T00:00:00Z")),
            line(rec("o13", published="0001-01-01T00:00:00+00:00")),
            line(rec("o14", published="2024-05")),
            line(rec("o15", published="")),
            line(rec("o16", published=True)),
        ),
        # kept (a placeholder date is kept, and orders nothing: see the origin test below)
        ("o1", "o2", "o3", "o7", "o8", "o9", "o10", "o12", "o15"),
        (
            (4, "absurd date"),
            (5, "unparseable date"),
            (6, "unparseable date"),
            (11, "unparseable date"),
            (13, "absurd date"),
            (14, "incomplete date"),
            (16, "not a date"),
        ),
    ),
    Case(
        "invisible.jsonl",
        jsonl(
            line(
                rec(
                    "z1",
                    "news\u200bpaper \u200d\u2060 zero\ufeffwidth words about the harbour vote",
                )
            ),
            line(
                rec("z2", "\u202eevil.com\u202c and \u2066isolated\u2069 bidi text on the ferry"),
                False,
            ),
            line(rec("z3", "\x1b[31mred\x1b[0m and \x1b]8;;http://x\x07link\x1b]8;;\x07 in text")),
        ),
        ("z1", "z2", "z3"),
        (),
    ),
    Case(
        "scripts.jsonl",
        jsonl(
            line(rec("c1", "港口管理局在长时间的公开听证会后批准了新的渡轮码头。"), False),
            line(rec("c2", "การท่าเรือได้อนุมัติท่าเรือข้ามฟากแห่งใหม่หลังจากการไต่สวนสาธารณะ"), False),
            line(
                rec("c3", "وافقت هيئة الميناء على محطة العبارات الجديدة بعد جلسة استماع طويلة."),
                False,
            ),
            line(rec("c4", "Mixed 港口 ท่าเรือ الميناء words in one story about a ferry."), False),
        ),
        ("c1", "c2", "c3", "c4"),
        (),
    ),
    Case(
        "rows.csv",
        b"id,text,published\nr1,A row about the harbour ferry terminal,2024-05-01\n"
        b'r2,"unterminated,2024\nr3,x\n',
        ("r1",),
        ((3, "row has 2 fields"),),  # the open quote runs to the end: one bad record
    ),
    Case(
        "short-row.csv",
        b"id,text\nr4,A story row about the ferry\nr5\nr6,Another story row about the harbour,extra\n",
        ("r4",),
        ((3, "row has 1 fields"), (4, "row has 3 fields")),
    ),
]


def _write(tmp: Path, case: Case) -> Path:
    p = tmp / case.name
    p.write_bytes(case.data)
    return p


def _reasons_match(bad: list[BadRecord], case: Case, path: Path) -> None:
    got = sorted(((b.line, b.problem) for b in bad), key=repr)
    want = sorted(case.bad, key=repr)
    assert len(got) == len(want), f"{case.name}: {got}"
    for (gl, gp), (wl, wp) in zip(got, want):
        assert gl == wl and wp in gp, f"{case.name}: {got}"
    assert all(b.source == str(path) for b in bad)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_readers_keep_every_valid_record_and_report_every_bad_one(
    tmp_path: Path, case: Case
) -> None:
    path = _write(tmp_path, case)
    out = list(read_inputs([str(path)]))
    arts = [o for o in out if isinstance(o, Article)]
    bad = [o for o in out if isinstance(o, BadRecord)]
    assert len(arts) + len(bad) == len(out)
    assert tuple(a.id for a in arts) == case.valid
    _reasons_match(bad, case, path)
    for b in bad:
        assert b.raw is None or len(b.raw) <= MAX_RAW_CHARS
        if b.line is not None and case.name.endswith(".jsonl"):
            assert b.raw is not None  # a bad line can be quarantined as read


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_command_line_stops_with_file_line_and_reason_or_quarantines(
    tmp_path: Path, case: Case
) -> None:
    path = _write(tmp_path, case)
    db = tmp_path / "s.db"
    r = CliRunner().invoke(cli, ["clean", "--db", str(db), str(path)])
    assert not isinstance(r.exception, Exception) or isinstance(r.exception, SystemExit), (
        r.exception
    )
    assert "Traceback" not in r.output
    if case.bad:
        assert r.exit_code == 1
        first = next(iter(sorted(case.bad, key=lambda b: b[0] or 0)))
        where = f"{path}, line {first[0]}" if first[0] is not None else f"{path}:"
        assert where in r.stderr and first[1] in r.stderr
    else:
        assert r.exit_code == 0, r.output
        out = [json.loads(x) for x in r.stdout.splitlines()]
        assert {d["id"] for d in out} == set(case.valid)
    r = CliRunner().invoke(cli, ["clean", "--db", str(db), "--skip-bad", str(path)])
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output
    out = [json.loads(x) for x in r.stdout.splitlines()]  # valid JSON, every line
    assert {d["id"] for d in out} == set(case.valid)
    with sqlite3.connect(db) as conn:
        rejected = conn.execute("SELECT source, line, problem, raw FROM rejected").fetchall()
        stored = {row[0]: row[1] for row in conn.execute("SELECT id, text FROM articles")}
    conn.close()
    assert sorted((ln, p) for _, ln, p, _ in rejected) == sorted(
        (ln, p) for ln, p in ((b.line, b.problem) for b in _bad(path))
    )
    assert all(src == str(path) for src, *_ in rejected)
    assert r.stderr.count("skipped: ") == len(case.bad)
    # What is stored is exactly what was read, byte for byte.
    for a in read_inputs([str(path)]):
        if isinstance(a, Article):
            assert stored[a.id] == a.text


def _bad(path: Path) -> list[BadRecord]:
    return [o for o in read_inputs([str(path)]) if isinstance(o, BadRecord)]


def test_quarantine_keeps_the_record_as_read(tmp_path: Path) -> None:
    big = b'{"id": "big", "text": 5, "pad": "' + b"x" * 50_000 + b'"}'
    path = tmp_path / "q.jsonl"
    path.write_bytes(jsonl(b'{"id": "q1", "text": "cut', big, b"\xff\xfe{}"))
    db = tmp_path / "q.db"
    r = CliRunner().invoke(cli, ["ingest", "--db", str(db), "--skip-bad", str(path)])
    assert r.exit_code == 0 and "0 articles added, 0 already known, 3 rejected" in r.stderr
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT run, line, problem, raw FROM rejected ORDER BY line").fetchall()
        (rejected,) = conn.execute("SELECT articles_rejected FROM runs").fetchone()
    conn.close()
    assert rejected == 3
    assert [(ln, raw[:20]) for _, ln, _, raw in rows] == [
        (1, '{"id": "q1", "text":'),
        (2, '{"id": "big", "text"'),
        (3, "\\xff\\xfe{}"),
    ]
    assert len(rows[1][3]) == MAX_RAW_CHARS
    assert {run for run, *_ in rows} == {1}


def test_reading_an_input_again_quarantines_its_bad_records_once(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_bytes(jsonl(b'{"id": "q1", "text": "cut', b'{"id": "ok", "text": "Fine text."}'))
    db = tmp_path / "q.db"
    args = ["ingest", "--db", str(db), "--skip-bad", str(path)]
    for _ in range(3):  # a finished run, re-run: it reads the whole input again
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == 0, r.output
    path.write_bytes(jsonl(b'{"id": "q1", "text": "cut2', b'{"id": "ok", "text": "Fine text."}'))
    assert CliRunner().invoke(cli, args).exit_code == 0  # another record on the same line
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT line, raw FROM rejected ORDER BY id").fetchall()
        runs = conn.execute("SELECT articles_rejected FROM runs ORDER BY id").fetchall()
    conn.close()
    assert rows == [(1, '{"id": "q1", "text": "cut'), (1, '{"id": "q1", "text": "cut2')]
    assert runs == [(1,), (1,), (1,), (1,)]  # each run still says what it skipped


def test_the_size_caps_reject_with_file_and_line(tmp_path: Path) -> None:
    from dedupe.tracker import MAX_ARTICLE_CHARS

    path = tmp_path / "big.jsonl"
    over = "word " * (MAX_ARTICLE_CHARS // 5) + "x"
    path.write_bytes(
        jsonl(
            line(rec("ok")),
            line(rec("big", over)),
            b'{"id": "huge", "text": "' + b"y" * 600 + b'"}',
        )
    )
    r = CliRunner().invoke(cli, ["ingest", "--db", str(tmp_path / "a.db"), str(path)])
    assert r.exit_code == 1
    assert f"{path}, line 2: text is {len(over)} characters, over the limit of" in r.stderr
    r = CliRunner().invoke(
        cli,
        ["ingest", "--db", str(tmp_path / "b.db"), "--skip-bad", "--max-bytes", "500", str(path)],
    )
    assert r.exit_code == 0
    assert "1 articles added, 0 already known, 2 rejected" in r.stderr
    assert "line 3: record is 626 bytes, over the limit of 500; raise --max-bytes" in r.stderr


def test_an_unknown_or_absurd_date_never_makes_the_origin() -> None:
    shared = "Officials said the storm closed every harbour on the coast for the whole weekend."

    intros = iter(
        [
            "Ferry crews walked out at dawn over a pay dispute with the port operator.",
            "A bakery on Main Street won the regional bread prize for the third time.",
            "Voters in the valley district backed a new library by a narrow margin.",
            "The museum reopened its east wing after two years of roof repairs.",
            "Farmers upstate expect a poor wheat harvest after the dry spring months.",
            "Hospital nurses signed a contract that adds twelve staff to night shifts.",
            "The city council delayed its vote on bus fares until the autumn session.",
            "Two climbers were rescued from the northern ridge late on Sunday evening.",
            "An old railway bridge will be lit with solar lamps from next month on.",
            "The chess club moved its weekly games to the community hall downtown.",
            "Tenants at the river towers say their heating has failed again this week.",
        ]
    )

    def art(i: str, published: object) -> Article:
        record = {"id": i, "outlet": f"{i}.example", "text": f"{next(intros)}\n{shared}"}
        return Article.from_dict(record | ({} if published is None else {"published": published}))

    arts = [
        art("undated", None),
        art("zero", 0),
        art("minus", -1),
        art("epoch", "1970-01-01T00:00:00Z"),
        art("epocheast", "1970-01-01T00:00:00+02:00"),
        art("nineteenhundred", "1900-01-01"),
        art("old", "1850-06-01"),
        Article(
            "ancient",
            f"Year one.\n{shared}",
            outlet="x.example",
            published=dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc),
        ),
        art("dated", "2024-05-03T08:00:00Z"),
        art("later", "2024-05-04T08:00:00Z"),
        art("future", "2199-01-01"),
    ]
    for order in (arts, arts[::-1]):
        with Tracker(":memory:") as t:
            t.add_many(order, batch_size=3)
            rules = {
                a.id: [f.rule for f in t.result(a.id).findings if f.rule.startswith("reuse")]
                for a in arts
            }
        assert rules.pop("dated") == ["reuse-origin"]
        assert set(map(tuple, rules.values())) == {("reuse",)}, rules
    # A naive date is read as UTC, as the readers read one, whatever the machine's zone.
    with Tracker(":memory:") as t:
        r = t.add(Article("naive", shared, published=dt.datetime(2024, 5, 1, 12)))
        assert r.article.published == dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc)
        assert t.result("naive").article.published == r.article.published


def test_invisible_characters_and_scripts_still_match_across_outlets() -> None:
    base = "The harbour authority approved the new ferry terminal after a long public hearing"
    sneaky = base.replace("harbour", "har\u200bbour").replace("ferry", "ｆｅｒｒｙ")
    cjk = "港口管理局在长时间的公开听证会后批准了新的渡轮码头并宣布将于明年春天开始施工。"
    cjk_near = cjk.replace("明年", "今年")
    d1 = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
    d2 = dt.datetime(2024, 5, 2, tzinfo=dt.timezone.utc)
    with Tracker(":memory:") as t:
        t.add_many(
            [
                Article("a", base + ".\n" + cjk, outlet="a.example", published=d1),
                Article(
                    "b",
                    "Other intro.\n" + sneaky + ".\n" + cjk_near,
                    outlet="b.example",
                    published=d2,
                ),
            ]
        )
        r = t.result("b")
        assert [f.verdict for f in r.findings][1:] == ["reused", "reused"]
        assert r.article.text.count("\u200b") == 1  # the text itself is never changed


# --- fuzz -------------------------------------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(
    lambda s: s.strip()
)
_json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=("Cs",)), max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_date = st.datetimes(
    min_value=dt.datetime(1990, 1, 1),
    max_value=dt.datetime(2100, 1, 1),
    timezones=st.just(dt.timezone.utc),
).map(lambda d: d.isoformat())


@st.composite
def _valid(draw: st.DrawFn, n: int) -> bytes:
    r = {"id": f"v{n}", "text": draw(_text)}
    if draw(st.booleans()):
        r["title"] = draw(_text)
    if draw(st.booleans()):
        r["published"] = draw(_date)
    if draw(st.booleans()):
        r["x_extra"] = draw(_json_value)
    return json.dumps(r, ensure_ascii=draw(st.booleans())).encode("utf-8")


def _junk_families(n: int) -> st.SearchStrategy[bytes]:
    good = json.dumps({"id": f"j{n}", "text": BODY}).encode()
    return st.one_of(
        st.integers(1, len(good) - 1).map(lambda k: good[:k]),  # cut short
        st.integers(0, len(good)).map(lambda k: good[:k] + b"\xff" + good[k:]),  # bad UTF-8
        st.sampled_from([b"[]", b"1", b'"s"', b"null", b"true", b"{}", b'{"x_a": 1}']),
        st.sampled_from([b"NaN", b"-Infinity", b"[" * 3000, b"{" * 3000]),
        _json_value.filter(lambda v: not isinstance(v, dict)).map(lambda v: json.dumps(v).encode()),
        st.sampled_from([5, [], {}, True, None, "", " \t"]).map(
            lambda t: json.dumps({"id": f"j{n}", "text": t}).encode()
        ),
        st.sampled_from(["\\ud800", "\\udfff x"]).map(
            lambda s: ('{"id": "j' + str(n) + '", "text": "' + s + '"}').encode()
        ),
        st.sampled_from(["2024-02-30", "yesterday", "9999-01-01", "0", "-5", "1e999"]).map(
            lambda d: json.dumps({"id": f"j{n}", "text": BODY, "published": d}).encode()
        ),
        st.sampled_from([1.5, [], "", " "]).map(
            lambda i: json.dumps({"id": i, "text": BODY}).encode()
        ),
        st.binary(min_size=1, max_size=40)
        .map(lambda b: b.replace(b"\n", b" ").replace(b"\r", b" "))
        .filter(lambda b: b.strip() and not b.lstrip().startswith((b"{", b"\xef\xbb\xbf"))),
    )


@st.composite
def _jsonl_file(draw: st.DrawFn) -> tuple[bytes, list[tuple[str, int]]]:
    """A JSON Lines file and, per non-blank line, whether it is valid ("v") or junk ("j")."""
    kinds = draw(st.lists(st.sampled_from("vvjb"), max_size=8))
    lines: list[bytes] = []
    truth: list[tuple[str, int]] = []
    for n, k in enumerate(kinds):
        if k == "b":
            lines.append(draw(st.sampled_from([b"", b"  ", b"\t"])))
            continue
        lines.append(draw(_valid(n) if k == "v" else _junk_families(n)))
        truth.append((k, len(lines)))
    sep = draw(st.sampled_from([b"\n", b"\r\n"]))
    return sep.join(lines) + draw(st.sampled_from([b"", sep])), truth


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One scratch folder for every fuzz case of this module, under pytest's own temp root."""
    return tmp_path_factory.mktemp("fuzz")


def _read_back(folder: Path, name: str, data: bytes) -> tuple[Path, list[object]]:
    """Write ``data`` as ``name`` (one scratch folder for every case, emptied, so no file of
    an earlier case is taken for a sidecar) and read it."""
    for old in folder.iterdir():
        old.unlink()
    p = folder / name
    p.write_bytes(data)
    return p, list(read_inputs([str(p)]))


def _check_jsonl(folder: Path, data: bytes, truth: list[tuple[str, int]]) -> None:
    p, out = _read_back(folder, "fuzz.jsonl", data)
    if not truth:
        assert [(type(o), o.problem) for o in out] == [(BadRecord, "empty file")]
        return
    arts = [o for o in out if isinstance(o, Article)]
    bad = [o for o in out if isinstance(o, BadRecord)]
    assert len(arts) + len(bad) == len(out)
    # every valid record, in order, none lost; every junk line reported on its line
    assert [a.id for a in arts] == [f"v{n - 1}" for k, n in truth if k == "v"]
    assert sorted(b.line for b in bad) == [n for k, n in truth if k == "j"]
    for b in bad:
        assert b.source == str(p) and b.problem and b.raw is not None
    for a in arts:  # storable: every string encodes to UTF-8
        for s in (a.id, a.text, a.title or "", json.dumps(a.extra, ensure_ascii=False)):
            s.encode("utf-8")


_any_name = st.sampled_from(["f.jsonl", "f.json", "f.csv", "f.txt", "f.md", "f.jsonl.gz", "f"])
_any_bytes = st.one_of(
    st.binary(max_size=300),
    st.lists(_junk_families(0) | _valid(0), max_size=5).map(b"\n".join),
    st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
)


def _check_any(folder: Path, name: str, data: bytes) -> None:
    p, out = _read_back(folder, name, data)
    for o in out:
        if isinstance(o, Article):
            for s in (o.id, o.text, o.title or ""):
                s.encode("utf-8")
            assert o.text.strip()
        else:
            assert o.source == str(p) and str(o)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_jsonl_file())
def test_fuzz_jsonl(fuzz_dir: Path, f: tuple[bytes, list[tuple[str, int]]]) -> None:
    _check_jsonl(fuzz_dir, *f)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_any_name, _any_bytes)
def test_fuzz_any_file(fuzz_dir: Path, name: str, data: bytes) -> None:
    _check_any(fuzz_dir, name, data)


@pytest.mark.slow
@settings(max_examples=8_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(_jsonl_file())
def test_fuzz_jsonl_8k(fuzz_dir: Path, f: tuple[bytes, list[tuple[str, int]]]) -> None:
    _check_jsonl(fuzz_dir, *f)


@pytest.mark.slow
@settings(max_examples=2_000, deadline=None, suppress_health_check=list(HealthCheck))
@given(_any_name, _any_bytes)
def test_fuzz_any_file_2k(fuzz_dir: Path, name: str, data: bytes) -> None:
    _check_any(fuzz_dir, name, data)
