"""From run files to the answer: loading, scores, statistics, tables, claim verdicts, plots and
the report.

Reads run files back and never touches the trainer. It may import the runs' data types
(``runs.spec``, ``runs.schema``, ``runs.expand`` for the run ids of an experiment,
``runs.files`` for atomic writes) and the plain ``ppo.config`` dataclass, nothing else of
``harness.runs`` or ``harness.ppo``.
"""
