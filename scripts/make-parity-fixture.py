#!/usr/bin/python3
"""PyTorch reference ("debug state") for the model-level SimBERT parity test.

Regenerate the committed fixture with Debian's PyTorch (not a pyenv/venv python):

    apt-get install python3-torch libopenblas0-openmp
    /usr/bin/python3 scripts/make-parity-fixture.py

It writes
    test/fixtures/parity/simbert-tiny.json   metadata, inputs, scalar losses, array index
    test/fixtures/parity/simbert-tiny.bin    float32 little-endian arrays, concatenated
    test/fixtures/parity/generate-tiny.json  greedy and beam-search results (bert4keras rules, [PAD]
                                             never generated) for a few sources, same model
and prints a summary. The output is deterministic: two runs give byte-identical files
(fixed seeds, fixed thread count, float64 on the CPU, sorted JSON).

What is computed (DESIGN.md, "Semantics that must match bert4keras / SimBERT exactly"):
  * a tiny SimBERT (bert4keras build_transformer_model(with_pool='linear',
    application='unilm')), written here in plain torch, parameters under their TensorFlow
    BERT variable names and in TF layouts (dense kernel [in, out], y = x @ kernel + bias);
  * inputs: 4 pairs of random texts a, b; rows 2k, 2k+1 = encode(a, b), encode(b, a) =
    [CLS] a [SEP] b [SEP] with segments 0 on [CLS] a [SEP] and 1 on b [SEP], padded with
    id 0 / segment 0 to the longest row;
  * forward: embeddings (word + position + token type) -> LayerNorm (eps 1e-12, biased
    variance) -> post-LN layers with the UniLM mask -> pooler (linear, no tanh) and the
    MLM head (dense + GELU(erf) -> LayerNorm -> logits tied to the word embeddings + bias);
  * losses: seq2seq cross-entropy (predict ids[t+1] from position t, weight segments[t+1],
    mean over weighted positions, exact log-softmax, no probability clipping) plus the
    similarity loss (Keras l2_normalize, S = (z z^T - 1e12 I) * 30, target i^1, mean);
  * the gradient of the total loss for every parameter, at the initial parameters;
  * 5 steps of bert4keras AdamW on the same batch (lr 1e-3, weight decay 0.01):
        m = 0.9 m + 0.1 g;  v = 0.999 v + 0.001 g^2
        p <- p - lr * (m / (1 - 0.9^t)) / (sqrt(v / (1 - 0.999^t)) + 1e-6) - lr * wd * p_old
    with the losses before each step and after the last, and a few final parameters.

Masking: masked attention scores get -1e12 added (bert4keras's K.infinity()). In float64,
exp(-1e12 + O(1) - max) underflows to exactly 0, so the softmax equals the softmax over the
allowed keys only; no row is fully masked (every query may attend [CLS]). The same holds for
the -1e12 * 30 on the diagonal of the similarity matrix.

Precision: parameters are drawn, rounded to float32, and only then widened to float64, so the
stored float32 parameters are exactly the ones the reference used. Everything after that
(forward, backward, AdamW) is float64; results are rounded to float32 when stored, except
scalar losses, which are stored in the JSON as float64.
"""

import hashlib
import json
import math
import os
import struct
import sys

import torch

torch.set_num_threads(2)
torch.manual_seed(20240607)
DT = torch.float64

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
OUT_DIR = os.path.join(ROOT, 'test', 'fixtures', 'parity')
NAME = 'simbert-tiny'

CONFIG = {
    'attention_probs_dropout_prob': 0.0,
    'hidden_act': 'gelu',
    'hidden_dropout_prob': 0.0,
    'hidden_size': 64,
    'initializer_range': 0.02,
    'intermediate_size': 128,
    'max_position_embeddings': 64,
    'num_attention_heads': 4,
    'num_hidden_layers': 2,
    'type_vocab_size': 2,
    'vocab_size': 300,
}
LR = 1e-3
WEIGHT_DECAY = 0.01
ADAM_STEPS = 5
BETA1, BETA2, ADAM_EPS = 0.9, 0.999, 1e-6
LN_EPS = 1e-12
MASK_NEG = 1e12
SIM_SCALE = 30.0
PAD, UNK, CLS, SEP = 0, 1, 2, 3
# (len(a), len(b)) for each pair; rows are 3 + len(a) + len(b) long.
PAIR_LENGTHS = [(6, 11), (3, 4), (8, 7), (2, 3)]


# ---------------------------------------------------------------- inputs

def make_inputs():
    V = CONFIG['vocab_size']
    rows = []
    for la, lb in PAIR_LENGTHS:
        a = torch.randint(4, V, (la,)).tolist()
        b = torch.randint(4, V, (lb,)).tolist()
        for first, second in ((a, b), (b, a)):
            ids = [CLS] + first + [SEP] + second + [SEP]
            seg = [0] * (len(first) + 2) + [1] * (len(second) + 1)
            rows.append((ids, seg))
    T = max(len(ids) for ids, _ in rows)
    ids = [r[0] + [PAD] * (T - len(r[0])) for r in rows]
    segs = [r[1] + [0] * (T - len(r[1])) for r in rows]
    return ids, segs


# ---------------------------------------------------------------- parameters

def param_shapes():
    V, H = CONFIG['vocab_size'], CONFIG['hidden_size']
    I, P = CONFIG['intermediate_size'], CONFIG['max_position_embeddings']
    S = CONFIG['type_vocab_size']
    shapes = [
        ('bert/embeddings/word_embeddings', [V, H]),
        ('bert/embeddings/token_type_embeddings', [S, H]),
        ('bert/embeddings/position_embeddings', [P, H]),
        ('bert/embeddings/LayerNorm/gamma', [H]),
        ('bert/embeddings/LayerNorm/beta', [H]),
    ]
    for i in range(CONFIG['num_hidden_layers']):
        p = f'bert/encoder/layer_{i}'
        for n in ('query', 'key', 'value'):
            shapes += [(f'{p}/attention/self/{n}/kernel', [H, H]), (f'{p}/attention/self/{n}/bias', [H])]
        shapes += [
            (f'{p}/attention/output/dense/kernel', [H, H]),
            (f'{p}/attention/output/dense/bias', [H]),
            (f'{p}/attention/output/LayerNorm/gamma', [H]),
            (f'{p}/attention/output/LayerNorm/beta', [H]),
            (f'{p}/intermediate/dense/kernel', [H, I]),
            (f'{p}/intermediate/dense/bias', [I]),
            (f'{p}/output/dense/kernel', [I, H]),
            (f'{p}/output/dense/bias', [H]),
            (f'{p}/output/LayerNorm/gamma', [H]),
            (f'{p}/output/LayerNorm/beta', [H]),
        ]
    shapes += [
        ('bert/pooler/dense/kernel', [H, H]),
        ('bert/pooler/dense/bias', [H]),
        ('cls/predictions/transform/dense/kernel', [H, H]),
        ('cls/predictions/transform/dense/bias', [H]),
        ('cls/predictions/transform/LayerNorm/gamma', [H]),
        ('cls/predictions/transform/LayerNorm/beta', [H]),
        ('cls/predictions/output_bias', [V]),
    ]
    return shapes


MATRIX_STD = 0.2


def init_params():
    """normal(0, MATRIX_STD) matrices, small random biases/betas, 1 + small noise gammas.

    MATRIX_STD is 0.2, not BERT's 0.02: at 0.02 every row's [CLS] vector is nearly the same, the
    pooled vectors are nearly parallel, and the similarity gradient becomes a difference of
    almost equal numbers that float32 cannot reproduce to 1e-4. Drawn in float32 (so the stored
    values are exactly those used), then widened."""
    params = {}
    for name, shape in param_shapes():
        if name.endswith('/gamma'):
            t = 1.0 + 0.1 * torch.randn(shape, dtype=torch.float32)
        elif len(shape) == 1:  # biases, betas, output_bias
            t = 0.05 * torch.randn(shape, dtype=torch.float32)
        else:
            t = MATRIX_STD * torch.randn(shape, dtype=torch.float32)
        params[name] = t.to(torch.float32).to(DT).requires_grad_(True)
    return params


# ---------------------------------------------------------------- model

def layer_norm(x, gamma, beta):
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)  # biased
    return (x - mean) / torch.sqrt(var + LN_EPS) * gamma + beta


def gelu_erf(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def dense(x, p, prefix):
    return x @ p[f'{prefix}/kernel'] + p[f'{prefix}/bias']


def unilm_bias(ids, segs):
    """[B, 1, T, T] additive bias: 0 where query i may attend key j, else -1e12."""
    c = torch.cumsum(segs, dim=1)  # [B, T]
    allowed = (c[:, None, :] <= c[:, :, None]) & (ids[:, None, :] != PAD)  # [B, Tq, Tk]
    return ((~allowed).to(DT) * -MASK_NEG)[:, None, :, :]


def forward(p, ids, segs):
    B, T = ids.shape
    H = CONFIG['hidden_size']
    nh = CONFIG['num_attention_heads']
    hd = H // nh
    emb = (p['bert/embeddings/word_embeddings'][ids]
           + p['bert/embeddings/position_embeddings'][:T][None, :, :]
           + p['bert/embeddings/token_type_embeddings'][segs])
    x = layer_norm(emb, p['bert/embeddings/LayerNorm/gamma'], p['bert/embeddings/LayerNorm/beta'])
    hidden = [x]
    bias = unilm_bias(ids, segs)

    def heads(t):  # [B, T, H] -> [B, nh, T, hd]
        return t.reshape(B, T, nh, hd).permute(0, 2, 1, 3)

    for i in range(CONFIG['num_hidden_layers']):
        pre = f'bert/encoder/layer_{i}'
        q = heads(dense(x, p, f'{pre}/attention/self/query'))
        k = heads(dense(x, p, f'{pre}/attention/self/key'))
        v = heads(dense(x, p, f'{pre}/attention/self/value'))
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd) + bias
        probs = torch.softmax(scores, dim=-1)
        ctx = (probs @ v).permute(0, 2, 1, 3).reshape(B, T, H)
        attn = dense(ctx, p, f'{pre}/attention/output/dense')
        x = layer_norm(x + attn, p[f'{pre}/attention/output/LayerNorm/gamma'],
                       p[f'{pre}/attention/output/LayerNorm/beta'])
        ffn = dense(gelu_erf(dense(x, p, f'{pre}/intermediate/dense')), p, f'{pre}/output/dense')
        x = layer_norm(x + ffn, p[f'{pre}/output/LayerNorm/gamma'], p[f'{pre}/output/LayerNorm/beta'])
        hidden.append(x)

    pooled = dense(x[:, 0], p, 'bert/pooler/dense')  # with_pool='linear': no tanh
    h = gelu_erf(dense(x, p, 'cls/predictions/transform/dense'))
    h = layer_norm(h, p['cls/predictions/transform/LayerNorm/gamma'],
                   p['cls/predictions/transform/LayerNorm/beta'])
    logits = h @ p['bert/embeddings/word_embeddings'].T + p['cls/predictions/output_bias']
    return logits, pooled, hidden


def seq2seq_loss(logits, ids, segs):
    target = ids[:, 1:]
    weight = segs[:, 1:].to(DT)
    logp = torch.log_softmax(logits[:, :-1], dim=-1)
    nll = -logp.gather(-1, target[..., None])[..., 0]
    return (nll * weight).sum() / weight.sum()


def similarity_loss(pooled):
    n = pooled.shape[0]
    z = pooled / torch.sqrt(torch.clamp((pooled ** 2).sum(dim=1, keepdim=True), min=1e-12))
    s = (z @ z.T - torch.eye(n, dtype=DT) * MASK_NEG) * SIM_SCALE
    target = torch.arange(n) ^ 1
    logp = torch.log_softmax(s, dim=-1)
    return -logp[torch.arange(n), target].mean()


def losses(p, ids, segs):
    logits, pooled, hidden = forward(p, ids, segs)
    s2s = seq2seq_loss(logits, ids, segs)
    sim = similarity_loss(pooled)
    return s2s + sim, s2s, sim, logits, pooled, hidden


# ---------------------------------------------------------------- main

def main():
    ids_list, segs_list = make_inputs()
    ids = torch.tensor(ids_list, dtype=torch.long)
    segs = torch.tensor(segs_list, dtype=torch.long)
    B, T = ids.shape
    params = init_params()
    names = [n for n, _ in param_shapes()]

    total, s2s, sim, logits, pooled, hidden = losses(params, ids, segs)
    grads = torch.autograd.grad(total, [params[n] for n in names])
    grads = dict(zip(names, grads))

    # AdamW (bert4keras Adam + weight decay on every parameter, decay uses the old value).
    cur = {n: params[n].detach().clone() for n in names}
    m = {n: torch.zeros_like(cur[n]) for n in names}
    v = {n: torch.zeros_like(cur[n]) for n in names}
    adam_losses = []
    for step in range(1, ADAM_STEPS + 2):
        leaf = {n: cur[n].clone().requires_grad_(True) for n in names}
        lt, ls, lm, _, _, _ = losses(leaf, ids, segs)
        adam_losses.append({'total': lt.item(), 'seq2seq': ls.item(), 'similarity': lm.item()})
        if step > ADAM_STEPS:
            break
        g = torch.autograd.grad(lt, [leaf[n] for n in names])
        with torch.no_grad():
            for n, gn in zip(names, g):
                m[n] = BETA1 * m[n] + (1 - BETA1) * gn
                v[n] = BETA2 * v[n] + (1 - BETA2) * gn * gn
                mhat = m[n] / (1 - BETA1 ** step)
                vhat = v[n] / (1 - BETA2 ** step)
                old = cur[n]
                cur[n] = old - LR * mhat / (torch.sqrt(vhat) + ADAM_EPS) - LR * WEIGHT_DECAY * old
    assert abs(adam_losses[0]['total'] - total.item()) < 1e-12

    final_names = [
        'bert/pooler/dense/bias',
        'cls/predictions/output_bias',
        'bert/embeddings/LayerNorm/gamma',
        'bert/encoder/layer_1/output/LayerNorm/beta',
        'bert/encoder/layer_0/attention/self/query/bias',
    ]

    # -------- serialise
    arrays = []  # (kind, name, tensor)
    for n in names:
        arrays.append(('param', n, params[n].detach()))
    for n in names:
        arrays.append(('grad', n, grads[n]))
    arrays.append(('output', 'logits', logits.detach()))
    arrays.append(('output', 'pooled', pooled.detach()))
    hidden_names = ['embeddings'] + [f'layer_{i}' for i in range(CONFIG['num_hidden_layers'])]
    for hn, h in zip(hidden_names, hidden):
        arrays.append(('hidden', hn, h.detach()))
    for n in final_names:
        arrays.append(('final_param', n, cur[n]))

    blob = bytearray()
    index = []
    offset = 0
    for kind, name, t in arrays:
        flat = t.to(torch.float32).contiguous().reshape(-1)
        assert torch.isfinite(flat).all(), name
        data = flat.numpy().astype('<f4').tobytes()
        index.append({'kind': kind, 'name': name, 'shape': list(t.shape),
                      'offset': offset, 'length': flat.numel()})
        offset += flat.numel()
        blob += data

    meta = {
        'format': 'simbert-parity-fixture/1',
        'generator': 'scripts/make-parity-fixture.py',
        'torch_version': torch.__version__.split('+')[0],
        'config': CONFIG,
        'layer_norm_eps': LN_EPS,
        'mask_value': -MASK_NEG,
        'similarity_scale': SIM_SCALE,
        'lr': LR,
        'weight_decay': WEIGHT_DECAY,
        'adam': {'beta_1': BETA1, 'beta_2': BETA2, 'epsilon': ADAM_EPS, 'steps': ADAM_STEPS},
        'batch': B,
        'seq_len': T,
        'ids': ids_list,
        'segments': segs_list,
        'losses': {'total': total.item(), 'seq2seq': s2s.item(), 'similarity': sim.item()},
        'adamw_losses': adam_losses,
        'bin': f'{NAME}.bin',
        'bin_floats': offset,
        'arrays': index,
    }
    del meta['torch_version']  # keep the file independent of the torch build
    os.makedirs(OUT_DIR, exist_ok=True)
    json_path = os.path.join(OUT_DIR, f'{NAME}.json')
    bin_path = os.path.join(OUT_DIR, f'{NAME}.bin')
    with open(bin_path, 'wb') as f:
        f.write(bytes(blob))
    text = json.dumps(meta, indent=1, sort_keys=True) + '\n'
    with open(json_path, 'w', encoding='utf-8') as f:
        f.write(text)

    # -------- summary
    print(f'simbert parity fixture: B={B} T={T} config={json.dumps(CONFIG, sort_keys=True)}')
    for r in range(B):
        n_real = sum(1 for t in ids_list[r] if t != PAD)
        print(f'  row {r}: {n_real} tokens, {T - n_real} padding, ids={ids_list[r]}')
    print(f'  losses: total={total.item():.12f} seq2seq={s2s.item():.12f} similarity={sim.item():.12f}')
    for i, l in enumerate(adam_losses):
        label = f'before step {i + 1}' if i < ADAM_STEPS else f'after step {ADAM_STEPS}'
        print(f'  adamw {label:>14}: total={l["total"]:.9f} seq2seq={l["seq2seq"]:.9f} similarity={l["similarity"]:.9f}')
    n_params = sum(params[n].numel() for n in names)
    gnorm = math.sqrt(sum(float((grads[n] ** 2).sum()) for n in names))
    zero_grads = [n for n in names if float(grads[n].abs().max()) == 0.0]
    print(f'  {len(names)} parameters, {n_params} floats, grad norm {gnorm:.6e}, all-zero grads: {zero_grads or "none"}')
    for path in (json_path, bin_path):
        with open(path, 'rb') as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        print(f'  {os.path.relpath(path, ROOT)}: {os.path.getsize(path)} bytes sha256 {digest}')
    write_generation_fixture(params)



# ---------------------------------------------------------------- generation (issue #9)

GEN_NAME = 'generate-tiny'
GEN_SOURCE_LENGTHS = [5, 9, 1, 14]
GEN_MAXLEN = 8
GEN_BEAM = 3


def last_logits(p, src, gens):
    """Logits at the last position of each [CLS] src [SEP] + gen (segment 1), recomputed from scratch."""
    rows = [(src + g, [0] * len(src) + [1] * len(g)) for g in gens]
    T = max(len(r[0]) for r in rows)
    ids = torch.tensor([r[0] + [PAD] * (T - len(r[0])) for r in rows], dtype=torch.long)
    segs = torch.tensor([r[1] + [0] * (T - len(r[1])) for r in rows], dtype=torch.long)
    logits, _, _ = forward(p, ids, segs)
    out = torch.stack([logits[i, len(r[0]) - 1] for i, r in enumerate(rows)])
    out[:, PAD] = -math.inf  # the engine never generates [PAD] (it would be masked from later attention)
    return out


def greedy(p, src):
    """bert4keras greedy decoding; also the smallest gap between the best two logits on the way."""
    gen, margin = [], math.inf
    for _ in range(GEN_MAXLEN):
        row = last_logits(p, src, [gen])[0]
        top2 = torch.topk(row, 2).values
        margin = min(margin, float(top2[0] - top2[1]))
        token = int(row.argmax())
        if token == SEP:
            break
        gen.append(token)
    return gen, margin


def beam(p, src):
    """bert4keras beam_search (summed log-probabilities; the width shrinks as hypotheses end)."""
    beams, scores, margin = [[]], torch.zeros(1, dtype=DT), math.inf
    topk = GEN_BEAM
    for step in range(GEN_MAXLEN):
        logp = torch.log_softmax(last_logits(p, src, beams), dim=-1)
        total = (scores[:, None] + logp).reshape(-1)
        ranked = torch.sort(total, descending=True)
        margin = min(margin, float(ranked.values[topk - 1] - ranked.values[topk]))
        chosen = ranked.indices[:topk]
        vocab = logp.shape[1]
        beams = [beams[int(i) // vocab] + [int(i) % vocab] for i in chosen]
        scores = total[chosen]
        best = int(scores.argmax())
        if beams[best][-1] == SEP:
            return beams[best][:-1], float(scores[best]), margin
        live = [i for i, b in enumerate(beams) if b[-1] != SEP]
        beams, scores, topk = [beams[i] for i in live], scores[live], len(live)
    best = int(scores.argmax())
    return beams[best], float(scores[best]), margin


def write_generation_fixture(params):
    """Greedy and beam-search results for the fixture model (the parameters above), float64."""
    gen = torch.Generator().manual_seed(9)
    V = CONFIG['vocab_size']
    p = {n: t.detach() for n, t in params.items()}
    cases = []
    with torch.no_grad():
        for length in GEN_SOURCE_LENGTHS:
            src = [CLS] + torch.randint(4, V, (length,), generator=gen).tolist() + [SEP]
            greedy_ids, greedy_margin = greedy(p, src)
            beam_ids, beam_score, beam_margin = beam(p, src)
            cases.append({'source': src, 'greedy': greedy_ids, 'greedy_margin': greedy_margin,
                          'beam': beam_ids, 'beam_score': beam_score, 'beam_margin': beam_margin})
    meta = {'format': 'simbert-generate-fixture/1', 'generator': 'scripts/make-parity-fixture.py',
            'params': f'{NAME}.json', 'maxlen': GEN_MAXLEN, 'beam': GEN_BEAM, 'cases': cases}
    path = os.path.join(OUT_DIR, f'{GEN_NAME}.json')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(json.dumps(meta, indent=1, sort_keys=True) + '\n')
    for c in cases:
        print(f'  generate: source {len(c["source"])} tokens: greedy {c["greedy"]} (margin {c["greedy_margin"]:.3g}), '
              f'beam {c["beam"]} score {c["beam_score"]:.6f} (margin {c["beam_margin"]:.3g})')


# ---------------------------------------------------------------- interop fixtures (issue #11)
# A second, smaller BERT written the ways HuggingFace folders hold one, for the readers in
# src/formats: test/fixtures/interop/
#   reference.json + reference.bin  the weights under TensorFlow names and layouts, its
#                                    vocabulary, and the pooled vectors of a few texts computed
#                                    here in float64 (the independent reference for `encode`)
#   hf-mlm/      config.json, vocab.txt, pytorch_model.bin by torch.save: BertForMaskedLM keys
#                (bert./cls. prefixes, the tied decoder weight, the position_ids buffer)
#   hf-base/     the same as BertModel keys (no prefix, no MLM head), LayerNorm gamma/beta as
#                older checkpoints name them, and linear weights saved as transposed views
#   hf-safetensors/  BertForMaskedLM keys in model.safetensors, written by this script's own
#                safetensors writer (struct + json), not by the project's
#   evil-pytorch_model.bin      a zip whose data.pkl calls os.system when unpickled
#   legacy-pytorch_model.bin    torch.save's pre-1.6 format
# It uses its own generator, so the parity fixture above is unchanged by it.

INTEROP_DIR = os.path.join(ROOT, 'test', 'fixtures', 'interop')
INTEROP_CONFIG = {
    'attention_probs_dropout_prob': 0.1,
    'hidden_act': 'gelu',
    'hidden_dropout_prob': 0.1,
    'hidden_size': 16,
    'initializer_range': 0.02,
    'intermediate_size': 32,
    'max_position_embeddings': 32,
    'num_attention_heads': 2,
    'num_hidden_layers': 2,
    'type_vocab_size': 2,
}
INTEROP_VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] + list('我你他好吗是的天气怎么样去上海北京火车票') + ['今天', '##们']
INTEROP_TEXTS = ['我好', '你好吗', '北京天气怎么样', '去上海的火车票', '他是我']


def interop_tf_params(config):
    """TF-named float32 parameters in TF layouts, drawn from a private generator."""
    global CONFIG
    saved, CONFIG = CONFIG, config
    try:
        shapes = param_shapes()
    finally:
        CONFIG = saved
    gen = torch.Generator().manual_seed(1106)
    params = {}
    for name, shape in shapes:
        scale = 0.05 if len(shape) == 1 else 0.3
        base = 1.0 if name.endswith('/gamma') else 0.0
        params[name] = (base + scale * torch.randn(shape, generator=gen, dtype=torch.float32)).to(torch.float32)
    return shapes, params


def interop_pooled(config, params):
    """Pooled vectors ([CLS] text [SEP], segment 0) of INTEROP_TEXTS, in float64."""
    global CONFIG
    saved, CONFIG = CONFIG, config
    try:
        p = {n: t.to(DT) for n, t in params.items()}
        vectors = []
        for text in INTEROP_TEXTS:
            ids = torch.tensor([[CLS] + [INTEROP_VOCAB.index(c) for c in text] + [SEP]])
            _, pooled, _ = forward(p, ids, torch.zeros_like(ids))
            vectors.append([float(v) for v in pooled[0].to(torch.float32)])
        return vectors
    finally:
        CONFIG = saved


def hf_name(tf_name):
    """BertForMaskedLM key of a TF BERT variable, and whether its value is transposed."""
    name = tf_name.replace('/', '.').replace('.layer_', '.layer.')
    name = name.replace('LayerNorm.gamma', 'LayerNorm.weight').replace('LayerNorm.beta', 'LayerNorm.bias')
    name = name.replace('cls.predictions.output_bias', 'cls.predictions.bias')
    if name.endswith('.kernel'):
        return name[:-len('kernel')] + 'weight', True
    if name.endswith('_embeddings'):
        return name + '.weight', False
    return name, False


def write_safetensors_by_hand(path, tensors, metadata):
    header = {'__metadata__': metadata}
    blobs, offset = [], 0
    for name, t in tensors:
        data = t.contiguous().numpy().astype('<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode('utf-8')
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(blobs))


def write_hf_folder(name, config, state, weights_file):
    folder = os.path.join(INTEROP_DIR, name)
    os.makedirs(folder, exist_ok=True)
    hf_config = dict(config, vocab_size=len(INTEROP_VOCAB), model_type='bert', architectures=[
        'BertForMaskedLM' if name != 'hf-base' else 'BertModel'], layer_norm_eps=1e-12, pad_token_id=0,
        position_embedding_type='absolute')
    with open(os.path.join(folder, 'config.json'), 'w', encoding='utf-8') as f:
        f.write(json.dumps(hf_config, indent=2, sort_keys=True) + '\n')
    with open(os.path.join(folder, 'vocab.txt'), 'w', encoding='utf-8') as f:
        f.write(''.join(t + '\n' for t in INTEROP_VOCAB))
    if weights_file == 'model.safetensors':
        write_safetensors_by_hand(os.path.join(folder, weights_file), state, {'format': 'pt'})
    else:
        torch.save(state, os.path.join(folder, weights_file))


class _RunsACommand:
    def __reduce__(self):
        return (os.system, ('echo this must never run',))


def make_interop_fixtures():
    import collections
    import pickle
    import zipfile
    config = dict(INTEROP_CONFIG)
    shapes, params = interop_tf_params(dict(config, vocab_size=len(INTEROP_VOCAB)))
    os.makedirs(INTEROP_DIR, exist_ok=True)

    blob, index, offset = bytearray(), [], 0
    for name, shape in shapes:
        blob += params[name].numpy().astype('<f4').tobytes()
        index.append({'name': name, 'shape': shape, 'offset': offset, 'length': params[name].numel()})
        offset += params[name].numel()
    with open(os.path.join(INTEROP_DIR, 'reference.bin'), 'wb') as f:
        f.write(bytes(blob))
    reference = {'config': dict(config, vocab_size=len(INTEROP_VOCAB)), 'vocab': INTEROP_VOCAB, 'arrays': index,
                 'texts': INTEROP_TEXTS, 'pooled': interop_pooled(dict(config, vocab_size=len(INTEROP_VOCAB)), params)}
    with open(os.path.join(INTEROP_DIR, 'reference.json'), 'w', encoding='utf-8') as f:
        f.write(json.dumps(reference, indent=1, sort_keys=True) + '\n')

    mlm = collections.OrderedDict()
    for name, _ in shapes:
        key, transpose = hf_name(name)
        mlm[key] = params[name].t().contiguous() if transpose else params[name].clone()
    mlm['bert.embeddings.position_ids'] = torch.arange(config['max_position_embeddings']).expand((1, -1))
    mlm['cls.predictions.decoder.weight'] = mlm['bert.embeddings.word_embeddings.weight']  # tied: one storage
    mlm['cls.predictions.decoder.bias'] = mlm['cls.predictions.bias']
    write_hf_folder('hf-mlm', config, mlm, 'pytorch_model.bin')

    base = collections.OrderedDict()
    for name, _ in shapes:
        if not name.startswith('bert/'):
            continue
        key, transpose = hf_name(name)
        key = key[len('bert.'):].replace('LayerNorm.weight', 'LayerNorm.gamma').replace('LayerNorm.bias', 'LayerNorm.beta')
        base[key] = params[name].t() if transpose else params[name].clone()  # a strided view, as saved
    write_hf_folder('hf-base', config, base, 'pytorch_model.bin')

    tensors = [(hf_name(n)[0], params[n].t() if hf_name(n)[1] else params[n]) for n, _ in shapes]
    write_hf_folder('hf-safetensors', config, list(reversed(tensors)), 'model.safetensors')

    with zipfile.ZipFile(os.path.join(INTEROP_DIR, 'evil-pytorch_model.bin'), 'w', zipfile.ZIP_STORED) as z:
        info = zipfile.ZipInfo('evil/data.pkl', date_time=(1980, 1, 1, 0, 0, 0))
        z.writestr(info, pickle.dumps(collections.OrderedDict(x=_RunsACommand()), protocol=2))
    torch.save(collections.OrderedDict(w=torch.ones(2)), os.path.join(INTEROP_DIR, 'legacy-pytorch_model.bin'),
               _use_new_zipfile_serialization=False)
    for root, _, files in sorted(os.walk(INTEROP_DIR)):
        for file in sorted(files):
            path = os.path.join(root, file)
            with open(path, 'rb') as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            print(f'  {os.path.relpath(path, ROOT)}: {os.path.getsize(path)} bytes sha256 {digest}')


if __name__ == '__main__':
    if sys.version_info < (3, 7):
        raise SystemExit('python 3.7+ required')
    main()
    make_interop_fixtures()
