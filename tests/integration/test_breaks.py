"""Scripts that break on upgrade (tests/corpus, their `breaks:` lines), on real releases: explain
names the failure and the known break, and says which variants make the failing side run —
each one a cell that really ran, in the store; bisect --criterion runs finds the release where a
script stops running; compare and the report group the failed cells by signature."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import cells, ok, tfrepro

pytestmark = pytest.mark.integration


def _explain(corpus: Path, store: Path, cache: Path, a: str, b: str, script: str) -> dict:
    done = ok(tfrepro("explain", a, b, "--store", store, "--json", "--", "python", script,
                      cwd=corpus, cache=cache))  # fmt: skip
    return json.loads(done.stdout)


@pytest.mark.parametrize(
    ("script", "a", "b", "known", "runs_with", "still_fails"),
    [
        # Keras 3 (2.16) refuses Adam(lr=...): tf_keras makes it run
        ("34_keras2_legacy_idioms.py", "2.15", "2.16", "keras3-optimizer-arguments",
         "legacy_keras", []),
        # NumPy 2 (2.21) has no np.Inf: tf_keras does not help, numpy<2 does
        ("41_numpy1_callback_idioms.py", "2.16", "2.21", "numpy2-removed-aliases",
         "numpy<2", ["legacy_keras"]),
        # a Keras 3 script on 2.15 (Keras 2): Keras 3 installed over TF's own pin
        ("27_keras3_import_keras.py", "2.16", "2.15", "keras3-only-api-on-keras2",
         "keras==3", []),
        # the 2.11 optimizers refuse decay=: the legacy ones take it
        ("43_optimizer_decay_argument.py", "2.10", "2.11", "tf211-optimizer-decay",
         "optimizer_impl=legacy", []),
    ],
)  # fmt: skip
def test_explain_a_break_names_it_and_verifies_what_makes_it_run(
    corpus: Path, tmp_path: Path, env_cache: Path, script: str, a: str, b: str, known: str,
    runs_with: str, still_fails: list[str],
) -> None:  # fmt: skip
    store = tmp_path / "store"
    r = _explain(corpus, store, env_cache, a, b, script)
    assert r["kind"] == "break" and r["failing"] == "B"
    assert r["sides"]["A"]["status"] == "ok" and r["sides"]["B"]["status"] == "failed"
    assert r["failure"]["known_break"]["id"] == known
    assert r["failure"]["signature"]["user_frame"]["file"] == script
    assert [v for v in r["runs_with"] if v.startswith(runs_with)], r["variants"]
    tried = {v["variant"]: v for v in r["variants"]}
    for name in still_fails:
        assert tried[name]["status"] == "failed", tried[name]
    # "runs with" is a cell that ran: in the store, ok, on B's release
    stored = {c["id"]: c for c in cells(store, corpus, env_cache)}
    for v in r["variants"]:
        if v["status"] == "ok":
            c = stored[v["cell"]]
            assert c["status"] == "ok" and c["tf_version"] == r["sides"]["B"]["tf"]
            assert v["comparison"]["weights"] in ("identical", "differ")
    if runs_with == "numpy<2":
        ran = stored[next(v["cell"] for v in r["variants"] if v["variant"] == "numpy<2")]
        assert ran["numpy_version"].startswith("1.")
    # compare and the report group the failed cell with its known break
    out = ok(tfrepro("compare", "--store", store, "--by", "tf_version", cwd=corpus,
                     cache=env_cache)).stdout  # fmt: skip
    assert "known break:" in out and f"fails from {r['sides']['B']['tf']}" in out
    html = tmp_path / "r.html"
    ok(tfrepro("report", "--store", store, "--out", html, cwd=corpus, cache=env_cache))
    page = html.read_text()
    assert 'id="breaks"' in page and "What makes it run" in page
    assert f"{r['failure']['known_break']['title']}".split("`")[0] in page


def test_a_tf1_script_on_tf2_has_nothing_that_makes_it_run_and_says_the_fix(
    corpus: Path, tmp_path: Path, env_cache: Path
) -> None:
    store = tmp_path / "store"
    done = ok(tfrepro("explain", "1.15", "2.15", "--store", store, "--", "python",
                      "22_tf1_keras_graph_mode.py", cwd=corpus, cache=env_cache))  # fmt: skip
    assert "AttributeError: module 'tensorflow' has no attribute 'set_random_seed'" in done.stdout
    assert "Nothing tried makes 2.15 run" in done.stdout
    assert "tf.compat.v1" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_bisect_runs_finds_the_release_where_fit_stopped_expanding_1d_inputs(
    corpus: Path, tmp_path: Path, env_cache: Path
) -> None:
    store = tmp_path / "store"
    done = ok(tfrepro("bisect", "--good", "2.6", "--bad", "2.7", "--criterion", "runs",
                      "--store", store, "--json", "--", "python", "42_fit_1d_feature.py",
                      cwd=corpus, cache=env_cache))  # fmt: skip
    r = json.loads(done.stdout)
    assert (r["status"], r["last_good"], r["first_bad"]) == ("found", "2.6.5", "2.7.0")
    assert r["failure"]["known_break"]["id"] == "fit-1d-input-not-expanded"
    # every probe is a stored cell whose status is the probe's verdict
    by_release = {c["tf_version"]: c["status"] for c in cells(store, corpus, env_cache)}
    for p in r["probes"]:
        assert by_release[p["release"]] == ("ok" if p["verdict"] == "good" else "failed")
    assert by_release["2.6.5"] == "ok"


def test_explain_where_neither_side_runs_is_one_line(
    corpus: Path, tmp_path: Path, env_cache: Path
) -> None:
    done = tfrepro("explain", "2.15", "2.16", "--store", tmp_path / "store", "--", "python",
                   "22_tf1_keras_graph_mode.py", cwd=corpus, cache=env_cache)  # fmt: skip
    assert done.returncode != 0
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "runs on neither side" in lines[0], done.stderr
    assert "set_random_seed" in lines[0] and "Traceback" not in done.stderr
