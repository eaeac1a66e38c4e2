#!/usr/bin/env python3
"""wgtrain against a Burn peer (../shared/peers/burn-best, Burn 0.22 on wgpu with its default
features, autotune and fusion, as its users build it; or ../shared/peers/burn-mlp, without
them) on the same adapter: the same MLP training step (SGD momentum 0.9, cross-entropy, random inputs) and
inference, measured in one run, alternating wgtrain and Burn, several rounds; prints the
medians and the ratios. These machines are noisy: only ratios from one run mean anything.

Usage: python3 scripts/versus-burn.py --burn PATH/burn-best-peer [--layers 784,300,100,10]
           [--batch 1,128,1024] [--rounds 3] [--wgtrain target/release/wgtrain]
"""
import argparse
import json
import re
import statistics
import subprocess
import sys


def macs_per_sample(layers):
    sizes = [int(v) for v in layers.split(",")]
    return sum(a * b for a, b in zip(sizes, sizes[1:]))


def burn_steps(layers, batch):
    # About a second or two of training per measurement on lavapipe for the MLP, scaled down
    # by the model's multiply-adds per sample (the wide model's 156 steps at batch 128 took
    # a quarter of an hour a round), at least 5.
    mlp = macs_per_sample("784,300,100,10")
    scale = mlp / macs_per_sample(layers)
    return max(5, min(200, int(20000 * min(1.0, scale * 4) // max(batch, 1))))


def run_wgtrain(exe, layers, batch):
    out = subprocess.run([exe, "bench", "--layers", layers, "--batch", str(batch), "--repeats", "3", "--json"],
                         capture_output=True, text=True, check=True).stdout
    row = json.loads(out)["rows"][0]
    return row["train"]["median"], row["infer"]["median"]


def run_burn(exe, layers, batch):
    out = subprocess.run([exe, layers, str(batch), str(burn_steps(layers, batch))], capture_output=True, text=True,
                         check=True).stdout
    m = re.search(r"train_samples_per_s=(\d+) infer_samples_per_s=(\d+)", out)
    if not m:
        sys.exit(f"unexpected burn-mlp-peer output: {out!r}")
    return float(m.group(1)), float(m.group(2))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--burn", required=True, help="the built burn-best-peer (or burn-mlp-peer) binary")
    p.add_argument("--wgtrain", default="target/release/wgtrain")
    p.add_argument("--layers", default="784,300,100,10")
    p.add_argument("--batch", default="1,128,1024")
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    print(f"layers {a.layers}; {a.rounds} rounds, alternating; samples/s medians")
    print(f"{'batch':>5} {'wgtrain train':>14} {'burn train':>11} {'ratio':>6} {'wgtrain infer':>14} {'burn infer':>11} {'ratio':>6}")
    for batch in [int(b) for b in a.batch.split(",")]:
        ours, theirs = [], []
        for _ in range(a.rounds):
            ours.append(run_wgtrain(a.wgtrain, a.layers, batch))
            theirs.append(run_burn(a.burn, a.layers, batch))
        med = lambda rows, k: statistics.median(r[k] for r in rows)
        wt, bt, wi, bi = med(ours, 0), med(theirs, 0), med(ours, 1), med(theirs, 1)
        print(f"{batch:>5} {wt:>14.0f} {bt:>11.0f} {wt / bt:>6.2f} {wi:>14.0f} {bi:>11.0f} {wi / bi:>6.2f}")
        print(f"      rounds: train {[round(o[0]) for o in ours]} vs {[round(t[0]) for t in theirs]}; "
              f"infer {[round(o[1]) for o in ours]} vs {[round(t[1]) for t in theirs]}")


if __name__ == "__main__":
    main()
