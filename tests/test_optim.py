"""Per-agent Adam and gradient clipping equal the single-agent references."""

import pytest
import torch

from harness.ppo.optim import AdamState, adam_step, clip_grad_norm


def test_adam_matches_torch_adam_per_agent():
    torch.manual_seed(0)
    start = torch.randn(2, 3, 4)
    lrs, eps = torch.tensor([1e-2, 3e-4]), torch.tensor([1e-5, 1e-8])
    ours = start.reshape(2, -1).clone()
    state = AdamState.zeros(ours)
    refs = [start[k].clone().requires_grad_() for k in range(2)]
    opts = [torch.optim.Adam([refs[k]], lr=lrs[k].item(), eps=eps[k].item()) for k in range(2)]
    for _ in range(5):
        grad = torch.randn(2, 3, 4)
        adam_step(ours, grad.reshape(2, -1).clone(), state, lrs, eps)
        for k in range(2):
            refs[k].grad = grad[k].clone()
            opts[k].step()
    for k in range(2):
        assert torch.allclose(ours[k], refs[k].flatten(), atol=1e-6)


def test_clip_grad_norm_is_tf_clip_by_global_norm_per_agent():
    grad = torch.tensor([[3.0, 0, 0, 0.0, 4.0], [0.1, 0, 0, 0.0, 0.0]])
    norms = clip_grad_norm(grad, torch.tensor([0.5, 0.5]))
    assert norms.tolist() == pytest.approx([5.0, 0.1])
    # agent 0: norm 5 > 0.5 -> scaled by 0.1; agent 1: below the clip -> untouched
    assert torch.allclose(grad, torch.tensor([[0.3, 0, 0, 0, 0.4], [0.1, 0, 0, 0, 0]]))
