"""Why two probes diverge: knob flips judged, causes ranked, release notes matched. Pure.

`tasks/explain.py` runs the probes and hands their stage comparisons here; `tasks/bisect.py`
matches release notes here too. Nothing here runs or imports TensorFlow.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

from tfrepro.analysis import divergence
from tfrepro.analysis.stages import NUMERIC_STAGES, STAGES
from tfrepro.envs.catalogue import version_key

# How explain flips each knob it can flip: the value to try given the current one.
FLIPS: dict[str, Any] = {
    "onednn": lambda v: "off" if v != "off" else "on",
    "legacy_keras": lambda v: not v,
    "optimizer_impl": lambda v: "legacy" if v != "legacy" else "keras",
    "xla": lambda v: "off" if v == "on" else "on",
    "threads": lambda v: 0 if v == 1 else 1,
}
ABLATION_KNOBS = tuple(FLIPS)
# The capability a release needs for flipping the knob to mean anything (envs/capabilities);
# a knob not listed (threads) applies everywhere.
FLIP_NEEDS = {
    "onednn": "onednn_opts",
    "legacy_keras": "keras3",  # before 2.16 tf.keras is Keras 2 already
    "optimizer_impl": "new_keras_optimizers",  # before 2.11 the Keras optimizers are the legacy
    "xla": "tf2",
}

# Facts of a probe's fingerprint that, when they differ, are named as possible causes.
DESCRIBED = ("onednn", "keras_module", "optimizer", "keras", "numpy", "python")
_SIDE = {"B": "in B", "both": "in A and B"}


@cache
def release_notes() -> tuple[dict[str, Any], ...]:
    """The curated release notes shipped with tfrepro (data/release_notes.toml)."""
    text = resources.files("tfrepro").joinpath("data/release_notes.toml").read_text()
    return tuple(tomllib.loads(text)["note"])


def notes_between(
    a: str, b: str, stages: Sequence[str] = STAGES
) -> dict[str, list[dict[str, Any]]]:
    """Per stage, the release notes of the releases after the older of `a`, `b` up to the newer."""
    # "2.11" means 2.11.0: pad to three parts, as the notes' releases are
    lo, hi = sorted((*version_key(v), 0, 0)[:3] for v in (a, b))
    return {s: divergence.matching_notes(release_notes(), lo, hi, s) for s in stages}


def unique_notes(notes: Mapping[str, list[dict[str, Any]]], stages: Sequence[str]) -> list[dict]:
    """The notes of these stages, each once (by text), in stage order."""
    return list({n["text"]: n for s in stages for n in notes.get(s, [])}.values())


def judge_flip(stages: Mapping[str, dict[str, Any]], stage: str, gap: float) -> dict[str, Any]:
    """What flipping a knob did to the first numeric stage that diverged (`stage`, whose
    max |B-A| was `gap` without the flip): `closes` when the first divergence moved later."""
    order = (*NUMERIC_STAGES, "none")
    now = divergence.first_numeric_divergence(stages)
    after = stages[stage]["max_abs"]
    return {
        "first_after_transplant": now,
        "closes": order.index(now) > order.index(stage),
        "gap_before": gap,
        "gap_after": after,
        "shrinks": after < gap,
    }


def causes(
    sides: Mapping[str, Mapping[str, Any]],
    stages: Mapping[str, Any],
    first: Mapping[str, Any],
    numeric: str,
    ablations: Sequence[Mapping[str, Any]],
    notes: Mapping[str, list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """Candidate causes, strongest evidence first: knob flips that close the gap, flips that
    shrink it, then data, initial weights, configuration, fingerprint differences, the
    optimizer's own update, and the release notes of the diverging stages.

    `sides` is {"A": facts, "B": facts} with the DESCRIBED keys of each probe."""
    out: list[dict[str, Any]] = []
    ok = [ab for ab in ablations if ab.get("status") == "ok"]
    for ab in ok:
        if ab["closes"]:
            out.append(
                {
                    "cause": f"knob {ab['knob']}: setting {ab['knob']}={ab['value']} "
                    f"{_SIDE[ab.get('side', 'B')]} makes the {numeric} stage equal",
                    "stage": numeric,
                    "evidence": ab,
                }
            )
    for ab in ok:
        if not ab["closes"] and ab["shrinks"]:
            out.append(
                {
                    "cause": f"knob {ab['knob']}: {ab['knob']}={ab['value']} "
                    f"{_SIDE[ab.get('side', 'B')]} shrinks the {numeric} gap",
                    "stage": numeric,
                    "evidence": ab,
                }
            )
    if stages["data"]["diverged"]:
        out.append(
            {
                "cause": (
                    f"the script's first batches differ ({stages['data']['where']}): its data "
                    "pipeline (loading, preprocessing, a tf.data shuffle) gives other arrays "
                    "in B; the later stages ran on A's batches"
                )
                if sides["A"].get("script")
                else "the two cells trained on different data or batch order (a setup "
                "problem, not TensorFlow: check code that prepares or edits ctx.data)",
                "stage": "data",
                "evidence": {},
            }
        )
    if stages["init"]["diverged"]:
        out.append(
            {
                "cause": "initial weights differ under the same seed (initializer random numbers "
                "changed)",
                "stage": "init",
                "evidence": {
                    "variable": stages["init"]["where"],
                    "max_abs": stages["init"]["max_abs"],
                },
            }
        )
    for change in stages["config"]["changed"][:10]:
        out.append(
            {
                "cause": f"configuration {change['key']}: {change['a']!r} → {change['b']!r}",
                "stage": "config",
                "evidence": change,
            }
        )
    a, b = sides["A"], sides["B"]
    for key in DESCRIBED:
        if a.get(key) != b.get(key):
            out.append(
                {
                    "cause": f"{key} differs: {a.get(key)} → {b.get(key)}",
                    "stage": numeric,
                    "evidence": {"a": a.get(key), "b": b.get(key)},
                }
            )
    opt = stages["optimizer"]
    if opt["diverged"] and max((i["max_rel"] for i in opt["items"]), default=0.0) > 1e-3:
        out.append(
            {
                "cause": "the optimizer computes a different update from identical weights and "
                f"gradients ({opt['class_a']} → {opt['class_b']}): its implementation or defaults "
                "changed",
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
            out.append(
                {
                    "cause": (
                        f"release note {note['release']} ({note['component']}): {note['text']}"
                    ),
                    "stage": stage,
                    "evidence": note,
                }
            )
    return out
