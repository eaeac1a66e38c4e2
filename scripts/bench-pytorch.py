#!/usr/bin/env python3
"""Measure the `wgtrain bench` suite in PyTorch and write the same JSON schema
(wgtrain-bench/1), so `wgtrain bench --compare torch.json` puts the two side by side.

Same models (mlp 784-300-100-10 ReLU, wide 784-2048-2048-10 ReLU, deep 784-20x100-10 ELU,
or --layers), same step (SGD momentum 0.9, lr 0.01, softmax cross-entropy on random data),
same batch sizes, same repeat logic: warm-up excluded and reported as first-step latency,
each repeat about a quarter of a second, rates as median and 10th/90th percentiles.
CUDA rows are measured too where torch sees a GPU (synchronized before the clock stops).

Usage: python3 scripts/bench-pytorch.py [--models mlp,wide,deep] [--layers 784,512,10]
           [--batch 1,32,128,1024] [--repeats 5] [--dropout P] [--device cpu,cuda] -o torch.json
Needs: pip install torch
"""
import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

SCHEMA = "wgtrain-bench/1"
MODELS = {
    "mlp": ([784, 300, 100, 10], "relu"),
    "wide": ([784, 2048, 2048, 10], "relu"),
    "deep": ([784] + [100] * 20 + [10], "elu"),
}
REPEAT_SECONDS = 0.25


def rate(values):
    """Median and 10th/90th percentiles with linear interpolation (as wgtrain's Rate::of)."""
    v = sorted(values)
    def at(q):
        x = q * (len(v) - 1)
        lo, hi = math.floor(x), math.ceil(x)
        return v[lo] + (v[hi] - v[lo]) * (x - lo)
    return {"median": at(0.5), "p10": at(0.1), "p90": at(0.9)}


def build(torch, layers, activation, dropout):
    act = {"relu": torch.nn.ReLU, "elu": torch.nn.ELU}[activation]
    mods = []
    for i, (a, b) in enumerate(zip(layers, layers[1:])):
        mods.append(torch.nn.Linear(a, b))
        if i < len(layers) - 2:
            mods.append(act())
            if dropout > 0:
                mods.append(torch.nn.Dropout(dropout))
    return torch.nn.Sequential(*mods)


def flops(layers):
    forward = sum(2 * a * b for a, b in zip(layers, layers[1:]))
    return forward, 3 * forward - 2 * layers[0] * layers[1]


def measure(torch, device, name, layers, activation, dropout, batch, repeats):
    sync = (lambda: torch.cuda.synchronize()) if device == "cuda" else (lambda: None)
    torch.manual_seed(1)
    model = build(torch, layers, activation, dropout).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    distinct = 4
    x = torch.randn(distinct * batch, layers[0], device=device)
    y = torch.randint(0, layers[-1], (distinct * batch,), device=device)

    def train_step(i):
        k = (i % distinct) * batch
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x[k:k + batch]), y[k:k + batch]).backward()
        opt.step()

    def infer_batch(i):
        k = (i % distinct) * batch
        with torch.no_grad():
            return model(x[k:k + batch])

    def repeat(body, steps):
        rates = []
        for _ in range(repeats):
            start = time.perf_counter()
            for i in range(steps):
                body(i)
            sync()
            rates.append(batch * steps / (time.perf_counter() - start))
        return rates

    model.train()
    start = time.perf_counter()
    train_step(0)
    sync()
    first_ms = (time.perf_counter() - start) * 1e3
    for i in range(1, 3):
        train_step(i)
    sync()
    def steps_for(body, i):
        # Steps per repeat so one repeat lasts about REPEAT_SECONDS, from one timed call.
        start = time.perf_counter()
        body(i)
        sync()
        return min(2000, max(2, math.ceil(REPEAT_SECONDS / max(time.perf_counter() - start, 1e-6))))

    train = rate(repeat(train_step, steps_for(train_step, 3)))
    model.eval()
    infer_batch(0)
    sync()
    steps = steps_for(infer_batch, 1)
    infer = rate(repeat(infer_batch, steps))
    latency = []
    for i in range(min(200, max(20, steps))):
        start = time.perf_counter()
        infer_batch(i).cpu()
        latency.append((time.perf_counter() - start) * 1e3)
    latency.sort()
    nearest = lambda q: latency[min(len(latency), max(1, math.ceil(q * len(latency)))) - 1]
    forward, train_flops = flops(layers)
    return {
        "model": name, "layers": layers, "dropout": dropout, "path": f"torch-{device}", "batch": batch,
        "train": train, "infer": infer, "first_step_ms": first_ms,
        "step_ms": batch / train["median"] * 1e3,
        "encode_ms": None, "device_ms": None, "dispatches_per_step": None, "submits_per_step": None,
        "readback_bytes_per_step": None, "infer_dispatches": None,
        "latency_p50_ms": nearest(0.5), "latency_p99_ms": nearest(0.99),
        "train_gflops": train["median"] * train_flops / 1e9,
        "infer_gflops": infer["median"] * forward / 1e9,
    }


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="mlp,wide,deep")
    p.add_argument("--layers", help="a width list such as 784,512,10 (ReLU); alone unless --models is given too")
    p.add_argument("--batch", default="1,32,128,1024")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--device", default=None, help="cpu,cuda (default: cpu, plus cuda where available)")
    p.add_argument("-o", "--output", required=True)
    a = p.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("bench-pytorch.py needs PyTorch: pip install torch")
    if a.repeats < 1:
        sys.exit("--repeats must be at least 1")
    batches = [int(b) for b in a.batch.split(",")]
    if any(b < 1 for b in batches):
        sys.exit(f"--batch {a.batch}: every batch size must be at least 1")
    models = []
    if a.layers is None or "--models" in sys.argv:
        for name in a.models.split(","):
            if name not in MODELS:
                sys.exit(f"unknown model {name!r}; valid: {', '.join(MODELS)} (or give --layers)")
            models.append((name, *MODELS[name]))
    if a.layers:
        layers = [int(w) for w in a.layers.split(",")]
        models.append(("-".join(map(str, layers)), layers, "relu"))
    devices = a.device.split(",") if a.device else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for name, layers, activation in models:
        for device in devices:
            for batch in batches:
                row = measure(torch, device, name, layers, activation, a.dropout, batch, a.repeats)
                print(f"{name:<8} {row['path']:<11} {batch:>5}  train {row['train']['median']:>10.0f}  "
                      f"infer {row['infer']['median']:>10.0f} samples/s", file=sys.stderr)
                rows.append(row)
    gpu = torch.cuda.get_device_name(0) if "cuda" in devices else None
    report = {
        "schema": SCHEMA,
        "machine": {
            "engine": f"pytorch {torch.__version__}", "adapter": gpu, "backend": "cuda" if gpu else None,
            "driver": torch.version.cuda if gpu else None, "wgpu": None, "cpu": cpu_name(),
            "cores": os.cpu_count() or 1,
        },
        "rows": rows,
    }
    tmp = a.output + ".tmp"
    with open(tmp, "w") as f:
        json.dump(report, f, indent=2)
    os.replace(tmp, a.output)


if __name__ == "__main__":
    main()
