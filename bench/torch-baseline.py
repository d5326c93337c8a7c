"""PyTorch CPU baseline for the benchmarks, run in the same bench invocation.

Needs Debian's python3-torch and OpenBLAS (apt-get install python3-torch libopenblas0-openmp);
run with /usr/bin/python3. Prints one JSON object on stdout.
"""
import json
import statistics
import sys
import time

import torch

torch.set_num_threads(2)


def time_matmul(m, k, n, repeats=7):
    a = torch.randn(m, k)
    b = torch.randn(k, n)
    torch.matmul(a, b)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.matmul(a, b)
        samples.append(time.perf_counter() - start)
    seconds = statistics.median(samples)
    return {"m": m, "k": k, "n": n, "medianMs": seconds * 1e3, "gflops": 2 * m * k * n / seconds / 1e9}


shapes = json.loads(sys.argv[1])
print(json.dumps({
    "torch": torch.__version__,
    "threads": torch.get_num_threads(),
    "blas": "openblas" if "openblas" in torch.__config__.show().lower() else "unknown",
    "matmul": [time_matmul(*shape) for shape in shapes],
}))
