"""Experiments and their runs: YAML loading and validation, expansion into runs, packing, the
joblib/Dask runner, progress, and the results directory (schema, atomic files, run states).

Drives the trainer (``harness.ppo``) and is the only part that writes run files. It imports
``harness.ppo`` but never ``harness.analysis``.
"""
