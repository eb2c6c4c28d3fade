"""Run every corpus script BARE (plain python, no tfrepro) on the releases it names.

Run with the host's python3 (standard library only):

    python3 tests/corpus/verify_bare.py                 # every script, every listed release
    python3 tests/corpus/verify_bare.py 03 14           # scripts whose name starts with 03 / 14
    python3 tests/corpus/verify_bare.py --release 2.16  # only that release
    python3 tests/corpus/verify_bare.py --readme        # also rewrite the table in README.md
    python3 tests/corpus/verify_bare.py --seed-check    # run each (script, release) twice with a
                                                        # fixed seed and one thread; compare RESULTs

Each script's docstring has a line ``releases: 2.15, 2.16, 2.21``; the script is run once per
listed release with that release's interpreter from the environment cache, one process at a
time (never in parallel), cwd = this folder, timeout 120 s, TF_CPP_MIN_LOG_LEVEL=2. The table
shows exit code, wall seconds and the script's ``RESULT {...}`` line (or the last error line).
Exit status: 0 when every run exited 0 (and, with --seed-check, every ``deterministic: yes``
script printed the same RESULT twice), 1 otherwise.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.environ.get("TFREPRO_ENV_CACHE", "/work/tfcache/envs")
TIMEOUT = 120

# release -> glob of its environment folder in the cache
RELEASE_GLOBS = {
    "1.15": "tf1.15.*-py3.7-*",
    "2.15": "tf2.15.*-py3.11-*",
    "2.16": "tf2.16.*-py3.11-*",
    "2.21": "tf2.21.*-py3.11-*",
}

# Used by --seed-check: seed everything, one thread, then run the script as __main__.
SEEDED_BOOT = r"""
import os, random, runpy, sys
import numpy as np
import tensorflow as tf
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
path = sys.argv[1]
sys.argv = [path]
runpy.run_path(path, run_name="__main__")
"""


def interpreter(release):
    hits = sorted(glob.glob(os.path.join(CACHE, RELEASE_GLOBS[release], "bin", "python")))
    if not hits:
        raise SystemExit(f"no environment for TF {release} under {CACHE}")
    return hits[-1]


def header(path):
    """The releases / deterministic / breaks lines of a script's docstring."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read(6000)
    doc = re.match(r'\s*(?:"""|\'\'\')(.*?)(?:"""|\'\'\')', text, re.S)
    if not doc:
        raise SystemExit(f"{path}: no module docstring")
    doc = doc.group(1)
    rel = re.search(r"^releases:\s*(.+)$", doc, re.M)
    det = re.search(r"^deterministic:\s*(yes|no)\b", doc, re.M)
    if not rel or not det:
        raise SystemExit(f"{path}: docstring lacks a 'releases:' or 'deterministic:' line")
    releases = [r.strip() for r in rel.group(1).split(",") if r.strip()]
    unknown = [r for r in releases if r not in RELEASE_GLOBS]
    if unknown:
        raise SystemExit(f"{path}: unknown releases {unknown}")
    breaks = re.findall(r"^breaks:\s*(.+)$", doc, re.M)
    return releases, det.group(1) == "yes", breaks


def last_error_line(text):
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    for ln in reversed(lines):
        if re.match(r"^[A-Za-z_.]*(Error|Exception|Exit)\b", ln) or "Error:" in ln:
            return ln[:200]
    return lines[-1][:200] if lines else ""


def run_one(script, release, seeded=False):
    env = dict(os.environ)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env.pop("PYTHONPATH", None)
    cmd = [interpreter(release)]
    cmd += ["-c", SEEDED_BOOT, script] if seeded else [script]
    t0 = time.time()
    try:
        proc = subprocess.run(cmd, cwd=HERE, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT)
        rc, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc = "timeout"
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
    secs = time.time() - t0
    result = None
    for ln in out.splitlines():
        if ln.startswith("RESULT "):
            result = ln[len("RESULT "):].strip()
    if result is not None:
        try:
            json.loads(result)
        except ValueError:
            result = "UNPARSABLE " + result
    detail = result if (rc == 0 and result) else (last_error_line(err) or last_error_line(out))
    if rc == 0 and result is None:
        rc = "no RESULT"
    return rc, secs, detail, result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("only", nargs="*", help="script name prefixes to run (default: all)")
    ap.add_argument("--release", action="append", help="only these releases (repeatable)")
    ap.add_argument("--readme", action="store_true", help="rewrite the table in README.md")
    ap.add_argument("--seed-check", action="store_true",
                    help="run twice seeded with one thread and compare RESULTs")
    args = ap.parse_args()

    scripts = sorted(f for f in os.listdir(HERE) if re.match(r"^\d\d_.*\.py$", f))
    if args.only:
        scripts = [s for s in scripts if any(s.startswith(p) for p in args.only)]

    rows, failed, total = [], 0, 0.0
    print(f"{'script':<38} {'release':<7} {'exit':>9} {'secs':>6}  result / last error")
    for script in scripts:
        releases, deterministic, _ = header(os.path.join(HERE, script))
        for release in releases:
            if args.release and release not in args.release:
                continue
            rc, secs, detail, result = run_one(script, release, seeded=args.seed_check)
            total += secs
            note = ""
            if args.seed_check and rc == 0:
                rc2, secs2, _, result2 = run_one(script, release, seeded=True)
                total += secs2
                same = rc2 == 0 and result2 == result
                note = "same" if same else "DIFFERENT"
                if deterministic and not same:
                    failed += 1
                note = f"[det={'yes' if deterministic else 'no'}: {note}] "
            if rc != 0:
                failed += 1
            rows.append((script, release, rc, secs, note + (detail or "")))
            print(f"{script:<38} {release:<7} {str(rc):>9} {secs:6.1f}  {note}{detail}",
                  flush=True)

    print(f"\n{len(rows)} runs, {failed} failed, {total:.0f} s in total")

    if args.readme:
        readme = os.path.join(HERE, "README.md")
        table = ["| script | release | exit | seconds | RESULT / last error line |",
                 "|---|---|---|---|---|"]
        for script, release, rc, secs, detail in rows:
            detail = detail.replace("|", "\\|")
            table.append(f"| {script} | {release} | {rc} | {secs:.1f} | `{detail}` |")
        table.append("")
        table.append(f"{len(rows)} runs, {failed} failed, {total:.0f} s of bare run time in total "
                     f"(2-core CPU, one run at a time).")
        block = "<!-- table:start -->\n" + "\n".join(table) + "\n<!-- table:end -->"
        text = open(readme, encoding="utf-8").read() if os.path.exists(readme) else ""
        if "<!-- table:start -->" in text:
            text = re.sub(r"<!-- table:start -->.*?<!-- table:end -->", lambda m: block, text,
                          flags=re.S)
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
        with open(readme, "w", encoding="utf-8") as fh:
            fh.write(text)
        print(f"table written to {readme}")

    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
