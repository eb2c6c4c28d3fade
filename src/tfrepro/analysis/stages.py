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
    "train_forward",
    "loss",
    "gradient",
    "optimizer",
    "trajectory",
)
# The stages compared after B is given A's initial weights (and gradients): forward onwards.
NUMERIC_STAGES: tuple[str, ...] = STAGES[STAGES.index("forward") :]
# The stages measured per layer (forward) or per variable (gradient, optimizer), with items.
PER_ITEM_STAGES: tuple[str, ...] = ("forward", "train_forward", "gradient", "optimizer")
PER_LAYER_STAGES: tuple[str, ...] = ("forward", "train_forward")
# What each stage compares, in words (explain's output).
DESCRIBED: dict[str, str] = {
    "data": "the training data and the probe's batch",
    "init": "initial weights under the same seed",
    "config": "model, layer, optimizer and loss configuration",
    "forward": "each layer's output, inference mode",
    "train_forward": "each layer's output, training mode (dropout, noise, batch statistics)",
    "loss": "the loss on the batch, training mode",
    "gradient": "gradients of every trainable variable",
    "optimizer": "one update of a fresh optimizer from identical gradients",
    "trajectory": "K training steps in lockstep",
}
