"""The command line's parser class and argument types: text to values, or one line that says
what is wrong (a UsageError, exit 2)."""

from __future__ import annotations

import argparse
import math
from typing import NoReturn

from tfrepro.errors import UsageError


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


MAX_SEEDS = 10_000  # a seed is a cell per release and setting


def seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if ".." in part:
                lo, hi = (int(x) for x in part.split(".."))
                if hi < lo:
                    raise UsageError(
                        f"--seeds: range '{part}' is empty: its start is after its end "
                        f"(write the smaller seed first, e.g. {hi}..{lo})"
                    )
                if hi - lo >= MAX_SEEDS:
                    raise UsageError(f"--seeds: range '{part}' is too long: at most {MAX_SEEDS}")
                out.extend(range(lo, hi + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise UsageError(
                f"--seeds: '{part}' is not a seed; give non-negative integers such as 0,1,2 or 0..4"
            ) from None
    if any(s < 0 for s in out):
        raise UsageError(
            f"--seeds: seeds must be non-negative, got {text}; give seeds such as 0,1,2 or 0..4"
        )
    return out


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got '{text}'")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def probability(text: str) -> float:
    value = positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value
