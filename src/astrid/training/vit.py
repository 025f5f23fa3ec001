"""A small vision transformer for real/bogus (PyTorch; the ``train`` extra), against the CNN.

Same inputs and outputs as `astrid.training.cnn.RealBogusNet` (so it trains, calibrates
and exports through the same code): the four 63×63 channels are cut into 7×7 patches (81
tokens) and linearly embedded, a class token and learned position embeddings are added,
four pre-norm transformer blocks (4 heads, width 64, MLP 128) follow, and the class token,
joined by the standardised scalar features, gives the 64-d penultimate features and the
two logits. About 150 k parameters. Written out in plain PyTorch (no timm: its
torchvision dependency does not install beside this machine's CPU build of PyTorch) with
hand-written attention, so the ONNX export holds only standard operators.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from astrid.training.cnn import FeatureHead

__all__ = ["RealBogusViT"]


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp, dim)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        h = self.heads
        q, k, v = self.qkv(self.norm1(x)).reshape(n, t, 3, h, d // h).permute(2, 0, 3, 1, 4)
        attn = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d // h), dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(n, t, d)
        x = x + self.dropout(self.proj(out))
        return x + self.dropout(self.mlp(self.norm2(x)))


class RealBogusViT(nn.Module):
    """Cutouts ``(n, 4, 63, 63)``, scalars ``(n, k)`` → logits ``(n, 2)``, features ``(n, d)``."""

    def __init__(
        self,
        n_scalars: int,
        scalar_mean: np.ndarray,
        scalar_std: np.ndarray,
        *,
        in_channels: int = 4,
        size: int = 63,
        patch: int = 7,
        dim: int = 64,
        depth: int = 4,
        heads: int = 4,
        feature_dim: int = 64,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        tokens = (size // patch) ** 2
        self.embed = nn.Conv2d(in_channels, dim, patch, stride=patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, tokens + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[_Block(dim, heads, 2 * dim, dropout) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.top = FeatureHead(dim, n_scalars, scalar_mean, scalar_std, feature_dim)

    def forward(
        self, cutouts: torch.Tensor, scalars: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.embed(cutouts).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        return self.top(self.norm(self.blocks(x))[:, 0], scalars)
