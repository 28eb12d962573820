#!/usr/bin/env python3
"""The PyTorch side of `npm run bench:peer`: the project's architectures (src/ml/models.ts) rebuilt
layer for layer in PyTorch, trained with adam at the same batch size and thread count, and run for
inference in batches of 256. Prints one JSON object per architecture on stdout.

  python3 bench/peer_torch.py --arch mlp,keras-cnn,strong-cnn --threads 2 --batch 64 --steps 60
"""
import argparse
import json
import time

import torch
from torch import nn


def build(arch: str) -> nn.Module:
    if arch == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    if arch == "simple-cnn":
        return nn.Sequential(
            nn.Conv2d(1, 10, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(10, 20, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(320, 50), nn.ReLU(), nn.Linear(50, 10))
    if arch == "keras-cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3), nn.ReLU(),
            nn.Flatten(), nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10))
    if arch == "strong-cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 5, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 64, 5, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(64), nn.ReLU(), nn.Dropout(0.25),
            nn.Flatten(), nn.Linear(1024, 128, bias=False), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.4),
            nn.Linear(128, 10))
    raise SystemExit(f"unknown architecture {arch}")


def train_speed(arch: str, batch: int, steps: int, images: torch.Tensor, labels: torch.Tensor) -> float:
    torch.manual_seed(1)
    model = build(arch)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    n = images.shape[0]

    def step(i: int) -> None:
        # A shuffled batch gathered from the set, as the training loop of the service does.
        idx = torch.randint(0, n, (batch,))
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(images[idx]), labels[idx])
        loss.backward()
        opt.step()

    for i in range(5):
        step(i)
    t0 = time.perf_counter()
    for i in range(steps):
        step(i)
    return steps * batch / (time.perf_counter() - t0)


def infer_speed(arch: str, images: torch.Tensor, batch: int = 256) -> float:
    torch.manual_seed(1)
    model = build(arch)
    model.eval()
    with torch.no_grad():
        model(images[:512]).softmax(1)
        t0 = time.perf_counter()
        for start in range(0, images.shape[0], batch):
            model(images[start:start + batch]).softmax(1).numpy()
        return images.shape[0] / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="mlp,keras-cnn,strong-cnn")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--infer", type=int, default=10000)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(0)
    images = torch.rand((max(a.infer, a.batch * 8), 1, 28, 28), generator=g)
    labels = torch.randint(0, 10, (images.shape[0],), generator=g)
    for arch in a.arch.split(","):
        tr = train_speed(arch, a.batch, a.steps, images, labels)
        inf = infer_speed(arch, images[: a.infer])
        print(json.dumps({"arch": arch, "train": tr, "infer": inf, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)


if __name__ == "__main__":
    main()
