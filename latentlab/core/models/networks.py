"""Encoder and decoder networks (MLP and convolutional), sized from the input shape.

Conditioning on a class label (CVAE) is done the textbook way — a one-hot label joins the
input of the first layer — but written as an embedding added to that layer's output:
``W @ [x; onehot(y)] = W_x @ x + W_y[:, y]``, and ``W_y[:, y]`` is exactly an embedding
lookup. Same maths, no concatenation copy on the hot path.

Convolutional geometry (documented because any ``H, W`` must work):

* encoder: ``len(hidden)`` convolutions, kernel 3, stride 2, padding 1, so each halves a
  side rounding up (``ceil(n / 2)``) — valid for every size, odd ones included;
* decoder: a linear layer to the encoder's last feature map, then transposed convolutions
  (kernel 4, stride 2, padding 1: exactly doubles each side) back to the image channels;
  the result is ``>=`` the image size and is cropped at the top-left, where the encoder's
  sampling grid is anchored (output cell ``i`` is centred on input pixel ``2 i``).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def conv_feature_size(size: int, layers: int) -> int:
    """Side length after ``layers`` stride-2 convolutions with padding 1 (ceil halving)."""
    for _ in range(layers):
        size = (size + 1) // 2
    return size


def _label_embedding(num_classes: int, width: int, fan_in: int) -> nn.Embedding | None:
    """The one-hot columns of a first layer, initialised like the layer they extend."""
    if num_classes <= 0:
        return None
    emb = nn.Embedding(num_classes, width)
    bound = 1.0 / math.sqrt(fan_in + num_classes)
    nn.init.uniform_(emb.weight, -bound, bound)
    return emb


def _mlp_tail(widths: list[int]) -> nn.Sequential:
    """``ReLU, Linear, ReLU, Linear, ...`` over consecutive ``widths``; no final activation."""
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.ReLU(inplace=True), nn.Linear(a, b)]
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    """Flatten → hidden layers (ReLU) → ``out_features`` (e.g. mu and logvar stacked)."""

    def __init__(self, input_shape: tuple[int, int, int], hidden: tuple[int, ...],
                 out_features: int, num_classes: int = 0) -> None:
        super().__init__()
        d = math.prod(input_shape)
        self.input = nn.Linear(d, hidden[0])
        self.label = _label_embedding(num_classes, hidden[0], d)
        self.body = _mlp_tail([*hidden, out_features])

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.input(x.flatten(1))
        if self.label is not None and y is not None:
            h = h + self.label(y)
        return self.body(h)


class MLPDecoder(nn.Module):
    """Latent → hidden layers in reverse (ReLU) → one output per pixel, reshaped to the image."""

    def __init__(self, latent_dim: int, hidden: tuple[int, ...],
                 output_shape: tuple[int, int, int], num_classes: int = 0) -> None:
        super().__init__()
        widths = list(reversed(hidden))
        self.output_shape = tuple(output_shape)
        self.input = nn.Linear(latent_dim, widths[0])
        self.label = _label_embedding(num_classes, widths[0], latent_dim)
        self.body = _mlp_tail([*widths, math.prod(output_shape)])

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.input(z)
        if self.label is not None and y is not None:
            h = h + self.label(y)
        return self.body(h).view(-1, *self.output_shape)


class ConvEncoder(nn.Module):
    """Stride-2 convolutions (channels = ``hidden``) → flatten → linear to ``out_features``."""

    def __init__(self, input_shape: tuple[int, int, int], channels: tuple[int, ...],
                 out_features: int, num_classes: int = 0) -> None:
        super().__init__()
        c, h, w = input_shape
        self.input = nn.Conv2d(c, channels[0], kernel_size=3, stride=2, padding=1)
        # The label joins as a per-channel bias of the first feature map (a constant one-hot
        # input plane seen through a convolution, ignoring the zero border).
        self.label = _label_embedding(num_classes, channels[0], c * 9)
        layers: list[nn.Module] = []
        for a, b in zip(channels[:-1], channels[1:]):
            layers += [nn.ReLU(inplace=True), nn.Conv2d(a, b, kernel_size=3, stride=2, padding=1)]
        n = len(channels)
        flat = channels[-1] * conv_feature_size(h, n) * conv_feature_size(w, n)
        layers += [nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(flat, out_features)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.input(x)
        if self.label is not None and y is not None:
            h = h + self.label(y)[:, :, None, None]
        return self.body(h)


class ConvDecoder(nn.Module):
    """Linear to a small feature map → transposed convolutions → crop to ``(H, W)``."""

    def __init__(self, latent_dim: int, channels: tuple[int, ...],
                 output_shape: tuple[int, int, int], num_classes: int = 0) -> None:
        super().__init__()
        c, h, w = output_shape
        n = len(channels)
        self.output_shape = tuple(output_shape)
        self.seed_shape = (channels[-1], conv_feature_size(h, n), conv_feature_size(w, n))
        self.input = nn.Linear(latent_dim, math.prod(self.seed_shape))
        self.label = _label_embedding(num_classes, math.prod(self.seed_shape), latent_dim)
        widths = [*reversed(channels), c]
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.ReLU(inplace=True), nn.ConvTranspose2d(a, b, kernel_size=4, stride=2, padding=1)]
        self.body = nn.Sequential(*layers)
        grown = (self.seed_shape[1] * 2**n, self.seed_shape[2] * 2**n)
        self._crop = grown != (h, w)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.input(z)
        if self.label is not None and y is not None:
            h = h + self.label(y)
        out = self.body(h.view(-1, *self.seed_shape))
        if self._crop:
            out = out[:, :, : self.output_shape[1], : self.output_shape[2]]
        return out


def make_networks(input_shape: tuple[int, int, int], arch: str, hidden: tuple[int, ...],
                  latent_dim: int, encoder_out: int, num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """Build ``(encoder, decoder)`` for ``arch`` ("mlp" or "conv")."""
    if arch == "mlp":
        return (MLPEncoder(input_shape, hidden, encoder_out, num_classes),
                MLPDecoder(latent_dim, hidden, input_shape, num_classes))
    return (ConvEncoder(input_shape, hidden, encoder_out, num_classes),
            ConvDecoder(latent_dim, hidden, input_shape, num_classes))
