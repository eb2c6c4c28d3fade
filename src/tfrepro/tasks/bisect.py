"""The `bisect --good A --bad B` task: the first release between A and B that changes behaviour.

Each probe is an ordinary run of the experiment on one release (cells go to the store, so a
bisection resumes, and a later linear scan reuses them). Criterion `bitwise`: the probe is
good when every seed's final weights equal the good release's. Criterion `metric`: the
verdicts between the good release and the probe on one metric, or on every final metric (all
equivalent or equal → good, any different → bad), as a group-sequential test
(analysis/sequential): while a verdict is open, a round of seeds (as many as the first probe
had) is added to both releases, up to `max_seeds`, and the probe is judged again at that look's
level, so that looking again does not inflate the error rates; still open at `max_seeds` → the
search stops and says so.
Criterion `runs`: the probe is good when every cell finishes ok (the script runs), bad when a
cell fails (its failure signature and the known break it matches are the probe's evidence),
inconclusive when a cell timed out or its environment did not build. With --good newer than
--bad it searches backwards: the first release where the script runs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from tfrepro import spec as spec_mod
from tfrepro.analysis import attribution, bisection, breaks, sequential
from tfrepro.analysis.compare import compare_cells
from tfrepro.analysis.ladder import PASSING, Verdict
from tfrepro.envs import catalogue, nightly
from tfrepro.envs.catalogue import version_key
from tfrepro.errors import UsageError
from tfrepro.record import CellRecord, Status, final_weights_id
from tfrepro.spec import Spec
from tfrepro.tasks.planning import Options, make_plan
from tfrepro.tasks.run import Reporter, execute, stored


def with_matrix(base: Spec, **matrix: Any) -> Spec:
    """The spec with some matrix entries replaced (tf=[...], seeds=[...])."""
    raw = spec_mod.dump(base)
    raw["matrix"].update(matrix)
    return spec_mod.from_dict(raw, origin="bisect", base_dir=base.base_dir)


def probe_spec(base: Spec, criterion: str, seeds: Sequence[int] | None, max_seeds: int) -> Spec:
    """The spec every probe runs: the given seeds, else seed 0 for `bitwise` and 0..4 for
    `metric` (whose verdicts need a noise floor)."""
    chosen = list(seeds) if seeds else ([0] if criterion != "metric" else list(range(5)))
    if max_seeds < len(chosen):
        raise UsageError(
            f"--max-seeds {max_seeds} is fewer than the {len(chosen)} seeds "
            "given: raise --max-seeds or pass fewer --seeds"
        )
    return with_matrix(base, seeds=chosen)


def _run_release(
    base: Spec, version: str, opts: Options, reporter: Reporter, axis: str = "tf"
) -> list[CellRecord]:
    """The cells of one probe: the spec with `axis` (tf, or keras with TF fixed) set to it."""
    planned = make_plan(with_matrix(base, **{axis: [version]}), opts)
    return stored(opts.store, set(execute(planned, opts, reporter)))


def _ok(cells: Sequence[CellRecord]) -> list[CellRecord]:
    return [c for c in cells if c["status"] == Status.OK]


def _why_not(cells: Sequence[CellRecord]) -> str:
    reasons = sorted({str(c.get("reason")) for c in cells}) or ["nothing ran"]
    return "; ".join(reasons)[:300]


def _probe_verdict(verdict: str) -> str:
    """A compare verdict as a bisection probe reads it."""
    if verdict in PASSING:
        return "good"
    return "bad" if verdict == Verdict.DIFFERENT else "inconclusive"


def _metric_verdict(
    cells: Sequence[CellRecord],
    metric: str | None,
    margin: float | None,
    design: sequential.Design,
    look: int,
    by: str = "tf_version",
) -> tuple[str, dict[str, Any]]:
    """good / bad / inconclusive from the sequential verdicts (analysis/sequential) of the good
    release against the probe at this look: bad when any compared metric is `different`, good
    when all are equal or equivalent, inconclusive while one is open."""
    rows = compare_cells(list(cells), by=by, metrics=[metric] if metric else None, margin=margin)
    design.comparisons = max(len(rows), 1)
    decided = {r["metric"]: sequential.decide(r, look, design) for r in rows}
    verdicts = [_probe_verdict(d) if d else "inconclusive" for d in decided.values()]
    verdict = (
        "bad"
        if "bad" in verdicts
        else "good"
        if verdicts and all(v == "good" for v in verdicts)
        else "inconclusive"
    )
    needed = [r["seeds_needed"] for r in rows if r["seeds_needed"]]
    return verdict, {
        "compare_verdicts": {m: d or "open" for m, d in decided.items()},
        "diff": {r["metric"]: r["diff"] for r in rows},
        "p_value": {r["metric"]: r["p_value"] for r in rows},
        "level": design.levels()[look],
        "look": look + 1,
        "seeds_needed": max(needed) if needed and verdict == "inconclusive" else None,
    }


def candidates(good: str, bad: str) -> list[str]:
    """Every release from --good to --bad (patches included), good first; UsageError when
    either names no single known release or both name the same one. A nightly at either end:
    the releases up to the newest one, then the tf-nightly builds after it (built from the
    main branch after the newest release's branch), in build order."""
    cat = catalogue.load()
    g, b = _single(cat, good, "--good"), _single(cat, bad, "--bad")
    if g.version == b.version:
        raise UsageError("--good and --bad name the same release; give two different releases")
    if g.nightly or b.nightly:
        return _with_nightlies(cat, g, b)
    releases = cat.between(g, b)
    if g.key > b.key:
        releases.reverse()  # a regression fixed later: search from good towards bad all the same
    return [r.version for r in releases]


def _with_nightlies(
    cat: catalogue.Catalogue, g: catalogue.Release, b: catalogue.Release
) -> list[str]:
    if g.key > b.key:
        raise UsageError(
            "with a nightly, bisect searches forwards only: give the older build as --good"
        )
    newest = cat.releases[-1]
    finals = [] if g.nightly else [r.version for r in cat.between(g, newest) if r.key <= b.key]
    lo = g.key if g.nightly else newest.key  # nightlies before the newest release's are older
    builds = [
        x.version
        for x in nightly.cached_builds(nightly.TF)
        if lo <= version_key(x.version) <= b.key
    ]
    tail = [] if b.nightly else [b.version]
    return list(dict.fromkeys([*finals, *builds, *tail]))


def keras_candidates(good: str, bad: str) -> tuple[list[str], list[nightly.Build]]:
    """`bisect --keras`: the Keras releases from --good to --bad (the catalogue's), and every
    keras-nightly build (newest first is not assumed: oldest first) for the second phase."""
    for option, text in (("--good", good), ("--bad", bad)):
        if not re.match(r"^\d+\.\d+\.\d+$", text) and not nightly.is_nightly(text):
            raise UsageError(
                f"bisect --keras {option} {text}: give a Keras release such as 3.6.0 or a "
                f"keras-nightly build such as 3.7.0.dev2024110803"
            )
    if good == bad:
        raise UsageError("--good and --bad name the same Keras version; give two different ones")
    builds = nightly.cached_builds(nightly.KERAS)
    uploads = {**catalogue.load().companions.get("keras", {})}
    uploads.update({x.version: x.uploaded for x in builds})
    for option, text in (("--good", good), ("--bad", bad)):
        if text not in uploads:
            raise UsageError(
                f"bisect --keras {option} {text}: no such Keras release or keras-nightly "
                f"build in the package index"
            )
    if uploads[good] > uploads[bad]:
        raise UsageError("bisect --keras searches forwards only: give the older one as --good")
    finals = sorted(
        (
            v
            for v in uploads
            if not nightly.is_nightly(v) and uploads[good] <= uploads[v] <= uploads[bad]
        ),
        key=lambda v: uploads[v],
    )
    first = [v for v in (good, *finals, bad) if v]
    return list(dict.fromkeys(first)), builds


@dataclass
class BisectResult:
    """The first release that behaves unlike the good one, or the interval still open. The
    probes are the judge's JSON-like evidence, as `--json` prints them."""

    status: str  # found, not-reproduced or inconclusive (bisection.search)
    first_bad: str | None
    last_good: str | None
    open_interval: list[str] | None  # [good side, bad side] when not found
    probes: list[dict[str, Any]]  # per probe: release, verdict and the judge's evidence
    good: str
    bad: str
    direction: str  # regression, or fix when --good is newer than --bad
    criterion: str
    candidates: int
    max_probes: int
    release_notes: list[dict[str, Any]] | None = None  # between last good and first bad, if found
    failure: dict[str, Any] | None = None  # criterion runs: how the first bad release fails
    # packages whose versions differ between the last good and the first bad release's cells
    # (a patch release whose era resolves a newer Keras: the change may follow Keras)
    packages_changed: dict[str, list[str]] | None = None
    # below a release: the two adjacent builds (version, day, GIT_VERSION), the commit log
    # between their days, and whether the change follows TensorFlow or the Keras nightly
    window: dict[str, Any] | None = None
    axis: str = "tf"  # tf, or keras (TensorFlow fixed at `fixed_tf`)
    fixed_tf: str | None = None
    envs: list[str] = field(default_factory=list)  # the environments its probes ran in

    def kept(self) -> dict[str, Any]:
        """What the store keeps (beside explain's results, whose a, b and seed columns it
        fills): `envs prune` keeps the environments named here."""
        return {"kind": "bisect", "a": f"bisect {self.good}", "b": self.bad, "seed": -1,
                **self.as_dict()}  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        """What `--json` prints: the fields in order, release_notes only when found."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.release_notes is None:
            del out["release_notes"]
        if self.criterion != "runs":
            del out["failure"]
        if self.packages_changed is None:
            del out["packages_changed"]
        if self.window is None:
            del out["window"]
        return out


def bisect(
    base: Spec,
    versions: list[str],
    *,
    criterion: str,
    metric: str | None,
    margin: float | None,
    opts: Options,
    reporter: Reporter,
    max_seeds: int = 20,
    axis: str = "tf",
) -> BisectResult:
    """The first of `versions` (candidates(): good release first, bad last) that behaves
    unlike the first; `axis` keras: Keras versions, TensorFlow fixed by the spec."""
    g = versions[0]
    ran = _run_release(base, g, opts, reporter, axis)
    reference = _ok(ran)
    if not reference:
        raise UsageError(f"no cell of the good release {g} finished ok: {_why_not(ran)}")
    judge = _Judge(base, g, reference, criterion, metric, margin, opts, reporter, max_seeds, axis)
    found = bisection.search(versions, judge)
    result = _result(found, judge, versions, base, criterion)
    if axis == "tf" and result.first_bad and nightly.is_nightly(result.first_bad):
        _nightly_window(result, judge)
    return result


def bisect_keras(
    base: Spec,
    good: str,
    bad: str,
    tf: str,
    *,
    criterion: str,
    metric: str | None,
    margin: float | None,
    opts: Options,
    reporter: Reporter,
    max_seeds: int = 20,
) -> BisectResult:
    """`bisect --keras`: TensorFlow fixed at `tf`, the Keras releases from good to bad, then the
    keras-nightly builds uploaded between the last good and the first bad release, to two
    adjacent builds."""
    finals, builds = keras_candidates(good, bad)
    tf = _single(catalogue.load(), tf, "--tf").version
    base = with_matrix(base, tf=[tf])
    kw: dict[str, Any] = {"criterion": criterion, "metric": metric, "margin": margin}
    kw.update(opts=opts, reporter=reporter, max_seeds=max_seeds, axis="keras")
    first = bisect(base, finals, **kw)
    if first.status != "found" or first.last_good is None or first.first_bad is None:
        return _keras_result(first, tf, good, bad, len(finals))
    uploads = {x.version: x.uploaded for x in builds}
    uploads.update(catalogue.load().companions.get("keras", {}))
    lo, hi = uploads[first.last_good], uploads[first.first_bad]
    inner = [x.version for x in builds if lo < x.uploaded < hi]
    if not inner:
        return _keras_result(first, tf, good, bad, len(finals))
    second = bisect(base, [first.last_good, *inner, first.first_bad], **kw)
    seen = {p["release"] for p in first.probes}  # the ends, judged again from the store
    second.probes = first.probes + [p for p in second.probes if p["release"] not in seen]
    second.envs = sorted(set(first.envs) | set(second.envs))
    return _keras_result(second, tf, good, bad, len(finals) + len(inner))


def _keras_result(r: BisectResult, tf: str, good: str, bad: str, candidates: int) -> BisectResult:
    r.good, r.bad, r.candidates, r.fixed_tf = good, bad, candidates, tf
    r.max_probes = bisection.max_probes(candidates) + 1
    r.release_notes = None  # TensorFlow's notes: not about a Keras change
    if r.first_bad and r.last_good:
        r.window = _window(nightly.KERAS, r.last_good, r.first_bad, {})
    return r


def _result(
    found: dict[str, Any], judge: _Judge, versions: list[str], base: Spec, criterion: str
) -> BisectResult:
    g, b = versions[0], versions[-1]
    notes = None
    below = any(nightly.is_nightly(v) for v in (found["last_good"], found["first_bad"]) if v)
    if found["first_bad"] and judge.axis == "tf" and not below:
        matched = attribution.notes_between(
            found["last_good"], found["first_bad"], devices=base.matrix.knobs.device
        )
        notes = attribution.unique_notes(matched, list(matched))
    failure = None
    if criterion == "runs" and found["first_bad"]:
        failure = next(
            (p.get("failure") for p in found["probes"] if p["release"] == found["first_bad"]),
            None,
        )
    changed = None
    if found["first_bad"] and judge.axis == "tf":
        changed = _packages_changed(judge.ran, found["last_good"], found["first_bad"])
    return BisectResult(
        status=found["status"],
        first_bad=found["first_bad"],
        last_good=found["last_good"],
        open_interval=found["open_interval"],
        probes=found["probes"],
        good=g,
        bad=b,
        # --good newer than --bad: the search runs backwards, for the release that fixed it
        direction="fix" if version_key(g) > version_key(b) else "regression",
        criterion=criterion,
        candidates=len(versions),
        max_probes=bisection.max_probes(len(versions)),
        release_notes=notes,
        failure=failure,
        packages_changed=changed,
        axis=judge.axis,
        envs=_envs(judge.ran),
    )


def _envs(ran: dict[str, list[CellRecord]]) -> list[str]:
    names = {str((c.get("fingerprint") or {}).get("environment") or "") for v in ran.values()
             for c in v}  # fmt: skip
    return sorted(names - {""})


def _build_facts(version: str, cells: Sequence[CellRecord], package: str) -> dict[str, Any]:
    """A build's version, day (its stamp, or a release's upload day) and GIT_VERSION."""
    if nightly.is_nightly(version):
        day = nightly.Build(package, version, "", ()).day.isoformat()
    else:
        up = catalogue.load().companions.get("keras", {}) if package == nightly.KERAS else {}
        rel = catalogue.load().by_version.get(version) if package == nightly.TF else None
        day = (rel.uploaded if rel else up.get(version, ""))[:10]
    gits = {str((c.get("fingerprint") or {}).get("tensorflow_git") or "") for c in cells}
    return {"version": version, "day": day, "git_version": ", ".join(sorted(gits - {""}))}


def _window(package: str, good: str, bad: str, ran: dict[str, list[CellRecord]]) -> dict[str, Any]:
    """The two adjacent builds and the commit log between their days."""
    a = _build_facts(good, ran.get(good, []), package)
    b = _build_facts(bad, ran.get(bad, []), package)
    return {
        "package": package,
        "last_good": a,
        "first_bad": b,
        "commits": nightly.commit_window(package, a["day"], b["day"]) if a["day"] else None,
        "follows": "keras" if package == nightly.KERAS else "tensorflow",
    }


def _nightly_window(result: BisectResult, judge: _Judge) -> None:
    """Two adjacent TF builds, the last good and the first bad: their window, and whether the
    change follows the Keras nightly paired with the bad build (its TensorFlow with the good
    build's Keras: runs as the good one → Keras; the search then goes on in keras-nightly
    builds with that TensorFlow fixed)."""
    good, bad = result.last_good or result.good, result.first_bad or result.bad
    result.window = _window(nightly.TF, good, bad, judge.ran)
    kg, kb = (_keras_of(judge.ran.get(v, [])) for v in (good, bad))
    if not kg or not kb or kg == kb or judge.criterion == "metric":
        return  # the metric criterion's reference seeds grow: not re-judged with another Keras
    swap = _Judge(
        with_matrix(judge.base, tf=[bad]),
        kg,
        judge.reference,
        judge.criterion,
        judge.metric,
        judge.margin,
        judge.opts,
        judge.reporter,
        judge.max_seeds,
        "keras",
    )
    verdict, evidence = swap(kg)
    result.envs = sorted(set(result.envs) | set(_envs(swap.ran)))
    result.probes.append({"release": f"{bad} with keras {kg}", "verdict": verdict, **evidence})
    if verdict != "good":
        result.window["keras_swap"] = f"{bad} with Keras {kg} still differs: the change is in TF"
        return
    builds = nightly.cached_builds(nightly.KERAS)
    lo = next((x.uploaded for x in builds if x.version == kg), "")
    hi = next((x.uploaded for x in builds if x.version == kb), "")
    inner = [x.version for x in builds if lo < x.uploaded < hi]
    found = bisection.search([kg, *inner, kb], swap)
    result.probes += found["probes"]
    result.envs = sorted(set(result.envs) | set(_envs(swap.ran)))
    result.window["keras_swap"] = (
        f"{bad} with Keras {kg} behaves as {good}: the change follows the Keras nightly"
    )
    if found["status"] == "found":
        result.window["keras"] = _window(
            nightly.KERAS, found["last_good"], found["first_bad"], swap.ran
        )


def _keras_of(cells: Sequence[CellRecord]) -> str | None:
    found = sorted({str(c.get("keras_version")) for c in cells if c.get("keras_version")})
    return found[0] if len(found) == 1 else None


class _Judge:
    """A probe release's verdict against the good release (bisection.Judge). Seeds the metric
    criterion adds for one probe stay for the later ones: the spec and the good release's
    cells grow with them."""

    def __init__(
        self,
        base: Spec,
        good: str,
        reference: list[CellRecord],
        criterion: str,
        metric: str | None,
        margin: float | None,
        opts: Options,
        reporter: Reporter,
        max_seeds: int,
        axis: str = "tf",
    ) -> None:
        self.axis = axis
        self.base, self.good, self.reference = base, good, reference
        self.criterion, self.metric, self.margin = criterion, metric, margin
        self.opts, self.reporter, self.max_seeds = opts, reporter, max_seeds
        self.seeds = list(base.matrix.seeds)
        self.ran: dict[str, list[CellRecord]] = {good: reference}  # every release probed
        # criterion metric: a group-sequential test, rounds of the first probe's seed count
        first = max(len(self.seeds), 2)
        self.design = sequential.Design(first, first, max(max_seeds, first))

    def __call__(self, version: str) -> tuple[str, dict[str, Any]]:
        ran = _run_release(self.base, version, self.opts, self.reporter, self.axis)
        self.ran[version] = ran
        if self.criterion == "runs":
            return _runs_verdict(ran)
        ok = _ok(ran)
        if not ok:
            return "inconclusive", {"reason": "no cell finished ok: " + _why_not(ran)}
        if self.criterion == "bitwise":
            return self._bitwise(ok)
        return self._metric(version, ok)

    @property
    def by(self) -> str:
        return "keras_version" if self.axis == "keras" else "tf_version"

    def _bitwise(self, ok: list[CellRecord]) -> tuple[str, dict[str, Any]]:
        """good when every seed's final weights equal the good release's."""
        ref = {c["seed"]: final_weights_id(c) for c in self.reference}
        same = [ref.get(c["seed"]) == final_weights_id(c) for c in ok]
        return ("good" if all(same) else "bad"), {
            "seeds_identical": sum(same),
            "seeds": len(same),
        }

    def _metric(self, version: str, ok: list[CellRecord]) -> tuple[str, dict[str, Any]]:
        """The sequential verdict, with a round of seeds added to both releases (up to
        max_seeds) while it is open: rounds of the first probe's seed count."""
        while True:
            look = self.design.look_of(len(self.seeds))
            verdict, evidence = _metric_verdict(
                self.reference + ok, self.metric, self.margin, self.design, look, self.by
            )
            if verdict != "inconclusive" or look + 1 >= len(self.design.seeds):
                evidence["seeds"] = len(self.base.matrix.seeds)
                return verdict, evidence
            ok = self._grow(version, self.design.seeds[look + 1])

    def _grow(self, version: str, wanted: int) -> list[CellRecord]:
        """Seeds up to `wanted` on both releases (the store keeps the cells already run, so
        only the new seeds train); the probe release's ok cells."""
        more = [x for x in range(max(self.seeds) + 1 + wanted) if x not in self.seeds]
        self.seeds.extend(more[: wanted - len(self.seeds)])
        self.base = with_matrix(self.base, seeds=self.seeds)
        self.reference = _ok(
            _run_release(self.base, self.good, self.opts, self.reporter, self.axis)
        )
        return _ok(_run_release(self.base, version, self.opts, self.reporter, self.axis))


def _packages_changed(
    ran: dict[str, list[CellRecord]], good: str, bad: str
) -> dict[str, list[str]] | None:
    """Keras and NumPy versions that differ between two probed releases' cells, or None."""
    out = {}
    for package, key in (("keras", "keras_version"), ("numpy", "numpy_version")):
        a = sorted({str(c.get(key)) for c in ran.get(good, []) if c.get(key)})
        b = sorted({str(c.get(key)) for c in ran.get(bad, []) if c.get(key)})
        if a and b and a != b:
            out[package] = [", ".join(a), ", ".join(b)]
    return out or None


def _runs_verdict(ran: Sequence[CellRecord]) -> tuple[str, dict[str, Any]]:
    """good when every cell finished ok; bad when one failed (the script raised or exited
    non-zero), with how; inconclusive otherwise (a timeout, an environment that did not build:
    whether the script runs is then unknown)."""
    failed = [c for c in ran if breaks.script_failed(c)]
    if failed:
        return "bad", {
            "runs": len(_ok(ran)),
            "cells": len(ran),
            "failure": breaks.failure_of(failed[0]),
        }
    if ran and all(c["status"] in (Status.OK, Status.DIVERGED) for c in ran):
        return "good", {"runs": len(ran), "cells": len(ran)}
    return "inconclusive", {"reason": "not every cell finished: " + _why_not(ran)}


def _single(cat: catalogue.Catalogue, text: str, option: str) -> catalogue.Release:
    found = nightly.resolve_releases(cat, text)
    if len(found) != 1:
        raise UsageError(f"{option} {text}: name one release (e.g. 2.15 or 2.15.1), not a range")
    return found[0]
