"""`run --until-settled` on real releases: the multi-label script of tensorflow#41114 (2.1 vs
2.2, tests/corpus/15_multilabel_accuracy.py) settles in the first round — "accuracy" different
(its definition changed), loss equivalent — with fewer trainings than the fixed design."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import cells, ok, tfrepro

pytestmark = pytest.mark.integration


def test_until_settled_stops_when_every_comparison_settles(
    corpus: Path, tmp_path: Path, env_cache: Path
) -> None:
    store = tmp_path / "store"
    done = ok(tfrepro("run", "--tf", "2.1,2.2", "--until-settled", "--round", "4", "--store",
                      store, "--json", "--", "python", "15_multilabel_accuracy.py", cwd=corpus,
                      cache=env_cache))  # fmt: skip
    r = json.loads(done.stdout)
    verdicts = {row["metric"]: row["verdict"] for row in r["rows"]}
    assert verdicts["accuracy"] == "different", r["looks"]
    assert verdicts["loss"] in ("equivalent", "numerically-equal", "bitwise-identical")
    assert r["status"] == "settled"
    assert r["design"]["step"] == 4 and r["design"]["levels"][0] < 0.05
    # fewer trainings than the fixed design, and every one of them is a cell in the store
    assert r["trainings"] < r["fixed_trainings"]
    stored = cells(store, corpus, env_cache)
    assert len(stored) == r["trainings"]
    assert {c["seed"] for c in stored} == set(range(len(r["looks"]) * 4))
    # compare --json carries the sequential verdict beside the fixed-sample one
    rows = json.loads(ok(tfrepro("compare", "--store", store, "--json", cwd=corpus,
                                 cache=env_cache)).stdout)  # fmt: skip
    seq = {row["metric"]: row["sequential"] for row in rows}
    assert seq["accuracy"]["verdict"] == "different"
    assert seq["accuracy"]["design"]["levels"] == r["design"]["levels"]
    assert [step["look"] for step in seq["accuracy"]["path"]] == [1]
    # check --until-settled against a baseline of 2.1: 2.2 differs (exit 1) from the cells the
    # run already stored (same seeds, no new training), 2.1 itself passes bitwise (exit 0)
    base = tmp_path / "b.json"
    ok(tfrepro("baseline", "save", base, "--store", store, cwd=corpus, cache=env_cache))
    argv = ("check", "--baseline", base, "--until-settled", "--round", "4", "--store", store,
            "--json")  # fmt: skip
    script = ("--", "python", "15_multilabel_accuracy.py")
    differs = tfrepro(*argv, "--tf", "2.2", "--group", "2.1.4", *script, cwd=corpus,
                      cache=env_cache)  # fmt: skip
    assert differs.returncode == 1, differs.stderr
    c = json.loads(differs.stdout)
    assert c["outcome"] == "different" and c["design"]["reference"] == 4
    assert {row["metric"]: row["verdict"] for row in c["rows"]}["accuracy"] == "different"
    same = ok(tfrepro(*argv, "--tf", "2.1", *script, cwd=corpus, cache=env_cache))
    c = json.loads(same.stdout)
    assert c["outcome"] == "pass" and c["trainings"] == 4, c
    assert {row["verdict"] for row in c["rows"]} == {"bitwise-identical"}
    # the report records the design and the path
    html = tmp_path / "r.html"
    ok(tfrepro("report", "--store", store, "--out", html, cwd=corpus, cache=env_cache))
    page = html.read_text()
    assert 'id="settled"' in page and "pocock alpha spending" in page


def test_until_settled_says_when_a_release_does_not_run(
    corpus: Path, tmp_path: Path, env_cache: Path
) -> None:
    """Adam(lr=...) fails on 2.16 (Keras 3): nothing to compare it with is not "settled"."""
    done = ok(tfrepro("run", "--tf", "2.15,2.16", "--until-settled", "--round", "2", "--store",
                      tmp_path / "store", "--json", "--", "python", "34_keras2_legacy_idioms.py",
                      cwd=corpus, cache=env_cache))  # fmt: skip
    r = json.loads(done.stdout)
    assert r["status"] == "failed" and r["failed_groups"] == ["2.16.2"]
    assert r["rows"] == [] and len(r["looks"]) == 1  # no second round for a release that fails
    (failure,) = r["failures"]
    assert failure["known"]["id"] == "keras3-optimizer-arguments"
