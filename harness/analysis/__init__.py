"""From run files to the answer: loading and scoring an experiment (``load``, ``scores``,
``study``), which comparisons it has (``pairs``), statistics (``stats``, ``effects``,
``alpha_spending``, ``stability``), tables, claim verdicts, plots and the report
(``report_tables`` computes, ``markdown`` renders, ``report_writer`` writes), the TensorBoard
export and the README's answer.

Reads run files back and never touches the trainer. It may import the runs' data types
(``runs.spec``, ``runs.schema``, ``runs.expand`` for the run ids of an experiment,
``runs.files`` for atomic writes, ``runs.sequential_record`` for a sequential design's looks)
and the plain ``ppo.config`` dataclass, nothing else of ``harness.runs`` or ``harness.ppo``.
"""
