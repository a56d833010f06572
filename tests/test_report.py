"""The HTML report: hostile scraped text cannot inject markup, links or requests."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import corpus, day
from jinja2 import FileSystemLoader, PackageLoader

from dedupe import Article, Tracker
from dedupe import report as rep
from dedupe.report import safe_url, slug, template_loader, visible, write_report

ROOT = Path(__file__).resolve().parent.parent

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "</script>",
    "<svg onload=alert(1)>",
    "\u202eevil\u202c",
]
SHARED = (
    "Officials said the payload <script>alert(1)</script> and <svg onload=alert(1)> were"
    " found in the \u202eborder\u202c city on Monday."
)


def hostile_corpus() -> list[Article]:
    out = []
    for i, p in enumerate(PAYLOADS):
        out.append(
            Article(
                f"{p}-{i}",
                f"Story number {i} opens with {p} in its very first line of text.\n\n{SHARED}\n\n"
                f"It closes with {p} and a remark about the weather on day {i}.",
                url=p if i % 2 else f'https://ok.example/{i}?q="><x>',
                outlet=f"{p} outlet {i}",
                published=day(i),
                title=f"Title {p} {i}",
            )
        )
    return out


class Collector(HTMLParser):
    """Every start tag with its attributes, and the text of the document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Collector:
    c = Collector()
    c.feed(html)
    c.close()
    return c


LOCAL_PAGE = re.compile(r"^(\.\./)?([A-Za-z0-9_.-]+/)?[a-z0-9-]+\.html(#[a-z0-9-]+)?$")


def check_page(html: str, allow_pages: bool = False) -> Collector:
    doc = parse(html)
    assert "<script" not in html.lower()
    svgs = [a for t, a in doc.tags if t == "svg"]
    assert all(a.get("class") == "reuse-graph" for a in svgs), svgs
    assert len(svgs) <= 1
    metas = [a for t, a in doc.tags if t == "meta"]
    assert {"http-equiv": "Content-Security-Policy", "content": rep.CSP} in metas
    assert {"name": "referrer", "content": "no-referrer"} in metas
    for tag, attrs in doc.tags:
        assert tag not in ("script", "iframe", "object", "embed", "img", "link", "base", "form")
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            assert name not in ("src", "srcset", "action", "formaction", "xlink:href"), (tag, name)
            if name == "href":
                ok = value.startswith("#") or re.match(r"^https?://", value)
                ok = ok or (allow_pages and LOCAL_PAGE.match(value))
                assert ok, (tag, value)
                if re.match(r"^https?://", value):
                    assert attrs.get("rel") == "noopener noreferrer"
            if name == "id":
                assert re.fullmatch(r"[a-z][a-z0-9-]*", value), value
            if name == "style":
                assert "url(" not in value and "expression" not in value
    return doc


def test_hostile_titles_outlets_urls_ids_and_text_stay_text(tmp_path):
    out = tmp_path / "report.html"
    with Tracker(":memory:") as t:
        t.add_many(hostile_corpus())
        assert t.chains(), "the shared sentence should form a chain"
        write_report(t, out)
    html = out.read_text(encoding="utf-8")
    doc = check_page(html)
    text = "".join(doc.text)
    # the payloads are shown, as text
    assert "<script>alert(1)</script>" in text
    assert "<svg onload=alert(1)>" in text
    # names show bidi overrides escaped; only the article text keeps them (isolated)
    assert "Title \\u202eevil\\u202c" in text
    assert "\\u202eevil\\u202c outlet 6" in text
    # only the http(s) URLs became links
    hrefs = [a["href"] for tag, a in doc.tags if tag == "a" and "href" in a]
    external = [h for h in hrefs if not h.startswith("#")]
    assert external and all(h.startswith("https://ok.example/") for h in external)
    assert not any(h.lower().startswith(("javascript:", "data:")) for h in hrefs)
    # anchors that links point to exist
    ids = {a["id"] for _, a in doc.tags if "id" in a}
    assert {h[1:] for h in hrefs if h.startswith("#")} <= ids


def test_large_corpora_get_article_pages_and_bounded_lists(tmp_path):
    out = tmp_path / "big.html"
    with Tracker(":memory:") as t:
        t.add_many(hostile_corpus() + corpus())
        info = write_report(t, out, inline_limit=3)
    assert info.split and info.files > 1
    folder = tmp_path / "big_files"
    pages = sorted(folder.glob("*.html"))
    assert len(pages) == len(hostile_corpus()) + len(corpus()) + 1  # articles + one index page
    main = out.read_text(encoding="utf-8")
    doc = check_page(main, allow_pages=True)
    assert not [a for t, a in doc.tags if t == "article"]  # no article inline
    for page in pages:
        check_page(page.read_text(encoding="utf-8"), allow_pages=True)
    # every local link resolves to a written file and anchor
    anchors: dict[Path, set[str]] = {}
    for f in [out, *pages]:
        anchors[f.resolve()] = {a["id"] for _, a in parse(f.read_text("utf-8")).tags if "id" in a}
    for f in [out, *pages]:
        for tag, a in parse(f.read_text("utf-8")).tags:
            href = a.get("href") or ""
            if tag == "a" and href and not href.startswith(("http://", "https://")):
                file_part, _, frag = href.partition("#")
                target = (f.parent / file_part).resolve() if file_part else f.resolve()
                assert target in anchors, href
                assert not frag or frag in anchors[target], href


def test_report_is_deterministic_and_sizes_are_reported(tmp_path):
    outs = []
    for i in range(2):
        with Tracker(":memory:") as t:
            t.add_many(corpus())
            info = write_report(t, tmp_path / f"r{i}.html")
        outs.append((tmp_path / f"r{i}.html").read_bytes())
        assert info.bytes == len(outs[-1]) and not info.split
    assert outs[0] == outs[1]
    assert b"<del" in outs[0] and b"<mark" in outs[0]


def test_reused_text_links_to_its_origin_and_the_origin_to_its_copies(tmp_path):
    with Tracker(":memory:") as t:
        t.add_many(corpus())
        write_report(t, tmp_path / "r.html")
    doc = parse((tmp_path / "r.html").read_text("utf-8"))
    marks = [a for tag, a in doc.tags if tag == "mark" and "id" in a]  # not the legend
    assert {m.get("class") for m in marks} == {"reused", "origin"}
    hrefs = {a["href"] for tag, a in doc.tags if tag == "a"}
    assert f"#a-{slug('b1')}-0" in hrefs  # the copy in c1 points at b1's sentence
    assert f"#a-{slug('c1')}-76" in hrefs  # the origin points at the copy
    dels = [a for tag, a in doc.tags if tag == "del" and "id" in a]
    assert dels and all(a.get("title") for a in dels)  # stripped text says why


def test_names_urls_and_slugs():
    assert safe_url("https://example.org/a?b=1") == "https://example.org/a?b=1"
    for bad in (
        "javascript:alert(1)",
        "data:text/html,x",
        "//evil.example/x",
        "/relative",
        "https://exa mple.org",
        "http://\u202eevil",
        "vbscript:x",
        "",
        None,
    ):
        assert safe_url(bad) is None, bad
    assert visible("a\u202eb\x1b") == "a\\u202eb\\x1b"
    assert slug("<script>") != slug("script") and re.fullmatch(r"[a-z0-9-]+", slug("<Ünï>"))
    assert slug("\u202e") and re.fullmatch(r"[a-z0-9-]+", slug("\u202e"))


def test_templates_load_from_the_source_tree_when_not_installed():
    loader = template_loader()
    if (Path(rep.__file__).parent / "templates").is_dir():
        assert isinstance(loader, PackageLoader)
    else:
        assert isinstance(loader, FileSystemLoader)
        assert loader.searchpath == [str(ROOT / "templates")]
    assert "report.html" in loader.list_templates()


def _fake_install(tmp_path: Path) -> Path:
    """Lay the package out as an installer does: dedupe/ with templates/ inside it."""
    site = tmp_path / "site"
    shutil.copytree(
        ROOT / "dedupe", site / "dedupe", ignore=shutil.ignore_patterns("__pycache__", "templates")
    )
    shutil.copytree(ROOT / "templates", site / "dedupe" / "templates")
    return site


def test_templates_load_from_the_installed_package(tmp_path):
    site = _fake_install(tmp_path)
    code = (
        "import importlib.resources, sys\n"
        "from jinja2 import PackageLoader\n"
        "import dedupe.report as r\n"
        "assert r.__file__.startswith(sys.argv[1]), r.__file__\n"
        "files = importlib.resources.files('dedupe.templates')\n"
        "assert files.joinpath('report.html').is_file()\n"
        "loader = r.template_loader()\n"
        "assert isinstance(loader, PackageLoader), loader\n"
        "r.environment(loader).get_template('report.html')\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    run = subprocess.run(
        [sys.executable, "-c", code, str(site)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"


@pytest.mark.slow
def test_a_built_wheel_ships_the_templates(tmp_path):
    if importlib.util.find_spec("pip") is None:  # pragma: no cover
        pytest.skip("pip is not available to build the package")
    target = tmp_path / "target"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    assert (target / "dedupe" / "templates" / "report.html").is_file()
    code = (
        "import dedupe.report as r; from jinja2 import PackageLoader;"
        "assert isinstance(r.template_loader(), PackageLoader); print('ok')"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(target)
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
