"""Experiments and their runs: YAML loading and validation, expansion into runs, packing, the
joblib/Dask runner, progress, the results directory (schema, atomic files, run states) and a
sequential design's record (``sequential_record``: ``sequential.json`` and which runs a look
wants) and the commit an experiment's plan was registered at (``plan_history``).

Drives the trainer (``harness.ppo``) and is the only part that writes run files. It imports
``harness.ppo`` but never ``harness.analysis``.
"""
