"""The report's "Where and why" section: stored `tfrepro explain` results in the HTML report.

The explanation (report_store.explanation) goes into a real report store through
Store.put_explanation; the page must show it as explain found it, escape every user string,
link release notes without loading anything, and hide the section when there is nothing to show.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from tfrepro import cli
from tfrepro.report import explanations, style
from tfrepro.store import Store

from .report_store import HOSTILE, HOSTILE_GROUP, build, explanation

ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("explained"), explained=True)


def report(store: Path, out: Path) -> str:
    assert cli.main(["report", "--store", str(store), "--out", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def section(html: str) -> str:
    start = html.index('<section id="where-and-why">')
    return html[start : html.index("</section>", start)]


def test_the_section_shows_the_first_divergence_stages_ablations_and_causes(
    store: Path, tmp_path: Path
) -> None:
    html = report(store, tmp_path / "r.html")
    assert '<a href="#where-and-why">Where and why</a>' in html
    where = html.index('id="where-and-why"')
    assert html.index('id="verdicts"') < where < html.index('id="groups"')
    part = section(html)
    assert "<h2>Where and why</h2>" in part
    assert (
        '<strong>First divergence: <span class="stage-name">forward</span> at '
        '<code class="where">dense_1</code></strong>'
    ) in part
    assert "TensorFlow <b>2.16.2</b> → <b>2.15.1</b>" in part
    stages = re.findall(r'<tr class="(first)?"><td><b>(\w+)</b></td>', part)
    assert stages == [
        ("", "data"),
        ("", "init"),
        ("", "config"),
        ("first", "forward"),
        ("", "loss"),
        ("", "gradient"),
        ("", "optimizer"),
        ("", "trajectory"),
    ]
    assert '<td class="num">∞</td>' in part  # the shape change: an infinite difference
    assert "only in A: decay" in part and "step 0 (gap ×5.00 per step)" in part
    causes = re.findall(r'<li><span class="tag">(\w+)</span> ([^<]*)</li>', part)
    assert [c[1] for c in causes] == [
        "knob onednn: setting onednn=off in B makes the forward stage equal",
        f"layer renamed {ESCAPED}",
        "release note 2.16.0 (Keras 3): Keras 3 becomes the default tf.keras.",
    ]
    assert (
        '<td class="mono">onednn=off</td><td class="nowrap">B</td><td>none</td>'
        '<td class="num">∞</td>'
    ) in part
    assert '<td class="mono">threads=0</td><td class="nowrap">A and B</td><td>forward</td>' in part
    assert '<span class="yes-good">yes</span>' in part  # onednn=off closes the gap
    assert (
        f'<span class="status failed">failed</span></td><td colspan="3" class="label">'
        f"probe B xla=on failed: {ESCAPED}"
    ) in part
    # A and B side by side; B's differing values are highlighted
    assert (
        '<tr><th>knob threads</th><td class="mono label">0</td>'
        '<td class="mono label changed">1</td></tr>'
    ) in part
    assert (
        '<tr><th>numpy</th><td class="mono label">1.26.4</td>'
        '<td class="mono label ">1.26.4</td></tr>'
    ) in part


def test_explanation_strings_are_escaped_and_release_notes_only_link(
    store: Path, tmp_path: Path
) -> None:
    html = report(store, tmp_path / "r.html")
    part = section(html)
    assert "<script" not in html.lower()
    label = HOSTILE_GROUP.replace(HOSTILE, ESCAPED)
    assert f'<code class="group">{label}</code>' in part  # the group label, as typed
    assert part.count(ESCAPED) == 3  # label, cause, ablation failure
    # the release note's source is a plain link; nothing on the page is loaded from anywhere
    assert (
        '<a href="https://github.com/tensorflow/tensorflow/releases/tag/v2.16.1" '
        'rel="noopener noreferrer">source</a>'
    ) in part
    assert "javascript:" not in html  # a source that is not http(s) is not linked
    assert "A note with a bad link." in part
    assert not re.search(r"\bsrc\s*=", html) and "@import" not in html and "url(http" not in html
    external = re.findall(r'([\w:]+)="(https?://[^"]*)"', html)
    assert {attr for attr, _ in external} == {"href", "xmlns", "xmlns:xlink"}  # SVG namespaces
    assert all(url.startswith("http://www.w3.org/") for attr, url in external if attr != "href")
    links = [url for attr, url in external if attr == "href"]
    assert re.findall(r'<a href="(https?://[^"]*)"', html) == links


def test_no_explanations_no_section(tmp_path: Path) -> None:
    html = report(build(tmp_path), tmp_path / "r.html")
    assert "where-and-why" not in html and "Where and why" not in html


def test_only_the_latest_explanation_per_pair_and_seed_is_shown(tmp_path: Path) -> None:
    folder = build(tmp_path, explained=True)
    s = Store(folder)
    newer = explanation()
    newer["first_divergence"] = {"stage": "none", "layer": None}
    newer["first_after_transplant"] = "none"
    s.put_explanation(newer)
    s.put_explanation(explanation(b="2.17", seed=1))
    s.close()
    part = section(report(folder, tmp_path / "r.html"))
    groups = re.findall(r'<code class="group">([^<]*)</code>', part)
    assert groups == ["2.16", "2.17", "2.16", f"tf=2.15,X={ESCAPED}"]  # newest first
    assert part.count('<article class="explain"') == 2
    assert "<strong>No divergence</strong>" in part.split('<article class="explain"')[2]
    assert part.count("First divergence: ") == 1


def test_a_store_with_only_explanations_says_what_to_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = Store(tmp_path / "st")
    s.put_explanation(explanation())
    s.close()
    rc = cli.main(["report", "--store", str(tmp_path / "st"), "--out", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "no cells yet (only 1 explanation(s), shown next to the cells)" in err
    assert "run `tfrepro run` first" in err
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (math.inf, "∞"),
        (-math.inf, "−∞"),
        (math.nan, "nan"),
        (0.0, "0"),
        (0, "0"),
        (5.960464477539063e-08, "5.96e-08"),
        (0.5581322312355042, "0.558"),
        (None, "—"),
    ],
)
def test_numbers_are_worded_like_the_terminal(value: float | None, text: str) -> None:
    assert style.fmt_delta(value) == text


def test_a_sparse_result_still_renders() -> None:
    """Keys an older or partial result lacks come out empty, not as an error."""
    x = explanations.explanation({"a": "2.9", "b": HOSTILE, "seed": 0})
    assert x["first"] == {
        "stage": "none",
        "layer": None,
        "after": None,
        "after_layer": None,
        "training_mode": None,
    }
    assert x["stages"] == [] and x["causes"] == [] and x["notes"] == []
    assert x["b"] == HOSTILE  # escaping is the template's job


def test_a_stage_explain_could_not_measure_is_shown_as_such_not_as_equal(tmp_path: Path) -> None:
    why = "the model's layer outputs are not reachable (AttributeError: <no nodes>)"
    result = explanation()
    result["stages"]["forward"] = {
        "measured": False,
        "reason": why,
        "diverged": False,
        "bitwise": False,
        "max_abs": 0.0,
        "tolerance": 0.0,
        "where": None,
        "items": [],
    }
    x = explanations.explanation(result)
    forward = next(s for s in x["stages"] if s["name"] == "forward")
    assert forward["measured"] is False and forward["where"] == why
    path = build(tmp_path / "st")
    store = Store(path)
    store.put_explanation(result)
    store.close()
    html = section(report(path, tmp_path / "r.html"))
    assert 'class="unmeasured"' in html and "not measured" in html
    assert "&lt;no nodes&gt;" in html and "<no nodes>" not in html
    # the stage's row says "not measured", not "no" (equal) in the diverged column
    row = html[html.index('<tr class="unmeasured">') :]
    assert row.index("not measured") < row.index("</tr>")
