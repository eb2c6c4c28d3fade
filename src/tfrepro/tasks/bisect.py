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

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from tfrepro import spec as spec_mod
from tfrepro.analysis import attribution, bisection, breaks, sequential
from tfrepro.analysis.compare import compare_cells
from tfrepro.analysis.ladder import PASSING, Verdict
from tfrepro.envs import catalogue
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


def _run_release(base: Spec, version: str, opts: Options, reporter: Reporter) -> list[CellRecord]:
    planned = make_plan(with_matrix(base, tf=[version]), opts)
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
) -> tuple[str, dict[str, Any]]:
    """good / bad / inconclusive from the sequential verdicts (analysis/sequential) of the good
    release against the probe at this look: bad when any compared metric is `different`, good
    when all are equal or equivalent, inconclusive while one is open."""
    rows = compare_cells(
        list(cells), by="tf_version", metrics=[metric] if metric else None, margin=margin
    )
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
    either names no single known release or both name the same one."""
    cat = catalogue.load()
    g, b = _single(cat, good, "--good"), _single(cat, bad, "--bad")
    if g.version == b.version:
        raise UsageError("--good and --bad name the same release; give two different releases")
    releases = cat.between(g, b)
    if g.key > b.key:
        releases.reverse()  # a regression fixed later: search from good towards bad all the same
    return [r.version for r in releases]


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

    def as_dict(self) -> dict[str, Any]:
        """What `--json` prints: the fields in order, release_notes only when found."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.release_notes is None:
            del out["release_notes"]
        if self.criterion != "runs":
            del out["failure"]
        if self.packages_changed is None:
            del out["packages_changed"]
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
) -> BisectResult:
    """The first of `versions` (candidates(): good release first, bad last) that behaves
    unlike the first."""
    g, b = versions[0], versions[-1]
    ran = _run_release(base, g, opts, reporter)
    reference = _ok(ran)
    if not reference:
        raise UsageError(f"no cell of the good release {g} finished ok: {_why_not(ran)}")
    judge = _Judge(base, g, reference, criterion, metric, margin, opts, reporter, max_seeds)
    found = bisection.search(versions, judge)
    notes = None
    if found["first_bad"]:
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
    if found["first_bad"]:
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
    )


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
    ) -> None:
        self.base, self.good, self.reference = base, good, reference
        self.criterion, self.metric, self.margin = criterion, metric, margin
        self.opts, self.reporter, self.max_seeds = opts, reporter, max_seeds
        self.seeds = list(base.matrix.seeds)
        self.ran: dict[str, list[CellRecord]] = {good: reference}  # every release probed
        # criterion metric: a group-sequential test, rounds of the first probe's seed count
        first = max(len(self.seeds), 2)
        self.design = sequential.Design(first, first, max(max_seeds, first))

    def __call__(self, version: str) -> tuple[str, dict[str, Any]]:
        ran = _run_release(self.base, version, self.opts, self.reporter)
        self.ran[version] = ran
        if self.criterion == "runs":
            return _runs_verdict(ran)
        ok = _ok(ran)
        if not ok:
            return "inconclusive", {"reason": "no cell finished ok: " + _why_not(ran)}
        if self.criterion == "bitwise":
            return self._bitwise(ok)
        return self._metric(version, ok)

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
                self.reference + ok, self.metric, self.margin, self.design, look
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
        self.reference = _ok(_run_release(self.base, self.good, self.opts, self.reporter))
        return _ok(_run_release(self.base, version, self.opts, self.reporter))


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
    found = cat.resolve(text)
    if len(found) != 1:
        raise UsageError(f"{option} {text}: name one release (e.g. 2.15 or 2.15.1), not a range")
    return found[0]
