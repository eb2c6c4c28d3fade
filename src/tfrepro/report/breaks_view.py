"""Terminal rendering of breaks: failed cells grouped by signature (compare, report), with the
known break each matches. Renders what analysis.breaks produced; computes nothing. Messages and
file names come from user code and tracebacks: they go through `visible`, never into markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.text import Text

from tfrepro.analysis.breaks import Failure
from tfrepro.report.style import visible


def known_line(known: dict[str, Any]) -> str:
    """`known break: TITLE (COMPONENT, from TF SINCE) — fix: HINT`."""
    span = f"from TF {known['since']}"
    if known.get("until"):
        span = f"before TF {known['until']}"
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
