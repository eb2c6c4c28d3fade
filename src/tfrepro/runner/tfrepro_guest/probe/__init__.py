"""explain's probe: the stages (configs, init, forward, training-mode forward, loss, gradient,
optimizer update, trajectory) on one batch, shared by model cells (`model`) and scripts
(`script`, at the script's first fit or eager apply_gradients)."""
