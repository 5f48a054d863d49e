"""Reference implementations for tests: plain torch, autograd-friendly, independent of ours."""

import torch


def reference_mlp(layers, x):
    """Stacked tanh MLP ``[K, B, in] -> [K, B, out]`` with ``torch.tanh`` (no in-place ops)."""
    for i, (w, b) in enumerate(layers):
        x = torch.baddbmm(b, x, w)
        x = torch.tanh(x) if i < len(layers) - 1 else x
    return x
