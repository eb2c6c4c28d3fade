"""Every exception tfrepro raises on purpose. Only the CLI prints them and picks the exit code.

Messages are one line: what was wrong, what was expected, and how to fix it.
"""


class TfreproError(Exception):
    """Base class; `exit_code` is what the CLI exits with."""

    exit_code = 1


class UsageError(TfreproError):
    """Bad command-line arguments or a malformed experiment spec."""

    exit_code = 2


class SpecError(UsageError):
    """The experiment spec (TOML) is invalid."""


class UnknownReleaseError(UsageError):
    """A TensorFlow release the catalogue does not know."""


class NoInterpreterError(TfreproError):
    """No Python interpreter on this machine can run a requested TensorFlow release."""


class EnvironmentBuildError(TfreproError):
    """uv could not build, or the built environment could not import TensorFlow."""

    def __init__(self, message: str, log_path: str | None = None) -> None:
        super().__init__(message)
        self.log_path = log_path


class StoreError(TfreproError):
    """The result store is missing, locked or unreadable."""


class CatalogueError(TfreproError):
    """The release catalogue could not be read or refreshed."""


class ExplainError(TfreproError):
    """A probe of `tfrepro explain` could not run (the cell fails in that environment)."""


class FileWriteError(TfreproError):
    """A file tfrepro writes (report, baseline, artifact, cache entry) could not be written."""

    def __init__(self, path: object, exc: OSError) -> None:
        reason = exc.strerror or str(exc)
        super().__init__(
            f"cannot write '{path}': {reason}; choose another path or make its folder writable"
        )
        self.path = path
