"""The PyTorch TensorBoard tutorial, on scikit-learn's 8x8 digits, for either writer.

Written against ``torch.utils.tensorboard``'s API; ``--writer tblog`` changes only the
import. Logs what the tutorial logs: an image grid, the model graph, an embedding with
label images, the training loss, a predictions-vs-actuals figure and one PR curve per
class. Run: ``python examples/torch_tutorial.py --writer tblog --logdir runs/digits``.
It trains with Adam where the tutorial uses SGD: on 1,400 small images SGD sits on a plateau
for the first epoch.
"""

from __future__ import annotations

import argparse

print("loading torch, scikit-learn and matplotlib ...", flush=True)  # seconds on a busy machine

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from torch import nn  # noqa: E402

CLASSES = tuple(str(d) for d in range(10))


class Net(nn.Module):
    """A small CNN for 1x8x8 images."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 3, padding=1)
        self.fc1 = nn.Linear(16 * 2 * 2, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


def make_grid(images: torch.Tensor, nrow: int = 8, padding: int = 2) -> torch.Tensor:
    """[N, C, H, W] images in [0, 1] -> one [3, H', W'] grid (torchvision's layout)."""
    n, c, h, w = images.shape
    if c == 1:
        images = images.expand(n, 3, h, w)
    cols = min(nrow, n)
    rows = (n + cols - 1) // cols
    grid = torch.zeros(3, rows * (h + padding) + padding, cols * (w + padding) + padding)
    for i in range(n):
        r, k = divmod(i, cols)
        top, left = r * (h + padding) + padding, k * (w + padding) + padding
        grid[:, top : top + h, left : left + w] = images[i]
    return grid


def load_data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Digits as [N, 1, 8, 8] float images in [0, 1] and int64 labels, split train/test."""
    digits = load_digits()
    x = torch.tensor(digits.images / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(digits.target, dtype=torch.int64)
    return x[:1400], y[:1400], x[1400:], y[1400:]


def plot_classes_preds(net: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> plt.Figure:
    """A figure of 4 images with the predicted class, its probability and the label."""
    with torch.no_grad():
        probs = F.softmax(net(images), dim=1)
    preds = probs.argmax(1)
    fig = plt.figure(figsize=(6, 2), dpi=50)
    for i in range(4):
        ax = fig.add_subplot(1, 4, i + 1, xticks=[], yticks=[])
        ax.imshow(images[i, 0].numpy(), cmap="Greys")
        ok = preds[i] == labels[i]
        ax.set_title(
            f"{CLASSES[preds[i]]}, {probs[i, preds[i]] * 100:.1f}%\n(label: {CLASSES[labels[i]]})",
            color="green" if ok else "red",
            fontsize=7,
        )
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writer", choices=("torch", "tblog"), default="tblog")
    parser.add_argument("--logdir", default="runs/digits_experiment_1")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate")
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    # The only line that differs between the two writers.
    if args.writer == "torch":
        from torch.utils.tensorboard import SummaryWriter
    else:
        from tblog import SummaryWriter

    torch.set_num_threads(1)  # a model this small trains fastest on one thread
    torch.manual_seed(args.seed)
    x_train, y_train, x_test, y_test = load_data()
    print(f"{len(x_train)} training digits; building the CNN and its optimizer", flush=True)
    net = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    writer = SummaryWriter(args.logdir)
    print(f"logging to {args.logdir} with the {args.writer} SummaryWriter", flush=True)

    # 1. A grid of training images, and 2. the model graph.
    images = x_train[:16]
    writer.add_image("digit_images", make_grid(images))
    writer.add_graph(net, images)
    print("logged an image grid and the model graph", flush=True)

    # 3. An embedding of 100 random images, labelled, with their thumbnails.
    perm = torch.randperm(len(x_train))[:100]
    features = x_train[perm].reshape(-1, 64)
    writer.add_embedding(
        features, metadata=[CLASSES[i] for i in y_train[perm]], label_img=x_train[perm]
    )
    print("logged an embedding of 100 digits", flush=True)

    # 4. Training: running loss as a scalar, predictions as a figure.
    running_loss = 0.0
    step = 0
    for epoch in range(args.epochs):
        order = torch.randperm(len(x_train))
        for start in range(0, len(x_train), args.batch_size):
            idx = order[start : start + args.batch_size]
            inputs, labels = x_train[idx], y_train[idx]
            optimizer.zero_grad()
            loss = criterion(net(inputs), labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            step += 1
            if step % args.log_every == 0:
                writer.add_scalar("training loss", running_loss / args.log_every, step)
                writer.add_figure(
                    "predictions vs. actuals", plot_classes_preds(net, inputs, labels), step
                )
                print(
                    f"epoch {epoch} step {step}: training loss {running_loss / args.log_every:.3f}",
                    flush=True,
                )
                running_loss = 0.0

    # 5. One precision-recall curve per class on the test set.
    with torch.no_grad():
        probs = F.softmax(net(x_test), dim=1)
    for k, name in enumerate(CLASSES):
        writer.add_pr_curve(name, y_test == k, probs[:, k], global_step=0)
    writer.close()
    accuracy = (probs.argmax(1) == y_test).float().mean().item()
    print(
        f"test accuracy {accuracy:.3f}; logged PR curves; "
        f"view with: tensorboard --logdir {args.logdir}",
        flush=True,
    )


if __name__ == "__main__":
    main()
