"""tblog quickstart: a two-layer numpy network learns XOR, logged to TensorBoard.

No framework needed: the network and its backpropagation are written in numpy. Every step
logs the loss and accuracy; every ``--log-every`` steps (and at the last step) it logs a
histogram of each weight matrix and the decision surface as an image.

    python examples/quickstart.py --logdir runs/quickstart --steps 500
    tensorboard --logdir runs
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

import tblog

HIDDEN = 16
SURFACE = 64  # decision surface image is SURFACE x SURFACE pixels


def make_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points in [-1, 1]^2; label 1 where the two coordinates have opposite signs."""
    x = rng.uniform(-1, 1, size=(n, 2))
    y = (x[:, 0] * x[:, 1] < 0).astype(np.float64)[:, None]
    return x, y


def init_params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "W1": rng.normal(0, 1.0, size=(2, HIDDEN)),
        "b1": np.zeros(HIDDEN),
        "W2": rng.normal(0, 1.0 / np.sqrt(HIDDEN), size=(HIDDEN, 1)),
        "b2": np.zeros(1),
    }


def forward(p: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hidden activations (tanh) and output probabilities (sigmoid)."""
    h = np.tanh(x @ p["W1"] + p["b1"])
    out = 1.0 / (1.0 + np.exp(-(h @ p["W2"] + p["b2"])))
    return h, out


def train_step(
    p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, lr: float
) -> tuple[float, float]:
    """One full-batch gradient step on binary cross-entropy; returns (loss, accuracy)."""
    h, out = forward(p, x)
    eps = 1e-12
    loss = float(-np.mean(y * np.log(out + eps) + (1 - y) * np.log(1 - out + eps)))
    accuracy = float(np.mean((out > 0.5) == (y > 0.5)))
    d_logits = (out - y) / len(x)  # dLoss/dz for sigmoid + cross-entropy
    grads = {"W2": h.T @ d_logits, "b2": d_logits.sum(0)}
    d_h = (d_logits @ p["W2"].T) * (1 - h**2)
    grads["W1"] = x.T @ d_h
    grads["b1"] = d_h.sum(0)
    for name, grad in grads.items():
        p[name] -= lr * grad
    return loss, accuracy


def decision_surface(p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """An ``[H, W, 3]`` float image in [0, 1]: predicted probability from blue (0) to red (1),
    training points drawn as dark (label 0) and white (label 1) dots."""
    axis = np.linspace(-1.2, 1.2, SURFACE)
    gx, gy = np.meshgrid(axis, axis[::-1])
    _, prob = forward(p, np.stack([gx.ravel(), gy.ravel()], axis=1))
    prob = prob.reshape(SURFACE, SURFACE, 1)
    blue, red = np.array([0.2, 0.4, 0.9]), np.array([0.9, 0.3, 0.2])
    img = (1 - prob) * blue + prob * red
    cols = np.clip(((x[:, 0] + 1.2) / 2.4 * (SURFACE - 1)).round().astype(int), 0, SURFACE - 1)
    rows = np.clip(((1.2 - x[:, 1]) / 2.4 * (SURFACE - 1)).round().astype(int), 0, SURFACE - 1)
    img[rows, cols] = np.where(y > 0.5, 1.0, 0.05)
    return img


def main(argv: Sequence[str] | None = None) -> float:
    """Train and log; returns the final loss."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logdir", default="runs/quickstart", help="run directory to write")
    parser.add_argument("--steps", type=int, default=500, help="training steps")
    parser.add_argument("--log-every", type=int, default=10, help="steps between histograms/images")
    parser.add_argument("--print-every", type=int, default=100, help="steps between progress lines")
    parser.add_argument("--lr", type=float, default=2.0, help="learning rate")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.steps < 1 or args.log_every < 1 or args.print_every < 1:
        parser.error("--steps, --log-every and --print-every must be positive")

    rng = np.random.default_rng(args.seed)
    x, y = make_data(256, rng)
    params = init_params(rng)
    loss = float("nan")
    with tblog.SummaryWriter(args.logdir) as writer:
        writer.add_text("about", "Two-layer numpy MLP (tanh, sigmoid) learning XOR.", 0)
        for step in range(args.steps):
            if step % args.log_every == 0 or step == args.steps - 1:
                for name, value in params.items():
                    writer.add_histogram(f"weights/{name}", value, step)
                writer.add_image(
                    "decision_surface", decision_surface(params, x, y), step, dataformats="HWC"
                )
            loss, accuracy = train_step(params, x, y, args.lr)
            writer.add_scalar("loss", loss, step)
            writer.add_scalar("accuracy", accuracy, step)
            if step % args.print_every == 0:
                print(f"step {step}: loss {loss:.4f}, accuracy {accuracy:.3f}", flush=True)
    print(
        f"{args.steps} steps, final loss {loss:.4f}; view with: tensorboard --logdir {args.logdir}",
        flush=True,
    )
    return loss


if __name__ == "__main__":
    main()
