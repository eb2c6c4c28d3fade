"""The report's "Where and why" section: stored `tfrepro explain` results, worded for the page.

Nothing is recomputed here: stages, ablations, causes and release notes are shown as explain
found them (ExplainResult.as_dict() in tasks/explain.py, as the store keeps it); this only
picks, formats and orders.
"""

from __future__ import annotations

import math
from typing import Any

from tfrepro.report.style import fmt_delta


def _sides(cells: dict[str, Any]) -> list[dict[str, Any]]:
    """A and B side by side: versions, oneDNN, optimizer and knobs; `changed` where B differs."""
    a, b = cells.get("A") or {}, cells.get("B") or {}

    def onednn(c: dict[str, Any]) -> str:
        enabled = c.get("onednn")
        return "—" if enabled is None else ("on" if enabled else "off")

    rows = [
        ("TensorFlow", str(a.get("tf") or "—"), str(b.get("tf") or "—")),
        ("Keras", str(a.get("keras") or "—"), str(b.get("keras") or "—")),
        ("Keras API", str(a.get("keras_module") or "—"), str(b.get("keras_module") or "—")),
        ("Python", str(a.get("python") or "—"), str(b.get("python") or "—")),
        ("numpy", str(a.get("numpy") or "—"), str(b.get("numpy") or "—")),
        ("oneDNN", onednn(a), onednn(b)),
        ("optimizer", str(a.get("optimizer") or "—"), str(b.get("optimizer") or "—")),
    ]
    ka, kb = a.get("knobs") or {}, b.get("knobs") or {}
    rows += [
        (f"knob {k}", str(ka.get(k, "—")), str(kb.get(k, "—")))
        for k in dict.fromkeys([*ka, *kb])
        if ka.get(k) != kb.get(k)
    ]
    return [{"name": n, "a": va, "b": vb, "changed": va != vb} for n, va, vb in rows]


def _config_where(stage: dict[str, Any]) -> str:
    changed = stage.get("changed") or []
    parts = [f"{c['key']}: {c['a']!r} → {c['b']!r}" for c in changed[:3]]
    if len(changed) > 3:
        parts.append(f"{len(changed) - 3} more changed")
    for side in ("a", "b"):  # settings one release reports and the other does not
        keys = stage.get(f"only_{side}") or []
        if keys:
            names = ", ".join(str(k).rsplit(".", 1)[-1] for k in keys[:4])
            parts.append(f"only in {side.upper()}: {names}" + (", …" if len(keys) > 4 else ""))
    return " · ".join(parts)


def _where(name: str, stage: dict[str, Any]) -> str:
    if name == "config":
        return _config_where(stage)
    where = str(stage.get("where") or "")
    growth = stage.get("growth_per_step")
    if name == "trajectory" and isinstance(growth, int | float) and math.isfinite(growth):
        where += f" (gap ×{growth:.2f} per step)"
    return where


def _stages(result: dict[str, Any]) -> list[dict[str, Any]]:
    first = result.get("first_divergence", {}).get("stage")
    rows = []
    for name, s in (result.get("stages") or {}).items():
        config = name == "config"
        changed = len(s.get("changed") or [])
        measured = s.get("measured", True)
        rows.append(
            {
                "name": name,
                "measured": measured,
                "diverged": bool(s.get("diverged")),
                "bitwise": bool(s.get("bitwise")),
                "first": name == first,
                # config counts changed settings; the others measure a numeric difference
                "max_abs": f"{changed} changed" if config else fmt_delta(s.get("max_abs")),
                "max_ulp": ""
                if config or name in ("data", "loss")
                else fmt_delta(s.get("max_ulp")),
                "tolerance": "" if config or name == "data" else fmt_delta(s.get("tolerance")),
                "where": _where(name, s) if measured else str(s.get("reason") or ""),
            }
        )
    return rows


def _ablations(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for ab in result.get("ablations") or []:
        ok = ab.get("status") == "ok"
        rows.append(
            {
                "flip": f"{ab.get('knob')}={ab.get('value')}",
                "side": "A and B" if ab.get("side") == "both" else "B",
                "ok": ok,
                "then": ab.get("first_after_transplant") if ok else ab.get("status", "failed"),
                "before": fmt_delta(ab.get("gap_before")) if ok else "",
                "after": fmt_delta(ab.get("gap_after")) if ok else "",
                "closes": bool(ok and ab.get("closes")),
                "shrinks": bool(ok and ab.get("shrinks")),
                "reason": "" if ok else str(ab.get("reason") or ""),
            }
        )
    return rows


def _training_mode(gap: dict[str, Any] | None) -> dict[str, Any] | None:
    if not gap:
        return None
    return {
        **gap,
        "max_abs": fmt_delta(gap.get("max_abs")),
        "forward_max_abs": fmt_delta(gap.get("forward_max_abs")),
    }


def _first(result: dict[str, Any]) -> dict[str, Any]:
    """The first diverging stage and, when it differs, the first one after the transplant."""
    first = result.get("first_divergence") or {}
    stage = first.get("stage") or "none"
    after = result.get("first_after_transplant") or "none"
    after_where = (result.get("stages") or {}).get(after, {}).get("where")
    return {
        "stage": stage,
        "layer": first.get("layer"),
        "after": after if after != stage else None,
        "after_layer": after_where,
        "training_mode": _training_mode(first.get("training_mode")),
    }


def explanation(result: dict[str, Any]) -> dict[str, Any]:
    cells = result.get("cells") or {}
    notes = [
        {
            "release": n.get("release", ""),
            "component": n.get("component", ""),
            "text": n.get("text", ""),
            "source": _link(n.get("source")),
        }
        for n in result.get("release_notes") or []
    ]
    return {
        "id": result.get("id"),
        "a": str(result.get("a", "")),
        "b": str(result.get("b", "")),
        "seed": result.get("seed"),
        "tf_a": (cells.get("A") or {}).get("tf"),
        "tf_b": (cells.get("B") or {}).get("tf"),
        "created": str(result.get("created") or "").replace("T", " ").replace("Z", " UTC"),
        "sides": _sides(cells),
        "first": _first(result),
        "stages": _stages(result),
        "ablations": _ablations(result),
        "causes": [
            {"stage": str(c.get("stage", "")), "text": str(c.get("cause", ""))}
            for c in result.get("causes") or []
        ],
        "notes": notes,
        "probes": result.get("probes"),
        "seconds": result.get("seconds"),
        "cells_compared": result.get("cells_compared"),
        "why_unmeasured": (result.get("first_divergence") or {}).get("reason"),
    }


def _link(url: Any) -> str | None:
    """Only http(s) addresses become links (a javascript: source would run on click)."""
    text = str(url or "")
    return text if text.startswith(("https://", "http://")) else None


def explanations(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [explanation(r) for r in results]
