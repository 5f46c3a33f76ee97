"""A reference-style trainer: the benchmark's baseline, not part of the build.

The shape of the consumer's own trainer as its decision record describes it:
a float32 MLP (14 -> 64 -> 64 -> 1, ReLU, ``100 * sigmoid`` head) on the
features standardised over an 80/20 seeded split, Adam (lr 5e-3), batch 32,
200 epochs, MSE, torch's own kernels and autograd (fast, not byte-stable
across CPUs), exported with ``torch.onnx.export``. ``make bench`` times it
beside this project's training on the same rows.

    python tools/reference_trainer.py OUT_DIR [--rows 100] [--codec X ...]
    python tools/reference_trainer.py --fit-only ROWS   # one codec, timed
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vmaf_predictor.factory.s2_corpus import TARGET, synthetic_columns  # noqa: E402
from vmaf_predictor.registry import registry_from_config  # noqa: E402
from vmaf_predictor.runtime.features import FEATURE_NAMES  # noqa: E402

EPOCHS, BATCH, LEARNING_RATE, HIDDEN, SEED = 200, 32, 5e-3, 64, 42


def split(rows: int) -> tuple[list[int], list[int]]:
    """Seeded 80/20 split: (train, validation)."""
    order = list(range(rows))
    random.Random(SEED).shuffle(order)
    return order[round(0.2 * rows) :], order[: round(0.2 * rows)]


def reference_fit(
    features: np.ndarray, targets: np.ndarray, epochs: int = EPOCHS
) -> torch.nn.Module:
    """Train the reference MLP on 80 % of the rows (seeded split)."""
    torch.manual_seed(SEED)
    train, _ = split(len(targets))
    x = torch.tensor(features[train], dtype=torch.float32)
    y = torch.tensor(targets[train], dtype=torch.float32)
    mean, std = x.mean(0), x.std(0, unbiased=False)
    std = torch.where(std <= 1e-6, torch.ones_like(std), std)
    net = torch.nn.Sequential(
        torch.nn.Linear(14, HIDDEN),
        torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, HIDDEN),
        torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, 1),
    )
    model = Reference(net, mean, std)
    optimiser = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
    for _ in range(epochs):
        for batch in torch.randperm(len(y)).split(BATCH):
            loss = torch.nn.functional.mse_loss(model(x[batch]).squeeze(1), y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return model


class Reference(torch.nn.Module):
    """Standardise, MLP, 100 * sigmoid: the exported graph."""

    def __init__(self, net: torch.nn.Module, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.net = net
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 100.0 * torch.sigmoid(self.net((x - self.mean) / self.std))


def codec_rows(config: dict, codec: str, rows: int) -> tuple[np.ndarray, np.ndarray]:
    entry = registry_from_config(config)[codec]
    table = synthetic_columns(entry, rows)
    features = np.column_stack([table[name] for name in FEATURE_NAMES])
    return features, np.asarray(table[TARGET], dtype=np.float64)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, nargs="?")
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--codec", action="append")
    parser.add_argument("--fit-only", type=int, metavar="ROWS")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    if args.fit_only:
        # Warm up first: imports and first-call costs are not training.
        reference_fit(*codec_rows(config, "libx264", 20), epochs=2)
        features, targets = codec_rows(config, "libx264", args.fit_only)
        started = time.perf_counter()
        reference_fit(features, targets)
        print(f"{time.perf_counter() - started:.3f}")
        return 0
    if args.out is None:
        parser.error("OUT_DIR is required (or --fit-only ROWS)")
    args.out.mkdir(parents=True, exist_ok=True)
    for codec in args.codec or list(config["codecs"]):
        features, targets = codec_rows(config, codec, args.rows)
        net = reference_fit(features, targets).eval()
        _, held = split(len(targets))
        with torch.no_grad():
            x = torch.tensor(features[held], dtype=torch.float32)
            predicted = net(x).squeeze(1).numpy().astype(np.float64)
        rmse = float(np.sqrt(np.mean((predicted - targets[held]) ** 2)))
        plcc = float(np.corrcoef(predicted, targets[held])[0, 1])
        onnx = args.out / f"predictor_{codec}.onnx"
        torch.onnx.export(
            net, torch.zeros(1, 14), onnx, input_names=["input"], dynamo=False
        )
        (args.out / f"predictor_{codec}_card.md").write_text(
            f"# {codec}\n\nreference-style model, {args.rows} synthetic rows\n\n"
            f"| PLCC | {plcc:.4f} |\n| RMSE | {rmse:.4f} |\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
