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
    a: str,
    b: str,
    stages: Sequence[str] = STAGES,
    devices: Sequence[str] | None = None,
    uses: set[str] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Per stage, the release notes of the releases after the older of `a`, `b` up to the newer;
    with `devices` (the cells' devices, e.g. ["cpu"]), only the notes a change on those devices
    can explain (a GPU-only change is no cause of a difference between CPU cells); with `uses`
    (the classes the model is made of, `model_uses`), only the notes about what it uses."""
    # "2.11" means 2.11.0: pad to three parts, as the notes' releases are
    lo, hi = sorted((*version_key(v), 0, 0)[:3] for v in (a, b))
    notes = [
        n
        for n in release_notes()
        if (devices is None or n.get("device", "any") in ("any", *devices))
        and (uses is None or _applies(n.get("uses"), uses))
    ]
    return {s: divergence.matching_notes(notes, lo, hi, s) for s in stages}


def _applies(needs: Sequence[str] | None, uses: set[str]) -> bool:
    """A note's `uses` (class names; "Random*" a prefix) against the model's classes."""
    if not needs:
        return True
    return any(u.startswith(n[:-1]) if n.endswith("*") else u == n for n in needs for u in uses)


def model_uses(*configs: Mapping[str, Any] | None) -> set[str] | None:
    """The class names of every layer (nested models' layers too) and optimizer in the probes'
    recorded configs; None when no probe recorded its model (nothing to filter by)."""
    found: set[str] = set()

    def walk(obj: Any) -> None:
        if isinstance(obj, Mapping):
            for key, value in obj.items():
                if key in ("class", "class_name") and isinstance(value, str):
                    found.add(value)
                else:
                    walk(value)
        elif isinstance(obj, list | tuple):
            for value in obj:
                walk(value)

    for config in configs:
        if config:
            walk({k: config[k] for k in ("layers", "optimizer") if k in config})
    return found or None


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
    optimizer = stages["optimizer"]
    # an optimizer release note is evidence only where the optimizer's own update differs
    noted = [
        first["stage"],
        numeric,
        "train_forward" if first.get("training_mode") else "",
        "optimizer" if optimizer["diverged"] else "",
    ]
    facts = _fingerprint_causes(sides["A"], sides["B"], numeric)
    ruled_out = _ruled_out(ablations)
    kept = [c for c in facts if c["fact"] not in ruled_out]
    # a difference whose knob was flipped without closing or shrinking the gap is not the
    # cause: it goes last, and says which flip ruled it out
    dropped = [
        {**c, "cause": f"{c['cause']} (ruled out: {ruled_out[c['fact']]})"}
        for c in facts
        if c["fact"] in ruled_out
    ]
    return [
        *_flip_causes(ablations, numeric),
        *_data_cause(stages["data"], script=bool(sides["A"].get("script"))),
        *_init_cause(stages["init"]),
        *_training_mode_cause(first.get("training_mode")),
        *_config_causes(stages["config"]),
        *kept,
        *_optimizer_cause(optimizer),
        *_note_causes(notes, noted),
        *dropped,
    ]


# The fingerprint fact a knob's flip tests.
_KNOB_FACT = {"onednn": "onednn", "legacy_keras": "keras_module", "optimizer_impl": "optimizer"}


def _ruled_out(ablations: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """{fact: which flip ruled it out} for flips that ran and neither closed nor shrank the gap."""
    out: dict[str, str] = {}
    for ab in ablations:
        fact = _KNOB_FACT.get(str(ab.get("knob")))
        if fact and ab.get("status") == "ok" and not ab["closes"] and not ab["shrinks"]:
            out.setdefault(
                fact, f"{ab['knob']}={ab['value']} {_SIDE[ab.get('side', 'B')]} left the gap"
            )
    return out


def _cause(text: str, stage: str, evidence: Mapping[str, Any]) -> dict[str, Any]:
    return {"cause": text, "stage": stage, "evidence": evidence}


def _flip_causes(ablations: Sequence[Mapping[str, Any]], numeric: str) -> list[dict[str, Any]]:
    """Flips that make the stage equal, then flips that only shrink its gap (a failed flip
    is evidence of nothing); each row is its own evidence."""
    ok = [ab for ab in ablations if ab.get("status") == "ok"]
    closes = [
        _cause(
            f"knob {ab['knob']}: setting {ab['knob']}={ab['value']} "
            f"{_SIDE[ab.get('side', 'B')]} makes the {numeric} stage equal",
            numeric,
            ab,
        )
        for ab in ok
        if ab["closes"]
    ]
    shrinks = [
        _cause(
            f"knob {ab['knob']}: {ab['knob']}={ab['value']} "
            f"{_SIDE[ab.get('side', 'B')]} shrinks the {numeric} gap",
            numeric,
            ab,
        )
        for ab in ok
        if not ab["closes"] and ab["shrinks"]
    ]
    return closes + shrinks


def _data_cause(data: Mapping[str, Any], *, script: bool) -> list[dict[str, Any]]:
    """Other batches: a script's own pipeline, or (a model cell, whose data tfrepro feeds) a
    setup problem in the user's code."""
    if not data["diverged"]:
        return []
    if script and data.get("dtype_only"):
        text = (
            f"the script's first batches hold the same values in another dtype "
            f"({data['where']}): a library gives its arrays another type in B (e.g. Keras 3's "
            "to_categorical returns float64); the later stages ran on A's batches"
        )
    elif script:
        text = (
            f"the script's first batches differ ({data['where']}): its data "
            "pipeline (loading, preprocessing, a tf.data shuffle) gives other arrays "
            "in B; the later stages ran on A's batches"
        )
    else:
        text = (
            "the two cells trained on different data or batch order (a setup "
            "problem, not TensorFlow: check code that prepares or edits ctx.data)"
        )
    return [_cause(text, "data", {})]


def _init_cause(init: Mapping[str, Any]) -> list[dict[str, Any]]:
    if not init["diverged"]:
        return []
    text = "initial weights differ under the same seed (initializer random numbers changed)"
    return [_cause(text, "init", {"variable": init["where"], "max_abs": init["max_abs"]})]


def _training_mode_cause(gap: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if not gap:
        return []
    text = (
        f"{gap['layer']} acts differently while training: its training-mode output differs by "
        f"{gap['max_abs']:.3g}, every inference-mode output by at most "
        f"{gap['forward_max_abs']:.3g} (batch statistics or dropout used differently)"
    )
    return [_cause(text, "train_forward", gap)]


def _config_causes(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The first ten changed settings (the rest are in the stage's own table); a compiled
    metric that resolves to another function first: the numbers it reports mean another
    thing, whatever the training does."""
    changed = config["changed"]
    metrics = [c for c in changed if str(c["key"]).startswith("metrics.")]
    return [
        *(
            _cause(
                f"the compiled metric '{c['key'][len('metrics.') :]}' computes {c['a']} in A and "
                f"{c['b']} in B: the metric's definition changed, not the model",
                "config",
                c,
            )
            for c in metrics
        ),
        *(
            _cause(f"configuration {c['key']}: {c['a']!r} → {c['b']!r}", "config", c)
            for c in [c for c in changed if c not in metrics][:10]
        ),
    ]


def _fingerprint_causes(
    a: Mapping[str, Any], b: Mapping[str, Any], numeric: str
) -> list[dict[str, Any]]:
    """The DESCRIBED facts that differ between the sides, placed at the numeric stage (where a
    library or setting would first show)."""
    return [
        _cause(
            f"{key} differs: {a.get(key)} → {b.get(key)}",
            numeric,
            {"a": a.get(key), "b": b.get(key)},
        )
        | {"fact": key}
        for key in DESCRIBED
        if a.get(key) != b.get(key)
    ]


def _optimizer_cause(optimizer: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The optimizer itself, when its update from identical inputs differs by more than
    round-off (a relative difference above 1e-3 is a changed formula or default)."""
    rel = (i["max_rel"] for i in optimizer["items"])
    if not (optimizer["diverged"] and max(rel, default=0.0) > 1e-3):
        return []
    text = (
        "the optimizer computes a different update from identical weights and "
        f"gradients ({optimizer['class_a']} → {optimizer['class_b']}): its implementation or "
        "defaults changed"
    )
    evidence = {"max_abs": optimizer["max_abs"], "where": optimizer["where"]}
    return [_cause(text, "optimizer", evidence)]


def _note_causes(
    notes: Mapping[str, list[dict[str, Any]]], stages: Sequence[str]
) -> list[dict[str, Any]]:
    """The release notes of these stages, each once (by text), in stage order."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for stage in dict.fromkeys(stages):
        for note in notes.get(stage, []):
            if note["text"] in seen:
                continue
            seen.add(note["text"])
            text = f"release note {note['release']} ({note['component']}): {note['text']}"
            out.append(_cause(text, stage, note))
    return out


# TensorFlow's words when a knob's setting cannot run together with op determinism
_NO_DETERMINISTIC = ("no deterministic implementation", "does not have a deterministic")


def knob_clash(knob: str, value: Any, reason: str) -> str | None:
    """A flip that TensorFlow refuses to run with another knob (XLA with op determinism): why,
    in TF's words; None for any other failure."""
    if any(words in reason.lower() for words in _NO_DETERMINISTIC):
        tf_words = reason.rsplit(": ", 1)[-1].strip()[:300]
        return (
            f"{knob}={value} cannot run with determinism=true here (TensorFlow: {tf_words}); "
            "this pair of knobs cannot be compared on this model"
        )
    return None
