"""The ``dedupe`` command: thin click wrappers around :class:`dedupe.Tracker` and the readers.

stdout carries data only (JSON Lines or cleaned text); messages, progress and summaries go to
stderr. Exit codes: 0 ok, 1 error (bad input, store problems), 2 usage.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import os
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

import click

from dedupe import __version__
from dedupe.model import Article, DedupeError, Result
from dedupe.readers import BadRecord, Skipped, read_inputs
from dedupe.tracker import INDEX_MEMORY_MB, MAX_ARTICLE_CHARS, Summary, Tracker

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}
FIELD_CONCEPTS = ("id", "url", "outlet", "published", "title", "text")


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="dedupe")
def cli() -> None:
    """Clean scraped news of boilerplate and repeats, and tell who copied whom."""


class _Megabytes(click.ParamType):
    """Megabytes, 0 or more, or ``none`` for no bound."""

    name = "megabytes"

    def convert(self, value: Any, param: Any, ctx: Any) -> int | None:
        if value is None or isinstance(value, int):
            return value
        if str(value).strip().lower() == "none":
            return None
        try:
            mb = int(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is neither a number of megabytes nor 'none'", param, ctx)
        if mb < 0:
            self.fail(f"{mb} is below 0", param, ctx)
        return mb


_MEGABYTES = _Megabytes()


def db_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--db",
        "db_path",
        default="dedupe.db",
        envvar="DEDUPE_DB",
        show_default=True,
        show_envvar=True,
        help="The store (SQLite file); ':memory:' for a throwaway run.",
    )(fn)


def input_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by every command that reads articles."""
    fn = click.argument("inputs", nargs=-1, type=click.Path(allow_dash=True))(fn)
    for concept in reversed(FIELD_CONCEPTS):
        fn = click.option(
            f"--{concept}-field",
            f"{concept}_field",
            metavar="NAME",
            help=f"Input field holding the article's {concept} (overrides the preset).",
        )(fn)
    fn = click.option(
        "--preset",
        type=click.Choice(["auto", "native", "trafilatura", "news-please", "newspaper", "scrapy"]),
        default="auto",
        show_default=True,
        help="Field names of the scraper that wrote the input.",
    )(fn)
    fn = click.option(
        "--meta",
        type=click.Path(dir_okay=False, exists=True),
        help="JSONL or CSV of metadata (url, outlet, published, title) keyed by id or file.",
    )(fn)
    fn = click.option(
        "--skip-bad",
        is_flag=True,
        help="Report bad records on stderr and go on without them; each one is kept in the"
        " store's 'rejected' table (run, file, line, problem, the record cut to 10 kB).",
    )(fn)
    fn = click.option(
        "--max-bytes",
        default=20_000_000,
        show_default=True,
        type=click.IntRange(1),
        help="Largest input file (text, JSON) or record (JSON Lines, CSV line), in bytes;"
        f" an article's text is also limited to {MAX_ARTICLE_CHARS:,} characters.",
    )(fn)
    fn = click.option(
        "--batch-size",
        default=500,
        show_default=True,
        type=click.IntRange(1),
        help="Articles per transaction.",
    )(fn)
    fn = click.option(
        "--index-memory",
        "index_memory",
        default=INDEX_MEMORY_MB,
        show_default=True,
        envvar="DEDUPE_INDEX_MEMORY",
        show_envvar=True,
        type=_MEGABYTES,
        metavar="MB",
        help="LSH index held in memory ('none': no bound); the largest parts past it are read"
        " from temporary files beside the store (the results are the same).",
    )(fn)
    fn = click.option("--silent", is_flag=True, help="No progress bar.")(fn)
    return fn


def _fields(kw: dict[str, Any]) -> dict[str, str]:
    """Pop the ``--X-field`` options out of ``kw`` into a concept -> field-name mapping."""
    out: dict[str, str] = {}
    for c in FIELD_CONCEPTS:
        v = kw.pop(f"{c}_field", None)
        if v:
            out[c] = v
    return out


def _open(db_path: str, **kw: Any) -> Tracker:
    try:
        return Tracker(db_path, **kw)
    except DedupeError as e:
        raise click.ClickException(str(e)) from e


def _ingest(
    tracker: Tracker,
    inputs: tuple[str, ...],
    *,
    meta: str | None,
    preset: str,
    fields: dict[str, str],
    skip_bad: bool,
    batch_size: int,
    silent: bool,
    command: str,
    max_bytes: int = 20_000_000,
) -> Summary:
    """Read the inputs and store them, batch by batch; stop at the first bad record unless
    ``skip_bad`` (the batch holding it is not committed).

    Each batch commits with the run's cursor (input records done) and the records it skipped,
    so a run killed midway is resumed by running the same command again: the records an
    unfinished run over the same, unchanged inputs committed are not read again."""
    summary = Summary()
    if not inputs:
        return summary
    key = _resume_key(inputs, meta, preset, fields, skip_bad, max_bytes)
    tracker.begin_run(command, inputs, resume_key=key)
    start = tracker.resumed
    if start:
        click.echo(
            f"resumed after {start} records committed by an interrupted run over the same"
            " inputs; they are not read again",
            err=True,
        )
    stdin = sys.stdin.buffer if "-" in inputs else None
    records: Iterator[object] = read_inputs(
        list(inputs),
        meta=meta,
        preset=preset,
        fields=fields or None,
        stdin=stdin,
        max_bytes=max_bytes,
        max_chars=MAX_ARTICLE_CHARS,
    )
    if start:
        records = itertools.islice(records, start, None)
    notices: dict[str, tuple[int, Skipped]] = {}  # reason -> (count, first example)
    changed: list[str] = []  # inputs known by id or URL whose text differs from the stored one

    def batches() -> Iterator[Result]:
        batch: list[Article] = []
        bad: list[BadRecord] = []
        done = committed = start

        def flush() -> list[Result]:
            nonlocal committed
            arts, skipped, upto = list(batch), list(bad), done
            batch.clear()
            bad.clear()

            def on_commit() -> None:
                for b in skipped:
                    tracker.quarantine(b.source, b.line, b.problem, b.raw)
                tracker.record_progress(upto)

            out = tracker.add_batch(arts, on_commit=on_commit)
            committed = upto
            changed.extend(
                a.id for a, r in zip(arts, out) if r.status == "known" and r.article.text != a.text
            )
            return out

        for rec in records:
            done += 1
            if isinstance(rec, BadRecord):
                if not skip_bad:
                    raise click.ClickException(
                        f"{_term(str(rec))}\nNothing from the batch holding this record was stored;"
                        " fix the input or pass --skip-bad."
                    )
                summary.rejected += 1
                click.echo(f"skipped: {_term(str(rec))}", err=True)
                bad.append(rec)
            elif isinstance(rec, Article):
                batch.append(rec)
            elif isinstance(rec, Skipped):
                n, first = notices.get(rec.reason, (0, rec))
                notices[rec.reason] = (n + 1, first)
            if len(batch) >= batch_size or len(bad) >= batch_size:
                yield from flush()
        if done != committed:
            yield from flush()

    show = not silent and sys.stderr.isatty()
    stream: Iterable[Result] = batches()
    try:
        if show:
            with click.progressbar(
                stream, label="ingesting", file=sys.stderr, show_pos=True
            ) as bar:
                for r in bar:
                    _count(summary, r)
        else:
            for r in stream:
                _count(summary, r)
    except (DedupeError, ValueError) as e:
        raise click.ClickException(_term(str(e))) from e
    # Every batch is committed: what fails from here on (writing the output to a pipe its
    # reader closed...) must not leave the run to be resumed.
    tracker.end_run()
    for reason, (n, first) in sorted(notices.items()):
        click.echo(f"skipped {n} record(s), {reason}; first: {_term(str(first))}", err=True)
    if changed:
        click.echo(
            f"{len(changed)} article(s) already stored under the same id or URL came with another"
            f" text; the stored text was kept (first: id {_term(repr(changed[0]))}). An updated"
            " article needs an id and URL of its own to be stored beside the old one.",
            err=True,
        )
    return summary


def _resume_key(
    inputs: tuple[str, ...],
    meta: str | None,
    preset: str,
    fields: dict[str, str],
    skip_bad: bool,
    max_bytes: int,
) -> str | None:
    """What a run reads, as a hash: every input file's path, size and modification time and
    the options that shape the records. None when an input cannot be read twice (stdin)."""
    if "-" in inputs:
        return None
    state: list[Any] = []
    for p in [*inputs, *([meta] if meta else [])]:
        files: list[Any] = []
        if os.path.isdir(p):
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames.sort()
                for name in sorted(filenames):
                    files.append([os.path.join(dirpath, name), *_stat(os.path.join(dirpath, name))])
        else:
            files.append([p, *_stat(p)])
        state.append([os.path.abspath(p), files])
    blob = json.dumps(
        {
            "inputs": state,
            "preset": preset,
            "fields": sorted(fields.items()),
            "skip_bad": skip_bad,
            "max_bytes": max_bytes,
            "max_chars": MAX_ARTICLE_CHARS,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode("ascii")).hexdigest()


def _stat(path: str) -> tuple[int, int]:
    """(size, modification time in ns) of a file; (-1, -1) when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


def _count(summary: Summary, r: Result) -> None:
    if r.status == "known":
        summary.known += 1
        return
    summary.added += 1
    for f in r.findings:
        if f.verdict != "kept":
            summary.verdicts[f.verdict] = summary.verdicts.get(f.verdict, 0) + 1


@cli.command()
@db_option
@input_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "text"]),
    default="jsonl",
    show_default=True,
    help="JSON Lines with findings, or the cleaned texts only.",
)
@click.option(
    "-o",
    "--output",
    "outdir",
    type=click.Path(file_okay=False),
    help="Write one file per article into this folder instead of stdout.",
)
@click.option("--strip-reused", is_flag=True, help="Also cut text reused from other outlets.")
def clean(
    db_path: str,
    inputs: tuple[str, ...],
    fmt: str,
    outdir: str | None,
    strip_reused: bool,
    **kw: Any,
) -> None:
    """Ingest INPUTS (files, folders, - for stdin), then write every stored article, cleaned.

    \b
    Example:
        dedupe clean samples/ > clean.jsonl
        dedupe clean --db :memory: --format text articles.jsonl
    """
    fields = _fields(kw)
    index_memory = kw.pop("index_memory")
    if not inputs:  # only writing a store out: a mistyped --db must not make an empty one
        _require_store(db_path)
    with _open(db_path, strip_reused=strip_reused, index_memory=index_memory) as tracker:
        summary = _ingest(tracker, inputs, fields=fields, command="clean", **kw)
        if inputs:
            click.echo(summary.line(), err=True)
            stored, given = tracker.store.count_articles(), summary.added + summary.known
            if stored > given:
                click.echo(
                    f"writing all {stored} articles of {db_path}, {stored - given} of them from"
                    " earlier runs; --db :memory: (or another file) keeps runs apart",
                    err=True,
                )
        if outdir:
            _write_dir(tracker.results(), Path(outdir), fmt)
        else:
            out = sys.stdout
            for r in tracker.results():
                _write_one(out, r, fmt)


def _write_one(out: TextIO, r: Result, fmt: str) -> None:
    if fmt == "text":
        out.write(r.text.rstrip("\n") + "\n\n")
    else:
        out.write(_json(r.as_dict()) + "\n")


# JSON leaves these raw inside strings: DEL and the C1 controls (8-bit CSI), the format
# characters (bidi overrides and isolates, zero-width ones) and the line and paragraph
# separators: every character of Unicode categories Cc, Cf, Zl and Zp above ASCII's controls
# (Unicode 15.1; tests/test_hostile_output.py checks the list against unicodedata). Escaped,
# a JSON line cannot drive or deceive a terminal.
_JSON_UNSAFE = re.compile(
    "[\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f]"
)


def _json_escape(m: re.Match[str]) -> str:
    """A character as JSON's \\uXXXX escape (a surrogate pair beyond the BMP)."""
    cp = ord(m.group())
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    cp -= 0x10000
    return f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}"


# A JSON string (skipped whole) or a bare NaN / infinity token outside strings.
_NON_FINITE = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)')


def _json(obj: Any, **kw: Any) -> str:
    """Strict JSON for output: NaN and infinities (passed through from the input) become null,
    as JavaScript writes them, and the characters above are escaped; decoding gives the same
    strings back."""
    try:
        text = json.dumps(obj, ensure_ascii=False, allow_nan=False, **kw)
    except ValueError:
        text = _NON_FINITE.sub(
            lambda m: "null" if m.group(1) else m.group(0),
            json.dumps(obj, ensure_ascii=False, **kw),
        )
    return _JSON_UNSAFE.sub(_json_escape, text)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


#: Device names Windows reserves whatever the extension ("CON.json" is the console).
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"{d}{i}" for d in ("COM", "LPT") for i in range(10)]
)


def safe_name(article_id: str) -> str:
    """A file name for an article id that cannot leave its folder ('../x', '/etc/passwd') nor
    name a device ('CON'): letters, digits, '.', '_' and '-' only, at most 150 of them."""
    name = (_UNSAFE.sub("_", article_id).strip("._") or "article")[:150]
    if name.split(".")[0].upper() in _RESERVED:
        name = "_" + name
    return name


def _write_dir(results: Iterable[Result], outdir: Path, fmt: str) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    root = outdir.resolve()
    used: set[str] = set()  # lower case: "A" and "a" are one file on Windows and macOS
    ext = ".txt" if fmt == "text" else ".json"
    for r in results:
        base = safe_name(r.article.id)
        name = base
        n = 1
        while name.lower() in used:
            n += 1
            name = f"{base}-{n}"
        used.add(name.lower())
        target = (root / (name + ext)).resolve()
        if not target.is_relative_to(root):  # pragma: no cover - safe_name forbids it
            raise click.ClickException(f"refusing to write outside {outdir}: {name}")
        if fmt == "text":
            target.write_text(r.text, encoding="utf-8")
        else:
            target.write_text(_json(r.as_dict(), indent=2) + "\n", encoding="utf-8")


@cli.command()
@db_option
@input_options
def ingest(db_path: str, inputs: tuple[str, ...], **kw: Any) -> None:
    """Store INPUTS (files, folders, - for stdin) without printing them.

    \b
    Example:
        dedupe ingest --db news.db crawl-2024-05.jsonl
    """
    if not inputs:
        raise click.UsageError("give at least one input (file, folder or -)")
    fields = _fields(kw)
    with _open(db_path, index_memory=kw.pop("index_memory")) as tracker:
        summary = _ingest(tracker, inputs, fields=fields, command="ingest", **kw)
    click.echo(summary.line(), err=True)


@cli.command()
@db_option
@click.argument("article_id")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a readable listing.")
def explain(db_path: str, article_id: str, as_json: bool) -> None:
    """Show each segment of one article with its verdict and the evidence for it."""
    _require_store(db_path)
    with _open(db_path) as tracker:
        try:
            r = tracker.result(article_id)
        except KeyError:
            raise click.ClickException(f"no article with id {article_id!r} in {db_path}") from None
        text = r.article.text
        if as_json:
            click.echo(
                _json(
                    {
                        "id": r.article.id,
                        "segments": [
                            f.as_dict() | {"text": text[f.start : f.end]} for f in r.findings
                        ],
                        "removed": [c.as_dict() for c in r.removed],
                    }
                )
            )
            return
        a = r.article
        click.echo(
            f"{_term(a.id)}  {_term(a.outlet or '(unknown outlet)')}  {a.published.isoformat() if a.published else '(unknown date)'}"
        )
        if a.title:
            click.echo(_term(a.title))
        click.echo("")
        for i, f in enumerate(r.findings):
            snippet = _term(_snip(text[f.start : f.end]))
            click.echo(f"[{i}] {f.verdict:<11} {f.start}-{f.end} {f.kind}  {snippet}")
            if f.rule != "unique":  # a reason may open with its rule: say it once
                reason = f.reason.removeprefix(f.rule + ": ")
                click.echo(f"      rule {f.rule}: {_term(reason)}")
            for m in f.matched:
                where = (
                    "this article"
                    if m.article == a.id
                    else f"{_term(m.article)} ({_term(m.outlet or 'unknown outlet')}, {m.published or 'unknown date'})"
                )
                click.echo(f"      ~ {where} {m.start}-{m.end} similarity {m.similarity:.2f}")
        stripped = sum(c.end - c.start for c in r.removed)
        click.echo(f"\n{len(r.removed)} cuts, {stripped} of {len(text)} characters removed")


@cli.command()
@db_option
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a readable summary.")
@click.option(
    "--top",
    default=5,
    show_default=True,
    type=click.IntRange(1),
    help="Boilerplate blocks listed per outlet.",
)
def stats(db_path: str, as_json: bool, top: int) -> None:
    """Summarize the store: articles, outlets, segments by verdict, top boilerplate per outlet."""
    _require_store(db_path)
    with _open(db_path) as tracker:
        s = (
            tracker.stats()
            if top == 5
            else tracker.store.stats(top) | {"params": tracker.params.as_dict()}
        )
    if as_json:
        click.echo(_json(s, sort_keys=True))
        return
    known = sum(1 for o in s["outlets"] if o["outlet"])
    unknown = sum(o["articles"] for o in s["outlets"] if not o["outlet"])
    click.echo(
        f"{_n(s['articles'], 'article')} from {_n(known, 'outlet')}"
        + (f" ({_n(unknown, 'article')} of unknown outlet)" if unknown else "")
        + f"; {_n(s['runs'], 'run')}"
    )
    for o in s["outlets"]:
        click.echo(f"  {_term(o['outlet'] or '(unknown outlet)')}: {o['articles']}")
    click.echo("segments by verdict:")
    for v, d in s["segments"].items():
        click.echo(f"  {v:<12} {d['segments']:>8} segments {d['chars']:>10} characters")
    if s["top_boilerplate"]:
        click.echo("top boilerplate per outlet:")
        for outlet, blocks in s["top_boilerplate"].items():
            click.echo(f"  {_term(outlet)}")
            for b in blocks:
                click.echo(f"    {b['articles']:>5} x {_term(_snip(b['text']))}")


def _n(count: int, noun: str) -> str:
    """``1 run``, ``2 runs``."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _require_store(db_path: str) -> None:
    if db_path != ":memory:" and not os.path.exists(db_path):
        raise click.ClickException(
            f"{db_path}: no such store; create it with 'dedupe ingest --db {db_path} INPUT...'"
        )


def _snip(s: str, n: int = 70) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _term(s: str) -> str:
    """Scraped text made safe for a terminal: control and bidi characters shown escaped."""
    out = []
    for ch in s:
        cat = unicodedata.category(ch)
        if ch in "\n\t":
            out.append(ch)
        elif cat in ("Cc", "Cf") or cat == "Zl" or cat == "Zp":
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


# -- export command ----------------------------------------------------------------------------

EXPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "findings": (
        "article",
        "outlet",
        "published",
        "segment",
        "kind",
        "start",
        "end",
        "verdict",
        "rule",
        "reason",
        "similarity",
        "matched_article",
        "matched_outlet",
        "text",
    ),
    "articles": (
        "id",
        "url",
        "outlet",
        "published",
        "title",
        "source",
        "characters",
        "removed_characters",
        "segments",
        "boilerplate",
        "repeat",
        "reused",
        "kept",
    ),
    "reuse": (
        "source",
        "target",
        "source_outlet",
        "target_outlet",
        "source_start",
        "source_end",
        "target_start",
        "target_end",
        "sentences",
        "min_similarity",
        "mean_similarity",
        "lag_seconds",
        "order",
        "chains",
        "attributions",
    ),
}
"""The columns of each ``dedupe export --what``, in order (CSV header, JSON key order)."""


@cli.command()
@db_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="JSON Lines, or CSV with a header row.",
)
@click.option(
    "--what",
    type=click.Choice(list(EXPORT_COLUMNS)),
    default="findings",
    show_default=True,
    help="Rows: segment verdicts, articles, or passages reused across articles.",
)
@click.option(
    "-o",
    "--output",
    type=click.File("w", encoding="utf-8", lazy=True, atomic=True),
    default="-",
    show_default=True,
    help="Output file (written whole or not at all); - for stdout.",
)
@click.option(
    "--raw",
    is_flag=True,
    help="CSV: keep text that begins with = + - @ as it is (by default it gets a leading '"
    " so a spreadsheet shows it instead of running it as a formula).",
)
def export(db_path: str, fmt: str, what: str, output: TextIO, raw: bool) -> None:
    """Write what the store knows as rows for pandas, R or a spreadsheet.

    Verdicts are judged against the store as it is now, as for clean. In CSV, text that
    begins with = + - or @ gets a leading ' (scraped text must not run as a spreadsheet
    formula); --raw keeps it as it is.

    \b
    findings  one row per segment: verdict, rule, reason, best match
    articles  one row per article: metadata, characters cut, verdict counts
    reuse     one row per passage one article took from another

    \b
    Example:
        dedupe export --db news.db --format csv > findings.csv
        dedupe export --db news.db --what reuse -o reuse.jsonl
    """
    _require_store(db_path)
    columns = EXPORT_COLUMNS[what]
    with _open(db_path) as tracker:
        rows = _export_rows(tracker, what)
        if fmt == "csv":
            writer = csv.writer(output, lineterminator="\n")
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_csv_cell(row[c], raw) for c in columns])
        else:
            for row in rows:
                output.write(_json({c: row[c] for c in columns}) + "\n")


#: First characters that make a spreadsheet read a cell as a formula (scraped text could run).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any, raw: bool) -> Any:
    """One CSV cell: lists joined with ``;``; text a spreadsheet would run as a formula
    prefixed with ``'`` unless ``raw``."""
    if isinstance(value, list):
        value = ";".join(value)
    if not raw and isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _export_rows(tracker: Tracker, what: str) -> Iterator[dict[str, Any]]:
    """The rows of one kind of export, in a stable order (publication date, then id)."""
    if what == "reuse":
        for p in tracker.passages():
            yield p.as_dict()
        return
    for r in tracker.results():
        a = r.article
        published = a.published.isoformat() if a.published else None
        if what == "articles":
            verdicts = {v: 0 for v in ("boilerplate", "repeat", "reused", "kept")}
            for f in r.findings:
                verdicts[f.verdict] += 1
            yield {
                "id": a.id,
                "url": a.url,
                "outlet": a.outlet,
                "published": published,
                "title": a.title,
                "source": a.source,
                "characters": len(a.text),
                "removed_characters": sum(c.end - c.start for c in r.removed),
                "segments": len(r.findings),
                **verdicts,
            }
            continue
        for i, f in enumerate(r.findings):
            m = f.matched[0] if f.matched else None
            yield {
                "article": a.id,
                "outlet": a.outlet,
                "published": published,
                "segment": i,
                "kind": f.kind,
                "start": f.start,
                "end": f.end,
                "verdict": f.verdict,
                "rule": f.rule,
                "reason": f.reason,
                "similarity": round(m.similarity, 4) if m else None,
                "matched_article": m.article if m else None,
                "matched_outlet": m.outlet if m else None,
                "text": a.text[f.start : f.end],
            }


def main() -> None:  # pragma: no cover - console entry point
    cli()


# -- provenance and report commands ------------------------------------------------------------


@cli.command()
@db_option
@click.argument("article_ids", nargs=-1)
@click.option("--outlet", help="Only chains that this outlet carried.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, one chain per line.")
def provenance(
    db_path: str, article_ids: tuple[str, ...], outlet: str | None, as_json: bool
) -> None:
    """Show where shared text came from: each chain's origin and the outlets that copied it.

    \b
    Example:
        dedupe provenance --db news.db
        dedupe provenance --db news.db a0000035 --json
        dedupe provenance --db news.db --outlet reuters.com
    """
    _require_store(db_path)
    with _open(db_path) as tracker:
        for aid in article_ids:
            if tracker.store.article(aid) is None:
                raise click.ClickException(f"no article with id {_term(aid)!r} in {db_path}")
        chains = tracker.chains(list(article_ids) if article_ids else None, outlet)
        if as_json:
            for c in chains:
                click.echo(_json(c.as_dict(), sort_keys=True))
            return
        if not chains:
            click.echo(
                "no reuse found: no text is shared between articles of different outlets", err=True
            )
            return
        for c in chains:
            _echo_chain(c)
        click.echo(f"{len(chains)} chain(s)", err=True)


def _echo_chain(c: Any) -> None:
    """One chain as a readable block: its text, then one row per carrier."""
    flags = [f"origin by {c.order}"]
    if c.attributions:
        flags.append("origin credits " + ", ".join(c.attributions))
    if c.chained:
        flags.append("cut from a larger group of near copies")
    click.echo(f"chain {_term(c.id)}  ({'; '.join(flags)})")
    click.echo(f'  "{_term(_snip(c.text, 100))}"')
    lags = {k.target: k.lag_seconds for k in c.links}
    rows = [("role", "article", "outlet", "published", "lag", "sim", "offsets")]
    for x in c.articles:
        lag = lags.get(x.article)
        rows.append(
            (
                x.role + (f" of {x.version_of}" if x.version_of else ""),
                x.article,
                x.outlet or "(unknown outlet)",
                (x.published or "date unknown")
                + (f" ({x.date_note})" if x.date_note and x.published else ""),
                _lag(lag) if x.role == "copy" else "",
                f"{x.similarity:.2f}",
                f"{x.start}-{x.end}",
            )
        )
    cells = [[_term(_snip(v, 40)) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    for r in cells:
        click.echo("  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    click.echo("")


def _lag(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    d, rem = divmod(int(abs(seconds)), 86400)
    h, rem = divmod(rem, 3600)
    sign = "-" if seconds < 0 else ""
    return f"{sign}{d}d{h:02d}h" if d else f"{sign}{h}h{rem // 60:02d}m"


@cli.command()
@db_option
@input_options
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False, writable=True),
    help="The report file (HTML); large corpora also get a NAME_files/ folder beside it.",
)
def report(db_path: str, inputs: tuple[str, ...], output: str, **kw: Any) -> None:
    """Ingest INPUTS if given, then write a self-contained HTML report of the store.

    \b
    Example:
        dedupe report --db news.db -o report.html
        dedupe report --db :memory: samples/ -o samples.html
    """
    from dedupe.report import write_report

    if not inputs:
        _require_store(db_path)
    fields = _fields(kw)
    with _open(db_path, index_memory=kw.pop("index_memory")) as tracker:
        summary = _ingest(tracker, inputs, fields=fields, command="report", **kw)
        if inputs:
            click.echo(summary.line(), err=True)
        try:
            info = write_report(tracker, output)
        except (DedupeError, OSError) as e:
            raise click.ClickException(_term(str(e))) from e
    click.echo(info.line(), err=True)
