"""The HTML report: a view model built from a :class:`~dedupe.tracker.Tracker`, rendered with
the jinja2 templates in ``templates/`` (installed as the package ``dedupe.templates``).

The output is one self-contained file: inline CSS and SVG, no script, no external request,
a Content-Security-Policy that forbids anything else. Scraped text is hostile, so every value
goes through autoescaping (nothing scraped is marked safe), links are written only for http(s)
URLs, anchors are slugs, and control and bidi characters in names are shown escaped.

Large corpora stay bounded: the main page carries top-N lists, and beyond
:data:`INLINE_ARTICLES` articles each article gets its own page in a ``<name>_files/`` folder
next to the report, with paged indexes there.
"""

from __future__ import annotations

import itertools
import math
import re
import time
import unicodedata
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import xxhash
from jinja2 import BaseLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined

from dedupe.model import DedupeError, Finding, Result
from dedupe.provenance import Carrier, Chain, Provenance, outlet_label
from dedupe.tracker import Tracker

#: Articles written inline in the report; beyond this, one page per article in a folder.
INLINE_ARTICLES = 500
#: Chains, flows, outlets, articles and boilerplate blocks listed on the main page at most.
TOP_CHAINS = 100
TOP_FLOWS = 60
TOP_GRAPH_OUTLETS = 24
TOP_ARTICLES = 100
TOP_BOILERPLATE_OUTLETS = 20
TOP_BOILERPLATE_BLOCKS = 5
#: Articles per index page in the folder.
INDEX_PAGE = 500
#: Characters of a quoted text shown in lists.
SNIPPET = 240

VERDICT_ORDER = ("kept", "reused", "boilerplate", "repeat")
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


# -- templates ------------------------------------------------------------------------------


def source_templates() -> Path:
    """The templates folder of a source checkout (beside the ``dedupe`` package folder)."""
    return Path(__file__).resolve().parent.parent / "templates"


def template_loader() -> BaseLoader:
    """The installed ``dedupe/templates`` when the package is installed; else the source tree's
    ``templates/`` (running from a checkout, where ``dedupe`` resolves to the source)."""
    try:
        return PackageLoader("dedupe", "templates")
    except ValueError:
        pass
    src = source_templates()
    if (src / "report.html").is_file():
        return FileSystemLoader(str(src))
    raise DedupeError(
        "the report templates are missing: neither the installed package dedupe.templates"
        f" nor {src} holds report.html; reinstall news-dedupe"
    )


def environment(loader: BaseLoader | None = None) -> Environment:
    """The jinja2 environment: autoescaping on, undefined names are errors."""
    env = Environment(
        loader=loader or template_loader(),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["visible"] = visible
    env.filters["lag"] = human_lag
    env.filters["pct"] = lambda x: f"{100.0 * x:.1f}%"
    env.filters["num"] = lambda n: f"{n:,}"
    env.filters["sim"] = lambda x: f"{x:.2f}"
    return env


# -- hostile text ---------------------------------------------------------------------------


def visible(s: str | None) -> str:
    """A name (id, outlet, title, URL) with control, format and bidi characters shown as
    escapes, so a right-to-left override cannot disguise it."""
    if s is None:
        return ""
    out = []
    for ch in s:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


_SLUG = re.compile(r"[^a-z0-9]+")


def slug(s: str) -> str:
    """An anchor or file name for any id: a readable ASCII part and a hash (ids differing only
    in punctuation or case stay apart)."""
    ascii_part = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii")
    readable = _SLUG.sub("-", ascii_part.lower()).strip("-")[:40].strip("-")
    digest = xxhash.xxh32_hexdigest(s.encode("utf-8", "surrogatepass"))
    return f"{readable}-{digest}" if readable else digest


def safe_url(url: str | None) -> str | None:
    """The URL if it is an absolute http(s) URL without white space or control characters,
    else ``None`` (``javascript:``, ``data:``, relative and mangled URLs get no link)."""
    if not url or len(url) > 4000:
        return None
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in url):
        return None
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def snippet(s: str, n: int = SNIPPET) -> str:
    """White space collapsed, cut to ``n`` characters."""
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def human_lag(seconds: float | None) -> str:
    """A time lag for people: "3 d 4 h", "45 min", "unknown"."""
    if seconds is None:
        return "unknown"
    sign = "-" if seconds < 0 else ""
    s = abs(int(seconds))
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m = rem // 60
    if d:
        return f"{sign}{d} d {h} h"
    if h:
        return f"{sign}{h} h {m} min"
    return f"{sign}{m} min"


# -- view model -----------------------------------------------------------------------------


@dataclass
class Ref:
    """A link inside the report (``href`` is always built here, never from scraped text)."""

    href: str
    label: str
    detail: str = ""


@dataclass
class Piece:
    """A run of an article's text and how to show it."""

    text: str
    kind: str  # plain, kept, reused, origin, boilerplate, repeat
    anchor: str = ""
    badge: str = ""
    reason: str = ""
    refs: list[Ref] = field(default_factory=list)


@dataclass
class ArticleView:
    """One article as the report shows it."""

    id: str
    anchor: str
    href: str
    title: str
    outlet: str
    published: str
    url: str | None
    chars: dict[str, int]
    pieces: list[Piece]

    @property
    def total(self) -> int:
        return sum(self.chars.values())


@dataclass
class Row:
    """One line of an article list."""

    href: str
    title: str
    outlet: str
    published: str
    reused: int
    stripped: int
    total: int


@dataclass
class Node:
    """An outlet drawn in the reuse graph."""

    label: str
    x: float
    y: float
    r: float
    lx: float
    ly: float
    anchor: str
    passages_out: int
    passages_in: int


@dataclass
class Edge:
    """A flow drawn in the reuse graph (a quadratic curve from source to target)."""

    source: str
    target: str
    d: str
    width: float
    passages: int
    sentences: int
    lag: str


@dataclass
class TimelineDot:
    """A carrier of a chain placed on its time line."""

    left: float
    outlet: str
    role: str
    published: str
    href: str
    label: str
    lag: str
    similarity: str


@dataclass
class ChainView:
    """A chain with its time line."""

    id: str
    anchor: str
    text: str
    order: str
    attributions: tuple[str, ...]
    chained: bool
    reason: str
    dots: list[TimelineDot]
    undated: list[TimelineDot]
    span: str


class _Linker:
    """Builds hrefs for one page: the main report or an article page in the folder."""

    def __init__(self, split: bool, folder: str, main_name: str, on_article_page: bool) -> None:
        self.split = split
        self.folder = folder
        self.main_name = main_name
        self.on_article_page = on_article_page
        self.chains: set[str] = set()

    def article(self, article_id: str, start: int | None = None) -> str:
        s = slug(article_id)
        frag = f"a-{s}" if start is None else f"a-{s}-{start}"
        if not self.split:
            return "#" + frag
        page = f"{s}.html"
        if not self.on_article_page:
            page = f"{self.folder}/{page}"
        return f"{page}#{frag}"

    def chain(self, chain_id: str) -> str | None:
        if chain_id not in self.chains:
            return None
        frag = "c-" + slug(chain_id)
        return f"../{self.main_name}#{frag}" if self.on_article_page else "#" + frag

    def page(self, name: str) -> str:
        return name if self.on_article_page else f"{self.folder}/{name}"


def _paint(text: str, findings: Sequence[Finding]) -> list[tuple[int, int, int | None]]:
    """Cut the text into runs, each shown under the innermost finding covering it (a split
    sentence's finding spans the interrupting line, which has a finding of its own)."""
    bounds = sorted({0, len(text), *(f.start for f in findings), *(f.end for f in findings)})
    by_start = sorted(range(len(findings)), key=lambda i: findings[i].start)
    active: list[int] = []
    runs: list[tuple[int, int, int | None]] = []
    j = 0
    for lo, hi in itertools.pairwise(bounds):
        while j < len(by_start) and findings[by_start[j]].start <= lo:
            active.append(by_start[j])
            j += 1
        active = [i for i in active if findings[i].end > lo]
        best = min(active, key=lambda i: (findings[i].end - findings[i].start, i), default=None)
        if runs and runs[-1][2] == best and runs[-1][1] == lo:
            runs[-1] = (runs[-1][0], hi, best)
        else:
            runs.append((lo, hi, best))
    return runs


def _carrier_index(chains: Iterable[Chain]) -> dict[tuple[str, int], list[tuple[Chain, Carrier]]]:
    out: dict[tuple[str, int], list[tuple[Chain, Carrier]]] = {}
    for ch in chains:
        for c in ch.articles:
            out.setdefault((c.article, c.start), []).append((ch, c))
    return out


def _refs_for(chain: Chain, carrier: Carrier, link: _Linker) -> tuple[str, str, list[Ref]]:
    """Badge, explanation and links of a segment that belongs to a chain."""
    origin = chain.articles[0]
    refs: list[Ref] = []
    ch_href = link.chain(chain.id)
    if carrier.role == "origin":
        copies = [c for c in chain.articles if c.role == "copy"]
        for c in copies[:10]:
            lag = next((k.lag_seconds for k in chain.links if k.target == c.article), None)
            refs.append(
                Ref(
                    link.article(c.article, c.start),
                    visible(outlet_label(c.outlet)),
                    f"copy, similarity {c.similarity:.2f}, {human_lag(lag)} later",
                )
            )
        more = len(copies) - len(refs)
        reason = f"origin: {len(copies)} other outlet(s) carried this text later"
        if more > 0:
            reason += f" ({more} not listed)"
        badge = "origin"
    else:
        lag = next((k.lag_seconds for k in chain.links if k.target == carrier.article), None)
        what = {
            "copy": "copied from",
            "version": "version of an article that carries text from",
            "same-outlet": "the outlet's own text, first published in",
        }[carrier.role]
        refs.append(
            Ref(
                link.article(origin.article, origin.start),
                visible(outlet_label(origin.outlet)),
                f"{what} {visible(origin.article)}; similarity {carrier.similarity:.2f};"
                f" lag {human_lag(lag)}",
            )
        )
        reason = f"{what} {outlet_label(origin.outlet)} (order: {chain.order})"
        badge = {"copy": "reused", "version": "version", "same-outlet": "same outlet"}[carrier.role]
    if chain.attributions:
        reason += "; the origin credits " + ", ".join(chain.attributions)
    if ch_href:
        refs.append(Ref(ch_href, "chain", f"all {len(chain.articles)} carriers"))
    return badge, reason, refs


def article_view(
    result: Result, carriers: dict[tuple[str, int], list[tuple[Chain, Carrier]]], link: _Linker
) -> ArticleView:
    """An article's text cut into pieces: stripped text struck through with a badge, reused
    text marked and linked to its origin and later copies."""
    a = result.article
    text = a.text
    findings = list(result.findings)
    chars: dict[str, int] = dict.fromkeys(VERDICT_ORDER, 0)
    pieces: list[Piece] = []
    anchored: set[int] = set()
    base = f"a-{slug(a.id)}"
    for lo, hi, i in _paint(text, findings):
        chunk = text[lo:hi]
        if i is None:
            pieces.append(Piece(chunk, "plain"))
            continue
        f = findings[i]
        chars[f.verdict] = chars.get(f.verdict, 0) + len(chunk.strip())
        anchor = ""
        if i not in anchored:
            anchored.add(i)
            anchor = f"{base}-{f.start}"
        if f.verdict in ("boilerplate", "repeat"):
            pieces.append(Piece(chunk, f.verdict, anchor, f.verdict, f"{f.rule}: {f.reason}"))
            continue
        found = carriers.get((a.id, f.start), [])
        if found:
            chain, carrier = found[0]
            badge, reason, refs = _refs_for(chain, carrier, link)
            kind = "origin" if carrier.role == "origin" else "reused"
            pieces.append(Piece(chunk, kind, anchor, badge, reason, refs))
        elif f.verdict == "reused":
            refs = [
                Ref(
                    link.article(m.article, m.start if m.start >= 0 else None),
                    visible(m.article),
                    f"similarity {m.similarity:.2f}",
                )
                for m in f.matched[:3]
            ]
            pieces.append(Piece(chunk, "reused", anchor, "reused", f.reason, refs))
        else:
            pieces.append(Piece(chunk, "kept", anchor))
    return ArticleView(
        a.id,
        base,
        link.article(a.id),
        visible(a.title) or "(no title)",
        visible(outlet_label(a.outlet)),
        a.published.isoformat() if a.published else "date unknown",
        safe_url(a.url),
        chars,
        pieces,
    )


def graph_view(prov: Provenance) -> tuple[list[Node], list[Edge], int, int]:
    """Outlets on a circle, flows as curves between them; sizes in SVG user units."""
    width, height = 720, 560
    cx, cy, radius = width / 2, height / 2, 200
    nodes_data = list(prov.graph.outlets[:TOP_GRAPH_OUTLETS])
    names = [n.outlet for n in nodes_data]
    shown = set(names)
    flows = [f for f in prov.graph.flows if f.source in shown and f.target in shown][:TOP_FLOWS]
    biggest_node = max((n.passages_out + n.passages_in for n in nodes_data), default=1) or 1
    nodes: list[Node] = []
    pos: dict[str, tuple[float, float, float]] = {}
    for k, n in enumerate(nodes_data):
        angle = -math.pi / 2 + 2 * math.pi * k / max(len(nodes_data), 1)
        x, y = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
        r = 6 + 14 * math.sqrt((n.passages_out + n.passages_in) / biggest_node)
        lx, ly = cx + (radius + r + 14) * math.cos(angle), cy + (radius + r + 14) * math.sin(angle)
        pos[n.outlet] = (x, y, r)
        nodes.append(
            Node(
                visible(n.outlet),
                round(x, 1),
                round(y, 1),
                round(r, 1),
                round(lx, 1),
                round(ly, 1),
                "o-" + slug(n.outlet),
                n.passages_out,
                n.passages_in,
            )
        )
    biggest_flow = max((f.passages for f in flows), default=1) or 1
    edges: list[Edge] = []
    for f in flows:
        x1, y1, r1 = pos[f.source]
        x2, y2, r2 = pos[f.target]
        w = round(1 + 7 * math.sqrt(f.passages / biggest_flow), 2)
        if f.source == f.target:  # articles of unknown outlets reusing each other: a loop
            d = (
                f"M {x1:.1f} {y1 - r1:.1f} C {x1 - 40:.1f} {y1 - r1 - 50:.1f}"
                f" {x1 + 40:.1f} {y1 - r1 - 50:.1f} {x1 + 2:.1f} {y1 - r1:.1f}"
            )
        else:
            dx, dy = x2 - x1, y2 - y1
            dist = math.hypot(dx, dy) or 1.0
            ux, uy = dx / dist, dy / dist
            # Bend to the right of the direction of travel, so A->B and B->A stay apart.
            mx, my = (x1 + x2) / 2 - uy * dist * 0.15, (y1 + y2) / 2 + ux * dist * 0.15
            sx, sy = x1 + ux * r1, y1 + uy * r1
            ex, ey = x2 - ux * (r2 + 11), y2 - uy * (r2 + 11)
            d = f"M {sx:.1f} {sy:.1f} Q {mx:.1f} {my:.1f} {ex:.1f} {ey:.1f}"
        edges.append(
            Edge(
                visible(f.source),
                visible(f.target),
                d,
                w,
                f.passages,
                f.sentences,
                human_lag(f.median_lag_seconds),
            )
        )
    return nodes, edges, width, height


def chain_view(chain: Chain, link: _Linker) -> ChainView:
    """A chain's carriers placed on a time line (undated ones listed after it)."""
    lags = {k.target: k.lag_seconds for k in chain.links}
    dated = [c for c in chain.articles if c.date_note is None and c.published]
    times = [_ts(c.published) for c in dated]
    lo, hi = (min(times), max(times)) if times else (0.0, 0.0)
    dots: list[TimelineDot] = []
    undated: list[TimelineDot] = []
    for c in chain.articles:
        dot = TimelineDot(
            0.0,
            visible(outlet_label(c.outlet)),
            c.role,
            c.published or "date unknown",
            link.article(c.article, c.start),
            visible(c.article),
            human_lag(lags.get(c.article)) if c.role == "copy" else "",
            f"{c.similarity:.2f}",
        )
        if c.date_note is None and c.published:
            t = _ts(c.published)
            dot.left = round(100.0 * (t - lo) / (hi - lo), 2) if hi > lo else 0.0
            dots.append(dot)
        else:
            dot.published = f"{c.published or ''} ({c.date_note})".strip()
            undated.append(dot)
    return ChainView(
        chain.id,
        "c-" + slug(chain.id),
        snippet(chain.text, 400),
        chain.order,
        chain.attributions,
        chain.chained,
        chain.reason,
        dots,
        undated,
        human_lag(hi - lo) if times else "unknown",
    )


def _ts(published: str | None) -> float:
    from dedupe.provenance import parse_date

    d = parse_date(published)
    return d.timestamp() if d else 0.0


# -- rendering ------------------------------------------------------------------------------


@dataclass
class ReportInfo:
    """What was written: files, bytes, seconds."""

    path: Path
    files: int
    bytes: int
    seconds: float
    articles: int
    split: bool

    def line(self) -> str:
        """One line for people."""
        where = f" (+ {self.files - 1} pages in {self.path.stem}_files/)" if self.split else ""
        return (
            f"wrote {self.path}{where}: {self.articles} articles, {self.bytes / 1e6:.2f} MB,"
            f" {self.seconds:.1f} s"
        )


def write_report(
    tracker: Tracker,
    path: str | Path,
    *,
    inline_limit: int = INLINE_ARTICLES,
    env: Environment | None = None,
) -> ReportInfo:
    """Write the report for everything in the tracker's store to ``path``."""
    t0 = time.perf_counter()
    env = env or environment()
    out = Path(path)
    folder_name = f"{out.stem}_files"
    folder = out.parent / folder_name
    prov = tracker.provenance()
    index = tracker.store.article_index()
    split = len(index) > inline_limit
    main_link = _Linker(split, folder_name, out.name, on_article_page=False)
    page_link = _Linker(split, folder_name, out.name, on_article_page=True)
    top = sorted(
        prov.chains,
        key=lambda c: (-len({x.outlet for x in c.articles}), -len(c.articles), c.id),
    )[:TOP_CHAINS]
    main_link.chains = page_link.chains = {c.id for c in top}
    carriers = _carrier_index(prov.chains)

    totals: dict[str, int] = dict.fromkeys(VERDICT_ORDER, 0)
    rows: list[Row] = []
    inline: list[ArticleView] = []
    files = 1
    written = 0
    if split:
        folder.mkdir(parents=True, exist_ok=True)
        page_tpl = env.get_template("article.html")
    for aid, *_ in index:
        result = tracker.result(aid)
        view = article_view(result, carriers, page_link if split else main_link)
        for v, n in view.chars.items():
            totals[v] = totals.get(v, 0) + n
        rows.append(
            Row(
                main_link.article(aid),
                view.title,
                view.outlet,
                view.published,
                view.chars.get("reused", 0),
                view.chars.get("boilerplate", 0) + view.chars.get("repeat", 0),
                view.total,
            )
        )
        if split:
            html = page_tpl.render(csp=CSP, article=view, main=out.name, index_href="index-1.html")
            target = folder / f"{slug(aid)}.html"
            target.write_text(html, encoding="utf-8")
            written += len(html.encode("utf-8"))
            files += 1
        else:
            inline.append(view)
    pages: list[str] = []
    if split:
        idx_tpl = env.get_template("index.html")
        for p in range(0, len(rows), INDEX_PAGE):
            name = f"index-{p // INDEX_PAGE + 1}.html"
            pages.append(name)
        for k, p in enumerate(range(0, len(rows), INDEX_PAGE)):
            chunk = [
                Row(
                    r.href.split("/", 1)[1],
                    r.title,
                    r.outlet,
                    r.published,
                    r.reused,
                    r.stripped,
                    r.total,
                )
                for r in rows[p : p + INDEX_PAGE]
            ]
            html = idx_tpl.render(
                csp=CSP, rows=chunk, page=k + 1, pages=pages, main=out.name, first=p + 1
            )
            (folder / pages[k]).write_text(html, encoding="utf-8")
            written += len(html.encode("utf-8"))
            files += 1
    stats = tracker.store.stats(TOP_BOILERPLATE_BLOCKS)
    all_chars = sum(totals.values()) or 1
    shares = [
        {"verdict": v, "chars": totals.get(v, 0), "share": totals.get(v, 0) / all_chars}
        for v in VERDICT_ORDER
    ]
    boiler = [
        {
            "outlet": visible(o),
            "blocks": [
                {"text": snippet(b["text"], 160), "articles": b["articles"]} for b in blocks
            ],
        }
        for o, blocks in list(stats["top_boilerplate"].items())[:TOP_BOILERPLATE_OUTLETS]
    ]
    nodes, edges, gw, gh = graph_view(prov)
    top_rows = sorted(rows, key=lambda r: (-r.reused, r.href))[:TOP_ARTICLES]
    html = env.get_template("report.html").render(
        csp=CSP,
        articles=len(index),
        outlets=[
            {"outlet": visible(outlet_label(o["outlet"])), "articles": o["articles"]}
            for o in stats["outlets"]
        ][:TOP_BOILERPLATE_OUTLETS],
        outlet_count=len(stats["outlets"]),
        shares=shares,
        total_chars=sum(totals.values()),
        boilerplate=boiler,
        boilerplate_more=max(0, len(stats["top_boilerplate"]) - TOP_BOILERPLATE_OUTLETS),
        nodes=nodes,
        edges=edges,
        graph_width=gw,
        graph_height=gh,
        flows=[
            {
                "source": visible(f.source),
                "target": visible(f.target),
                "passages": f.passages,
                "sentences": f.sentences,
                "articles": f.articles,
                "lag": human_lag(f.median_lag_seconds),
            }
            for f in prov.graph.flows[:TOP_FLOWS]
        ],
        flows_more=max(0, len(prov.graph.flows) - TOP_FLOWS),
        chain_count=len(prov.chains),
        passage_count=len(prov.passages),
        chains=[chain_view(c, main_link) for c in top],
        split=split,
        inline=inline,
        top_rows=top_rows,
        index_pages=[main_link.page(p) for p in pages],
    )
    out.write_text(html, encoding="utf-8")
    written += len(html.encode("utf-8"))
    return ReportInfo(out, files, written, time.perf_counter() - t0, len(index), split)
