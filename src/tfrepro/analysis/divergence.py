"""Where two probes of the same model first diverge. Pure: arrays and dicts in, dicts out.

A probe (see runner/tfrepro_guest/probe/) records, on one fixed batch: initial weights,
configs, each layer's forward output, the loss, gradients, one optimizer update and K
lockstep training steps. `stages()` compares probe B (run from A's initial weights and
A's gradients) with probe A, against a tolerance measured by rerunning A itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tfrepro.analysis.stages import NUMERIC_STAGES, STAGES
from tfrepro.runner.tfrepro_guest.protocol import Array, Result, count, indexed, unavailable

# Config keys that name things or describe storage rather than behaviour.
_IGNORED_CONFIG_KEYS = {
    "name",
    "dtype",
    "trainable",
    "batch_input_shape",
    "batch_shape",
    "input_shape",
    "sparse",
    "ragged",
    "build_config",
    "module",
    "registered_name",
    "seed",
}

Arrays = Mapping[str, np.ndarray]


def _listed(arrays: Arrays, prefix: str) -> list[np.ndarray]:
    return [np.asarray(arrays[indexed(prefix, i)]) for i in range(count(arrays, prefix))]


def array_diffs(
    a: Sequence[np.ndarray], b: Sequence[np.ndarray], names: Sequence[str]
) -> list[dict[str, Any]]:
    """Per array: bitwise equality, max absolute and max relative difference."""
    out = []
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        name = names[i] if i < len(names) else f"#{i}"
        if x.shape != y.shape:
            out.append(
                {
                    "name": name,
                    "bitwise": False,
                    "max_abs": float("inf"),
                    "max_rel": float("inf"),
                    "shape_a": list(x.shape),
                    "shape_b": list(y.shape),
                }
            )
            continue
        d = np.abs(x.astype(np.float64) - y.astype(np.float64))
        scale = np.maximum(np.abs(x.astype(np.float64)), 1e-12)
        out.append(
            {
                "name": name,
                "bitwise": bool(np.array_equal(x, y)),
                "max_abs": float(d.max()) if d.size else 0.0,
                "max_rel": float((d / scale).max()) if d.size else 0.0,
                "max_ulp": max_ulp(x, y),
            }
        )
    if len(a) != len(b):
        out.append(
            {
                "name": "variable count",
                "bitwise": False,
                "max_abs": float("inf"),
                "max_rel": float("inf"),
                "count_a": len(a),
                "count_b": len(b),
            }
        )
    return out


def max_ulp(x: np.ndarray, y: np.ndarray) -> float | None:
    """Largest difference in units in the last place: |x - y| over the spacing of the larger
    magnitude, at the arrays' own float precision (float32 outputs count float32 ULPs); None
    for integer arrays or mixed precisions. Two NaNs agree; a NaN against a number is inf."""
    if x.dtype != y.dtype or not np.issubdtype(x.dtype, np.floating) or x.size == 0:
        return None
    with np.errstate(invalid="ignore", over="ignore"):
        big = np.maximum(np.abs(x), np.abs(y))
        ulps = np.abs(x.astype(np.float64) - y.astype(np.float64)) / np.spacing(big).astype(
            np.float64
        )
    ulps = np.where(x == y, 0.0, ulps)  # also ±0 and equal infinities
    ulps = np.where(np.isnan(x) & np.isnan(y), 0.0, np.where(np.isnan(ulps), np.inf, ulps))
    return float(ulps.max())


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        if set(obj) >= {"class_name", "config"} and isinstance(obj["config"], dict):
            # a serialized object (initializer, dtype policy, …): compare its class and config
            flat = {f"{prefix}.class": obj["class_name"]} if prefix else {}
            flat.update(_flatten(obj["config"], prefix))
            return flat
        flat = {}
        for k, v in obj.items():
            if k in _IGNORED_CONFIG_KEYS:
                continue
            flat.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return flat
    if isinstance(obj, list):
        flat = {}
        for i, v in enumerate(obj):
            # a layer is named by its name (layers[dropout].config.rate), not its position
            named = isinstance(v, dict) and isinstance(v.get("name"), str) and "config" in v
            flat.update(_flatten(v, f"{prefix}[{v['name'] if named else i}]"))
        return flat
    return {prefix: obj}


def config_diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, list[Any]]:
    """Changed values of keys both releases report, plus keys only one of them has."""
    fa, fb = _flatten(a), _flatten(b)
    changed = [
        {"key": k, "a": fa[k], "b": fb[k]}
        for k in sorted(set(fa) & set(fb))
        if not _same(fa[k], fb[k])
    ]
    return {
        "changed": changed,
        "only_a": sorted(set(fa) - set(fb)),
        "only_b": sorted(set(fb) - set(fa)),
    }


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, (int, float)) and isinstance(y, (int, float)):
        # releases report the same float32 setting as 0.001 or 0.0010000000474974513
        return bool(np.float32(x) == np.float32(y))
    return bool(x == y)


def _data_where(a: list[dict[str, Any]] | None, b: list[dict[str, Any]] | None) -> str:
    """Which array of the first batch differs, and how (a script probe records each side's
    own first batch); "data" when the probes do not say."""
    if not a or not b:
        return "data"
    if [x["name"] for x in a] != [y["name"] for y in b]:
        return f"batch arrays {[x['name'] for x in a]} → {[y['name'] for y in b]}"
    for x, y in zip(a, b, strict=True):
        if x["dtype"] != y["dtype"]:
            return f"{x['name']}: dtype {x['dtype']} → {y['dtype']}"
        if x["shape"] != y["shape"]:
            return f"{x['name']}: shape {x['shape']} → {y['shape']}"
        if x["sha256"] != y["sha256"]:
            return f"{x['name']}: values"
    return "later batches"


def _worst(diffs: list[dict[str, Any]]) -> float:
    return max((d["max_abs"] for d in diffs), default=0.0)


def _stage(diffs: list[dict[str, Any]], tolerance: float) -> dict[str, Any]:
    worst = _worst(diffs)
    first = next((d["name"] for d in diffs if d["max_abs"] > tolerance), None)
    ulps = [d["max_ulp"] for d in diffs if d.get("max_ulp") is not None]
    return {
        "bitwise": all(d["bitwise"] for d in diffs),
        "max_abs": worst,
        "max_ulp": max(ulps, default=None),
        "tolerance": tolerance,
        "diverged": worst > tolerance,
        "where": first,
        "items": diffs,
    }


def trajectory_gap(a: np.ndarray, b: np.ndarray) -> list[float]:
    """Max absolute weight difference after each lockstep step."""
    n = min(len(a), len(b))
    if n == 0 or a.shape[1:] != b.shape[1:]:
        return []
    return [float(v) for v in np.abs(a[:n].astype(np.float64) - b[:n]).max(axis=1)]


def _growth(gaps: list[float]) -> float | None:
    """Mean factor by which the gap grows per step (chaotic amplification when well above 1)."""
    nz = [g for g in gaps if g > 0]
    if len(nz) < 2:
        return None
    return float((nz[-1] / nz[0]) ** (1 / (len(nz) - 1)))


def compare_probes(
    a: dict[str, Any],
    a_arrays: Arrays,
    b: dict[str, Any],
    b_arrays: Arrays,
    tol: Mapping[str, float] | None = None,
) -> dict[str, dict[str, Any]]:
    """Stage by stage: how probe B differs from probe A (B ran from A's weights and gradients)."""
    tol = dict(tol or {})
    names = [str(n) for n in a_arrays.get(Array.WEIGHT_NAMES, [])]
    out: dict[str, dict[str, Any]] = {}

    def used(p: dict[str, Any]) -> Any:  # as the model left ctx.data; older probes: as sent
        return p.get(Result.DATA_SHA256_USED, p.get(Result.DATA_SHA256))

    same_data = used(a) == used(b) and np.array_equal(
        a_arrays[Array.BATCH_INDEX], b_arrays[Array.BATCH_INDEX]
    )
    batches = a.get(Result.PROBE_BATCH), b.get(Result.PROBE_BATCH)
    out["data"] = {
        "diverged": not same_data,
        "bitwise": same_data,
        "max_abs": 0.0 if same_data else float("inf"),
        "tolerance": 0.0,
        "where": None if same_data else _data_where(*batches),
        "items": [],
    }
    out["init"] = _stage(
        array_diffs(_listed(a_arrays, Array.INIT), _listed(b_arrays, Array.INIT), names),
        tol.get("init", 0.0),
    )
    cfg = config_diff(a.get(Result.CONFIGS, {}), b.get(Result.CONFIGS, {}))
    out["config"] = {
        "diverged": bool(cfg["changed"]),
        "bitwise": not cfg["changed"],
        "max_abs": float(len(cfg["changed"])),
        "tolerance": 0.0,
        "where": cfg["changed"][0]["key"] if cfg["changed"] else None,
        **cfg,
    }
    layer_names = a.get(Result.LAYER_NAMES) or []
    out["forward"] = _stage(
        array_diffs(
            _listed(a_arrays, Array.FORWARD), _listed(b_arrays, Array.FORWARD), layer_names
        ),
        tol.get("forward", 0.0),
    )
    # training mode: each layer's output, then the moving statistics it updated (BatchNorm)
    moving = [f"moving statistics {n}" for n in a.get(Result.MOVING_NAMES) or []]
    out["train_forward"] = _stage(
        array_diffs(
            _listed(a_arrays, Array.TRAIN_FORWARD),
            _listed(b_arrays, Array.TRAIN_FORWARD),
            layer_names,
        )
        + array_diffs(_listed(a_arrays, Array.MOVING), _listed(b_arrays, Array.MOVING), moving),
        tol.get("train_forward", 0.0),
    )
    loss_gap = abs(float(a.get(Result.PROBE_LOSS, 0.0)) - float(b.get(Result.PROBE_LOSS, 0.0)))
    out["loss"] = {
        "diverged": loss_gap > tol.get("loss", 0.0),
        "bitwise": loss_gap == 0.0,
        "max_abs": loss_gap,
        "tolerance": tol.get("loss", 0.0),
        "where": "loss" if loss_gap > tol.get("loss", 0.0) else None,
        "a": a.get(Result.PROBE_LOSS),
        "b": b.get(Result.PROBE_LOSS),
        "items": [],
    }
    trainable = a.get(Result.TRAINABLE_NAMES) or []
    out["gradient"] = _stage(
        array_diffs(_listed(a_arrays, Array.GRAD), _listed(b_arrays, Array.GRAD), trainable),
        tol.get("gradient", 0.0),
    )
    out["optimizer"] = _stage(
        array_diffs(_listed(a_arrays, Array.UPDATE), _listed(b_arrays, Array.UPDATE), trainable),
        tol.get("optimizer", 0.0),
    )
    out["optimizer"]["class_a"] = a.get(Result.UPDATE_OPTIMIZER)
    out["optimizer"]["class_b"] = b.get(Result.UPDATE_OPTIMIZER)
    gaps = trajectory_gap(a_arrays[Array.TRAJECTORY], b_arrays[Array.TRAJECTORY])
    t_tol = tol.get("trajectory", 0.0)
    first = next((i for i, g in enumerate(gaps) if g > t_tol), None)
    out["trajectory"] = {
        "diverged": first is not None,
        "bitwise": all(g == 0 for g in gaps),
        "max_abs": max(gaps, default=0.0),
        "tolerance": t_tol,
        "where": None if first is None else f"step {first}",
        "first_step": first,
        "gaps": gaps,
        "growth_per_step": _growth(gaps),
        "items": [],
    }
    for stage in ("data", "init", *NUMERIC_STAGES):
        why = [str(p[unavailable(stage)]) for p in (a, b) if p.get(unavailable(stage))]
        if why:
            out[stage] = _unmeasured(why[0])
    return out


def _unmeasured(reason: str) -> dict[str, Any]:
    """A stage a probe could not measure: neither equal nor diverged, and says why."""
    return {
        "measured": False,
        "reason": reason,
        "diverged": False,
        "bitwise": False,
        "max_abs": 0.0,
        "max_ulp": None,
        "tolerance": 0.0,
        "where": None,
        "items": [],
    }


def tolerances(
    a: dict[str, Any], a_arrays: Arrays, rerun: dict[str, Any], rerun_arrays: Arrays
) -> dict[str, float]:
    """Per-stage tolerance = how much a rerun of A differs from A (0.0 when bitwise)."""
    stages = compare_probes(a, a_arrays, rerun, rerun_arrays)
    return {
        name: float(s["max_abs"])
        for name, s in stages.items()
        if name not in ("data", "config") and s.get("measured", True)
    }


def first_divergence(stages: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """The first stage that diverged, and the stages before it that could not be measured."""
    unmeasured: list[str] = []
    first: dict[str, Any] = {"stage": "none", "layer": None}
    for name in STAGES:
        s = stages.get(name)
        if s and not s.get("measured", True):
            unmeasured.append(name)
        elif s and s["diverged"]:
            first = {"stage": name, "layer": s.get("where")}
            break
    if unmeasured:
        first["not_measured_before"] = unmeasured
    return first


def first_numeric_divergence(stages: Mapping[str, dict[str, Any]]) -> str:
    """The first diverging stage after the transplant (forward onwards)."""
    for name in NUMERIC_STAGES:
        if stages[name]["diverged"]:
            return name
    return "none"


def matching_notes(
    notes: Sequence[dict[str, Any]], lo: tuple[int, ...], hi: tuple[int, ...], stage: str
) -> list[dict[str, Any]]:
    """Release notes of releases in (lo, hi] whose stages include `stage`."""

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split("."))

    return [n for n in notes if lo < key(n["release"]) <= hi and stage in n["stages"]]
