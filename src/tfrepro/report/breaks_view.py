"""Terminal rendering of breaks: failed cells grouped by signature (compare, report), with the
known break each matches. Renders what analysis.breaks produced; computes nothing. Messages and
file names come from user code and tracebacks: they go through `visible`, never into markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from tfrepro.analysis.breaks import Failure
from tfrepro.report.style import fmt_signed, visible

if TYPE_CHECKING:
    from tfrepro.tasks.breakage import BreakResult


def known_line(known: dict[str, Any]) -> str:
    """`known break: TITLE (COMPONENT, from TF SINCE) — fix: HINT`."""
    span = f"from TF {known['since']}"
    if known.get("until"):
        span += f", before TF {known['until']}"
    return f"known break: {known['title']} ({known['component']}, {span}) — fix: {known['hint']}"


def remedy_text(remedy: Sequence[str]) -> str:
    return " + ".join(remedy) if remedy else "nothing but a change to the script"


def failures(console: Console, found: Sequence[Failure], *, by: str = "tf_version") -> None:
    """One block per signature: where it fails, the failure, the known break and its fix."""
    if not found:
        return
    console.print(Text(f"Failures ({len(found)} kind(s), by {by})", style="bold red"))
    for f in found:
        where = ", ".join(f["releases"])
        head = Text("  ✗ ", style="red")
        head.append(visible(f"fails from {f['first']} ({where}; {f['cells']} cell(s)): "))
        head.append(visible(f["describe"]))
        console.print(head, soft_wrap=True)
        sig = f["signature"]
        frame = sig["user_frame"] if sig else None
        if frame and frame.get("code"):
            console.print(Text(visible(f"      {frame['code']}"), style="dim"), soft_wrap=True)
        known = f["known"]
        if known:
            console.print(Text(visible(f"    {known_line(known)}")), soft_wrap=True)
            console.print(
                Text(
                    visible(
                        f"    restores it without editing (known, not run here): "
                        f"{remedy_text(known['remedy'])} — `tfrepro explain GOOD BAD` runs "
                        f"the variants and says which make it run"
                    ),
                    style="dim",
                ),
                soft_wrap=True,
            )


def _line(console: Console, text: str, style: str = "") -> None:
    console.print(Text(visible(text), style=style), soft_wrap=True)


def explain_break(console: Console, r: BreakResult) -> None:
    """`explain A B` where one side does not run: how it fails, what was tried, what runs."""
    bad = r.sides[r.failing]
    good = r.sides["A" if r.failing == "B" else "B"]
    label = r.b if r.failing == "B" else r.a
    _line(console, f"A  {r.a}: TF {r.sides['A']['tf']}, Keras {r.sides['A']['keras']}, "
          f"NumPy {r.sides['A']['numpy']} — {r.sides['A']['status']}")  # fmt: skip
    _line(console, f"B  {r.b}: TF {r.sides['B']['tf']}, Keras {r.sides['B']['keras']}, "
          f"NumPy {r.sides['B']['numpy']} — {r.sides['B']['status']}")  # fmt: skip
    console.print(
        Text.assemble(
            ("\nBreak: ", "bold red"),
            visible(f"{label} does not run (seed {r.seed}); {good['tf']} does"),
        )
    )
    _line(console, f"  fails with: {r.failure['describe']}")
    sig = r.failure.get("signature") or {}
    frame = sig.get("user_frame") or {}
    if frame.get("code"):
        _line(console, f"      {frame['code']}", "dim")
    known = r.failure.get("known_break")
    if known:
        _line(console, f"  {known_line(known)}")
    else:
        _line(console, "  no known break matches this failure", "dim")
    if not r.variants:
        _line(console, f"\nNo variant applies to TF {bad['tf']} (legacy_keras, numpy<2, Keras "
              "major, legacy optimizers): only the script can change.")  # fmt: skip
        return
    console.print(Text(f"\nVariants of {r.failing}, each run as a cell:", style="bold"))
    for v in r.variants:
        if v["status"] == "ok":
            comp = v["comparison"]
            metrics = ", ".join(
                f"{m} {fmt_signed(d['diff'])}" for m, d in sorted(comp["metrics"].items())
            )
            other = v["compared_with"]
            detail = f"runs; against {other}: {comp['verdict']} (final weights {comp['weights']}"
            detail += f"; b − a: {metrics})" if metrics else "; no metric in common)"
            _line(console, f"  ✓ {v['variant']}: {detail}", "green")
        elif v["status"] == "cannot run":
            _line(console, f"  – {v['variant']}: cannot run here: {v['reason']}", "dim")
        else:
            _line(console, f"  ✗ {v['variant']}: still fails: {v['failure']['describe']}", "red")
    if r.runs_with:
        _line(console, f"\n{label} runs with: {' or '.join(r.runs_with)} (verified by running)",
              "bold")  # fmt: skip
    else:
        hint = f" — the fix is in the script: {known['hint']}" if known else ""
        _line(console, f"\nNothing tried makes {label} run{hint}", "bold")
