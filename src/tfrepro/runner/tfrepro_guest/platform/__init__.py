"""What the guest asks of its environment: release capabilities, the TF1 / Keras 2 / Keras 3
differences (one Compat object, chosen once after the import), the fingerprint, content
hashes, the event log."""
