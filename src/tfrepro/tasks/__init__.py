"""Orchestration: run, explain, bisect and the store queries, as tasks that return typed results
and print nothing (the CLI renders them)."""
