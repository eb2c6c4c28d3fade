"""`tfrepro explain A B`: where two cell groups first diverge, and why.

Steps: probe A, probe A again (a rerun: its differences are the tolerances), probe B from
A's initial weights and A's gradients, compare stage by stage; then flip knobs in B and
see which flip makes the diverging stage equal again; match the release notes between
the two releases. Every probe is one short run of the runner in "probe" mode.
"""

from __future__ import annotations

import shutil
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from tfrepro import cellrun
from tfrepro import spec as spec_mod
from tfrepro.analysis import divergence
from tfrepro.envs import provision
from tfrepro.envs.catalogue import version_key
from tfrepro.errors import ExplainError, UsageError
from tfrepro.plan import Cell
from tfrepro.spec import Knobs, Spec
from tfrepro.store import Store
from tfrepro.workflow import Options, Planned, job_for, make_plan, save_npz

_BOOL = {"true": True, "false": False, "on": True, "off": False, "1": True, "0": False}
_KNOBS = set(Knobs.model_fields)


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
    raw = base.model_dump(mode="json", exclude={"base_dir"})
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


@dataclass
class Probe:
    label: str
    cell: Cell
    result: dict[str, Any]
    arrays: dict[str, np.ndarray]


def _plan_one(spec: Spec, opts: Options) -> Planned:
    planned = make_plan(spec, opts)
    if len(planned.cells) != 1:
        raise UsageError(f"a group must name exactly one cell, got {len(planned.cells)}")
    return planned


class _Prober:
    def __init__(self, opts: Options, steps: int) -> None:
        self.opts = opts
        self.steps = steps
        self.store = Store(opts.store)
        self.root = provision.envs_root(opts.cache)
        self.scratch = self.store.root / "explain"
        self.scratch.mkdir(exist_ok=True)
        self.count = 0
        self.timings: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def run(self, label: str, planned: Planned, source: Probe | None) -> Probe:
        """One probe in the cell's environment (thread-safe: ablations run several at once)."""
        cell = planned.cells[0]
        env = provision.ensure(cell.env, self.root)
        data_path = save_npz(self.store, planned.data.arrays)
        order = None
        if planned.spec.data.shuffle != "framework":
            from tfrepro.datasets import batch_order

            order = save_npz(
                self.store,
                {
                    "order": batch_order(
                        planned.data.n_train,
                        planned.spec.train.epochs,
                        cell.seed,
                        planned.spec.data.shuffle,
                    )
                },
            )
        job = job_for(planned.spec, cell, planned.data, data_path, order)
        job["mode"] = "probe"
        job["probe"] = {"steps": self.steps}
        if source is not None:
            source_arrays = self.scratch / f"source-{source.cell.id}.npz"
            with self.lock:  # the same source for several flips: written once
                if not source_arrays.exists():
                    np.savez(source_arrays, **source.arrays)  # type: ignore[arg-type]
            job["probe"].update(weights_path=str(source_arrays), grads_path=str(source_arrays))
        with self.lock:
            self.count += 1
            work = self.scratch / f"{self.count}-{cell.id}"
        start = time.monotonic()
        outcome = cellrun.run_cell(cell, job, env.python, work, planned.spec.timeout)
        if outcome.status != "ok":
            raise ExplainError(
                f"probe {label} ({cell.describe()}) {outcome.status}: {outcome.reason}"
            )
        with np.load(outcome.arrays) as z:  # type: ignore[arg-type]
            arrays = {k: np.asarray(z[k]) for k in z.files}
        self.timings.append(
            {
                "probe": label,
                "wall": round(time.monotonic() - start, 2),
                **outcome.result.get("timings", {}),
            }
        )
        return Probe(label, cell, outcome.result, arrays)


def release_notes() -> list[dict[str, Any]]:
    text = resources.files("tfrepro").joinpath("data/release_notes.toml").read_text()
    return list(tomllib.loads(text)["note"])


_FLIPS: dict[str, Any] = {
    "onednn": lambda v: "off" if v != "off" else "on",
    "legacy_keras": lambda v: not v,
    "optimizer_impl": lambda v: "legacy" if v != "legacy" else "keras",
    "xla": lambda v: "off" if v == "on" else "on",
    "threads": lambda v: 0 if v == 1 else 1,
}


ABLATION_KNOBS = tuple(_FLIPS)


def _flips(cell: Cell) -> list[tuple[str, Any]]:
    """Knob flips worth trying in B on its release."""
    v = version_key(cell.tf_version)
    out = []
    for knob, flip in _FLIPS.items():
        if knob == "legacy_keras" and v < (2, 16):
            continue
        if knob == "optimizer_impl" and v < (2, 11):
            continue  # before 2.11 the Keras optimizers are the legacy ones
        if knob == "xla" and v < (2, 0):
            continue
        if knob == "onednn" and v < (2, 5):
            continue
        out.append((knob, flip(cell.knobs[knob])))
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
    progress: Any = None,
) -> dict[str, Any]:
    """Probe A, A again and B (from A's weights and gradients); compare them stage by stage;
    flip knobs (`knobs`, default every one that applies) where a numeric stage diverged."""
    say = progress or (lambda msg: None)
    start = time.monotonic()
    ga, gb = parse_group(a_text), parse_group(b_text)
    spec_a, spec_b = side_spec(base, ga, seed), side_spec(base, gb, seed)
    plan_a, plan_b = _plan_one(spec_a, opts), _plan_one(spec_b, opts)  # errors before the store
    prober = _Prober(opts, steps)
    try:
        say(f"probe A: {plan_a.cells[0].describe()}")
        a = prober.run("A", plan_a, None)
        say("probe A again (rerun: measures the tolerances)")
        a2 = prober.run("A rerun", plan_a, a)
        say(f"probe B: {plan_b.cells[0].describe()} from A's weights and gradients")
        b = prober.run("B", plan_b, a)
        tol = divergence.tolerances(a.result, a.arrays, a2.result, a2.arrays)
        stages = divergence.compare_probes(a.result, a.arrays, b.result, b.arrays, tol)
        first = divergence.first_divergence(stages)
        numeric = divergence.first_numeric_divergence(stages)
        ablations: list[dict[str, Any]] = []
        if ablate and numeric != "none":
            flips_a = dict(_flips(a.cell))
            gap = stages[numeric]["max_abs"]

            def flip_one(knob: str, value: Any) -> list[dict[str, Any]]:
                say(f"ablation: B with {knob}={value}")
                flip = _Flip(knob, value, numeric, gap, tol)
                row = _ablate(prober, base, seed, flip, gb, a)
                if (row["status"] == "ok" and not row["closes"] and knob in flips_a
                        and a.cell.knobs.get(knob) != value):
                    # B alone did not close it: does the same setting on both sides?
                    say(f"ablation: A and B with {knob}={value}")
                    return [row, _ablate(prober, base, seed, flip, gb, a, ga)]
                return [row]

            wanted = [(k, v) for k, v in _flips(b.cell) if knobs is None or k in knobs]
            # the flips are independent probes (subprocesses): run up to `jobs` at once
            with ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
                for rows in pool.map(lambda kv: flip_one(*kv), wanted):
                    ablations.extend(rows)
    finally:
        prober.store.close()
        shutil.rmtree(prober.scratch, ignore_errors=True)
    notes = release_notes()
    lo, hi = sorted((version_key(a.cell.tf_version), version_key(b.cell.tf_version)))
    matched = {s: divergence.matching_notes(notes, lo, hi, s) for s in divergence.STAGES}
    return {
        "a": a_text,
        "b": b_text,
        "seed": seed,
        "cells": {p.label: _describe(p) for p in (a, b)},
        "first_divergence": first,
        "first_after_transplant": numeric,
        "tolerances": tol,
        "stages": stages,
        "ablations": ablations,
        "causes": _causes(a, b, stages, first, numeric, ablations, matched),
        "release_notes": list(
            {n["text"]: n for s in (first["stage"], numeric) for n in matched.get(s, [])}.values()
        ),
        "seconds": round(time.monotonic() - start, 1),
        "probes": prober.count,
        "probe_timings": prober.timings,
    }


@dataclass
class _Flip:
    knob: str
    value: Any
    stage: str  # the first numeric stage that diverged without the flip
    gap: float  # its max |B-A| without the flip
    tol: dict[str, float]


def _ablate(
    prober: _Prober,
    base: Spec,
    seed: int,
    flip: _Flip,
    gb: dict[str, str],
    a: Probe,
    ga: dict[str, str] | None = None,
) -> dict[str, Any]:
    """B with the knob flipped, from A's weights and gradients; with `ga`, A is flipped too
    (probed afresh) and B starts from that flipped A."""
    setting = str(flip.value).lower()
    row: dict[str, Any] = {"knob": flip.knob, "value": flip.value, "side": "both" if ga else "B"}
    try:
        if ga is not None:
            planned_a = _plan_one(side_spec(base, {**ga, flip.knob: setting}, seed), prober.opts)
            a = prober.run(f"A {flip.knob}={flip.value} (both)", planned_a, None)
        planned = _plan_one(side_spec(base, {**gb, flip.knob: setting}, seed), prober.opts)
        both = " (both)" if ga is not None else ""
        flipped = prober.run(f"B {flip.knob}={flip.value}{both}", planned, a)
    except ExplainError as exc:
        return {**row, "status": "failed", "reason": str(exc)}
    stages = divergence.compare_probes(a.result, a.arrays, flipped.result, flipped.arrays,
                                       flip.tol)
    now = divergence.first_numeric_divergence(stages)
    order = ("forward", "loss", "gradient", "optimizer", "trajectory", "none")
    after = stages[flip.stage]["max_abs"]
    return {
        **row,
        "status": "ok",
        "first_after_transplant": now,
        "closes": order.index(now) > order.index(flip.stage),
        "gap_before": flip.gap,
        "gap_after": after,
        "shrinks": after < flip.gap,
    }


def _describe(p: Probe) -> dict[str, Any]:
    fp = p.result.get("fingerprint", {})
    return {
        "tf": p.cell.tf_version,
        "keras": p.result.get("keras_version"),
        "python": fp.get("python"),
        "numpy": fp.get("numpy"),
        "knobs": p.cell.knobs,
        "onednn": fp.get("onednn_enabled"),
        "optimizer": p.result.get("update_optimizer"),
        "keras_module": fp.get("keras_module"),
    }


_SIDE = {"B": "in B", "both": "in A and B"}


def _causes(
    a: Probe,
    b: Probe,
    stages: dict[str, Any],
    first: dict[str, Any],
    numeric: str,
    ablations: list[dict[str, Any]],
    notes: dict[str, list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    causes: list[dict[str, Any]] = []
    for ab in ablations:
        if ab.get("status") == "ok" and ab["closes"]:
            causes.append(
                {
                    "cause": f"knob {ab['knob']}: setting {ab['knob']}={ab['value']} "
                    f"{_SIDE[ab.get('side', 'B')]} makes the {numeric} stage equal",
                    "stage": numeric,
                    "evidence": ab,
                }
            )
    for ab in ablations:
        if ab.get("status") == "ok" and not ab["closes"] and ab["shrinks"]:
            causes.append(
                {
                    "cause": f"knob {ab['knob']}: {ab['knob']}={ab['value']} "
                    f"{_SIDE[ab.get('side', 'B')]} shrinks the {numeric} gap",
                    "stage": numeric,
                    "evidence": ab,
                }
            )
    if stages["data"]["diverged"]:
        causes.append(
            {
                "cause": "the two cells trained on different data or batch order "
                "(a setup problem, not TensorFlow: check code that prepares or edits "
                "ctx.data)",
                "stage": "data",
                "evidence": {},
            }
        )
    if stages["init"]["diverged"]:
        causes.append(
            {
                "cause": "initial weights differ under the same seed (initializer "
                "random numbers changed)",
                "stage": "init",
                "evidence": {
                    "variable": stages["init"]["where"],
                    "max_abs": stages["init"]["max_abs"],
                },
            }
        )
    for change in stages["config"]["changed"][:10]:
        causes.append(
            {
                "cause": f"configuration {change['key']}: {change['a']!r} → {change['b']!r}",
                "stage": "config",
                "evidence": change,
            }
        )
    ca, cb = _describe(a), _describe(b)
    for key in ("onednn", "keras_module", "optimizer", "keras", "numpy", "python"):
        if ca.get(key) != cb.get(key):
            causes.append(
                {
                    "cause": f"{key} differs: {ca.get(key)} → {cb.get(key)}",
                    "stage": numeric,
                    "evidence": {"a": ca.get(key), "b": cb.get(key)},
                }
            )
    opt = stages["optimizer"]
    if opt["diverged"] and max((i["max_rel"] for i in opt["items"]), default=0.0) > 1e-3:
        causes.append(
            {
                "cause": "the optimizer computes a different update from identical "
                f"weights and gradients ({opt['class_a']} → {opt['class_b']}): its "
                "implementation or defaults changed",
                "stage": "optimizer",
                "evidence": {"max_abs": opt["max_abs"], "where": opt["where"]},
            }
        )
    seen: set[str] = set()
    for stage in dict.fromkeys([first["stage"], numeric, "optimizer" if opt["diverged"] else ""]):
        for note in notes.get(stage, []):
            if note["text"] in seen:
                continue
            seen.add(note["text"])
            causes.append(
                {
                    "cause": f"release note {note['release']} ({note['component']}): "
                    f"{note['text']}",
                    "stage": stage,
                    "evidence": note,
                }
            )
    return causes
