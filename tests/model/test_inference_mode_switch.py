"""A model used under torch.inference_mode (validation, embedding) must keep working afterwards under
no_grad and in training: cached operator workspaces must not become inference tensors."""

import torch

from genoseq import build_model
from genoseq.model.presets import get_preset


def test_inference_mode_then_no_grad_then_training_give_the_same_outputs():
    torch.manual_seed(0)
    cfg = get_preset("hyenadna-tiny").replace(d_model=16, n_layer=1, max_len=64, head="token", n_outputs=2)
    model = build_model(cfg).eval()
    x = torch.randint(5, 9, (4, 64))
    with torch.inference_mode():
        first = model(x).clone()
    with torch.no_grad():
        second = model(x)
    model.train()
    third = model(x)
    third.sum().backward()
    assert torch.equal(first, second)
    assert torch.allclose(third.detach(), first, rtol=0, atol=1e-6)
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
