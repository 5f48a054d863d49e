"""Which arithmetic the trainer does: a version bumped whenever a change alters a run's floats.

The algorithm (ppo2) stays the same across versions; the rounding does not, so runs of two
versions are equal in distribution but not bit for bit. The manifest records each session's
version (``runs.provenance``), ``harness run``/``status`` say when a results directory mixes
versions, and a checkpoint of another version is not resumed: each run is one version's.

1. Up to 2026-12-02 (every study published before issue 24).
2. Issue 24: the update runs with denormals flushed to zero, as TensorFlow's ppo2 did; Adam is
   torch's fused kernel; tanh and its derivative are torch's own kernels.
"""

NUMERICS = 2
"""This trainer's version (see the module docstring)."""

BEFORE_RECORDED = 1
"""The version of sessions and checkpoints recorded before the version was."""
