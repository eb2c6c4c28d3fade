"""Environments: the release catalogue, interpreters on this machine, and uv-built venvs."""
