"""PyTorch CPU baseline for the benchmarks, run in the same bench invocation.

Needs Debian's python3-torch and OpenBLAS (apt-get install python3-torch libopenblas0-openmp);
run with /usr/bin/python3. argv[1] is a JSON object:
    {"matmul": [[m, k, n], ...],
     "steps": [{"config": {...}, "rows": r, "tokens": t, "samples": s}, ...],
     "encode": [{"config": {...}, "rows": r, "tokens": t, "samples": s}, ...]}
Prints one JSON object on stdout. With "device": "cuda" in the object (bench/gpu) everything runs on
the GPU in float32 with TF32 off, timed between torch.cuda.synchronize() calls.

The model is a plain-torch float32 SimBERT of the same shapes as the WebGPU engine's (bert.ts):
UniLM-masked post-LN BERT, linear pooler, tied MLM head applied to the positions that predict a
second-segment token, seq2seq cross-entropy + in-batch similarity loss (scale 30), dropout as the
config says, and torch.optim.AdamW (the same work per parameter as bert4keras's AdamW). The batch
layout matches bench/step.ts: [CLS] a [SEP] b [SEP] filling the row, random word-piece ids.
"""
import ctypes
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

torch.manual_seed(0)
DEVICE = torch.device("cpu")


def sync():
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def time_matmul(m, k, n, repeats=7):
    a = torch.randn(m, k, device=DEVICE)
    b = torch.randn(k, n, device=DEVICE)
    torch.matmul(a, b)
    sync()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.matmul(a, b)
        sync()
        samples.append(time.perf_counter() - start)
    seconds = statistics.median(samples)
    return {"m": m, "k": k, "n": n, "medianMs": seconds * 1e3, "gflops": 2 * m * k * n / seconds / 1e9}


class SimBert(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        h, inter, vocab = c["hidden"], c["intermediate"], c["vocab"]
        self.heads = c["heads"]
        self.dropout = 0.1

        def dense(i, o):
            return torch.nn.Linear(i, o)

        self.word = torch.nn.Parameter(torch.randn(vocab, h) * 0.02)
        self.pos = torch.nn.Parameter(torch.randn(512, h) * 0.02)
        self.token_type = torch.nn.Parameter(torch.randn(2, h) * 0.02)
        self.emb_ln = torch.nn.LayerNorm(h, eps=1e-12)
        self.layers = torch.nn.ModuleList()
        for _ in range(c["layers"]):
            self.layers.append(torch.nn.ModuleDict({
                "q": dense(h, h), "k": dense(h, h), "v": dense(h, h), "o": dense(h, h),
                "ln1": torch.nn.LayerNorm(h, eps=1e-12),
                "i": dense(h, inter), "out": dense(inter, h),
                "ln2": torch.nn.LayerNorm(h, eps=1e-12),
            }))
        self.pooler = dense(h, h)
        self.mlm_dense = dense(h, h)
        self.mlm_ln = torch.nn.LayerNorm(h, eps=1e-12)
        self.mlm_bias = torch.nn.Parameter(torch.zeros(vocab))

    def encode(self, ids, segs, pooled_only=False):
        rows, tokens = ids.shape
        x = self.word[ids] + self.pos[:tokens].unsqueeze(0) + self.token_type[segs]
        x = F.dropout(self.emb_ln(x), self.dropout, self.training)
        # UniLM: query i sees key j iff cumsum(seg)[j] <= cumsum(seg)[i] and j is not padding.
        c = torch.cumsum(segs, dim=1)
        allowed = (c.unsqueeze(1) <= c.unsqueeze(2)) & (ids != 0).unsqueeze(1)
        bias = torch.zeros(allowed.shape, device=DEVICE).masked_fill(~allowed, -1e12).unsqueeze(1)
        hd = x.shape[-1] // self.heads
        for index, layer in enumerate(self.layers):
            def split(t):
                return t.view(rows, tokens, self.heads, hd).transpose(1, 2)
            q, k, v = split(layer["q"](x)), split(layer["k"](x)), split(layer["v"](x))
            scores = q @ k.transpose(-1, -2) / math.sqrt(hd) + bias
            probs = F.dropout(torch.softmax(scores, dim=-1), self.dropout, self.training)
            context = (probs @ v).transpose(1, 2).reshape(rows, tokens, -1)
            if pooled_only and index == len(self.layers) - 1:
                # As the engine does: the pooler reads only [CLS], so the rest of the last layer runs on it alone.
                context, x = context[:, :1], x[:, :1]
            x = layer["ln1"](x + F.dropout(layer["o"](context), self.dropout, self.training))
            ffn = layer["out"](F.gelu(layer["i"](x)))
            x = layer["ln2"](x + F.dropout(ffn, self.dropout, self.training))
        return x, self.pooler(x[:, 0])

    def loss(self, ids, segs):
        x, pooled = self.encode(ids, segs)
        predict = segs[:, 1:] == 1
        hidden = x[:, :-1][predict]
        targets = ids[:, 1:][predict]
        logits = self.mlm_ln(F.gelu(self.mlm_dense(hidden))) @ self.word.t() + self.mlm_bias
        seq2seq = F.cross_entropy(logits, targets)
        z = F.normalize(pooled, dim=-1)
        sims = (z @ z.t() - torch.eye(z.shape[0], device=DEVICE) * 1e12) * 30
        labels = torch.arange(z.shape[0], device=DEVICE) ^ 1
        return seq2seq + F.cross_entropy(sims, labels)


def batch(rows, tokens, vocab, single=False):
    gen = torch.Generator().manual_seed(12345)
    ids = torch.randint(5, vocab, (rows, tokens), generator=gen)
    first = tokens if single else 2 + (tokens - 3) // 2
    ids[:, 0] = 2
    ids[:, first - 1] = 3
    ids[:, tokens - 1] = 3
    segs = torch.zeros(rows, tokens, dtype=torch.long)
    segs[:, first:] = 1
    return ids.to(DEVICE), segs.to(DEVICE)


def time_step(spec):
    c = spec["config"]
    model = SimBert(c).to(DEVICE)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-6, weight_decay=0.01, eps=1e-6)
    ids, segs = batch(spec["rows"], spec["tokens"], c["vocab"])

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = model.loss(ids, segs)
        loss.backward()
        optimizer.step()
        return loss

    step()
    sync()
    samples = []
    for _ in range(spec["samples"]):
        start = time.perf_counter()
        step()
        sync()
        samples.append(time.perf_counter() - start)
    return {"config": c["name"], "rows": spec["rows"], "tokens": spec["tokens"], "medianMs": statistics.median(samples) * 1e3}


def time_encode(spec):
    c = spec["config"]
    model = SimBert(c).to(DEVICE)
    model.eval()
    ids, segs = batch(spec["rows"], spec["tokens"], c["vocab"], single=True)
    with torch.no_grad():
        model.encode(ids, segs, pooled_only=True)
        samples = []
        for _ in range(spec["samples"]):
            start = time.perf_counter()
            model.encode(ids, segs, pooled_only=True)[1].cpu().numpy()
            samples.append(time.perf_counter() - start)
    ms = statistics.median(samples) * 1e3
    return {"config": c["name"], "rows": spec["rows"], "tokens": spec["tokens"], "medianMs": ms, "sentencesPerSecond": spec["rows"] * 1e3 / ms}


def openblas_core():
    """The kernel set OpenBLAS chose for this CPU (or was told to use), e.g. 'SkylakeX'."""
    for library in ("libopenblas.so.0", "libblas.so.3"):
        try:
            corename = ctypes.CDLL(library).openblas_get_corename
        except (OSError, AttributeError):
            continue
        corename.restype = ctypes.c_char_p
        return corename().decode()
    return "unknown (no OpenBLAS with openblas_get_corename loaded)"


request = json.loads(sys.argv[1])
if isinstance(request, list):
    request = {"matmul": request}
DEVICE = torch.device(request.get("device", "cpu"))
if DEVICE.type == "cuda":
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
else:
    torch.set_num_threads(2)
config = torch.__config__.show()
blas = config.split("BLAS_INFO=")[1].split(",")[0].strip() if "BLAS_INFO=" in config else "unknown"
if blas == "generic":  # Debian: the BLAS is whatever libblas.so.3 the alternatives system selects
    blas = "generic -> " + os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
print(json.dumps({
    "torch": torch.__version__,
    "device": torch.cuda.get_device_name() if DEVICE.type == "cuda" else "cpu",
    "threads": torch.get_num_threads(),
    "blas": blas,
    "openblasCore": openblas_core() + "".join(
        f" ({name}={os.environ[name]} set)" for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if name in os.environ),
    "matmul": [time_matmul(*shape) for shape in request.get("matmul", [])],
    "steps": [time_step(spec) for spec in request.get("steps", [])],
    "encode": [time_encode(spec) for spec in request.get("encode", [])],
}))
