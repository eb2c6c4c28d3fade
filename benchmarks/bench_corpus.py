"""Fidelity on code nobody here wrote: every corpus script, bare and as a cell, on its releases.

For each script of tests/corpus/ (its header names the releases it is meant for) and each of
those releases: the script run bare with that environment's python from its folder, then as a
one-cell `tfrepro run -- python SCRIPT` (default knobs, as a new user would run it). The table
says whether the cell's status follows the bare run's exit code, what tfrepro could not record
(the cell's warnings), and the times. With --explain, `tfrepro explain A B --no-ablation` on
each pair of consecutive releases where both run bare: completed or not, and per stage
measured / not measured (with the reason).

    python benchmarks/bench_corpus.py [--scripts 01,06] [--releases 2.15,2.16] [--explain]
                                      [--no-cells] [--cache DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "corpus"


def header(path: Path) -> dict[str, Any]:
    """The releases, determinism and breaks a corpus script's docstring declares."""
    text = path.read_text()
    releases = re.search(r"^releases:\s*(.+)$", text, re.M)
    det = re.search(r"^deterministic:\s*(\w+)", text, re.M)
    return {
        "releases": [r.strip() for r in releases.group(1).split(",")] if releases else [],
        "deterministic": bool(det and det.group(1).lower() == "yes"),
    }


def tfrepro(*argv: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tfrepro", *argv],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def env_python(release: str, cache: Path | None) -> Path:
    """The interpreter of the release's environment (built when missing)."""
    extra = ["--cache", str(cache)] if cache else []
    built = tfrepro("envs", "build", "--tf", release, *extra, cwd=CORPUS)
    if built.returncode != 0:
        raise SystemExit(f"cannot build the environment of {release}: {built.stderr.strip()}")
    listed = json.loads(tfrepro("envs", "list", "--json", *extra, cwd=CORPUS).stdout)
    found = [
        e
        for e in listed
        if "-era-" in e["name"]
        and (e["versions"].get("tensorflow", "") + ".").startswith(release + ".")
    ]
    if not found:
        raise SystemExit(f"no environment of {release} in `tfrepro envs list`")
    newest = max(found, key=lambda e: [int(p) for p in e["versions"]["tensorflow"].split(".")])
    return Path(newest["path"]) / "bin" / "python"


def bare(python: Path, script: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PYTHONPATH"))}
    env.update(CUDA_VISIBLE_DEVICES="-1", TF_CPP_MIN_LOG_LEVEL="2")
    t0 = time.perf_counter()
    done = subprocess.run(
        [str(python), script.name], cwd=script.parent, env=env, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    tail = (done.stderr.strip().splitlines() or [""])[-1]
    return {
        "exit": done.returncode,
        "seconds": round(time.perf_counter() - t0, 1),
        "result": _result_line(done.stdout),
        "error": tail if done.returncode else "",
    }


def _result_line(text: str) -> Any:
    for line in reversed(text.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    return None


def as_cell(script: Path, release: str, store: Path, cache: Path | None) -> dict[str, Any]:
    extra = ["--cache", str(cache)] if cache else []
    t0 = time.perf_counter()
    ran = tfrepro(
        "run", "--tf", release, "--seeds", "0", "--store", str(store), *extra, "--",
        "python", script.name, cwd=script.parent,
    )  # fmt: skip
    seconds = round(time.perf_counter() - t0, 1)
    listed = tfrepro("cells", "--store", str(store), "--json", cwd=script.parent)
    cells = json.loads(listed.stdout) if listed.returncode == 0 else []
    if not cells:
        return {"status": f"no cell (exit {ran.returncode}: {ran.stderr.strip()[-200:]})"}
    c = cells[0]
    info = c.get("script") or {}
    return {
        "status": c["status"],
        "reason": c.get("reason") or "",
        "seconds": seconds,
        "warnings": info.get("warnings") or [],
        "models": len(info.get("models") or []),
        "loss_steps": len(c.get("loss") or []),
        "metrics": c.get("metrics") or {},
    }


def run_explain(
    script: Path, a: str, b: str, store: Path, cache: Path | None, *flags: str
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """`tfrepro explain A B FLAGS --json -- python SCRIPT`: its output (None when it failed)
    and what to record of the run (seconds; the error and whether it was a traceback)."""
    extra = ["--cache", str(cache)] if cache else []
    t0 = time.perf_counter()
    done = tfrepro(
        "explain", a, b, *flags, "--json", "--store", str(store), *extra, "--",
        "python", script.name, cwd=script.parent,
    )  # fmt: skip
    seconds = round(time.perf_counter() - t0, 1)
    if done.returncode != 0:
        error = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        return None, {"ok": False, "error": error[:300], "traceback": "Traceback" in done.stderr,
                      "seconds": seconds}  # fmt: skip
    return json.loads(done.stdout), {"ok": True, "seconds": seconds}


def explain(script: Path, a: str, b: str, store: Path, cache: Path | None) -> dict[str, Any]:
    out, run = run_explain(script, a, b, store, cache, "--no-ablation")
    if out is None:
        return run
    seconds = run["seconds"]
    stages = out.get("stages") or {}
    measured = [s for s, v in stages.items() if (v or {}).get("measured", True)]
    missing = {
        s: v.get("reason") or v.get("why") or "not measured"
        for s, v in stages.items()
        if not (v or {}).get("measured", True)
    }
    return {
        "ok": True,
        "first": (out.get("first_divergence") or {}).get("stage"),
        "measured": measured,
        "not_measured": missing,
        "seconds": seconds,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scripts", help="comma-separated prefixes (01,06) or names; default all")
    ap.add_argument("--releases", help="only these releases (of each script's own)")
    ap.add_argument("--explain", action="store_true", help="also explain consecutive releases")
    ap.add_argument(
        "--no-cells", action="store_true", help="bare runs only (which releases run), no cells"
    )
    ap.add_argument("--cache", type=Path, help="environment cache (default tfrepro's own)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/corpus-latest.json"))
    args = ap.parse_args()

    scripts = sorted(p for p in CORPUS.glob("[0-9][0-9]_*.py"))
    if args.scripts:
        wanted = [w.strip() for w in args.scripts.split(",")]
        scripts = [p for p in scripts if any(p.name.startswith(w) for w in wanted)]
    only = set(args.releases.split(",")) if args.releases else None
    pythons: dict[str, Path] = {}
    rows, explains = [], []
    tmp = Path(tempfile.mkdtemp(prefix="bench-corpus-"))
    try:
        for script in scripts:
            head = header(script)
            releases = [r for r in head["releases"] if only is None or r in only]
            ran_bare = []
            for release in releases:
                if release not in pythons:
                    pythons[release] = env_python(release, args.cache)
                b = bare(pythons[release], script)
                if args.no_cells:
                    c = {"status": "not run (--no-cells)"}
                    follows = True
                else:
                    c = as_cell(script, release, tmp / f"{script.stem}-{release}", args.cache)
                    follows = (b["exit"] == 0) == (c["status"] == "ok")
                row = {"script": script.name, "release": release, "bare": b, "cell": c,
                       "status_follows": follows}  # fmt: skip
                rows.append(row)
                mark = "✓" if follows else "✗"
                print(
                    f"{mark} {script.name:34} {release:6} bare exit {b['exit']} "
                    f"({b['seconds']} s)  cell {c['status']} ({c.get('seconds')} s)  "
                    f"warnings {len(c.get('warnings') or [])}"
                    + (f"  reason: {c['reason'][:120]}" if c.get("reason") else "")
                )
                if b["exit"] == 0:
                    ran_bare.append(release)
            _save(args.out, rows, explains)  # after every script: a stopped run keeps its rows
            if args.explain:
                for a, b2 in itertools.pairwise(ran_bare):
                    e = explain(script, a, b2, tmp / f"{script.stem}-x-{a}-{b2}", args.cache)
                    explains.append({"script": script.name, "a": a, "b": b2, **e})
                    print(
                        f"  explain {a} → {b2}: "
                        + (
                            f"first divergence {e['first']}, not measured "
                            f"{sorted(e['not_measured'])} ({e['seconds']} s)"
                            if e["ok"]
                            else f"FAILED: {e['error']}"
                        )
                    )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    follows = sum(r["status_follows"] for r in rows)
    if not args.no_cells:
        print(f"\ncell status follows the bare run: {follows} of {len(rows)} (script × release)")
    if explains:
        done = sum(e["ok"] for e in explains)
        tracebacks = sum(bool(e.get("traceback")) for e in explains)
        print(f"explain completed: {done} of {len(explains)} pairs; tracebacks: {tracebacks}")
    _save(args.out, rows, explains)
    return 0


def _save(out: Path, rows: list[dict[str, Any]], explains: list[dict[str, Any]]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "explains": explains}, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
