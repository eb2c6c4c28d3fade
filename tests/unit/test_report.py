"""tfrepro report: the HTML file, the Markdown and terminal summaries, from a real store.

The store (report_store.py) has three releases, one failed cell and a hostile string in every
place a user can put text. The verdicts come from the real analysis; the report must show
exactly those, escape every user string and need nothing from the network.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tfrepro import cli
from tfrepro.analysis import compare
from tfrepro.report import envdiff, plots, style
from tfrepro.report.summary import md

from .report_store import HOSTILE, build

ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("report"))


def report(store: Path, out: Path, *extra: str) -> tuple[int, str]:
    rc = cli.main(["report", "--store", str(store), "--out", str(out), *extra])
    return rc, out.read_text(encoding="utf-8") if out.exists() else ""


def test_report_writes_html_markdown_and_a_terminal_summary(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    md_path = tmp_path / "pr.md"
    rc, html = report(store, tmp_path / "r.html", "--markdown", str(md_path))
    out = capsys.readouterr().out
    assert rc == 0
    assert "4 of 6 comparisons differ beyond seed noise" in out
    assert re.search(r"2\.15\.1\s+2\.16\.2\s+bitwise-identical", out)
    assert re.search(r"2\.15\.1\s+2\.17\.1\s+different \+0\.07", out)
    assert f"failed  2.17.1 seed 3: ValueError: bad layer {HOSTILE}" in out  # shown as typed
    assert html.startswith("<!DOCTYPE html>")
    text = md_path.read_text(encoding="utf-8")
    assert text.startswith("### 🔴 tfrepro: 4 of 6 comparisons differ beyond seed noise")
    assert "| 2.15.1 | 2.16.2 | accuracy | 🟢 bitwise-identical |" in text
    assert "1 cell not ok" in text


def test_every_user_string_is_escaped_text_never_markup(store: Path, tmp_path: Path) -> None:
    _, html = report(store, tmp_path / "r.html")
    assert "<script" not in html.lower()
    assert f"<title>tfrepro report — {ESCAPED}</title>" in html
    assert f"<h1>{ESCAPED}</h1>" in html
    assert f'<td class="mono value changed">{ESCAPED}</td>' in html  # TF_NOTE, env diff
    assert f"bad layer {ESCAPED}" in html  # failure reason
    traceback = "Traceback (most recent call last):\n  File &#34;model.py&#34;, line 3\n"
    assert f'<pre class="tb">{traceback}ValueError: bad layer {ESCAPED}\n</pre>' in html
    assert f"note = {ESCAPED}" in html  # spec params
    assert html.count(ESCAPED) >= 8


def test_html_needs_no_network(store: Path, tmp_path: Path) -> None:
    _, html = report(store, tmp_path / "r.html")
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    assert not re.search(r"\bsrc\s*=", html)
    # in-page links, and heatmap bitmaps embedded by matplotlib as data URIs
    links = re.findall(r'href="([^"]*)"', html)
    assert links and all(link.startswith(("#", "data:image/png;base64,")) for link in links)
    assert "@import" not in html and "url(http" not in html


def test_every_figure_is_drawn(store: Path, tmp_path: Path) -> None:
    _, html = report(store, tmp_path / "r.html")
    labels = re.findall(r'<svg class="plot" role="img" aria-label="([a-z-]+)"', html)
    assert labels == [
        "loss-curves",
        "loss-gaps",
        "metric-distributions",
        "churn-matrix",
        "per-class-shifts",
    ]
    assert "2.16.2: identical" in html  # the bitwise twin is named in the loss-gap legend


def test_figure_labels_are_escaped_text_and_never_math() -> None:
    """Group labels can be anything a user put in a knob or environment variable."""
    labels = [HOSTILE, "$x^2$ & co"]
    svgs = [
        plots.loss_curves([{"label": x, "mean": [1.0, 0.5], "std": [0.1, 0.1]} for x in labels]),
        plots.loss_gaps(HOSTILE, [{"label": labels[1], "index": 1, "curve": [[0, 0.1], [1, 0]]}]),
        plots.metric_distributions(labels, {"accuracy": [[0.9, 0.91], [0.8]]}),
        plots.churn_matrix(labels, [[0.1, 0.2], [0.2, None]]),
        plots.per_class_shifts([f"{labels[0]} → {labels[1]}"], ["0", "1"], [[0.1, -0.1]], "acc"),
    ]
    for svg in svgs:
        assert svg is not None and svg.startswith('<svg class="plot"')
        assert "<script" not in svg.lower() and "&lt;script&gt;alert(" in svg  # may be cut
    assert "$x^2$ &amp; co" in svgs[0]  # shown as typed, not rendered as mathtext


def test_the_report_shows_the_analysis_verdicts_as_given(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report decides nothing: change a verdict in the analysis output and it follows."""
    real = compare.compare_cells

    def edited(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        rows = real(*args, **kwargs)
        for r in rows:
            r.update(verdict="inconclusive", seeds_needed=417)
        return rows

    monkeypatch.setattr(compare, "compare_cells", edited)
    _, html = report(store, tmp_path / "r.html")
    assert "6 of 6 comparisons are inconclusive" in html
    assert "about 417 seeds per group would settle them" in html
    assert ">different<" not in html and ">bitwise-identical<" not in html
    assert html.count("needs ~417 seeds per group<") == 6


def test_environment_diff_shows_only_what_differs(store: Path, tmp_path: Path) -> None:
    _, html = report(store, tmp_path / "r.html")
    env = html[html.index('id="environment"') : html.index('id="failed"')]
    for shown in (
        "Keras",
        "oneDNN",
        "TF_NOTE",
        ">ml-dtypes<",
        ">keras<",
        ">tensorflow<",
        "3 packages differ, 2 are the same everywhere",
    ):
        assert shown in env
    for hidden in ("numpy", "absl-py", "TFREPRO_NOTE", "CPU model", "Python"):
        assert hidden not in env


def test_env_diff_rows() -> None:
    def cell(tf: str, seed: int, keras: str, *extra: str) -> dict[str, Any]:
        return {
            "tf_version": tf,
            "keras_version": keras,
            "seed": seed,
            "env_vars": {"PYTHONHASHSEED": str(seed)},
            "fingerprint": {"packages": [f"keras=={keras}", "numpy==1.26.4", *extra]},
        }

    a = [cell("2.15.1", 0, "2.15.0"), cell("2.15.1", 1, "2.15.0")]
    b = [cell("2.16.2", 0, "3.3.3"), cell("2.16.2", 1, "3.4.1", "rich==13")]
    diff = envdiff.env_diff([a, b])
    rows = {r.name: r for r in diff.settings}
    assert set(rows) == {"TensorFlow", "Keras"}  # PYTHONHASHSEED varies alike in both: hidden
    assert rows["Keras"].values == ("2.15.0", "3.3.3 | 3.4.1")
    assert rows["Keras"].mixed == (False, True) and rows["Keras"].changed == (False, True)
    assert [(r.name, r.values) for r in diff.packages] == [
        ("keras", ("2.15.0", "3.3.3 | 3.4.1")),
        ("rich", ("—", "13")),
    ]
    assert diff.same_packages == 1


@pytest.mark.parametrize(
    ("found", "level", "title"),
    [
        (["bitwise-identical", "equivalent"], "same", "All 2 comparisons show no difference"),
        (["equivalent", "inconclusive"], "inconclusive", "1 of 2 comparisons are inconclusive"),
        (
            ["inconclusive", "different", "equivalent"],
            "different",
            "1 of 3 comparisons differ beyond seed noise",
        ),
        ([], "none", "No comparisons"),
    ],
)
def test_headline_follows_the_worst_verdict(found: list[str], level: str, title: str) -> None:
    h = style.headline([{"verdict": v, "seeds_needed": 9} for v in found])
    assert (h.level, h.title) == (level, title)


def test_markdown_cells_cannot_break_the_table_or_inject_html() -> None:
    assert md("a|b") == "a\\|b"
    assert md(HOSTILE) == ESCAPED
    assert md("[x](javascript:alert(1))") == "\\[x\\](javascript:alert(1))"
    assert md("two\nlines") == "two lines"


def test_one_group_renders_without_comparisons(store: Path, tmp_path: Path) -> None:
    rc, html = report(store, tmp_path / "r.html", "--by", "onednn")
    assert rc == 0
    assert "No comparisons" in html
    assert '<svg class="plot" role="img" aria-label="loss-curves"' in html


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["--store", "{tmp}/none"], 1, "no tfrepro store at"),
        (["--by", "colour"], 2, "--by: 'colour' is not an axis"),
        (["--baseline", "9.9"], 2, "--baseline: '9.9' matches no group"),
        (["--metric", "f1"], 2, "--metric: no ok cell recorded f1"),
    ],
)
def test_errors_are_one_line(
    store: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    words: str,
) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    rc = cli.main(["report", "--store", str(store), "--out", str(tmp_path / "r.html"), *args])
    err = capsys.readouterr().err
    assert rc == code
    assert err.startswith("tfrepro: error: ") and words in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "r.html").exists()
