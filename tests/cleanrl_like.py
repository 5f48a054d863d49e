"""Logs like CleanRL's ppo_continuous_action.py (its tag names, to runs/<name> under the
given dir), without training: the command-template trainer's test script."""

import argparse

from tensorboardX import SummaryWriter

parser = argparse.ArgumentParser()
parser.add_argument("--env-id")
parser.add_argument("--seed", type=int)
parser.add_argument("--total-timesteps", type=int)
parser.add_argument("--num-steps", type=int)
parser.add_argument("--clip-vloss", choices=["true", "false"])
parser.add_argument("--tensorboard-dir")
args = parser.parse_args()
writer = SummaryWriter(f"{args.tensorboard_dir}/runs/{args.env_id}__{args.seed}")
for update in range(1, args.total_timesteps // args.num_steps + 1):
    step = update * args.num_steps
    writer.add_scalar("charts/episodic_return", 10.0 * update + args.seed, step - 5)
    writer.add_scalar("charts/episodic_length", 20, step - 5)
    writer.add_scalar("charts/learning_rate", 3e-4 / update, step)
    writer.add_scalar("losses/value_loss", 0.25, step)  # CleanRL's 0.5 * mean
    writer.add_scalar("losses/policy_loss", -0.01, step)
    writer.add_scalar("losses/entropy", 1.4, step)
    writer.add_scalar("losses/approx_kl", 0.002, step)
    writer.add_scalar("losses/clipfrac", 0.1, step)
    writer.add_scalar("losses/explained_variance", 0.5, step)
    writer.add_scalar("charts/SPS", 1000, step)
writer.close()
