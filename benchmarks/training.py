"""Training throughput: hep_aa's on-device batching loop vs a plain DataLoader loop.

Both train the same MLP VAE (same initial weights, batch size, optimiser and loss) on the
same standardised tabular data, for the same number of epochs, in one run. Reported:
training samples/s of each, and their ratio.

    python benchmarks/training.py [--events 100000] [--features 5] [--epochs 3] [--batch-sizes 256 1024 4096]
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from hep_aa.models import MLPVAE
from hep_aa.training import pretrain, resolve_device


def reference_loop(model: MLPVAE, x: torch.Tensor, epochs: int, batch_size: int, lr: float) -> None:
    """The textbook loop: DataLoader(TensorDataset) with shuffling, per-sample indexing and collation."""
    loader = DataLoader(TensorDataset(x), batch_size=batch_size, shuffle=True)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        for (xb,) in loader:
            xb = xb.to(x.device)
            loss = model.loss(xb, model(xb), reduction="mean")
            opt.zero_grad()
            loss.total.backward()
            opt.step()


def measure(base: MLPVAE, x: torch.Tensor, epochs: int, batch_size: int) -> dict[str, float]:
    """Seconds of each loop for ``epochs`` epochs at ``batch_size`` (fresh copies of ``base``)."""
    val = x[: max(1, len(x) // 10)]
    timings = {}
    for name in ("hep_aa", "DataLoader"):
        model = copy.deepcopy(base)
        if x.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        if name == "hep_aa":
            # includes its per-epoch validation pass and best-state bookkeeping
            pretrain(
                model,
                x,
                val,
                epochs=epochs,
                batch_size=batch_size,
                learning_rate=1e-3,
                patience=epochs + 1,
                generator=torch.Generator().manual_seed(0),
            )
        else:
            reference_loop(model, x, epochs, batch_size, 1e-3)
        if x.device.type == "cuda":
            torch.cuda.synchronize()
        timings[name] = time.perf_counter() - start
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (CPU)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    x = torch.from_numpy(
        np.random.default_rng(0).normal(size=(args.events, args.features)).astype(np.float32)
    )
    x = x.to(device)
    torch.manual_seed(0)
    base = MLPVAE(args.features, (64, 32), 4).to(device)
    # warm-up: the first optimizer construction imports torch._dynamo (~1.5 s, once per process)
    torch.optim.Adam(copy.deepcopy(base).parameters())

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, device {device}, torch {torch.__version__}, threads {args.threads}"
    )
    print(f"MLP VAE {args.features}-64-32-4, {args.events} events, {args.epochs} epochs")
    print(
        f"{'batch':>6} {'hep_aa s':>9} {'hep_aa ev/s':>12} {'DataLoader s':>13} {'DataLoader ev/s':>16} {'ratio':>6}"
    )
    for batch_size in args.batch_sizes:
        t = measure(base, x, args.epochs, batch_size)
        rate = {k: args.events * args.epochs / v for k, v in t.items()}
        ratio = rate["hep_aa"] / rate["DataLoader"]
        print(
            f"{batch_size:>6} {t['hep_aa']:>9.2f} {rate['hep_aa']:>12,.0f} {t['DataLoader']:>13.2f} "
            f"{rate['DataLoader']:>16,.0f} {ratio:>5.2f}x"
        )


if __name__ == "__main__":
    main()
