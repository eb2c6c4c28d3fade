"""Breaks on code nobody here wrote: every corpus script on the releases its `breaks:` lines name.

For each script of tests/corpus/ with `breaks:` lines and each release listed there: `tfrepro
explain GOOD BROKEN -- python SCRIPT` with GOOD the nearest release of the script's own that it
runs on (the newest older one, else the oldest newer one). The table says whether explain saw the
break, which known break it matched, which variants made the broken release run (each one a cell
that ran) and how that run compares with GOOD on the same seed, and the time.

    python benchmarks/bench_breaks.py [--scripts 34,41] [--cache DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench_corpus import CORPUS, run_explain  # run as a script: benchmarks/ is on sys.path


def pairs(path: Path) -> list[tuple[str, str]]:
    """(release it runs on, release it breaks on) for every release of its `breaks:` lines."""
    text = path.read_text()
    own = re.search(r"^releases:\s*(.+)$", text, re.M)
    runs = [r.strip() for r in own.group(1).split(",")] if own else []
    out = []
    for line in re.findall(r"^breaks:\s*(.+)$", text, re.M):
        names = line.split("(", 1)[0]
        for broken in (r.strip() for r in names.split(",") if r.strip()):
            key = tuple(int(x) for x in broken.split("."))
            older = [r for r in runs if tuple(int(x) for x in r.split(".")) < key]
            good = older[-1] if older else runs[0]
            out.append((good, broken))
    return out


def explain(script: Path, good: str, broken: str, store: Path, cache: Path | None) -> dict:
    r, run = run_explain(script, good, broken, store, cache)
    if r is None:
        return run
    seconds = run["seconds"]
    if r.get("kind") != "break":
        return {"ok": True, "break": False, "seconds": seconds}
    known = (r["failure"].get("known_break") or {}).get("id")
    ran = {v["variant"]: v["comparison"]["verdict"] for v in r["variants"] if v["status"] == "ok"}
    tried = [v["variant"] for v in r["variants"]]
    return {"ok": True, "break": True, "failing": r["failing"], "known": known,
            "failure": r["failure"]["describe"][:160], "tried": tried, "runs_with": ran,
            "seconds": seconds}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scripts", help="comma-separated prefixes (34,41) or names; default all")
    ap.add_argument("--cache", type=Path, help="environment cache (default tfrepro's own)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/breaks-latest.json"))
    args = ap.parse_args()
    scripts = sorted(p for p in CORPUS.glob("[0-9][0-9]_*.py") if pairs(p))
    if args.scripts:
        wanted = [w.strip() for w in args.scripts.split(",")]
        scripts = [p for p in scripts if any(p.name.startswith(w) for w in wanted)]
    rows: list[dict[str, Any]] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-breaks-"))
    try:
        for script in scripts:
            for good, broken in pairs(script):
                store = tmp / f"{script.stem}-{good}-{broken}"
                e = explain(script, good, broken, store, args.cache)
                rows.append({"script": script.name, "good": good, "broken": broken, **e})
                if not e["ok"]:
                    what = f"FAILED: {e['error']}"
                elif not e["break"]:
                    what = "no break seen (both sides ran)"
                else:
                    runs = ", ".join(f"{k} ({v})" for k, v in e["runs_with"].items()) or "nothing"
                    what = f"known {e['known'] or '—'}; runs with: {runs}"
                print(f"{script.name:34} {good:>5} → {broken:<5} {what} ({e['seconds']} s)")
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(rows, indent=1) + "\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    seen = sum(bool(r.get("break")) for r in rows)
    known = sum(bool(r.get("known")) for r in rows)
    fixed = sum(bool(r.get("runs_with")) for r in rows)
    tracebacks = sum(bool(r.get("traceback")) for r in rows)
    print(f"\nbreaks seen {seen} of {len(rows)}; known break matched {known}; "
          f"a variant runs {fixed}; tracebacks {tracebacks}")  # fmt: skip
    return 0 if seen == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
