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


# Classes renamed without a change of behaviour: the same thing in either release.
_CLASS_ALIASES = {"Functional": "Model"}  # tf.keras 2.4 named functional models Functional


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, str) and isinstance(y, str):
        return _CLASS_ALIASES.get(x, x) == _CLASS_ALIASES.get(y, y)
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
            equal = x.get("values_sha256") and x.get("values_sha256") == y.get("values_sha256")
            values = ", values equal" if equal and x["shape"] == y["shape"] else ""
            return f"{x['name']}: dtype {x['dtype']} → {y['dtype']}{values}"
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
    out = {
        "data": _data_stage(a, a_arrays, b, b_arrays),
        "init": _stage(_diffs(a_arrays, b_arrays, Array.INIT, names), tol.get("init", 0.0)),
        "config": _config_stage(a, b),
        **_forward_stages(a, a_arrays, b, b_arrays, tol),
        "loss": _loss_stage(a, b, tol.get("loss", 0.0)),
        **_update_stages(a, a_arrays, b, b_arrays, tol),
        "trajectory": _trajectory_stage(a_arrays, b_arrays, tol.get("trajectory", 0.0)),
    }
    for stage in ("data", "init", *NUMERIC_STAGES):
        # a stage either probe could not measure is neither equal nor diverged
        why = [str(p[unavailable(stage)]) for p in (a, b) if p.get(unavailable(stage))]
        if why:
            out[stage] = _unmeasured(why[0])
    return out


def _diffs(
    a_arrays: Arrays, b_arrays: Arrays, prefix: str, names: Sequence[str]
) -> list[dict[str, Any]]:
    """array_diffs of the probes' arrays under one prefix."""
    return array_diffs(_listed(a_arrays, prefix), _listed(b_arrays, prefix), names)


def _data_stage(
    a: dict[str, Any], a_arrays: Arrays, b: dict[str, Any], b_arrays: Arrays
) -> dict[str, Any]:
    """The same data and the same batch order, or not (no degrees: either differs wholly)."""

    def used(p: dict[str, Any]) -> Any:  # as the model left ctx.data; older probes: as sent
        return p.get(Result.DATA_SHA256_USED, p.get(Result.DATA_SHA256))

    batches = a.get(Result.PROBE_BATCH), b.get(Result.PROBE_BATCH)
    same = used(a) == used(b) and np.array_equal(
        a_arrays[Array.BATCH_INDEX], b_arrays[Array.BATCH_INDEX]
    )
    where = None if same else _data_where(*batches)
    dtype_only = where is not None and where.endswith(", values equal")
    return {
        "diverged": not same,
        "bitwise": same,
        # a dtype change with equal values is no distance in value
        "max_abs": 0.0 if same or dtype_only else float("inf"),
        "tolerance": 0.0,
        "where": where,
        "dtype_only": dtype_only,
        "items": [],
    }


def _config_stage(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Changed settings; its "max_abs" counts them, so that any change diverges."""
    cfg = config_diff(a.get(Result.CONFIGS, {}), b.get(Result.CONFIGS, {}))
    return {
        "diverged": bool(cfg["changed"]),
        "bitwise": not cfg["changed"],
        "max_abs": float(len(cfg["changed"])),
        "tolerance": 0.0,
        "where": cfg["changed"][0]["key"] if cfg["changed"] else None,
        **cfg,
    }


def _forward_stages(
    a: dict[str, Any],
    a_arrays: Arrays,
    b: dict[str, Any],
    b_arrays: Arrays,
    tol: Mapping[str, float],
) -> dict[str, dict[str, Any]]:
    """Each layer's output in inference mode, and in training mode followed by the moving
    statistics it updated (BatchNorm): dropout and batch statistics act only in training."""
    layers = a.get(Result.LAYER_NAMES) or []
    other = b.get(Result.LAYER_NAMES)
    if other is not None and len(other) != len(layers):
        # outputs paired by position would compare one layer with another: not measured
        why = (
            f"A's model has {len(layers)} layer outputs and B's {len(other)} (nested models "
            "included): the models differ in structure (see config)"
        )
        return {"forward": _unmeasured(why), "train_forward": _unmeasured(why)}
    moving = [f"moving statistics {n}" for n in a.get(Result.MOVING_NAMES) or []]
    train = _diffs(a_arrays, b_arrays, Array.TRAIN_FORWARD, layers)
    return {
        "forward": _stage(
            _diffs(a_arrays, b_arrays, Array.FORWARD, layers), tol.get("forward", 0.0)
        ),
        "train_forward": _stage(
            train + _diffs(a_arrays, b_arrays, Array.MOVING, moving), tol.get("train_forward", 0.0)
        ),
    }


def _loss_stage(a: dict[str, Any], b: dict[str, Any], tolerance: float) -> dict[str, Any]:
    gap = abs(float(a.get(Result.PROBE_LOSS, 0.0)) - float(b.get(Result.PROBE_LOSS, 0.0)))
    return {
        "diverged": gap > tolerance,
        "bitwise": gap == 0.0,
        "max_abs": gap,
        "tolerance": tolerance,
        "where": "loss" if gap > tolerance else None,
        "a": a.get(Result.PROBE_LOSS),
        "b": b.get(Result.PROBE_LOSS),
        "items": [],
    }


def _update_stages(
    a: dict[str, Any],
    a_arrays: Arrays,
    b: dict[str, Any],
    b_arrays: Arrays,
    tol: Mapping[str, float],
) -> dict[str, dict[str, Any]]:
    """The gradients, and the optimizer's update from A's gradients (per trainable variable);
    the optimizer stage names each side's optimizer class."""
    trainable = a.get(Result.TRAINABLE_NAMES) or []
    gradient = _stage(_diffs(a_arrays, b_arrays, Array.GRAD, trainable), tol.get("gradient", 0.0))
    optimizer = _stage(
        _diffs(a_arrays, b_arrays, Array.UPDATE, trainable), tol.get("optimizer", 0.0)
    )
    optimizer["class_a"] = a.get(Result.UPDATE_OPTIMIZER)
    optimizer["class_b"] = b.get(Result.UPDATE_OPTIMIZER)
    return {"gradient": gradient, "optimizer": optimizer}


def _trajectory_stage(a_arrays: Arrays, b_arrays: Arrays, tolerance: float) -> dict[str, Any]:
    """The weight gap over the lockstep steps: the first step past the tolerance, and how fast
    the gap grows (round-off amplified by training shows as steady growth)."""
    gaps = trajectory_gap(a_arrays[Array.TRAJECTORY], b_arrays[Array.TRAJECTORY])
    first = next((i for i, g in enumerate(gaps) if g > tolerance), None)
    return {
        "diverged": first is not None,
        "bitwise": all(g == 0 for g in gaps),
        "max_abs": max(gaps, default=0.0),
        "tolerance": tolerance,
        "where": None if first is None else f"step {first}",
        "first_step": first,
        "gaps": gaps,
        "growth_per_step": _growth(gaps),
        "items": [],
    }


def unmeasured_stages(reason: str) -> dict[str, dict[str, Any]]:
    """Every stage, none measured, each saying why (a probe that could not start)."""
    return {name: _unmeasured(reason) for name in STAGES}


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
    """The first stage that diverged, and the stages before it that could not be measured;
    when the first is before training mode and a layer's training-mode output differs far more
    than any inference-mode output (`training_mode_gap`), that too."""
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
    gap = training_mode_gap(stages)
    if gap and first["stage"] in STAGES[: STAGES.index("train_forward")]:
        first["training_mode"] = gap
    return first


# A layer whose training-mode output differs this many times more than every inference-mode
# output (same weights, same batch) acts differently while training: batch statistics, dropout.
TRAINING_MODE_FACTOR = 1e3


def training_mode_gap(stages: Mapping[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The first layer whose training-mode gap is TRAINING_MODE_FACTOR times the largest
    inference-mode gap (forward and train_forward compare the same outputs, so the sizes
    compare too), or None. A round-off-level forward divergence then is not where the
    difference is made."""
    forward, train = stages.get("forward"), stages.get("train_forward")
    if not forward or not train or not forward.get("measured", True):
        return None
    if not train.get("measured", True) or not train["diverged"]:
        return None
    bound = TRAINING_MODE_FACTOR * forward["max_abs"]
    for item in train["items"]:
        if item["max_abs"] > max(bound, train["tolerance"]):
            return {
                "stage": "train_forward",
                "layer": item["name"],
                "max_abs": item["max_abs"],
                "forward_max_abs": forward["max_abs"],
            }
    return None


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
