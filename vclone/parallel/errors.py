"""The pipeline engine's errors: one line each, as every vclone error (vclone.errors.VcloneError)."""

from __future__ import annotations

from vclone.errors import VcloneError

__all__ = ["PipelineError", "PeerReported", "PipelineDiverged"]


class PipelineError(VcloneError):
    """A pipeline peer died, timed out, or sent something this stage did not expect."""


class PeerReported(PipelineError):
    """The same error another rank (rank 0) reports to the user: this rank exits quietly."""


class PipelineDiverged(PipelineError):
    """The loss or the gradient norm of a pipeline step became NaN or infinite."""
