"""An objective's value and gradients against an independent plain computation: the reference is written with
numpy and loops (no torch), and its gradient is taken by central finite differences, all in float64."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

Reference = Callable[[np.ndarray, "np.ndarray | None", "slice | None"], float]


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def numeric_gradient(reference: Reference, z: np.ndarray, labels, rows, eps: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(z)
    for index in np.ndindex(*z.shape):
        up, down = z.copy(), z.copy()
        up[index] += eps
        down[index] -= eps
        grad[index] = (reference(up, labels, rows) - reference(down, labels, rows)) / (2 * eps)
    return grad


def check_value_and_gradients(objective: torch.nn.Module, reference: Reference, z: torch.Tensor,
                              labels: torch.Tensor | None = None, rows: slice | None = None) -> None:
    """``objective(z, labels, rows)`` equals ``reference`` (1e-9 relative) and so does its gradient wrt ``z``
    (1e-6 of the largest element: the finite differences' own error is ~1e-9)."""
    z = z.to(torch.float64).detach().requires_grad_(True)
    loss = objective(z, labels, rows)
    loss.backward()
    z_np = z.detach().numpy()
    labels_np = None if labels is None else labels.numpy()
    expected = reference(z_np, labels_np, rows)
    assert abs(loss.item() - expected) <= 1e-9 * max(1.0, abs(expected)), (loss.item(), expected)
    numeric = numeric_gradient(reference, z_np, labels_np, rows)
    scale = max(np.abs(numeric).max(), 1e-12)
    worst = np.abs(z.grad.numpy() - numeric).max() / scale
    assert worst <= 1e-6, f"gradient differs from finite differences by {worst:g} of its largest element"
