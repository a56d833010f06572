"""SQL injection: no SQL text is ever built from data, and hostile values round-trip exactly.

The rule, checked on the syntax tree of every module of the package: the SQL argument of each
``execute`` / ``executemany`` / ``executescript`` / ``query`` call must be made only of

* string literals, joined with ``+`` (or implicitly);
* placeholder lists: ``",".join("?" * n)`` or ``",".join("?" for ...)``;
* local or module names whose every assignment follows this same rule;
* ``a if cond else b`` of two such expressions.

An f-string, ``%`` formatting, ``.format(...)``, ``str(...)`` or any other call, an attribute,
a subscript or a function parameter anywhere in it fails the test. Values always travel as
bound parameters.
"""

from __future__ import annotations

import ast
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from dedupe import Article, Tracker
from dedupe.cli import cli

PACKAGE = Path(__file__).resolve().parent.parent / "dedupe"
SQL_METHODS = {"execute", "executemany", "executescript", "query"}


def _assignments(scope: ast.AST) -> dict[str, list[ast.expr]]:
    """Values assigned to each plain name directly in ``scope`` (not in nested functions)."""
    out: dict[str, list[ast.expr]] = {}

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue
            if isinstance(child, ast.Assign):
                for t in child.targets:
                    if isinstance(t, ast.Name):
                        out.setdefault(t.id, []).append(child.value)
            elif isinstance(child, (ast.AnnAssign, ast.AugAssign)) and isinstance(
                child.target, ast.Name
            ):
                if child.value is not None:
                    value = child.value
                    if isinstance(child, ast.AugAssign):  # x += y is x + y
                        value = ast.BinOp(ast.Name(child.target.id), ast.Add(), value)
                    out.setdefault(child.target.id, []).append(value)
            elif isinstance(child, (ast.For, ast.comprehension)) and isinstance(
                getattr(child, "target", None), ast.Name
            ):
                out.setdefault(child.target.id, []).append(ast.Name("<loop variable>"))
            visit(child)

    visit(scope)
    return out


def _is_placeholders(node: ast.expr) -> bool:
    """``",".join("?" * n)`` or ``",".join("?" for ...)`` (any literal separator)."""
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "join"
        and isinstance(node.func.value, ast.Constant)
        and isinstance(node.func.value.value, str)
        and len(node.args) == 1
        and not node.keywords
    ):
        return False
    arg = node.args[0]
    if isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Mult):
        return any(isinstance(s, ast.Constant) and s.value == "?" for s in (arg.left, arg.right))
    if isinstance(arg, (ast.GeneratorExp, ast.ListComp)):
        return isinstance(arg.elt, ast.Constant) and arg.elt.value == "?"
    return False


def _unsafe(node: ast.expr, scopes: list[dict[str, list[ast.expr]]], seen: set[str]) -> str | None:
    """Why ``node`` is not a SQL text made of literals and placeholders, or None."""
    if isinstance(node, ast.Constant):
        return None if isinstance(node.value, str) else f"a {type(node.value).__name__} literal"
    if isinstance(node, ast.JoinedStr):
        return "an f-string"
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Mod):
            return "%-formatting"
        if not isinstance(node.op, ast.Add):
            return f"operator {type(node.op).__name__}"
        return _unsafe(node.left, scopes, seen) or _unsafe(node.right, scopes, seen)
    if isinstance(node, ast.IfExp):
        return _unsafe(node.body, scopes, seen) or _unsafe(node.orelse, scopes, seen)
    if isinstance(node, ast.Call):
        if _is_placeholders(node):
            return None
        if isinstance(node.func, ast.Attribute) and node.func.attr == "format":
            return ".format()"
        return f"a call ({ast.unparse(node.func)})"
    if isinstance(node, ast.Name):
        if node.id in seen:
            return None
        for scope in scopes:
            if node.id in scope:
                for value in scope[node.id]:
                    why = _unsafe(value, scopes, seen | {node.id})
                    if why:
                        return f"{node.id} = {why}"
                return None
        return f"{node.id}, not assigned from literals here (a parameter or a loop variable)"
    return f"a {type(node).__name__} expression"


def sql_violations(source: str, filename: str) -> list[str]:
    """Every SQL-call argument in ``source`` that breaks the rule, as 'file:line: why'."""
    tree = ast.parse(source, filename)
    module_scope = _assignments(tree)
    found: list[str] = []

    def check(node: ast.AST, scopes: list[dict[str, list[ast.expr]]]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                inner = (
                    [_assignments(child), *scopes] if not isinstance(child, ast.Lambda) else scopes
                )
                check(child, inner)
                continue
            if (
                isinstance(child, ast.Call)
                and isinstance(child.func, ast.Attribute)
                and child.func.attr in SQL_METHODS
            ):
                sql = child.args[0] if child.args else None
                for kw in child.keywords:
                    if kw.arg in ("sql", "sql_or_query"):
                        sql = kw.value
                if sql is not None:
                    why = _unsafe(sql, scopes, set())
                    if why:
                        found.append(f"{filename}:{child.lineno}: SQL built from {why}")
            check(child, scopes)

    check(tree, [module_scope])
    return found


def test_no_sql_text_is_built_from_data() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10
    problems = [v for f in files for v in sql_violations(f.read_text(encoding="utf-8"), str(f))]
    assert problems == []


@pytest.mark.parametrize(
    "snippet",
    [
        'conn.execute(f"SELECT * FROM t WHERE id = {x}")',
        'conn.execute("SELECT * FROM t WHERE id = %s" % x)',
        'conn.execute("SELECT * FROM t WHERE id = {}".format(x))',
        'conn.execute("SELECT * FROM t WHERE id = " + x)',
        'conn.execute("SELECT * FROM " + str(table))',
        'sql = "SELECT * FROM t WHERE id = " + x\nconn.execute(sql)',
        "def f(sql):\n    conn.execute(sql)",
        'def f(x):\n    q = "SELECT " + f"{x}"\n    db.query(q)',
        'conn.executemany("INSERT INTO t VALUES (" + ",".join(names) + ")", rows)',
        'conn.execute("SELECT * FROM t WHERE a IN (" + ",".join("?" * n) + ") AND b = " + b)',
        'conn.execute(sql=f"DELETE FROM {t}")',
        "conn.executescript(self.script)",
    ],
)
def test_the_rule_catches_each_way_of_building_sql(snippet: str) -> None:
    assert sql_violations(snippet, "<snippet>")


@pytest.mark.parametrize(
    "snippet",
    [
        'conn.execute("SELECT * FROM t WHERE id = ?", (x,))',
        'conn.execute("SELECT a" " FROM t" " WHERE id = ?", (x,))',
        'marks = ",".join("?" * len(ids))\nconn.execute("SELECT * FROM t WHERE id IN (" + marks + ")", ids)',
        'conn.execute("SELECT * FROM t WHERE id IN (" + ",".join("?" for _ in ids) + ")", ids)',
        'sql = "SELECT * FROM t" + (" WHERE a = ?" if a else "")\nconn.execute(sql, args)',
        'SQL = "SELECT 1"\ndef f():\n    conn.execute(SQL)',
    ],
)
def test_the_rule_allows_literals_and_placeholders(snippet: str) -> None:
    assert sql_violations(snippet, "<snippet>") == []


HOSTILE = [
    "Le Monde' OR '1'='1",
    "x]; DROP TABLE articles; --",
    'y"; DROP TABLE x; --',
    "'); DELETE FROM segments; --",
    "Robert'); DROP TABLE runs;--",
    "%s %d {0} {} ?1 :name @v $x",
    "\\' \\\" \\\\ \\x00",
    "日本経済新聞 — Nikkei",
    "Ünïcödé \u202eevil\u202c \U0001f600",
    "nul\x00inside",
    "\x00",
    "tab\tnew\nline\rret",
    "A" * 3000,
]


def test_hostile_outlet_names_and_ids_round_trip_byte_for_byte(tmp_path: Path) -> None:
    recs = []
    for n, h in enumerate(HOSTILE):
        recs.append(
            {
                "id": f"{h}|{n}",
                "url": f"https://news{n}.example/a?q={h}",
                "outlet": f"{h}",
                "title": h,
                "published": f"2024-05-{n % 28 + 1:02d}T00:00:00Z",
                "text": f"Report {n} on the harbour budget, filed with the desk.\n{h}",
            }
        )
        # the same outlet again, so recurrence and outlet queries meet the hostile name
        recs.append(
            {
                **recs[-1],
                "id": f"{h}|{n}|b",
                "url": f"https://news{n}.example/b",
                "text": f"Second report {n} on the ferry timetable, also filed today.\n{h}",
            }
        )
    src = tmp_path / "hostile.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in recs) + "\n", encoding="utf-8")
    db = tmp_path / "s.db"
    r = CliRunner().invoke(cli, ["clean", "--db", str(db), str(src)])
    assert r.exit_code == 0, r.output
    out = {d["id"]: d for d in map(json.loads, r.stdout.splitlines())}
    assert set(out) == {x["id"] for x in recs}
    for x in recs:
        d = out[x["id"]]
        assert (d["outlet"], d["title"], d["url"]) == (x["outlet"], x["title"], x["url"])
        kept, pos = [], 0  # the cleaned text is the original minus its cuts, byte for byte
        for c in d["removed"]:
            kept += [x["text"][pos : c["start"]], c.get("replacement", "")]
            pos = c["end"]
        assert "".join(kept) + x["text"][pos:] == d["text"]
    conn = sqlite3.connect(db)
    try:
        tables = {t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"articles", "segments", "runs", "fingerprints", "carriers"} <= tables
        stored = {i: (o, t) for i, o, t in conn.execute("SELECT id, outlet, title FROM articles")}
        assert stored == {x["id"]: (x["outlet"], x["title"]) for x in recs}
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()
    # The library face, and lookups by a hostile id or outlet.
    with Tracker(db) as t:
        for x in recs:
            assert t.result(x["id"]).article.outlet == x["outlet"]
        with pytest.raises(KeyError):
            t.result("' OR '1'='1")
        assert t.store.article("x' OR 'x'='x") is None
        again = t.add(Article(recs[0]["id"], recs[0]["text"], outlet=recs[0]["outlet"]))
        assert again.status == "known"
        assert t.store.count_articles() == len(recs)
