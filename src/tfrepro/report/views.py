"""Terminal output of the commands that have no view of their own: run's dry run, footer and
next-command hints, the environment cache, explain's and bisect's closing lines.

Suggested commands are printed as plain text (no markup, no wrapping) so they can be copied.
User strings (paths, env values, script arguments, warnings) go through `visible`: a terminal
never obeys a control character that came from them.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from tfrepro import DEFAULT_STORE
from tfrepro.report.breaks_view import known_line, remedy_text
from tfrepro.report.style import markup_safe, visible
from tfrepro.report.terminal import probe_detail
from tfrepro.runner.tfrepro_guest.protocol import ScriptInfo

if TYPE_CHECKING:
    from tfrepro.envs.provision import BuiltEnv
    from tfrepro.plan import Cell
    from tfrepro.tasks.bisect import BisectResult
    from tfrepro.tasks.run import RunResult


def _plain(console: Console, text: str) -> None:
    console.print(visible(text), highlight=False, markup=False, soft_wrap=True)


def store_flag(store: Path) -> str:
    """What a suggested command needs to name this store: nothing for the default one."""
    return "" if store == DEFAULT_STORE else f" --store {store}"


def dry_run(console: Console, cells: Sequence[Cell], warnings: Sequence[str] = ()) -> None:
    for warning in warnings:
        _plain(console, f"warning: {warning}")
    for cell in cells:
        line = Text(visible(f"{cell.id}  {cell.describe()}  "))  # env values: text, not markup
        console.print(line.append(visible(cell.env.name), style="dim"), highlight=False)
    console.print(f"{len(cells)} cells (dry run: nothing was run)")


def run_footer(
    console: Console,
    result: RunResult,
    store: Path,
    *,
    spec_path: Path | None,
    explainable: bool,
) -> None:
    """Where the results are, and the next commands worth running on them. `explainable`: the
    run's cells can be rebuilt from the spec alone (explain does that), so suggest explain."""
    flag = store_flag(store)
    _plain(console, f"store: {store}  ({result.seconds:.0f} s)  — list with `tfrepro cells{flag}`")
    releases = result.releases
    if len(releases) < 2:
        return
    hint = f"next: `tfrepro compare{flag}` (real or noise?), `tfrepro report{flag}` (HTML)"
    if explainable and result.one_setting:
        where = f" {spec_path}" if spec_path else ""
        script = result.planned.spec.script
        # a script from the command line is named again after `--` (a spec names its own)
        tail = f" -- {shlex.join(script.command)}" if script and not spec_path else ""
        broken = result.broken_pair() if script else None
        pair = result.explain_pair()
        if broken is not None:
            hint += (
                f"; the script fails on {broken[1]} and runs on {broken[0]}: `tfrepro explain "
                f"{broken[0]} {broken[1]}{where}{flag}{tail}` (what broke, what makes it run)"
            )
        elif pair is None:
            hint += "; every release that ran trained bitwise identically (nothing for explain)"
        else:
            hint += f", `tfrepro explain {pair[0]} {pair[1]}{where}{flag}{tail}` (where, why)"
    _plain(console, hint)


def script_notes(console: Console, result: RunResult) -> None:
    """What a run of a script should tell its user: skipped notebook lines, a script that seeds
    itself, and tfrepro's own hook failures (which never changed the training)."""
    for warning in result.planned.warnings:
        _plain(console, f"warning: {warning}")
    seeded: dict[str, str] = {}
    hooks: set[str] = set()
    for c in result.cells:
        info = c.get("script") or {}
        for call in info.get(ScriptInfo.SEED_CALLS) or []:
            where = f" at {call['where']}" if call.get("where") else ""
            seeded.setdefault(
                f"{call['call']}({call['value']}){where}", info.get(ScriptInfo.SEEDING, "")
            )
        hooks.update(info.get(ScriptInfo.WARNINGS) or [])
    if seeded:
        calls = ", ".join(seeded)
        if "cell" in seeded.values():
            _plain(
                console,
                f"note: the script seeds itself ({calls}); each cell used its own seed instead, "
                f'so the seed axis keeps its meaning (seeding = "script" in [script] keeps '
                f"the script's seeds)",
            )
        else:
            _plain(
                console,
                f"note: the script seeds itself ({calls}) and keeps its seeds "
                f'(seeding = "script"): tfrepro set no seed, so the seed axis changes only '
                f"PYTHONHASHSEED",
            )
    for warning in sorted(hooks):
        _plain(console, f"warning: tfrepro could not record everything: {warning}")


NO_METRIC = (
    "record no final metric (a script's come from its Keras fit and evaluate; a TF1 Session "
    "or custom loop gives none)"
)


def nothing_to_compare(console: Console, by: str, groups: int = 0) -> None:
    """Why compare has no row: fewer than two groups with ok cells, or none of them recorded
    a final metric (`groups`: how many groups have ok cells)."""
    if groups >= 2:
        _plain(console, f"nothing to compare: the ok cells of the {groups} groups {NO_METRIC}")
        return
    _plain(
        console,
        f"nothing to compare: the ok cells have fewer than two values of {by} (group by "
        f"another axis with --by)",
    )


def baseline_saved(console: Console, data: dict[str, Any], by: str, path: Path) -> None:
    n = sum(g["n_ok"] for g in data["groups"])
    _plain(
        console,
        f"baseline: {n} ok cell(s) in {len(data['groups'])} group(s) by {by} written to "
        f"{path}; check later with `tfrepro check --baseline {path}`",
    )


def envs_table(console: Console, rows: Sequence[dict[str, Any]], root: Path) -> None:
    for r in rows:
        v = r["versions"]
        keras = v.get("keras") or v.get("tf_keras") or "tf.keras"
        console.print(
            visible(
                f"{r['name']:<45} TF {v.get('tensorflow')} Keras {keras} "
                f"numpy {v.get('numpy')} {r['size_mb']} MB, last used {r['last_used']}"
            ),
            highlight=False,
            markup=False,
        )
    _plain(console, f"{len(rows)} environment(s) in {root}")


def env_built(console: Console, env: BuiltEnv, seconds: float) -> None:
    console.print(
        visible(
            f"{env.name}: TF {env.versions.get('tensorflow')}, "
            f"numpy {env.versions.get('numpy')} ({seconds:.1f} s)"
        ),
        highlight=False,
        markup=False,
    )


def pruned(
    console: Console, removed: Sequence[str], root: Path, kept: dict[str, str] | None = None
) -> None:
    for name in removed:
        _plain(console, f"removed {name}")
    _plain(console, f"{len(removed)} removed from {root}")
    here = {n: why for n, why in (kept or {}).items() if (root / n).exists()}
    if here:
        _plain(
            console,
            f"kept {len(here)} environment(s) a stored bisection used "
            f"({'; '.join(sorted(set(here.values())))}): --include-bisects removes them too",
        )


def explanation_kept(console: Console, store: Path, kind: str = "explain") -> None:
    section = "Breaks" if kind == "break" else "Where and why"
    _plain(
        console,
        f'saved in {store}: `tfrepro report{store_flag(store)}` shows it under "{section}"',
    )


def _runs_found(console: Console, result: BisectResult, fix: bool) -> None:
    """Where the script stops (or, searching backwards, starts) running, and how it fails."""
    if fix:
        head = f"runs from {result.last_good} on; {result.first_bad} and older fail"
    else:
        head = f"stops running in {result.first_bad} (last that runs: {result.last_good})"
    console.print(
        Text.assemble(
            "\n",
            (head, "bold"),
            f"; {len(result.probes)} probes of {result.candidates - 1} candidates "
            f"(bound {result.max_probes})",
        )
    )
    failure = result.failure or {}
    if failure:
        _plain(console, f"  fails with: {failure['describe']}")
    known = failure.get("known_break")
    if known:
        _plain(console, f"  {known_line(known)}")
        _plain(console, f"  restores it without editing (known): {remedy_text(known['remedy'])}")


def bisect_result(console: Console, result: BisectResult) -> None:
    fix = result.direction == "fix"
    if fix:
        _plain(
            console,
            f"--good {result.good} is newer than --bad {result.bad}: searching backwards "
            "for the release that fixed (or changed) it",
        )
    for p in result.probes:
        _plain(console, f"probe {p['release']:<8} {p['verdict']:<12} {probe_detail(p)}")
    if result.criterion == "runs" and result.status == "found":
        _runs_found(console, result, fix)
    elif result.status == "found" and fix:
        console.print(
            f"\n[bold]the change came in {result.last_good}[/]: the newest release that "
            f"still behaves like {result.bad} is {result.first_bad}; "
            f"{len(result.probes)} probes of {result.candidates - 1} candidates "
            f"(bound {result.max_probes})"
        )
    elif result.status == "found":
        console.print(
            f"\n[bold]first release that changes: {result.first_bad}[/] "
            f"(last like {result.good}: {result.last_good}); "
            f"{len(result.probes)} probes of {result.candidates - 1} candidates "
            f"(bound {result.max_probes})"
        )
        for n in result.release_notes or []:
            _plain(console, f"  release note {n['release']} ({n['component']}): {n['text']}")
    elif result.status == "not-reproduced":
        _plain(
            console,
            f"\nnot-reproduced: {result.bad} behaves like {result.good} by this criterion, so "
            f"there is nothing to bisect ({len(result.probes)} probe; the other "
            f"{max(result.candidates - 2, 0)} candidates were not built)",
        )
    else:
        console.print(
            f"\n[bold]{result.status}[/]: still open between {markup_safe(result.open_interval)}",
            highlight=False,
        )
    for package, (a, b) in (result.packages_changed or {}).items():
        _plain(
            console,
            f"  {package} changed with it: {a} → {b} (the change may follow {package}: pin "
            f"it to tell)",
        )
    if result.fixed_tf:
        _plain(console, f"  Keras bisected with TensorFlow fixed at {result.fixed_tf}")
    if result.window:
        nightly_window(console, result.window)


def nightly_window(console: Console, window: dict[str, Any]) -> None:
    """Two adjacent builds below a release: versions, days, GIT_VERSION, the commit log."""
    for side in ("last_good", "first_bad"):
        b = window[side]
        git = f", GIT_VERSION {b['git_version']}" if b.get("git_version") else ""
        label = "last good " if side == "last_good" else "first bad "
        _plain(console, f"  {label}{window['package']} {b['version']} ({b['day']}{git})")
    if window.get("commits"):
        _plain(console, f"  commits between them: {window['commits']}")
    if window.get("keras_swap"):
        _plain(console, f"  {window['keras_swap']}")
    if window.get("keras"):
        nightly_window(console, window["keras"])
