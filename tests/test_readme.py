"""Every command and Python example in README.md runs as shown.

Each ``dedupe`` line of a fenced ``bash`` block runs in a fresh folder holding a copy of
``samples/`` (and, for the HTML and WARC lines, saved pages and a crawl), after the lines
before it in its block; it must exit 0. ``echo '...' > FILE`` lines write their file. Lines
that install packages, start a server or need a Scrapy project are skipped, and so are lines
needing an extra that is not installed; each skip says why. Python blocks run as scripts.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from sites import page, warc

from dedupe.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


@dataclass(frozen=True)
class Line:
    """One command of a bash block, with the commands before it in the same block."""

    block: int
    text: str
    before: tuple[str, ...]


def blocks(lang: str) -> list[str]:
    return [body for tag, body in _FENCE.findall(README.read_text(encoding="utf-8")) if tag == lang]


def commands(body: str) -> list[str]:
    """A bash block's commands: continuation lines joined, ``a && b`` split, blanks dropped."""
    out: list[str] = []
    for line in body.replace("\\\n", " ").splitlines():
        out.extend(part.strip() for part in line.split(" && ") if part.strip())
    return [c for c in out if not c.startswith("#")]


def bash_lines() -> list[Line]:
    out = []
    for i, body in enumerate(blocks("bash")):
        cmds = commands(body)
        for j, c in enumerate(cmds):
            out.append(Line(i, c, tuple(cmds[:j])))
    return out


def _have(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def skip_reason(cmd: str) -> str | None:
    """Why a README command is not run here, or None to run it."""
    word = cmd.split()[0]
    if word == "pip":
        return "installs packages (CI installs the package and its extras itself)"
    if word == "datasette":
        return "starts a web server; tests/test_datasette.py starts one and reads its JSON API"
    if word == "scrapy":
        return "needs a Scrapy project; tests/test_scrapy.py runs a real crawl"
    if word not in ("dedupe", "echo"):
        return f"not a dedupe command ({word})"
    inputs = _inputs(cmd)
    if any(".warc" in i for i in inputs) and not _have("warcio", "trafilatura"):
        return "needs the warc extra (warcio, trafilatura), not installed"
    if any(i == "pages/" or ".htm" in i for i in inputs) and not _have("trafilatura"):
        return "needs the html extra (trafilatura), not installed"
    return None


def _inputs(cmd: str) -> list[str]:
    """The words of a command that may name input files (not the file after -o or >)."""
    words = shlex.split(cmd, comments=True)
    return [w for k, w in enumerate(words) if k == 0 or words[k - 1] not in ("-o", "--output", ">")]


def workdir(path: Path) -> Path:
    """A folder as the README assumes: the samples, saved pages of one site, a crawl."""
    shutil.copytree(ROOT / "samples", path / "samples")
    pages = path / "pages"
    pages.mkdir()
    for i, slug in enumerate(["river", "bridge", "school", "market"]):
        (pages / f"{slug}.html").write_text(
            page("news.example.org", slug, date=f"2024-05-0{i + 1}"), encoding="utf-8"
        )
    if _have("warcio"):
        records = [
            (
                "response",
                f"https://news.example.org/news/{p.stem}",
                p.read_bytes(),
                "text/html",
                "200 OK",
            )
            for p in sorted(pages.iterdir())
        ]
        records.append(
            ("response", "https://news.example.org/logo.png", b"\x89PNG", "image/png", "200 OK")
        )
        (path / "crawl.warc.gz").write_bytes(warc(records))
    return path


def run(cmd: str, cwd: Path) -> None:
    """Run one README command the way the shell would, in ``cwd``."""
    words = shlex.split(cmd, comments=True)
    target = None
    if ">" in words:
        k = words.index(">")
        words, target = words[:k], words[k + 1]
    if words[0] == "echo":
        (cwd / target).write_text(" ".join(words[1:]) + "\n", encoding="utf-8")  # type: ignore[operator]
        return
    result = CliRunner().invoke(cli, words[1:], catch_exceptions=False)
    assert result.exit_code == 0, f"{cmd}\n{result.output}"
    if target is not None:
        (cwd / target).write_text(result.stdout, encoding="utf-8")


@pytest.mark.parametrize(
    "line", bash_lines(), ids=lambda x: f"bash{x.block}: {x.text.split('  #')[0][:60]}"
)
def test_readme_command(line: Line, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reason = skip_reason(line.text)
    if reason:
        pytest.skip(reason)
    monkeypatch.chdir(workdir(tmp_path))
    monkeypatch.delenv("DEDUPE_DB", raising=False)
    for earlier in line.before:
        if skip_reason(earlier) is None:
            run(earlier, tmp_path)
    run(line.text, tmp_path)


@pytest.mark.parametrize("index", range(len(blocks("python"))), ids=lambda i: f"python{i}")
def test_readme_python(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = blocks("python")[index]
    monkeypatch.chdir(workdir(tmp_path))
    exec(compile(source, f"README.md python block {index}", "exec"), {"__name__": "__readme__"})  # noqa: S102


def test_the_readme_shows_every_command() -> None:
    shown = {line.text.split()[1] for line in bash_lines() if line.text.startswith("dedupe ")}
    assert set(cli.commands) <= shown, sorted(set(cli.commands) - shown)
