"""The ``harness`` commands, one module each named after its command: ``run``, ``status``,
``plan``, ``compare``, ``report``, ``export``, ``rollout``, ``bench``. Each has
``main(args, argv) -> exit code``; ``harness.cli`` parses the command line and calls one.

Beside them: ``dry_run`` (``harness run --dry-run``), ``running_looks`` (``harness run`` for a
sequential design, look by look), ``throughput`` (calibrated rates and wall-time estimates, for
plan and the dry run), ``notes`` (what the numbers will silently differ by) and ``errors``
(exit codes, ``InputError``). Commands sit on top of the three parts (``ppo``, ``runs``,
``analysis``) and import torch and friends only when they need them, so ``status`` and
``--dry-run`` answer at once.
"""
