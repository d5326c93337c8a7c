#!/usr/bin/python3
"""An independent reader of a sentence-transformers folder (as `export --format sentence-transformers`
writes it): prints the sentence vector of each line of TEXTS as JSON, computed with plain torch.

    /usr/bin/python3 scripts/check-sentence-transformers.py DIR TEXTS

It reads modules.json, config.json, vocab.txt, model.safetensors, 1_Pooling/config.json and
2_Dense/{config.json,model.safetensors} with its own safetensors parser (struct + json), runs the
BERT of scripts/make-parity-fixture.py in float64, takes the [CLS] output (CLS pooling) and applies
the Dense layer. Texts must be CJK characters of the vocabulary (each character is one token), which
keeps tokenization out of the comparison; test/cli/export.test.ts uses it that way.
"""

import importlib.util
import json
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location('parity', os.path.join(HERE, 'make-parity-fixture.py'))
parity = importlib.util.module_from_spec(spec)
spec.loader.exec_module(parity)


def read_safetensors(path):
    with open(path, 'rb') as f:
        data = f.read()
    (length,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + length])
    tensors = {}
    for name, entry in header.items():
        if name == '__metadata__':
            continue
        assert entry['dtype'] == 'F32', (name, entry['dtype'])
        begin, end = entry['data_offsets']
        raw = bytearray(data[8 + length + begin:8 + length + end])
        tensors[name] = torch.frombuffer(raw, dtype=torch.float32).reshape(entry['shape']).to(torch.float64)
    return tensors


def read_json(folder, *parts):
    with open(os.path.join(folder, *parts), encoding='utf-8') as f:
        return json.load(f)


def main(folder, texts_path):
    modules = [m['type'].rsplit('.', 1)[1] for m in read_json(folder, 'modules.json')]
    assert modules == ['Transformer', 'Pooling', 'Dense'], modules
    pooling = read_json(folder, '1_Pooling', 'config.json')
    assert pooling['pooling_mode_cls_token'] and not pooling['pooling_mode_mean_tokens'], pooling
    dense_config = read_json(folder, '2_Dense', 'config.json')
    assert dense_config['activation_function'] == 'torch.nn.modules.linear.Identity', dense_config
    config = read_json(folder, 'config.json')
    assert config['model_type'] == 'bert' and config['hidden_act'] == 'gelu', config
    with open(os.path.join(folder, 'vocab.txt'), encoding='utf-8') as f:
        vocab = {token.rstrip('\n'): i for i, token in enumerate(f)}
    max_len = read_json(folder, 'sentence_bert_config.json')['max_seq_length']

    weights = read_safetensors(os.path.join(folder, 'model.safetensors'))
    dense = read_safetensors(os.path.join(folder, '2_Dense', 'model.safetensors'))
    parity.CONFIG = {key: config[key] for key in parity.INTEROP_CONFIG}
    parity.CONFIG['vocab_size'] = config['vocab_size']
    params = {}
    for name, _ in parity.param_shapes():
        key, transpose = parity.hf_name(name)
        params[name] = weights[key].t() if transpose else weights[key]
    # The pooler slot of the reference BERT is a linear map of [CLS]: give it the Dense layer.
    params['bert/pooler/dense/kernel'] = dense['linear.weight'].t()
    params['bert/pooler/dense/bias'] = dense['linear.bias']

    vectors = []
    with open(texts_path, encoding='utf-8') as f:
        for line in f.read().splitlines():
            ids = [vocab['[CLS]']] + [vocab[c] for c in line][:max_len - 2] + [vocab['[SEP]']]
            ids = torch.tensor([ids])
            _, pooled, _ = parity.forward(params, ids, torch.zeros_like(ids))
            vectors.append([float(v) for v in pooled[0]])
    print(json.dumps(vectors))


if __name__ == '__main__':
    if len(sys.argv) != 3:
        raise SystemExit('usage: check-sentence-transformers.py DIR TEXTS')
    main(sys.argv[1], sys.argv[2])
