"""`tfrepro bisect --good A --bad B`: the first release between A and B that changes behaviour.

Each probe is an ordinary run of the experiment on one release (cells go to the store, so a
bisection resumes, and a later linear scan reuses them). Criterion `bitwise`: the probe is
good when every seed's final weights equal the good release's. Criterion `metric`: the
compare verdict between the good release and the probe on one metric (equivalent or equal →
good, different → bad, inconclusive → the search stops and says so).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfrepro import spec as spec_mod
from tfrepro import workflow
from tfrepro.analysis import bisection, divergence
from tfrepro.analysis.compare import compare_cells
from tfrepro.envs import catalogue
from tfrepro.errors import UsageError
from tfrepro.explain import release_notes
from tfrepro.spec import Spec
from tfrepro.store import Store


def _release_spec(base: Spec, version: str) -> Spec:
    raw = base.model_dump(mode="json", exclude={"base_dir"})
    raw["matrix"]["tf"] = [version]
    return spec_mod.from_dict(raw, origin="bisect", base_dir=base.base_dir)


def _run_release(
    base: Spec, version: str, opts: workflow.Options, reporter: workflow.Reporter
) -> list[dict[str, Any]]:
    planned = workflow.make_plan(_release_spec(base, version), opts)
    ids = set(workflow.execute(planned, opts, reporter))
    store = Store(opts.store, create=False)
    try:
        return [c for c in store.cells(with_loss=False) if c["id"] in ids]
    finally:
        store.close()


def bisect(
    base: Spec,
    good: str,
    bad: str,
    *,
    criterion: str,
    metric: str | None,
    margin: float | None,
    opts: workflow.Options,
    reporter: workflow.Reporter,
) -> dict[str, Any]:
    cat = catalogue.load()
    g, b = _single(cat, good, "--good"), _single(cat, bad, "--bad")
    if g.version == b.version:
        raise UsageError("--good and --bad name the same release; give two different releases")
    releases = cat.between(g, b)
    if g.key > b.key:
        releases.reverse()  # a regression fixed later: search from good towards bad all the same
    versions = [r.version for r in releases]
    reference = _run_release(base, g.version, opts, reporter)
    ok_ref = [c for c in reference if c["status"] == "ok"]
    if not ok_ref:
        raise UsageError(
            f"no cell of the good release {g.version} finished ok: "
            f"{reference[0]['reason'] if reference else 'nothing ran'}"
        )

    def judge(version: str) -> tuple[str, dict[str, Any]]:
        cells = _run_release(base, version, opts, reporter)
        ok = [c for c in cells if c["status"] == "ok"]
        if not ok:
            return "inconclusive", {
                "reason": "no cell finished ok: "
                + "; ".join(sorted({str(c["reason"]) for c in cells}))[:300]
            }
        if criterion == "bitwise":
            ref = {c["seed"]: c["final_weights_sha256"] for c in ok_ref}
            same = [ref.get(c["seed"]) == c["final_weights_sha256"] for c in ok]
            return ("good" if all(same) else "bad"), {
                "seeds_identical": sum(same),
                "seeds": len(same),
            }
        rows = compare_cells(
            ok_ref + ok, by="tf_version", metrics=[metric] if metric else None, margin=margin
        )
        row = rows[0]
        verdict = {
            "bitwise-identical": "good",
            "numerically-equal": "good",
            "equivalent": "good",
            "different": "bad",
        }.get(row["verdict"], "inconclusive")
        return verdict, {
            "compare_verdict": row["verdict"],
            "metric": row["metric"],
            "diff": row["diff"],
            "p_adjusted": row["p_adjusted"],
            "seeds_needed": row["seeds_needed"],
        }

    result = bisection.search(versions, judge)
    result.update(
        good=g.version,
        bad=b.version,
        criterion=criterion,
        candidates=len(versions),
        max_probes=bisection.max_probes(len(versions)),
    )
    if result["first_bad"]:
        lo = catalogue.version_key(result["last_good"])
        hi = catalogue.version_key(result["first_bad"])
        lo, hi = min(lo, hi), max(lo, hi)
        result["release_notes"] = [
            n
            for s in divergence.STAGES
            for n in divergence.matching_notes(release_notes(), lo, hi, s)
        ]
        result["release_notes"] = list({n["text"]: n for n in result["release_notes"]}.values())
    return result


def _single(cat: catalogue.Catalogue, text: str, option: str) -> catalogue.Release:
    found = cat.resolve(text)
    if len(found) != 1:
        raise UsageError(f"{option} {text}: name one release (e.g. 2.15 or 2.15.1), not a range")
    return found[0]


def spec_or_default(path: Path | None) -> Spec:
    if path is None:
        return spec_mod.from_dict({}, origin="command line", base_dir=Path.cwd())
    return spec_mod.load(path)
