"""Analysis: pure functions from recorded cells to verdicts. Never imports TensorFlow, never
opens the store; `load` is the one module that reads files (predictions, labels, baselines)."""
