"""Why a cell failed, as data: its failure signature and the known break it matches.

A **signature** is read from the traceback a failed cell recorded (any Python from 3.7 on, caret
lines of 3.11 included): the exception's type and message on one line, the user's frame (the
deepest frame in the user's own code: file, line and the line of code), the library frame it
came from (the deepest frame in an installed package, autograph's quoted frames included) and
the package that raised (the library frame's top-level package; for an exception raised in the
user's own line, the module its message names, e.g. "module 'tensorflow' has no attribute …").
`key` groups cells that failed the same way across releases and seeds.

A **known break** (data/known_breaks.toml) is an API change that breaks training scripts, with
how to recognise it from a signature, the release that introduced it, the one-line migration
and the knob or pin that restores the old behaviour. Each entry names the corpus script that
triggers it (tests/corpus), so the table is exercised against real releases.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any, TypedDict

from tfrepro.analysis import groups as groups_mod
from tfrepro.envs.catalogue import version_key
from tfrepro.record import CellRecord as Cell

_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>.+)$')
_EXC = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::\s?(?P<message>.*))?$")
_CARET = re.compile(r"^\s*[~^]+\s*$")
_SITE = re.compile(r"[/\\](?:site|dist)-packages[/\\](?P<rest>.+)$")
_STDLIB = re.compile(r"[/\\]lib[/\\]python\d+\.\d+[/\\]")
_MODULE = re.compile(r"module '(?P<name>[\w.]+)'")
_VOLATILE = re.compile(r"0x[0-9a-fA-F]+|\b\d{5,}\b")
_CHAINS = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)
MESSAGE_CHARS = 400

# What the variants of explain-a-break and the known breaks call the changes that make old
# code run: a knob, a requirement, or the Keras of the other side's major version.
REMEDIES = ("legacy_keras", "numpy<2", "keras_major", "optimizer_impl=legacy")


class Frame(TypedDict):
    file: str
    line: int
    function: str
    code: str


class Signature(TypedDict):
    type: str  # the exception's class name, without its module
    message: str  # the message on one line (quoted frames left out), at most MESSAGE_CHARS
    user_frame: Frame | None  # the deepest frame in the user's code
    library_frame: Frame | None  # the deepest frame in an installed package
    package: str  # the package that raised: keras, tf_keras, tensorflow, numpy, … or "script"


def _frame(m: re.Match[str], code: str) -> Frame:
    return {"file": m["file"], "line": int(m["line"]), "function": m["func"].strip(), "code": code}


def _split(block: str) -> tuple[list[Frame], list[Frame], list[str]]:
    """One traceback block: its frames, the frames embedded in the exception's message (an
    autograph error quotes the traceback of the traced function), and the message's lines
    without those frames, starting with the `Type: message` line."""
    frames: list[Frame] = []
    embedded: list[Frame] = []
    message: list[str] = []
    lines = block.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = _FRAME.match(line)
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        has_code = m is not None and nxt.startswith("    ") and not _FRAME.match(nxt)
        code = nxt.strip() if has_code and not _CARET.match(nxt) else ""
        if m and not message:
            frames.append(_frame(m, code))
        elif m:
            embedded.append(_frame(m, code))
        elif line.strip() and not _CARET.match(line) and (message or not line[0].isspace()):
            message.append(line.strip())
        i += 2 if has_code else 1
    return frames, embedded, message


def _is_library(path: str) -> bool:
    return bool(_SITE.search(path))


def _is_user(path: str) -> bool:
    """Neither an installed package, nor the standard library, nor tfrepro's own runner."""
    if _is_library(path) or path.startswith("<frozen") or path in ("<string>", "<stdin>"):
        return False
    if "tfrepro_guest" in path or re.search(r"[/\\]tfrepro[/\\]runner[/\\]", path):
        return False
    return not _STDLIB.search(path)


def _user_path(path: str) -> str:
    """A user file as the user knows it: relative to the cell's copy of the project."""
    m = re.search(r"[/\\]cwd[/\\](.+)$", path)
    return m.group(1) if m else path


def _package(path: str) -> str:
    m = _SITE.search(path)
    if not m:
        return "script"
    top = re.split(r"[/\\]", m["rest"])[0]
    return top[:-3] if top.endswith(".py") else top


def signature(traceback: str | None) -> Signature | None:
    """The failure signature of a recorded traceback; None when there is none to read."""
    if not traceback or "Traceback (most recent call last):" not in traceback:
        return None
    block = traceback.rsplit("Traceback (most recent call last):", 1)[1]
    for marker in _CHAINS:
        block = block.split(marker, 1)[0]
    frames, embedded, tail = _split(block)
    if not tail:
        return None
    m = _EXC.match(tail[0])
    if not m:
        return None
    exc_type = m["type"].rsplit(".", 1)[-1]
    rest = " ".join([m["message"] or "", *tail[1:]])
    message = re.sub(r"\s+", " ", rest).strip()[:MESSAGE_CHARS]
    user = next((f for f in reversed(frames) if _is_user(f["file"])), None)
    lib = next((f for f in reversed(frames + embedded) if _is_library(f["file"])), None)
    quoted = embedded or frames
    deepest = quoted[-1] if quoted else None
    if lib is not None and deepest is not None and _is_library(deepest["file"]):
        package = _package(lib["file"])
    else:  # raised in the user's own line: the module the message names, if any
        named = _MODULE.search(message)
        package = named["name"].split(".")[0] if named else "script"
    if user is not None:
        user = {**user, "file": _user_path(user["file"])}
    return {
        "type": exc_type,
        "message": message,
        "user_frame": user,
        "library_frame": lib,
        "package": package,
    }


def key(sig: Signature) -> str:
    """What groups failures: type, message without addresses and ids, the user's frame."""
    where = sig["user_frame"]
    at = f"{where['file']}:{where['line']}" if where else "?"
    return f"{sig['type']}|{_VOLATILE.sub('#', sig['message'])}|{at}"


def describe(sig: Signature) -> str:
    """One line: `AttributeError: module … has no attribute … at train.py:212 (from keras)`."""
    where = sig["user_frame"]
    at = f" at {where['file']}:{where['line']}" if where else ""
    return f"{sig['type']}: {sig['message']}{at} (raised in {sig['package']})"


# ------------------------------------------------------------------------------ known breaks


@cache
def known() -> tuple[dict[str, Any], ...]:
    """The curated table of known breaks, as written in data/known_breaks.toml."""
    text = resources.files("tfrepro.data").joinpath("known_breaks.toml").read_text()
    return tuple(tomllib.loads(text)["break"])


def match(
    sig: Signature | None,
    *,
    tf_version: str | None = None,
    table: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any] | None:
    """The known break a signature matches (its type and message pattern; on a release at or
    after the one that introduced it, when the release is given), or None."""
    if sig is None:
        return None
    for entry in known() if table is None else table:
        if entry["type"] != sig["type"]:
            continue
        if not re.search(entry["message"], sig["message"]):
            continue
        if tf_version and not _in_range(tf_version, entry):
            continue
        return dict(entry)
    return None


def _in_range(tf_version: str, entry: Mapping[str, Any]) -> bool:
    v = version_key(tf_version)
    until = entry.get("until")
    return v >= version_key(entry["since"]) and (until is None or v < version_key(until))


def script_failed(cell: Mapping[str, Any]) -> bool:
    """The script itself raised or exited non-zero (not its environment, not a timeout)."""
    exit_code = (cell.get("script") or {}).get("exit_code")
    return cell.get("status") == "failed" and (bool(cell.get("traceback")) or bool(exit_code))


def failure_of(cell: Mapping[str, Any]) -> dict[str, Any]:
    """How a cell failed: one line (its reason when no traceback was recorded), its signature
    and the known break it matches."""
    sig = signature(cell.get("traceback"))
    known = match(sig, tf_version=cell.get("tf_version")) if sig else None
    return {
        "describe": describe(sig) if sig else str(cell.get("reason") or cell.get("status")),
        "signature": sig,
        "known_break": known,
    }


class Failure(TypedDict):
    """Failed cells grouped by what broke (compare --json `failures`, the report's Breaks)."""

    signature: Signature | None
    describe: str  # one line (the cell's reason when no traceback was recorded)
    releases: list[str]  # the groups (releases by default) where it fails, in natural order
    first: str  # the first of them
    cells: int
    known: dict[str, Any] | None  # the matched known break


def group_failures(cells: Iterable[Cell], by: str = "tf_version") -> list[Failure]:
    """The failed cells (status failed) grouped by signature, in order of the first group
    (release, by default) where each appears; a cell without a traceback groups by its reason."""
    groups: dict[str, Failure] = {}
    for c in cells:
        if c.get("status") != "failed":
            continue
        sig = signature(c.get("traceback"))
        k = key(sig) if sig else "reason|" + str(c.get("reason") or "")
        name = groups_mod.label(groups_mod.axis_value(c, by))
        g = groups.get(k)
        if g is None:
            g = groups[k] = {
                "signature": sig,
                "describe": describe(sig) if sig else str(c.get("reason") or "failed"),
                "releases": [],
                "first": "",
                "cells": 0,
                "known": None,
            }
        g["cells"] += 1
        if name not in g["releases"]:
            g["releases"].append(name)
        if g["known"] is None and sig is not None:
            g["known"] = match(sig, tf_version=c.get("tf_version"))
    out = list(groups.values())
    for g in out:
        g["releases"].sort(key=groups_mod.sort_key)
        g["first"] = g["releases"][0]
    return sorted(out, key=lambda g: groups_mod.sort_key(g["first"]))
