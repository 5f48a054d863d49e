"""value_loss(mode="max") against TorchRL's ClipPPOLoss critic loss (clip_value, l2)."""

import pytest
import torch
from tensordict import TensorDict
from tensordict.nn import NormalParamExtractor, TensorDictModule
from torch import nn
from torchrl.modules import ProbabilisticActor
from torchrl.objectives import ClipPPOLoss

from harness.ppo.objectives import value_loss


def make_loss(eps: float) -> ClipPPOLoss:
    actor = ProbabilisticActor(
        TensorDictModule(nn.Sequential(nn.Linear(3, 2), NormalParamExtractor()),
                         in_keys=["observation"], out_keys=["loc", "scale"]),
        in_keys=["loc", "scale"], distribution_class=torch.distributions.Normal,
        return_log_prob=True)
    # The "critic" reads the new predictions from the batch, so both losses see the same values;
    # the old ones sit under "state_value", where TorchRL reads them before calling the critic.
    critic = TensorDictModule(nn.Identity(), in_keys=["new_value"], out_keys=["state_value"])
    return ClipPPOLoss(actor, critic, clip_value=eps, loss_critic_type="l2", critic_coeff=1.0,
                       functional=False)


@pytest.mark.parametrize("eps", [0.05, 0.2, 1.0])
def test_max_mode_equals_torchrl_clip_ppo_critic_loss(eps):
    g = torch.Generator().manual_seed(int(eps * 100))
    n = 256
    old = torch.randn(n, 1, generator=g)
    new = old + 0.5 * torch.randn(n, 1, generator=g)
    returns = torch.randn(n, 1, generator=g)
    td = TensorDict({"observation": torch.randn(n, 3, generator=g), "state_value": old,
                     "new_value": new, "value_target": returns}, batch_size=[n])
    ref_loss, ref_frac, _ = make_loss(eps).loss_critic(td)
    ours, frac = value_loss(new, old, returns, mode="max", clip_eps=eps)
    assert 0.0 < frac.item() < 1.0  # both branches are exercised
    assert ours.item() == pytest.approx(ref_loss.mean().item(), rel=1e-6)
    assert frac.item() == pytest.approx(ref_frac.item())
