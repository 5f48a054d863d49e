"""vclip-harness: does PPO's value-function clipping help?

Three parts with dependencies one way: ``ppo`` (the trainer) <- ``runs`` (experiments, runs,
results files) <- ``analysis`` (statistics and the report); ``commands`` sit on top, one
module per ``harness`` command, and ``cli`` parses the command line and calls one.
"""
