"""The `explain A B` task: where two cell groups first diverge, and why.

Steps: probe A, probe A again (a rerun: its differences are the tolerances), probe B from
A's initial weights and A's gradients, compare stage by stage (analysis/divergence); then flip
knobs in B and see which flip makes the diverging stage equal again; rank the causes and match
the release notes between the two releases (analysis/attribution). Every probe is one short
run of the runner in "probe" mode. Nothing here prints: progress goes to `progress(message)`.
A script is first run as a plain cell on each side (or found in the store); when one side
fails, the result is tasks/breakage's BreakResult (how it fails, what makes it run) instead.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from tfrepro import spec as spec_mod
from tfrepro.analysis import attribution, breaks, divergence, fits
from tfrepro.envs import capabilities, provision
from tfrepro.errors import ExplainError, UsageError
from tfrepro.execute import cellrun
from tfrepro.execute.local import map_parallel
from tfrepro.execute.workers import WorkerPool
from tfrepro.plan import Cell
from tfrepro.record import CellRecord, Status
from tfrepro.runner.tfrepro_guest.protocol import Job, Kind, ProbeSpec, Result
from tfrepro.spec import Knobs, Spec
from tfrepro.store import Store
from tfrepro.tasks import breakage
from tfrepro.tasks.planning import Options, Planned, job_for, make_plan, stage_inputs

_BOOL = {"true": True, "false": False, "on": True, "off": False, "1": True, "0": False}
_KNOBS = set(Knobs.model_fields)
ABLATION_KNOBS = attribution.ABLATION_KNOBS


def parse_group(text: str) -> dict[str, str]:
    """`2.15` or `tf=2.15,onednn=off,MY_VAR=1` → {key: value}."""
    out: dict[str, str] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            if out:
                raise UsageError(f"'{text}': write key=value pairs, e.g. tf=2.15,onednn=off")
            out["tf"] = part
            continue
        key, _, value = part.partition("=")
        out[key.strip()] = value.strip()
    if "tf" not in out:
        raise UsageError(f"'{text}' names no TensorFlow release: add tf=VERSION (e.g. tf=2.15)")
    return out


def parse_knobs(text: str | None) -> list[str] | None:
    """`--knobs onednn,xla` → the knobs to flip (None: every one that applies)."""
    if text is None:
        return None
    knobs = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in knobs if k not in ABLATION_KNOBS]
    if unknown or not knobs:
        raise UsageError(
            f"--knobs: {', '.join(unknown) or 'nothing'} is not a knob explain "
            f"can flip; choose from {', '.join(ABLATION_KNOBS)}"
        )
    return knobs


def _knob_value(name: str, value: str) -> Any:
    if name in ("determinism", "legacy_keras"):
        if value.lower() not in _BOOL:
            raise UsageError(f"knob {name}={value}: expected true or false")
        return _BOOL[value.lower()]
    if name == "threads":
        if not value.isdigit():
            raise UsageError(f"knob threads={value}: expected a non-negative integer")
        return int(value)
    return value


def side_spec(base: Spec, group: dict[str, str], seed: int) -> Spec:
    """The one-cell spec of a group: the base spec's first value of every knob and environment
    variable, no Keras pin (a pin for one release may not install with the other) unless the
    group names one, the group's settings over that, one seed."""
    raw = spec_mod.dump(base)
    matrix = raw["matrix"]
    matrix["seeds"] = [seed]
    matrix["keras"] = []
    matrix["env"] = {k: [v[0]] for k, v in matrix.get("env", {}).items() if v}
    matrix["knobs"] = {k: [v[0]] for k, v in matrix["knobs"].items()}
    for key, value in group.items():
        if key == "tf":
            matrix["tf"] = [value]
        elif key == "keras":
            matrix["keras"] = [value]
        elif key == "python":
            matrix["python"] = value
        elif key in _KNOBS:
            matrix["knobs"][key] = [_knob_value(key, value)]
        else:
            matrix["env"][key] = [value]
    return spec_mod.from_dict(raw, origin="explain", base_dir=base.base_dir)


def flips(cell: Cell, script: bool = False) -> list[tuple[str, Any]]:
    """Knob flips worth trying on the cell's release: (knob, flipped value). For a script,
    optimizer_impl = legacy swaps the Keras optimizers it builds for their legacy classes
    (TF 2.11 .. 2.15), so it is flipped only to legacy."""
    out = []
    for knob, flip in attribution.FLIPS.items():
        if script and knob == "optimizer_impl" and not _script_has_legacy(cell, flip):
            continue
        need = attribution.FLIP_NEEDS.get(knob)
        if need is None or capabilities.has(cell.tf_version, need):
            out.append((knob, flip(cell.knobs[knob])))
    return out


def _script_has_legacy(cell: Cell, flip: Any) -> bool:
    """Whether optimizer_impl can be flipped to legacy for a script on this cell: its Keras has
    legacy optimizers (tf.keras 2.11 .. 2.15, or tf_keras with legacy_keras on 2.16+)."""
    keras3 = capabilities.has(cell.tf_version, "keras3") and not cell.knobs.get("legacy_keras")
    return flip(cell.knobs["optimizer_impl"]) == "legacy" and not keras3


@dataclass
class Probe:
    label: str
    cell: Cell
    result: dict[str, Any]
    arrays: dict[str, np.ndarray]

    def facts(self) -> dict[str, Any]:
        """What the report shows of this side, and what attribution compares between sides."""
        fp = self.result.get(Result.FINGERPRINT, {})
        return {
            "tf": self.cell.tf_version,
            "keras": self.result.get(Result.KERAS_VERSION),
            "python": fp.get("python"),
            "numpy": fp.get("numpy"),
            "knobs": self.cell.knobs,
            "onednn": fp.get("onednn_enabled"),
            "optimizer": self.result.get(Result.UPDATE_OPTIMIZER),
            "keras_module": fp.get("keras_module"),
            "script": Result.SCRIPT in self.result,
        }


def _plan_one(spec: Spec, opts: Options) -> Planned:
    planned = make_plan(spec, opts)
    if len(planned.cells) != 1:
        raise UsageError(f"a group must name exactly one cell, got {len(planned.cells)}")
    return planned


class _Prober:
    def __init__(self, opts: Options, steps: int) -> None:
        self.opts = opts
        self.steps = steps
        self.fit = 0  # a script: which of its fit calls the probes stop at (0: the first)
        self.store = Store(opts.store)
        self.root = provision.envs_root(opts.cache)
        self.scratch = self.store.root / "explain"
        self.scratch.mkdir(exist_ok=True)
        # probes of one setting (A, A again, flips of B) share a warm worker: one import
        self.workers = WorkerPool(self.scratch, opts.jobs) if opts.warm else None
        self.count = 0
        self.timings: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def run(self, label: str, planned: Planned, source: Probe | None) -> Probe:
        """One probe in the cell's environment (thread-safe: ablations run several at once)."""
        cell = planned.cells[0]
        env = provision.ensure(cell.env, self.root)
        inputs = stage_inputs(self.store, planned, {cell.seed})
        job = job_for(planned, cell, inputs)
        if planned.script is None:
            job[Job.KIND] = Kind.PROBE
        # a script stays Kind.SCRIPT and is probed at its first fit (guest probe/script.py)
        job[Job.PROBE] = {ProbeSpec.STEPS: self.steps}
        if planned.script is not None and self.fit:
            job[Job.PROBE][ProbeSpec.FIT] = self.fit
        if source is not None:
            source_arrays = self.scratch / f"source-{source.cell.id}.npz"
            with self.lock:  # the same source for several flips: written once
                if not source_arrays.exists():
                    np.savez(source_arrays, **source.arrays)  # type: ignore[arg-type]
            job[Job.PROBE].update(
                {
                    ProbeSpec.WEIGHTS_PATH: str(source_arrays),
                    ProbeSpec.GRADS_PATH: str(source_arrays),
                }
            )
        with self.lock:
            self.count += 1
            work = self.scratch / f"{self.count}-{cell.id}"
        start = time.monotonic()
        outcome = cellrun.run_cell(cell, job, env.python, work, planned.spec.timeout, self.workers)
        if outcome.status != Status.OK or outcome.arrays is None:
            raise ExplainError(
                f"probe {label} ({cell.describe()}) {outcome.status}: {outcome.reason}"
            )
        with np.load(outcome.arrays) as z:
            arrays = {k: np.asarray(z[k]) for k in z.files}
        self.timings.append(
            {
                "probe": label,
                "wall": round(time.monotonic() - start, 2),
                **outcome.result.get(Result.TIMINGS, {}),
                # a warm worker's one import is not in the probe's own timings
                "worker_import": (outcome.result.get(Result.WORKER) or {}).get("import_seconds"),
            }
        )
        return Probe(label, cell, outcome.result, arrays)

    def close(self) -> None:
        if self.workers is not None:
            self.workers.close()
        self.store.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


@dataclass
class _Flip:
    knob: str
    value: Any
    stage: str  # the first numeric stage that diverged without the flip
    gap: float  # its max |B-A| without the flip
    tol: dict[str, float]


@dataclass
class ExplainResult:
    """Where A and B first diverge, and why. Nested parts are the probes' and the analysis'
    JSON-like payloads, as `--json` prints them and the store keeps them."""

    a: str  # the groups as given on the command line
    b: str
    seed: int
    cells: dict[str, dict[str, Any]]  # {"A": Probe.facts(), "B": Probe.facts()}
    first_divergence: dict[str, Any]  # divergence.first_divergence()
    first_after_transplant: str  # the first numeric stage that diverged, or "none"
    tolerances: dict[str, float]  # per stage: how far a rerun of A is from A
    stages: dict[str, dict[str, Any]]  # divergence.compare_probes()
    ablations: list[dict[str, Any]]  # one row per knob flip probed
    causes: list[dict[str, Any]]  # attribution.causes(), most likely first
    release_notes: list[dict[str, Any]]
    seconds: float
    probes: int
    probe_timings: list[dict[str, Any]]
    probed: dict[str, Any] | None = None  # a script: the fit probed, and why that one
    kind: str = "explain"  # tasks/breakage.BreakResult is "break"
    # a script that could not be probed: its plain cells set against each other (no stage)
    cells_compared: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """What `--json` prints and the store keeps: the fields in order, as they are (`probed`
        only for a script)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for optional in ("probed", "cells_compared"):
            if out[optional] is None:
                del out[optional]
        return out


def explain(
    base: Spec,
    a_text: str,
    b_text: str,
    *,
    seed: int,
    steps: int,
    opts: Options,
    ablate: bool = True,
    knobs: list[str] | None = None,
    progress: Callable[[str], object] | None = None,
    fit: int | None = None,
    model: str | None = None,
) -> ExplainResult | breakage.BreakResult:
    """Probe A, A again and B (from A's weights and gradients); compare them stage by stage;
    flip knobs (`knobs`, default every one that applies) where a numeric stage diverged."""
    say = progress or (lambda msg: None)
    _check_request(base, seed, knobs, fit, model)
    start = time.monotonic()
    ga, gb = parse_group(a_text), parse_group(b_text)
    spec_a, spec_b = side_spec(base, ga, seed), side_spec(base, gb, seed)
    plan_a, plan_b = _plan_one(spec_a, opts), _plan_one(spec_b, opts)  # errors before the store
    ran: dict[str, CellRecord] | None = None
    if base.script is not None:
        # the script as a plain cell on each side first (or as the store has it): a side that
        # does not run has nothing to probe, and the stored cells say which fit differs
        ran = {
            "A": breakage.run_cell(plan_a, opts, say),
            "B": breakage.run_cell(plan_b, opts, say),
        }
        for side, c in ran.items():
            if c["status"] == Status.FAILED and not breaks.script_failed(c):
                raise ExplainError(f"{side} did not run: {c['reason']}")
        if all(c["status"] == Status.FAILED for c in ran.values()):
            why = "; ".join(f"{s}: {breaks.failure_of(c)['describe']}" for s, c in ran.items())
            raise ExplainError(
                f"the script runs on neither side ({why[:400]}); explain it against a release "
                f"where it runs (`tfrepro bisect --good A --bad B --criterion runs` finds one)"
            )
        if any(c["status"] == Status.FAILED for c in ran.values()):
            specs = {"A": spec_a, "B": spec_b}
            return breakage.explain_break(a_text, b_text, seed, ran, specs, opts, say)
    prober = _Prober(opts, steps)
    probed = None
    if base.script is not None:
        probed = fits.probe_target(
            prober.store.cells(), plan_a.cells[0], plan_b.cells[0], fit, model
        )
        prober.fit = probed["fit"] - 1
        say(f"probing the script at fit #{probed['fit']}: {probed['why']}")
    try:
        try:
            say(f"probe A: {plan_a.cells[0].describe()}")
            a = prober.run("A", plan_a, None)
            say("probe A again (rerun: measures the tolerances)")
            a2 = prober.run("A rerun", plan_a, a)
            say(f"probe B: {plan_b.cells[0].describe()} from A's weights and gradients")
            b = prober.run("B", plan_b, a)
        except ExplainError as exc:
            if ran is None:
                raise
            # the script runs on both sides but cannot be probed on one (a Session loop, a
            # tf.function step): no stage is measured, and what its plain cells show is said
            return _unprobed(a_text, b_text, seed, ran, str(exc), start, probed)
        tol = divergence.tolerances(a.result, a.arrays, a2.result, a2.arrays)
        stages = divergence.compare_probes(a.result, a.arrays, b.result, b.arrays, tol)
        first = divergence.first_divergence(stages)
        numeric = divergence.first_numeric_divergence(stages)
        ablations: list[dict[str, Any]] = []
        if ablate and numeric != "none":
            gap = stages[numeric]["max_abs"]
            ablator = _Ablations(prober, base, seed, (ga, gb), a, say)
            ablations = ablator.run(b, numeric, gap, tol, knobs)
    finally:
        prober.close()
    devices = sorted({str(p.cell.knobs.get("device", "cpu")) for p in (a, b)})
    uses = attribution.model_uses(*(p.result.get(Result.CONFIGS) for p in (a, b)))
    matched = attribution.notes_between(
        a.cell.tf_version, b.cell.tf_version, devices=devices, uses=uses
    )
    sides = {p.label: p.facts() for p in (a, b)}
    return ExplainResult(
        a=a_text,
        b=b_text,
        seed=seed,
        cells=sides,
        first_divergence=first,
        first_after_transplant=numeric,
        tolerances=tol,
        stages=stages,
        ablations=ablations,
        causes=attribution.causes(sides, stages, first, numeric, ablations, matched),
        release_notes=attribution.unique_notes(
            matched, (first["stage"], numeric, first.get("training_mode", {}).get("stage", ""))
        ),
        seconds=round(time.monotonic() - start, 1),
        probes=prober.count,
        probe_timings=prober.timings,
        probed=probed,
    )


def _unprobed(
    a_text: str,
    b_text: str,
    seed: int,
    ran: dict[str, CellRecord],
    why: str,
    start: float,
    probed: dict[str, Any] | None,
) -> ExplainResult:
    """An explain whose probe could not start: every stage not measured, with the reason, and
    the two plain cells set against each other (final weights, metrics)."""
    stages = divergence.unmeasured_stages(f"the script could not be probed: {why}")
    return ExplainResult(
        a=a_text,
        b=b_text,
        seed=seed,
        cells={side: _cell_facts(c) for side, c in ran.items()},
        first_divergence={"stage": "not measured", "layer": None, "reason": why},
        first_after_transplant="not measured",
        tolerances={},
        stages=stages,
        ablations=[],
        causes=[],
        release_notes=[],
        seconds=round(time.monotonic() - start, 1),
        probes=1,
        probe_timings=[],
        probed=probed,
        cells_compared=breakage.against(ran["A"], ran["B"]),
    )


def _cell_facts(cell: CellRecord) -> dict[str, Any]:
    """Probe.facts() of a side known only from its stored cell."""
    fp = cell.get("fingerprint") or {}
    return {
        "tf": cell["tf_version"],
        "keras": cell.get("keras_version"),
        "python": cell.get("python_version"),
        "numpy": cell.get("numpy_version"),
        "knobs": cell.get("knobs"),
        "onednn": fp.get("onednn_enabled"),
        "optimizer": cell.get("optimizer_class"),
        "keras_module": fp.get("keras_module"),
        "script": True,
    }


def _check_request(
    base: Spec, seed: int, knobs: list[str] | None, fit: int | None, model: str | None
) -> None:
    """Refuse what explain cannot do before anything is planned or probed."""
    if seed < 0:
        raise UsageError(f"--seed must be non-negative, got {seed}")
    if base.script is None and (fit is not None or model is not None):
        raise UsageError(
            "--fit and --model choose a fit of your script; they apply only with a script "
            "(`tfrepro explain A B -- python train.py`)"
        )
    if fit is not None and model is not None:
        raise UsageError("--fit and --model both choose the fit to probe: give one of them")


class _Ablations:
    """The knob flips of one explain. Each flip is a probe of B with one knob flipped, from
    A's weights and gradients, judged at the first numeric stage that diverged; where the flip
    of B alone does not close the gap and A's own setting differs, the same setting on both
    sides is probed too (A afresh, B from that A)."""

    def __init__(
        self,
        prober: _Prober,
        base: Spec,
        seed: int,
        groups: tuple[dict[str, str], dict[str, str]],
        a: Probe,
        say: Callable[[str], object],
    ) -> None:
        self.prober, self.base, self.seed = prober, base, seed
        self.ga, self.gb = groups
        self.a, self.say = a, say
        self.script = base.script is not None
        self.flips_a = dict(flips(a.cell, self.script))

    def run(
        self, b: Probe, stage: str, gap: float, tol: dict[str, float], knobs: list[str] | None
    ) -> list[dict[str, Any]]:
        """One row per probe of every flip B's release has (`knobs`: only these), in order,
        each judged at `stage`, whose max |B-A| was `gap` without the flip."""
        wanted = [
            _Flip(k, v, stage, gap, tol)
            for k, v in flips(b.cell, self.script)
            if knobs is None or k in knobs
        ]
        # the flips are independent probes (subprocesses): up to `jobs` at once
        found = map_parallel(wanted, self._flip, jobs=self.prober.opts.jobs)
        return [row for rows in found for row in rows]

    def _flip(self, flip: _Flip) -> list[dict[str, Any]]:
        self.say(f"ablation: B with {flip.knob}={flip.value}")
        row = self._probe(flip, both=False)
        if (
            row["status"] == "ok"
            and not row["closes"]
            and flip.knob in self.flips_a
            and self.a.cell.knobs.get(flip.knob) != flip.value
        ):
            # B alone did not close it: does the same setting on both sides?
            self.say(f"ablation: A and B with {flip.knob}={flip.value}")
            return [row, self._probe(flip, both=True)]
        return [row]

    def _probe(self, flip: _Flip, *, both: bool) -> dict[str, Any]:
        """B with the knob flipped, from A's weights and gradients; with `both`, A is flipped
        too (probed afresh) and B starts from that flipped A."""
        row: dict[str, Any] = {
            "knob": flip.knob,
            "value": flip.value,
            "side": "both" if both else "B",
        }
        a = self.a
        try:
            if both:
                label = f"A {flip.knob}={flip.value} (both)"
                a = self.prober.run(label, self._plan(self.ga, flip), None)
            label = f"B {flip.knob}={flip.value}" + (" (both)" if both else "")
            flipped = self.prober.run(label, self._plan(self.gb, flip), a)
        except ExplainError as exc:
            clash = attribution.knob_clash(flip.knob, flip.value, str(exc))
            if clash:
                return {**row, "status": "cannot run", "reason": clash}
            return {**row, "status": "failed", "reason": str(exc)}
        stages = divergence.compare_probes(
            a.result, a.arrays, flipped.result, flipped.arrays, flip.tol
        )
        return {**row, "status": "ok", **attribution.judge_flip(stages, flip.stage, flip.gap)}

    def _plan(self, group: dict[str, str], flip: _Flip) -> Planned:
        setting = str(flip.value).lower()  # as a group on the command line spells it
        return _plan_one(
            side_spec(self.base, {**group, flip.knob: setting}, self.seed), self.prober.opts
        )
