"""PyTorch CPU baseline for bench/generate.ts: gen_synonyms-shaped paraphrase generation.

Run with Debian's /usr/bin/python3 (python3-torch). argv[1] is a JSON object:
    {"config": {"layers", "hidden", "heads", "intermediate", "vocab"}, "n": 100, "topk": 5,
     "maxlen": 32, "k": 20, "source_tokens": 22, "recompute": [1], "cached": [1, 16]}
Prints one JSON object: {"torch", "threads", "recompute": [...], "cached": [...]}, each entry
{"inputs", "seconds", "tokens"} for that many inputs (seconds: wall time of the whole run,
generation and rerank).

Two ways, same model (a float32 SimBERT of the given shape, random weights, UniLM mask, tied MLM
head, linear pooler) and the same work (n rows per input sampled at top-k, rows end at [SEP] or
after maxlen tokens, then the distinct candidates and the input encoded alone and ranked by cosine):
  recompute  the bert4keras AutoRegressiveDecoder way: every step runs the whole sequence
             [CLS] source [SEP] generated... of every live row through the model and keeps the
             last position (the MLM head here runs on that position only, which flatters this
             baseline: bert4keras applies it to every position). Inputs one after another, as
             gen_synonyms takes one text.
  cached     a key/value cache: each source runs once, then one token per live row per step,
             every input's rows in one batch.
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(0)
CLS, SEP = 2, 3


def make_weights(c):
    h, inter, vocab = c["hidden"], c["intermediate"], c["vocab"]

    def w(*shape):
        return torch.randn(*shape) * 0.02

    W = {"word": w(vocab, h), "pos": w(512, h), "type": w(2, h), "emb_ln": (torch.ones(h), torch.zeros(h)),
         "pool": (w(h, h), torch.zeros(h)), "mlm": (w(h, h), torch.zeros(h)), "mlm_ln": (torch.ones(h), torch.zeros(h)),
         "mlm_bias": torch.zeros(vocab), "layers": []}
    for _ in range(c["layers"]):
        W["layers"].append({name: (w(i, o), torch.zeros(o)) for name, (i, o) in {
            "q": (h, h), "k": (h, h), "v": (h, h), "o": (h, h), "i": (h, inter), "out": (inter, h)}.items()})
        W["layers"][-1]["ln1"] = (torch.ones(h), torch.zeros(h))
        W["layers"][-1]["ln2"] = (torch.ones(h), torch.zeros(h))
    return W


def dense(x, p):
    return x @ p[0] + p[1]


def ln(x, p):
    return F.layer_norm(x, x.shape[-1:], p[0], p[1], eps=1e-12)


def embed(W, ids, pos, segs):
    return ln(W["word"][ids] + W["pos"][pos] + W["type"][segs], W["emb_ln"])


def layer_tail(L, x, context):
    x = ln(x + dense(context, L["o"]), L["ln1"])
    return ln(x + dense(F.gelu(dense(x, L["i"])), L["out"]), L["ln2"])


def heads(t, nh):
    return t.view(*t.shape[:-1], nh, -1).transpose(-2, -3)  # [..., nh, T, d]


def merge(t):
    return t.transpose(-2, -3).reshape(*t.shape[:-3], t.shape[-2], -1)


def full_forward(W, ids, segs, nh):
    """[rows, T] -> hidden [rows, T, H] with the UniLM mask; id 0 is padding."""
    T = ids.shape[1]
    x = embed(W, ids, torch.arange(T), segs)
    c = torch.cumsum(segs, dim=1)
    hidden = (c[:, None, :] > c[:, :, None]) | (ids == 0)[:, None, :]
    bias = torch.zeros(c.shape[0], T, T).masked_fill(hidden, -1e12)[:, None]
    for L in W["layers"]:
        q, k, v = heads(dense(x, L["q"]), nh), heads(dense(x, L["k"]), nh), heads(dense(x, L["v"]), nh)
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + bias, dim=-1)
        x = layer_tail(L, x, merge(probs @ v))
    return x


def mlm_logits(W, x):
    return ln(F.gelu(dense(x, W["mlm"])), W["mlm_ln"]) @ W["word"].t() + W["mlm_bias"]


def sample_topk(logits, topk, gen):
    values, indices = torch.topk(torch.softmax(logits, dim=-1), topk, dim=-1)
    return indices.gather(1, torch.multinomial(values / values.sum(1, keepdim=True), 1, generator=gen))[:, 0]


def rerank(W, source, candidates, k, nh):
    """Distinct candidates (not the input) and the input encoded alone, cosine ranking."""
    unique = [c for c in dict.fromkeys(tuple(c) for c in candidates) if list(c) != source[1:-1]]
    texts = [source] + [[CLS, *c, SEP] for c in unique]
    # One padded batch, as gen_synonyms' encoder.predict (padding is masked, so each is encoded alone).
    longest = max(len(t) for t in texts)
    ids = torch.tensor([t + [0] * (longest - len(t)) for t in texts])
    z = F.normalize(dense(full_forward(W, ids, torch.zeros_like(ids), nh)[:, 0], W["pool"]), dim=-1)
    return (z[1:] @ z[0]).argsort(descending=True)[:k]


def recompute_generate(W, source, n, topk, maxlen, nh, gen):
    src = torch.tensor(source)
    rows = torch.empty(1, 0, dtype=torch.long)
    done, tokens = [], 0
    for step in range(maxlen):
        ids = torch.cat([src.expand(rows.shape[0], -1), rows], 1)
        segs = torch.cat([torch.zeros(rows.shape[0], len(source), dtype=torch.long), torch.ones_like(rows)], 1)
        logits = mlm_logits(W, full_forward(W, ids, segs, nh)[:, -1])
        if step == 0:
            logits, rows = logits.expand(n, -1), rows.expand(n, -1)
        chosen = sample_topk(logits, topk, gen)
        tokens += chosen.numel()
        ended = (chosen == SEP) | (step + 1 == maxlen)
        done += [r.tolist() + ([] if c == SEP else [int(c)]) for r, c, e in zip(rows, chosen, ended) if e]
        rows = torch.cat([rows, chosen[:, None]], 1)[~ended]
        if rows.shape[0] == 0:
            break
    return done, tokens


def cached_generate(W, sources, n, topk, maxlen, nh, gen):
    h = W["word"].shape[1]
    src_k, src_v, first = [], [], []
    for source in sources:  # prefill
        ids = torch.tensor([source])
        x = embed(W, ids, torch.arange(len(source)), torch.zeros_like(ids))
        ks, vs = [], []
        for L in W["layers"]:
            q, k, v = heads(dense(x, L["q"]), nh), heads(dense(x, L["k"]), nh), heads(dense(x, L["v"]), nh)
            ks.append(k[0])
            vs.append(v[0])
            probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
            x = layer_tail(L, x, merge(probs @ v))
        src_k.append(torch.stack(ks))
        src_v.append(torch.stack(vs))
        first.append(mlm_logits(W, x[0, -1]))
    row_input = torch.arange(len(sources)).repeat_interleave(n)
    src_len = torch.tensor([len(s) for s in sources])[row_input]
    # [layers, rows, heads, T, d] per row: its source keys, then room for maxlen generated ones.
    T = max(len(s) for s in sources)
    R = row_input.numel()
    nl = len(W["layers"])
    K = torch.zeros(nl, R, nh, T + maxlen, h // nh)
    V = torch.zeros_like(K)
    for i, s in enumerate(sources):
        K[:, row_input == i, :, :len(s)] = src_k[i][:, None]
        V[:, row_input == i, :, :len(s)] = src_v[i][:, None]
    logits = torch.stack(first)[row_input]
    rows = torch.empty(R, 0, dtype=torch.long)
    inputs = row_input.clone()
    done = [[] for _ in sources]
    tokens = 0
    for step in range(maxlen):
        chosen = sample_topk(logits, topk, gen)
        tokens += chosen.numel()
        ended = (chosen == SEP) | (step + 1 == maxlen)
        for r in torch.nonzero(ended)[:, 0].tolist():
            done[int(inputs[r])].append(rows[r].tolist() + ([] if chosen[r] == SEP else [int(chosen[r])]))
        live = ~ended
        if not live.any():
            break
        rows, chosen, inputs, src_len = torch.cat([rows, chosen[:, None]], 1)[live], chosen[live], inputs[live], src_len[live]
        K, V = K[:, live], V[:, live]
        pos = src_len + step
        x = embed(W, chosen, pos, torch.ones_like(chosen))
        # Keys a row sees: its source (up to src_len) and generated 0..step (at T..T+step).
        visible = (torch.arange(T + maxlen)[None] < src_len[:, None]) | ((torch.arange(T + maxlen)[None] >= T) & (torch.arange(T + maxlen)[None] <= T + step))
        bias = torch.zeros(visible.shape).masked_fill(~visible, -1e12)[:, None, None, :T + step + 1]
        for li, L in enumerate(W["layers"]):
            q, k, v = heads(dense(x, L["q"])[:, None], nh), heads(dense(x, L["k"])[:, None], nh), heads(dense(x, L["v"])[:, None], nh)
            K[li, :, :, T + step] = k[:, :, 0]
            V[li, :, :, T + step] = v[:, :, 0]
            keys, values = K[li, :, :, :T + step + 1], V[li, :, :, :T + step + 1]
            probs = torch.softmax(q @ keys.transpose(-1, -2) / math.sqrt(q.shape[-1]) + bias, dim=-1)
            x = layer_tail(L, x, merge(probs @ values)[:, 0])
        logits = mlm_logits(W, x)
    return done, tokens


def main():
    request = json.loads(sys.argv[1])
    c = request["config"]
    nh, n, topk, maxlen, k = c["heads"], request["n"], request["topk"], request["maxlen"], request["k"]
    W = make_weights(c)
    gen = torch.Generator().manual_seed(1)

    def sources(count):
        g = torch.Generator().manual_seed(5)
        return [[CLS, *torch.randint(5, c["vocab"], (request["source_tokens"] - 2,), generator=g).tolist(), SEP] for _ in range(count)]

    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "recompute": [], "cached": []}
    with torch.no_grad():
        for count in request["recompute"]:
            start, tokens = time.perf_counter(), 0
            for source in sources(count):
                done, t = recompute_generate(W, source, n, topk, maxlen, nh, gen)
                tokens += t
                rerank(W, source, done, k, nh)
            out["recompute"].append({"inputs": count, "seconds": time.perf_counter() - start, "tokens": tokens})
        for count in request["cached"]:
            srcs = sources(count)
            start = time.perf_counter()
            done, tokens = cached_generate(W, srcs, n, topk, maxlen, nh, gen)
            for source, candidates in zip(srcs, done):
                rerank(W, source, candidates, k, nh)
            out["cached"].append({"inputs": count, "seconds": time.perf_counter() - start, "tokens": tokens})
    print(json.dumps(out))


main()
