"""tasks.explain's pure parts (groups, knobs, the one-cell side spec, the flips a release gets) and
analysis.attribution (judging a flip, ranking causes, matching release notes). No probes run."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from tfrepro import spec as spec_mod
from tfrepro.analysis import attribution
from tfrepro.analysis.stages import NUMERIC_STAGES, STAGES
from tfrepro.envs.catalogue import Catalogue, version_key
from tfrepro.envs.interpreters import Interpreter
from tfrepro.errors import UsageError
from tfrepro.plan import Cell, plan
from tfrepro.spec import Knobs, Spec
from tfrepro.tasks.explain import flips, parse_group, parse_knobs, side_spec

NOTES_TOML = Path(attribution.__file__).parents[1] / "data" / "release_notes.toml"

# ---------------------------------------------------------------------------- parse_group


def test_a_bare_version_is_the_release() -> None:
    assert parse_group("2.15") == {"tf": "2.15"}


def test_key_value_pairs() -> None:
    assert parse_group("tf=2.15,onednn=off,MY_VAR=1") == {
        "tf": "2.15",
        "onednn": "off",
        "MY_VAR": "1",
    }


def test_whitespace_and_empty_parts_are_ignored() -> None:
    assert parse_group(" tf = 2.15 , , onednn= off ,") == {"tf": "2.15", "onednn": "off"}


def test_a_bare_version_may_lead_the_pairs() -> None:
    assert parse_group("2.15, onednn=off") == {"tf": "2.15", "onednn": "off"}


@pytest.mark.parametrize("text", ["onednn=off,2.15", "2.15,2.16"])
def test_a_bare_version_after_a_pair_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="key=value"):
        parse_group(text)


@pytest.mark.parametrize("text", ["onednn=off", "MY_VAR=1,threads=0", "", " , "])
def test_a_group_without_a_release_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="add tf=VERSION"):
        parse_group(text)


# ---------------------------------------------------------------------------- parse_knobs


def test_no_knobs_option_means_every_knob() -> None:
    assert parse_knobs(None) is None


def test_knobs_are_split_and_stripped() -> None:
    assert parse_knobs("onednn, xla") == ["onednn", "xla"]
    assert parse_knobs(" threads ,,legacy_keras ") == ["threads", "legacy_keras"]


@pytest.mark.parametrize("text", ["bogus", "onednn,bogus", "determinism"])
def test_an_unknown_knob_is_named_with_the_choices(text: str) -> None:
    bad = text.split(",")[-1]
    with pytest.raises(UsageError) as info:
        parse_knobs(text)
    message = str(info.value)
    assert message.startswith(f"--knobs: {bad} is not a knob")
    assert "choose from onednn, legacy_keras, optimizer_impl, xla, threads" in message


@pytest.mark.parametrize("text", ["", " , "])
def test_an_empty_knob_list_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match=r"nothing is not a knob.*choose from onednn"):
        parse_knobs(text)


# ---------------------------------------------------------------------------- side_spec


@pytest.fixture
def base(tmp_path: Path) -> Spec:
    return spec_mod.from_dict(
        {
            "name": "wide",
            "train": {"epochs": 2, "batch_size": 16},
            "matrix": {
                "tf": ["2.15", "2.16"],
                "seeds": [3, 4, 5],
                "keras": ["3.3.3"],
                "env": {"MY": ["a", "b"], "OTHER": ["x", "y"]},
                "requirements": ["pandas==2.0.3"],
                "resolution": "latest",
                "knobs": {
                    "onednn": ["default", "off"],
                    "threads": [1, 0],
                    "xla": ["on", "off"],
                    "determinism": [True, False],
                },
            },
        },
        base_dir=tmp_path,
    )


def test_side_spec_keeps_one_value_of_every_axis(base: Spec, tmp_path: Path) -> None:
    side = side_spec(base, {"tf": "2.16"}, seed=9)
    m = side.matrix
    assert m.tf == ["2.16"]
    assert m.seeds == [9]
    assert m.env == {"MY": ["a"], "OTHER": ["x"]}
    knobs = m.knobs.model_dump()
    assert all(len(v) == 1 for v in knobs.values())
    assert knobs["onednn"] == ["default"]
    assert knobs["threads"] == [1]
    assert knobs["xla"] == ["on"]
    assert knobs["determinism"] == [True]
    # the Keras axis is not carried over: a pin applies only where the group names one
    assert m.keras == []
    # what is not an axis stays as it is
    assert m.requirements == ["pandas==2.0.3"]
    assert m.resolution == "latest"
    assert m.python is None
    assert side.train == base.train
    assert side.name == "wide"
    assert side.base_dir == tmp_path
    # the base spec is left alone
    assert base.matrix.seeds == [3, 4, 5]
    assert base.matrix.knobs.onednn == ["default", "off"]


def test_side_spec_plans_exactly_one_cell(
    base: Spec, cat: Catalogue, interps: dict[str, Interpreter]
) -> None:
    side = side_spec(base, {"tf": "2.16", "onednn": "off", "MY": "b"}, seed=2)
    cells = plan(
        side,
        cat.resolve("2.16"),
        cat,
        interps,
        "3.11",
        data_sha256="d" * 64,
        model_sha256=None,
    )
    assert len(cells) == 1
    (cell,) = cells
    assert cell.seed == 2
    assert cell.knobs["onednn"] == "off"
    assert cell.env_vars == (("MY", "b"), ("OTHER", "x"))


def test_side_spec_parses_knob_values_to_their_types(base: Spec) -> None:
    group = {
        "tf": "2.16",
        "threads": "0",
        "legacy_keras": "true",
        "determinism": "off",
        "onednn": "off",
        "optimizer_impl": "legacy",
        "keras": "3.4.1",
        "python": "3.10",
        "NEW_VAR": "7",
        "MY": "b",
    }
    m = side_spec(base, group, seed=0).matrix
    assert m.knobs.threads == [0]
    assert type(m.knobs.threads[0]) is int
    assert m.knobs.legacy_keras == [True]
    assert m.knobs.determinism == [False]
    assert m.knobs.onednn == ["off"]
    assert m.knobs.optimizer_impl == ["legacy"]
    assert m.keras == ["3.4.1"]
    assert m.python == "3.10"
    assert m.env == {"MY": ["b"], "OTHER": ["x"], "NEW_VAR": ["7"]}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("TRUE", True), ("on", True), ("1", True), ("False", False), ("off", False), ("0", False)],
)
def test_boolean_knob_spellings(base: Spec, value: str, expected: bool) -> None:
    side = side_spec(base, {"tf": "2.16", "legacy_keras": value}, seed=0)
    assert side.matrix.knobs.legacy_keras == [expected]


@pytest.mark.parametrize(
    ("knob", "value", "message"),
    [
        ("threads", "x", "threads=x: expected a non-negative integer"),
        ("threads", "-1", "threads=-1: expected a non-negative integer"),
        ("legacy_keras", "maybe", "legacy_keras=maybe: expected true or false"),
        ("determinism", "2", "determinism=2: expected true or false"),
    ],
)
def test_bad_knob_values_are_refused(base: Spec, knob: str, value: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        side_spec(base, {"tf": "2.16", knob: value}, seed=0)


# ---------------------------------------------------------------------------- flips

INTERPS = {
    "3.7": Interpreter("/opt/python3.7/bin/python3.7", "3.7.16"),
    "3.10": Interpreter("/opt/python3.10/bin/python3.10", "3.10.13"),
    "3.11": Interpreter("/opt/python3.11/bin/python3.11", "3.11.7"),
}


def one_cell(cat: Catalogue, tf: str, **knobs: Any) -> Cell:
    """The single cell of a release with these knob values (real planning, no environment)."""
    s = spec_mod.from_dict({"matrix": {"tf": [tf], "knobs": {k: [v] for k, v in knobs.items()}}})
    cells = plan(s, cat.resolve(tf), cat, INTERPS, "3.11", data_sha256="d" * 64, model_sha256=None)
    assert len(cells) == 1
    return cells[0]


def test_tf1_can_only_flip_threads(cat: Catalogue) -> None:
    cell = one_cell(cat, "1.15")
    assert cell.tf_version.startswith("1.15.")
    assert flips(cell) == [("threads", 0)]


def test_tf_2_9_flips_onednn_xla_and_threads(cat: Catalogue) -> None:
    assert flips(one_cell(cat, "2.9")) == [("onednn", "off"), ("xla", "on"), ("threads", 0)]


def test_tf_2_11_adds_the_optimizer_implementation(cat: Catalogue) -> None:
    got = dict(flips(one_cell(cat, "2.11")))
    assert got == {"onednn": "off", "optimizer_impl": "legacy", "xla": "on", "threads": 0}


def test_tf_2_16_adds_legacy_keras(cat: Catalogue) -> None:
    got = flips(one_cell(cat, "2.16"))
    assert [k for k, _ in got] == list(attribution.ABLATION_KNOBS)
    assert dict(got)["legacy_keras"] is True


def test_each_flip_is_the_other_setting(cat: Catalogue) -> None:
    cell = one_cell(
        cat, "2.16", onednn="off", threads=0, xla="on", legacy_keras=True, optimizer_impl="legacy"
    )
    assert dict(flips(cell)) == {
        "onednn": "on",
        "legacy_keras": False,
        "optimizer_impl": "keras",
        "xla": "off",
        "threads": 1,
    }
    cell = one_cell(cat, "2.16", onednn="on", threads=4, xla="off", optimizer_impl="tf1")
    assert dict(flips(cell)) == {
        "onednn": "off",
        "legacy_keras": True,
        "optimizer_impl": "legacy",
        "xla": "on",
        "threads": 1,
    }


def test_the_default_knobs_are_what_the_flips_start_from(cat: Catalogue) -> None:
    defaults = {k: v[0] for k, v in Knobs().model_dump().items()}
    assert one_cell(cat, "2.16").knobs == defaults


# ---------------------------------------------------------------------------- judge_flip


def numeric_stages(first: str | None, max_abs: dict[str, float] | None = None) -> dict:
    """Every numeric stage, diverged from `first` on (None: none diverged)."""
    start = NUMERIC_STAGES.index(first) if first else len(NUMERIC_STAGES)
    return {
        s: {"diverged": i >= start, "max_abs": (max_abs or {}).get(s, 0.0)}
        for i, s in enumerate(NUMERIC_STAGES)
    }


@pytest.mark.parametrize("now", [None, "loss", "gradient", "trajectory"])
def test_a_flip_closes_when_the_divergence_moves_later(now: str | None) -> None:
    verdict = attribution.judge_flip(numeric_stages(now), "forward", 1e-6)
    assert verdict["closes"] is True
    assert verdict["first_after_transplant"] == (now or "none")


@pytest.mark.parametrize("now", ["forward", "gradient"])
def test_a_flip_does_not_close_when_the_divergence_stays_or_moves_earlier(now: str) -> None:
    verdict = attribution.judge_flip(numeric_stages(now), "gradient", 1e-6)
    assert verdict["closes"] is False
    assert verdict["first_after_transplant"] == now


def test_shrinks_compares_the_stage_gap_with_the_gap_before() -> None:
    smaller = attribution.judge_flip(numeric_stages("forward", {"forward": 1e-7}), "forward", 1e-6)
    assert smaller == {
        "first_after_transplant": "forward",
        "closes": False,
        "gap_before": 1e-6,
        "gap_after": 1e-7,
        "shrinks": True,
    }
    same = attribution.judge_flip(numeric_stages("forward", {"forward": 1e-6}), "forward", 1e-6)
    assert same["shrinks"] is False
    larger = attribution.judge_flip(numeric_stages("forward", {"forward": 2e-6}), "forward", 1e-6)
    assert larger["shrinks"] is False
    assert larger["gap_after"] == 2e-6


def test_the_gap_after_is_read_at_the_stage_judged_not_the_new_first() -> None:
    stages = numeric_stages("loss", {"forward": 0.0, "loss": 5.0})
    verdict = attribution.judge_flip(stages, "forward", 1e-6)
    assert verdict["closes"] is True
    assert verdict["gap_after"] == 0.0
    assert verdict["shrinks"] is True


# ---------------------------------------------------------------------------- causes


def facts(**over: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "tf": "2.9.3",
        "keras": "2.9.0",
        "python": "3.10.13",
        "numpy": "1.24.2",
        "knobs": {"onednn": "default"},
        "onednn": False,
        "optimizer": "Adam",
        "keras_module": "keras",
    }
    out.update(over)
    return out


def all_stages(
    *,
    data: bool = False,
    init: bool = False,
    changed: int = 0,
    optimizer: bool = False,
    max_rel: float = 0.0,
) -> dict[str, Any]:
    stages: dict[str, Any] = {
        "data": {"diverged": data, "max_abs": 0.0},
        "init": {"diverged": init, "max_abs": 0.5 if init else 0.0, "where": "dense/kernel"},
        "config": {
            "diverged": bool(changed),
            "changed": [{"key": f"opt.k{i}", "a": i, "b": i + 1} for i in range(changed)],
        },
        **numeric_stages("forward"),
    }
    stages["optimizer"].update(
        diverged=optimizer,
        items=[{"max_rel": max_rel}, {"max_rel": max_rel / 10}],
        class_a="Adam",
        class_b="AdamV2",
        max_abs=1e-4,
        where="dense/kernel",
    )
    return stages


def note(release: str, text: str) -> dict[str, Any]:
    return {"release": release, "component": "comp", "text": text, "stages": []}


def ablation(knob: str, value: Any, status: str = "ok", **verdict: Any) -> dict[str, Any]:
    row = {"knob": knob, "value": value, "side": "B", "status": status}
    if status == "ok":
        row.update({"closes": False, "shrinks": False, **verdict})
    return row


def test_causes_are_ranked_strongest_evidence_first() -> None:
    ablations = [
        ablation("xla", "on", shrinks=True),  # shrinks: ranked after every flip that closes
        ablation("threads", 0),  # neither: no cause
        ablation("legacy_keras", True, status="failed"),  # failed: no cause
        ablation("onednn", "off", closes=True, shrinks=True),
        ablation("optimizer_impl", "legacy", side="both", closes=True),
    ]
    n1, n2, n3 = note("2.10.0", "one"), note("2.11.0", "two"), note("2.11.0", "three")
    notes = {
        "data": [n1],
        "forward": [n2, note("2.10.0", "one")],  # "one" again: listed once
        "optimizer": [n3, n2],
        "gradient": [note("2.11.0", "not a diverging stage")],
    }
    sides = {"A": facts(), "B": facts(onednn=True, numpy="1.26.4", tf="2.11.1")}
    stages = all_stages(data=True, init=True, changed=12, optimizer=True, max_rel=0.5)
    out = attribution.causes(sides, stages, {"stage": "data"}, "forward", ablations, notes)
    kinds = [c["cause"].split(":")[0] for c in out]
    assert kinds == [
        "knob onednn",
        "knob optimizer_impl",
        "knob xla",
        "the two cells trained on different data or batch order (a setup problem, not TensorFlow",
        "initial weights differ under the same seed (initializer random numbers changed)",
        *[f"configuration opt.k{i}" for i in range(10)],
        "onednn differs",
        "numpy differs",
        "the optimizer computes a different update from identical weights and gradients (Adam → "
        "AdamV2)",
        "release note 2.10.0 (comp)",
        "release note 2.11.0 (comp)",
        "release note 2.11.0 (comp)",
    ]
    assert out[0]["cause"] == "knob onednn: setting onednn=off in B makes the forward stage equal"
    both = "knob optimizer_impl: setting optimizer_impl=legacy in A and B makes the forward stage"
    assert out[1]["cause"] == f"{both} equal"
    assert out[2]["cause"] == "knob xla: xla=on in B shrinks the forward gap"
    assert [c["stage"] for c in out[:3]] == ["forward"] * 3
    assert out[0]["evidence"] is ablations[3]
    assert out[4]["evidence"] == {"variable": "dense/kernel", "max_abs": 0.5}
    assert out[5]["cause"] == "configuration opt.k0: 0 → 1"
    assert out[15]["evidence"] == {"a": False, "b": True}
    assert out[17]["evidence"] == {"max_abs": 1e-4, "where": "dense/kernel"}
    released = out[-3:]
    assert [c["evidence"]["text"] for c in released] == ["one", "two", "three"]
    assert [c["stage"] for c in released] == ["data", "forward", "optimizer"]
    assert not any("threads" in c["cause"] or "legacy_keras" in c["cause"] for c in out)


def test_only_described_fingerprint_facts_are_causes() -> None:
    """tf and knobs differ too, but only the DESCRIBED keys are named."""
    a = facts()
    b = facts(tf="2.16.1", knobs={"onednn": "off"}, keras="other-keras")
    out = attribution.causes(
        {"A": a, "B": b}, all_stages(), {"stage": "forward"}, "forward", [], {}
    )
    assert [c["cause"] for c in out] == ["keras differs: 2.9.0 → other-keras"]
    assert out[0]["stage"] == "forward"


def test_every_described_fact_that_differs_is_named_in_order() -> None:
    b = facts(**{k: f"b-{k}" for k in attribution.DESCRIBED})
    out = attribution.causes(
        {"A": facts(), "B": b}, all_stages(), {"stage": "forward"}, "forward", [], {}
    )
    assert [c["cause"].split(" ")[0] for c in out] == list(attribution.DESCRIBED)


@pytest.mark.parametrize(
    ("diverged", "max_rel", "named"),
    [(True, 2e-3, True), (True, 1e-3, False), (True, 1e-4, False), (False, 0.5, False)],
)
def test_the_optimizer_is_named_only_when_its_update_differs_materially(
    diverged: bool, max_rel: float, named: bool
) -> None:
    stages = all_stages(optimizer=diverged, max_rel=max_rel)
    out = attribution.causes(
        {"A": facts(), "B": facts()}, stages, {"stage": "forward"}, "forward", [], {}
    )
    assert any(c["stage"] == "optimizer" for c in out) is named


def test_optimizer_notes_only_when_the_optimizer_stage_diverged() -> None:
    notes = {"forward": [note("2.9.0", "f")], "optimizer": [note("2.11.0", "o")]}
    quiet = attribution.causes(
        {"A": facts(), "B": facts()},
        all_stages(optimizer=False),
        {"stage": "forward"},
        "forward",
        [],
        notes,
    )
    assert [c["evidence"]["text"] for c in quiet] == ["f"]
    loud = attribution.causes(
        {"A": facts(), "B": facts()},
        all_stages(optimizer=True),
        {"stage": "forward"},
        "forward",
        [],
        notes,
    )
    assert [c["evidence"]["text"] for c in loud] == ["f", "o"]


def test_nothing_differs_nothing_is_named() -> None:
    out = attribution.causes(
        {"A": facts(), "B": facts()},
        all_stages(),
        {"stage": "none"},
        "none",
        [ablation("onednn", "off", status="failed")],
        {},
    )
    assert out == []


# ---------------------------------------------------------------------------- release notes


def shipped_notes() -> list[dict[str, Any]]:
    return tomllib.loads(NOTES_TOML.read_text())["note"]


def releases_of(notes: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    return {s: [n["release"] for n in ns] for s, ns in notes.items()}


def test_notes_between_patch_releases_are_those_after_the_older_up_to_the_newer() -> None:
    got = attribution.notes_between("2.9.3", "2.11.1")
    assert list(got) == list(STAGES)
    lo, hi = version_key("2.9.3"), version_key("2.11.1")
    for stage in STAGES:
        expected = [
            n
            for n in shipped_notes()
            if lo < version_key(n["release"]) <= hi and stage in n["stages"]
        ]
        assert got[stage] == expected
    assert releases_of(got)["init"] == ["2.10.0"]
    assert releases_of(got)["optimizer"] == ["2.11.0"]
    assert releases_of(got)["forward"] == []  # 2.9.0's oneDNN note is not after 2.9.3


def test_notes_between_is_symmetric() -> None:
    assert attribution.notes_between("2.11.1", "2.9.3") == attribution.notes_between(
        "2.9.3", "2.11.1"
    )
    assert attribution.notes_between("2.11", "2.9") == attribution.notes_between("2.9", "2.11")


def test_notes_between_takes_a_subset_of_stages() -> None:
    got = attribution.notes_between("2.15.1", "2.16.1", stages=("forward", "loss"))
    assert list(got) == ["forward", "loss"]
    assert releases_of(got) == {"forward": ["2.16.1"], "loss": ["2.16.1"]}  # Keras 3 random layers


def test_notes_between_minor_releases() -> None:
    got = releases_of(attribution.notes_between("2.9", "2.11"))
    assert got["init"] == ["2.10.0"]
    assert got["optimizer"] == ["2.11.0"]
    assert got["config"] == ["2.11.0"]
    assert got["forward"] == []


def test_unique_notes_dedupes_by_text_in_stage_order() -> None:
    a, b, c = note("2.10.0", "a"), note("2.11.0", "b"), note("2.11.0", "c")
    notes = {"init": [a, b], "forward": [note("2.9.9", "b"), c], "loss": [note("2.0.0", "z")]}
    assert [n["text"] for n in attribution.unique_notes(notes, ["init", "forward"])] == [
        "a",
        "b",
        "c",
    ]
    assert [n["text"] for n in attribution.unique_notes(notes, ["forward", "init"])] == [
        "b",
        "c",
        "a",
    ]
    assert attribution.unique_notes(notes, ["gradient"]) == []


def test_unique_notes_of_the_shipped_notes_from_2_15_to_2_16() -> None:
    notes = attribution.notes_between("2.15.1", "2.16.2")
    unique = attribution.unique_notes(notes, list(notes))
    # two notes: Keras 3 (four stages) and its random layers (training forward, loss)
    assert [n["release"] for n in unique] == ["2.16.1", "2.16.1"]
    assert [n["component"] for n in unique] == ["Keras 3", "Keras 3 random layers"]
    assert sum(len(v) for v in notes.values()) == 6


# ---------------------------------------------------------------------------- probe_target
def _script_cell(cell_id: str, gan: str) -> dict[str, Any]:
    """A stored script cell: a warm-up model fit twice, then a GAN fit once."""
    return {
        "id": cell_id,
        "status": "ok",
        "script": {
            "models": [
                {"name": "warmup", "final_sha256": "w"},
                {"name": "gan", "final_sha256": gan},
            ],
            "data": [{"fit": 0, "model": 0}, {"fit": 1, "model": 0}, {"fit": 2, "model": 1}],
        },
    }


def _side(cell_id: str) -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(id=cell_id, tf_version="2.16.2", seed=0)


def test_probe_target_defaults_to_the_first_fit_of_the_first_model_that_differs() -> None:
    from tfrepro.analysis.fits import probe_target

    stored = [_script_cell("a", "g1"), _script_cell("b", "g2")]
    chosen = probe_target(stored, _side("a"), _side("b"), None, None)  # type: ignore[arg-type]
    assert chosen["fit"] == 3 and chosen["model"] == "gan"
    assert "models that differ: gan" in chosen["why"]


def test_probe_target_is_the_first_fit_without_stored_cells_or_differences() -> None:
    from tfrepro.analysis.fits import probe_target

    assert probe_target([], _side("a"), _side("b"), None, None)["fit"] == 1  # type: ignore[arg-type]
    same = [_script_cell("a", "g"), _script_cell("b", "g")]
    assert probe_target(same, _side("a"), _side("b"), None, None)["fit"] == 1  # type: ignore[arg-type]


def test_probe_target_follows_fit_and_model() -> None:
    from tfrepro.analysis.fits import probe_target

    stored = [_script_cell("a", "g1"), _script_cell("b", "g2")]
    assert probe_target(stored, _side("a"), _side("b"), 2, None)["fit"] == 2  # type: ignore[arg-type]
    assert probe_target(stored, _side("a"), _side("b"), None, "warmup")["fit"] == 1  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="--model critic: no stored cell"):
        probe_target(stored, _side("a"), _side("b"), None, "critic")  # type: ignore[arg-type]


def test_a_difference_an_ablation_ruled_out_ranks_below_matching_evidence() -> None:
    # 2.10 -> 2.11 on plain Adam: oneDNN differs, but flipping it left the gap; the
    # optimizer's own update differs and a release note matches
    ablations = [ablation("onednn", "off", side="both")]
    sides = {"A": facts(), "B": facts(onednn=True, tf="2.11.1")}
    stages = all_stages(optimizer=True, max_rel=0.5)
    notes = {"optimizer": [note("2.11.0", "the new Keras optimizers")]}
    out = attribution.causes(sides, stages, {"stage": "optimizer"}, "optimizer", ablations, notes)
    texts = [c["cause"] for c in out]
    assert texts[0].startswith("the optimizer computes a different update")
    assert texts[1].startswith("release note 2.11.0")
    assert texts[-1] == (
        "onednn differs: False → True (ruled out: onednn=off in A and B left the gap)"
    )


def test_release_notes_are_filtered_by_the_cells_device() -> None:
    gpu_only = [n for n in attribution.release_notes() if n.get("device") == "gpu"]
    assert gpu_only, "the shipped notes mark their GPU-only changes"
    on_cpu = attribution.notes_between("2.0", "2.21", devices=["cpu"])
    on_gpu = attribution.notes_between("2.0", "2.21", devices=["cpu", "gpu"])
    texts_cpu = {n["text"] for ns in on_cpu.values() for n in ns}
    texts_gpu = {n["text"] for ns in on_gpu.values() for n in ns}
    assert not texts_cpu & {n["text"] for n in gpu_only}
    assert {n["text"] for n in gpu_only} <= texts_gpu


def test_release_notes_are_filtered_by_what_the_model_uses() -> None:
    # a probe's configs: top-level layers, a nested model's own layers, the optimizer
    configs = {
        "layers": [
            {"name": "input", "class": "InputLayer", "config": {}},
            {
                "name": "base",
                "class": "Functional",
                "config": {
                    "layers": [{"class_name": "Conv2D"}, {"class_name": "BatchNormalization"}]
                },
            },
            {"name": "drop", "class": "Dropout", "config": {}},
        ],
        "optimizer": {"class": "Adam", "config": {}},
        "loss": "mse",
    }
    uses = attribution.model_uses(configs, None)
    assert uses == {"InputLayer", "Functional", "Conv2D", "BatchNormalization", "Dropout", "Adam"}
    assert attribution.model_uses(None, {}) is None  # nothing recorded: nothing to filter by

    def texts(found: set[str] | None) -> set[str]:
        notes = attribution.notes_between("1.15", "2.21", uses=found)
        return {f"{n['component']}" for ns in notes.values() for n in ns}

    assert {"BatchNormalization", "Keras 3 random layers"} <= texts(uses)
    assert "layers" not in texts(uses)  # the GRU note: no GRU here
    assert "layers" in texts(uses | {"GRU"})
    assert "Keras 3 random layers" in texts({"RandomFlip"})  # "Random*" is a prefix
    assert "BatchNormalization" not in texts({"Dense"})
    assert "oneDNN" in texts({"Dense"})  # a note without `uses` is about any model
    assert texts(None) >= texts(uses)  # unknown: every note


def test_a_flip_tensorflow_refuses_with_determinism_is_a_knob_clash_not_a_failure() -> None:
    from tfrepro.analysis.attribution import knob_clash as _knob_clash

    reason = (
        "probe B xla=on (tf 2.16.2 py3.11.7 seed 0) failed: the probe in the script failed: "
        "UnimplementedError: A deterministic GPU implementation of ... is not currently "
        "available. ... no deterministic implementation of this op"
    )
    said = _knob_clash("xla", "on", reason)
    assert said is not None and said.startswith("xla=on cannot run with determinism=true")
    assert "no deterministic implementation of this op" in said
    assert _knob_clash("xla", "on", "probe B failed: ValueError: shapes differ") is None


def test_a_script_flips_its_optimizers_to_legacy_only_where_keras_has_them(
    cat: Catalogue,
) -> None:
    def script_flips(tf: str, **knobs: Any) -> list[str]:
        cell = one_cell(cat, tf, **knobs)
        return [k for k, _ in flips(cell, script=True)]

    assert "optimizer_impl" in script_flips("2.11")
    assert "optimizer_impl" in script_flips("2.15")
    assert "optimizer_impl" not in script_flips("2.16")  # Keras 3: no legacy optimizers
    assert "optimizer_impl" in script_flips("2.16", legacy_keras=True)


def test_a_metric_that_resolves_otherwise_is_named_as_the_metrics_definition() -> None:
    # tensorflow#41114: "accuracy" with sigmoid outputs, binary_accuracy on 2.1, categorical on 2.2
    stages = all_stages(changed=1)
    stages["config"]["changed"].insert(
        0, {"key": "metrics.accuracy", "a": "binary_accuracy", "b": "categorical_accuracy"}
    )
    out = attribution.causes(
        {"A": facts(), "B": facts()}, stages, {"stage": "config"}, "none", [], {}
    )
    assert out[0]["cause"] == (
        "the compiled metric 'accuracy' computes binary_accuracy in A and categorical_accuracy "
        "in B: the metric's definition changed, not the model"
    )
    assert out[1]["cause"] == "configuration opt.k0: 0 → 1"


def test_a_script_that_cannot_be_probed_measures_no_stage_and_says_what_its_cells_show(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from rich.console import Console

    from tfrepro.analysis.stages import STAGES
    from tfrepro.report.explain_view import render
    from tfrepro.report.explanations import explanation
    from tfrepro.tasks.explain import _unprobed

    def cell(tf: str, final: str, loss: float) -> dict:
        return {"tf_version": tf, "keras_version": "3", "python_version": "3.11",
                "numpy_version": "1.26", "knobs": {}, "fingerprint": {},
                "optimizer_class": None, "final_weights_sha256": final,
                "metrics": {"loss": loss}}  # fmt: skip

    why = "probe A failed: the script ended without a Keras fit (TF1 Session scripts ...)"
    ran = {"A": cell("2.15.1", "x", 0.5), "B": cell("2.16.2", "y", 0.75)}
    result = _unprobed("2.15", "2.16", 0, ran, why, 0.0, {"fit": 1, "why": "the first fit"})  # type: ignore[arg-type]
    out = result.as_dict()
    assert out["first_divergence"] == {"stage": "not measured", "layer": None, "reason": why}
    assert set(out["stages"]) == set(STAGES)
    assert all(not s["measured"] and why in s["reason"] for s in out["stages"].values())
    assert out["cells_compared"]["weights"] == "differ"
    assert out["cells_compared"]["metrics"]["loss"]["diff"] == 0.25
    assert out["causes"] == [] and out["release_notes"] == []  # no evidence, no "why"
    render(Console(width=200), result)
    text = capsys.readouterr().out
    assert "First divergence: not measured" in text and "final weights differ" in text
    assert "Probed at" not in text  # nothing was probed
    assert explanation(out)["cells_compared"]["verdict"] == "differs on this seed"
