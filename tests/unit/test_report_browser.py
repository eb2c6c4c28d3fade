"""The HTML report in a real browser: headless Chromium (Debian's `chromium` package; .ci/run
installs it) renders the page offline, and the rendered DOM is checked: every figure is there,
no script element exists, and the hostile experiment name, environment variable value and
traceback are visible as text; so is the stored explanation ("Where and why"). A screenshot is
taken as a browser would show the page.
"""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from tfrepro import cli

from .report_store import HOSTILE, HOSTILE_GROUP, build

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("Debian's chromium is needed: apt-get install -y chromium (see .ci/run)")
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    return subprocess.run(
        [exe, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


class Dom(HTMLParser):
    """Element counts and the text of the rendered page, per enclosing element."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.svg_plots: list[str] = []
        self.stack: list[str] = []
        self.text: list[tuple[str, str]] = []  # (enclosing tag, text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        a = dict(attrs)
        if tag == "svg" and a.get("class") == "plot":
            self.svg_plots.append(a.get("aria-label") or "")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            del self.stack[len(self.stack) - 1 - self.stack[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append((self.stack[-1] if self.stack else "", data))

    def texts(self, tag: str) -> list[str]:
        return [t for enclosing, t in self.text if enclosing == tag]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    out = root / "report.html"
    store = build(root, explained=True)
    assert cli.main(["report", "--store", str(store), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def dom(page: Path, tmp_path_factory: pytest.TempPathFactory) -> Dom:
    """The page as Chromium rendered it (its DOM after layout, not the HTML file)."""
    done = chromium(tmp_path_factory.mktemp("dom"), "--dump-dom", page.as_uri())
    parsed = Dom()
    parsed.feed(done.stdout)
    return parsed


def test_rendered_dom_has_every_plot_and_the_hostile_strings_as_text(dom: Dom) -> None:
    assert dom.svg_plots == [
        "loss-curves",
        "loss-gaps",
        "metric-distributions",
        "churn-matrix",
        "per-class-shifts",
    ]
    assert dom.tags.get("script", 0) == 0  # nothing was injected, and the page has none
    assert dom.tags.get("iframe", 0) == 0 and dom.tags.get("object", 0) == 0
    assert dom.texts("h1") == [HOSTILE]  # the experiment name, shown as typed
    assert HOSTILE in dom.texts("td")  # the TF_NOTE value in the environment diff
    assert any(HOSTILE in t and "Traceback" in t for t in dom.texts("pre"))  # the traceback
    assert f"ValueError: bad layer {HOSTILE}" in [t.strip() for t in dom.texts("td")]  # reason


def test_where_and_why_renders_with_its_first_divergence_and_causes(dom: Dom) -> None:
    assert "Where and why" in dom.texts("h2") and "Where and why" in dom.texts("a")
    assert dom.tags.get("article", 0) == 1
    assert HOSTILE_GROUP in dom.texts("code")  # the group label B, as typed
    assert "First divergence: " in dom.texts("strong") and "dense_1" in dom.texts("code")
    causes = [t.strip() for t in dom.texts("li")]
    assert f"layer renamed {HOSTILE}" in causes
    assert "knob onednn: setting onednn=off in B makes the forward stage equal" in causes
    assert [t for t in dom.texts("li") if t in ("data", "forward", "trajectory")] == [
        "data",
        "forward",
        "trajectory",
    ]  # the stage pipeline
    assert "source" in dom.texts("a") and dom.tags.get("script", 0) == 0


def test_screenshot_shows_a_rendered_page(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    chromium(
        tmp_path,
        f"--screenshot={shot}",
        "--window-size=1400,2400",
        "--hide-scrollbars",
        page.as_uri(),
    )
    with Image.open(shot) as im:
        assert im.size == (1400, 2400)
        # the header banner for "different" is light red, the verdict pills dark red: a real
        # rendering, not a blank page
        colours = {c for _, c in im.convert("RGB").getcolors(maxcolors=1 << 20) or []}
    assert len(colours) > 500
    assert (198, 40, 40) in colours  # #c62828, the "different" pill
    assert (238, 250, 241) in colours  # #eefaf1, stages of the pipeline that agree
