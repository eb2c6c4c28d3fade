"""Run every corpus script BARE (plain python, no tfrepro) on the releases it names.

Run with the host's python3 (standard library only):

    python3 tests/corpus/verify_bare.py                 # every script, every listed release
    python3 tests/corpus/verify_bare.py 03 14           # scripts whose name starts with 03 / 14
    python3 tests/corpus/verify_bare.py --release 2.16  # only that release
    python3 tests/corpus/verify_bare.py --readme        # also rewrite the table in README.md
    python3 tests/corpus/verify_bare.py --seed-check    # run each (script, release) twice with a
                                                        # fixed seed and one thread; compare RESULTs
    python3 tests/corpus/verify_bare.py --breaks        # run the releases named on `breaks:` lines
                                                        # and check that they do fail

Each script's docstring has a line ``releases: 2.15, 2.16, 2.21``; the script is run once per
listed release with that release's interpreter from the environment cache, one process at a
time (never in parallel), cwd = this folder, timeout 120 s, TF_CPP_MIN_LOG_LEVEL=2. The table
shows exit code, wall seconds and the script's ``RESULT {...}`` line (or the last error line).
Exit status: 0 when every run exited 0 (with --seed-check: and every ``deterministic: yes``
script printed the same RESULT twice; with --breaks: and every listed breakage failed), else 1.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("TFREPRO_ENV_CACHE", "/work/tfcache/envs"))
TIMEOUT = 120
START, END = "<!-- table:start -->", "<!-- table:end -->"

# release -> glob of its environment folder in the cache
RELEASE_GLOBS = {
    "1.15": "tf1.15.*-py3.7-*",
    "2.0": "tf2.0.*-py3.7-*",
    "2.1": "tf2.1.*-py3.7-*",
    "2.2": "tf2.2.*-py3.8-*",
    "2.3": "tf2.3.*-py3.8-*",
    "2.6": "tf2.6.*-py3.9-*",
    "2.7": "tf2.7.*-py3.9-*",
    "2.10": "tf2.10.*-py3.10-*",
    "2.11": "tf2.11.*-py3.10-*",
    "2.15": "tf2.15.*-py3.11-*",
    "2.16": "tf2.16.*-py3.11-*",
    "2.21": "tf2.21.*-py3.11-*",
}

# Used by --seed-check: seed everything, one thread, then run the script as __main__.
SEEDED_BOOT = r"""
import os, random, runpy, sys
import numpy as np
import tensorflow as tf
path = sys.argv[1]
if "enable_eager_execution(" in open(path).read() and hasattr(tf, "enable_eager_execution"):
    tf.enable_eager_execution()  # TF 1.x: must come before anything else touches TF
random.seed(0); np.random.seed(0)
try:
    tf.random.set_seed(0)
except AttributeError:
    tf.set_random_seed(0)
try:
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
except Exception:
    pass
sys.argv = [path]
runpy.run_path(path, run_name="__main__")
"""


def interpreter(release):
    """The release's interpreter: $CORPUS_PY_<release> (e.g. CORPUS_PY_2_16) if set, else the
    plain environment (tensorflow + numpy, no tf_keras) of the cache that was built first.
    A folder without tfrepro-env.json is still being built and is skipped."""
    override = os.environ.get("CORPUS_PY_" + release.replace(".", "_"))
    if override:
        return override
    found = []
    for env in CACHE.glob(RELEASE_GLOBS[release]):
        py = env / "bin" / "python"
        try:
            meta = json.loads((env / "tfrepro-env.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        versions = meta.get("versions", {})
        if py.exists() and "tensorflow" in versions:
            found.append(("tf_keras" in versions, meta.get("built_at", ""), str(py)))
    if not found:
        raise SystemExit(f"no environment for TF {release} under {CACHE}")
    return sorted(found)[0][2]


def header(path):
    """The releases, deterministic flag and breaking releases of a script's docstring."""
    text = path.read_text(encoding="utf-8")[:6000]
    doc = re.match(r'\s*(?:"""|\'\'\')(.*?)(?:"""|\'\'\')', text, re.S)
    if not doc:
        raise SystemExit(f"{path.name}: no module docstring")
    doc = doc.group(1)
    rel = re.search(r"^releases:\s*(.+)$", doc, re.M)
    det = re.search(r"^deterministic:\s*(yes|no)\b", doc, re.M)
    if not rel or not det:
        raise SystemExit(f"{path.name}: docstring lacks a 'releases:' or 'deterministic:' line")
    releases = [r.strip() for r in rel.group(1).split(",") if r.strip()]
    unknown = [r for r in releases if r not in RELEASE_GLOBS]
    if unknown:
        raise SystemExit(f"{path.name}: unknown releases {unknown}")
    breaks = []
    for line in re.findall(r"^breaks:\s*(.+)$", doc, re.M):
        names = line.split("(", 1)[0]
        breaks += [r.strip() for r in names.split(",") if r.strip() in RELEASE_GLOBS]
    return releases, det.group(1) == "yes", breaks


def last_error_line(text):
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    for ln in reversed(lines):
        if re.match(r"^[A-Za-z_.]*(Error|Exception|Exit)\b", ln) or "Error:" in ln:
            return ln[:200]
    return lines[-1][:200] if lines else ""


def _text(stream):
    return stream.decode(errors="replace") if isinstance(stream, bytes) else (stream or "")


def run_one(script, release, seeded=False):
    """(exit code, seconds, RESULT json or last error line, RESULT json or None)."""
    env = dict(os.environ)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env.pop("PYTHONPATH", None)
    cmd = [interpreter(release)]
    cmd += ["-c", SEEDED_BOOT, script] if seeded else [script]
    t0 = time.time()
    try:
        proc = subprocess.run(
            cmd, cwd=HERE, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
        rc, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc, out, err = "timeout", _text(exc.stdout), _text(exc.stderr)
    secs = time.time() - t0
    result = None
    for ln in out.splitlines():
        if ln.startswith("RESULT "):
            result = ln[len("RESULT ") :].strip()
    if result is not None:
        try:
            json.loads(result)
        except ValueError:
            result = "UNPARSABLE " + result
    detail = result if (rc == 0 and result) else (last_error_line(err) or last_error_line(out))
    if rc == 0 and result is None:
        rc = "no RESULT"
    return rc, secs, detail, result


def write_readme(rows, failed, total):
    readme = HERE / "README.md"
    table = [
        "| script | release | exit | seconds | RESULT / last error line |",
        "|---|---|---|---|---|",
    ]
    for script, release, rc, secs, detail in rows:
        cell = detail.replace("|", "\\|")
        table.append(f"| {script} | {release} | {rc} | {secs:.1f} | `{cell}` |")
    table.append("")
    table.append(
        f"{len(rows)} runs, {failed} failed, {total:.0f} s of bare run time in total "
        f"(2-core CPU, one run at a time)."
    )
    block = START + "\n" + "\n".join(table) + "\n" + END
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    if START in text:
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda m: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    readme.write_text(text, encoding="utf-8")
    print(f"table written to {readme}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("only", nargs="*", help="script name prefixes to run (default: all)")
    ap.add_argument("--release", action="append", help="only these releases (repeatable)")
    ap.add_argument("--readme", action="store_true", help="rewrite the table in README.md")
    ap.add_argument(
        "--seed-check",
        action="store_true",
        help="run twice seeded with one thread and compare RESULTs",
    )
    ap.add_argument(
        "--breaks",
        action="store_true",
        help="run only the releases on `breaks:` lines; each must fail",
    )
    args = ap.parse_args()

    scripts = sorted(p.name for p in HERE.glob("[0-9][0-9]_*.py"))
    if args.only:
        scripts = [s for s in scripts if any(s.startswith(p) for p in args.only)]

    rows, failed, total = [], 0, 0.0
    print(f"{'script':<38} {'release':<7} {'exit':>9} {'secs':>6}  result / last error")
    for script in scripts:
        releases, deterministic, breaks = header(HERE / script)
        for release in breaks if args.breaks else releases:
            if args.release and release not in args.release:
                continue
            rc, secs, detail, result = run_one(script, release, seeded=args.seed_check)
            total += secs
            note = ""
            if args.breaks:
                failed += rc == 0
                verdict = "FAILS as listed" if rc != 0 else "RUNS (breaks line is wrong)"
                rows.append((script, release, rc, secs, f"{verdict}: {detail}"))
                print(f"{script:<38} {release:<7} {rc!s:>9} {secs:6.1f}  {verdict}: {detail}")
                continue
            if args.seed_check and rc == 0:
                rc2, secs2, _, result2 = run_one(script, release, seeded=True)
                total += secs2
                same = rc2 == 0 and result2 == result
                if deterministic and not same:
                    failed += 1
                det = "yes" if deterministic else "no"
                note = f"[det={det}: {'same' if same else 'DIFFERENT'}] "
            if rc != 0:
                failed += 1
            rows.append((script, release, rc, secs, note + (detail or "")))
            print(
                f"{script:<38} {release:<7} {rc!s:>9} {secs:6.1f}  {note}{detail}",
                flush=True,
            )

    print(f"\n{len(rows)} runs, {failed} failed, {total:.0f} s in total")
    if args.readme and not args.breaks and not args.seed_check:
        write_readme(rows, failed, total)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
