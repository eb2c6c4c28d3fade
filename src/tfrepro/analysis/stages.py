"""The stages of `tfrepro explain`, in the order a probe runs them: the one definition.

A probe (see analysis.divergence) compares B with A stage by stage; the first stage that
diverges beyond the tolerance a rerun of A shows is where the two first part.
"""

from __future__ import annotations

STAGES: tuple[str, ...] = (
    "data",
    "init",
    "config",
    "forward",
    "loss",
    "gradient",
    "optimizer",
    "trajectory",
)
# The stages compared after B is given A's initial weights (and gradients): forward onwards.
NUMERIC_STAGES: tuple[str, ...] = STAGES[STAGES.index("forward") :]
# The stages measured per layer (forward) or per variable (gradient, optimizer), with items.
PER_ITEM_STAGES: tuple[str, ...] = ("forward", "gradient", "optimizer")
