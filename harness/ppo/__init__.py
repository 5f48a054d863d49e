"""The PPO trainer: Baselines ppo2 for a pack of K agents trained in lockstep.

Config (the one place that says what ``vf_clip_eps`` means when the value is unclipped),
networks, loss functions (``objectives``), optimiser, envs (with thin MuJoCo stepping), data
collection (``collect``), update and the training loop. Its contract is ``agent``: an
``AgentSpec`` in, the logged fields out. It knows nothing of experiments or files and imports
neither ``harness.runs`` nor ``harness.analysis``.
"""
