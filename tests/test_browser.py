"""The samples' report in headless Chromium: it renders, logs no error, requests nothing."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from dedupe.cli import cli

CHROMIUM = Path("/usr/bin/chromium")
SAMPLES = Path(__file__).resolve().parent.parent / "samples"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="headless Chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)",
    ),
]

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]
# Lines Chromium writes on a machine without a desktop session; not about the page.
ENVIRONMENT_NOISE = re.compile(
    r"dbus|D-Bus|bus\.cc|object_proxy|idle_linux|ScreenSaver|gcm|GPU|gpu|viz|vaapi|fontconfig|sandbox",
    re.I,
)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    return subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def samples_report(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    out = tmp / "report.html"
    r = CliRunner().invoke(
        cli, ["report", "--db", str(tmp / "s.db"), str(SAMPLES), "-o", str(out), "--silent"]
    )
    assert r.exit_code == 0, r.output
    return out


def test_screenshot_is_drawn_without_console_errors_or_requests(samples_report, tmp_path):
    png = tmp_path / "shot.png"
    run = chromium(
        tmp_path, f"--screenshot={png}", "--window-size=1280,2000", samples_report.as_uri()
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert png.exists() and png.stat().st_size > 20_000  # a page, not a blank square
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    log = run.stderr
    assert "CONSOLE" not in log and "Uncaught" not in log, log[-3000:]
    assert "Content Security Policy" not in log and "Refused to" not in log, log[-3000:]
    problems = [
        line
        for line in log.splitlines()
        if ":ERROR:" in line and not ENVIRONMENT_NOISE.search(line)
    ]
    assert not problems, "\n".join(problems)
    # no network request was made: nothing but the file itself was loaded
    assert not re.search(r"https?://", log), log[-3000:]


def test_dom_has_the_overview_and_every_article(samples_report, tmp_path):
    run = chromium(tmp_path, "--dump-dom", samples_report.as_uri())
    assert run.returncode == 0, run.stderr[-3000:]
    dom = run.stdout
    assert '<section id="overview">' in dom
    assert dom.count('<article class="article"') == 5
    assert "No provenance chains" in dom  # the samples share topics, not sentences
    assert "<script" not in dom
