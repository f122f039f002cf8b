"""Writes PyTorch's logits for the trained demo model on a fixed prompt: the independent reference
the CI test holds the app's ONNX engine to (test/build/demo-model.test.ts). Every vocabulary column
of ten rows is stored, exactly, as little-endian float32 in base64.

  /usr/bin/python3 build/demo-model/reference.py [--out build/demo-model/reference-logits.json]
  /usr/bin/python3 build/demo-model/reference.py --gguf build/demo-model/kvlab-demo.gguf

The first form reads the training run's <work>/hf weights and <work>/spm.model. The second reads the
shipped GGUF itself (F32, parsed here from the GGUF format, not with the app's loader; Q/K rows
un-permuted from llama.cpp's interleaved RoPE order) and takes the prompt's SentencePiece ids from
the existing reference-logits.json, so the reference can be rebuilt without the training work folder.
"""
import argparse
import base64
import json
import os
import struct
import sys

import sentencepiece as spm
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import work_dir  # noqa: E402
from model import Config, Llama  # noqa: E402

PROMPT = ('A number is hidden somewhere in the text below. Read all of it and keep the number in mind: you will be asked for it at the end.\n\n'
          'The old miller walked along the river at dawn. Keep this number in mind, it is the passkey: 40917. A light rain fell at dusk, and the '
          'market was calm.\n\nQuestion: What is the passkey?\nAnswer: The passkey is')


def load(work: str) -> Llama:
    cfg = json.load(open(os.path.join(work, 'hf', 'config.json')))
    c = Config(**{k: cfg[k] for k in Config.__dataclass_fields__})
    m = Llama(c)
    with open(os.path.join(work, 'hf', 'model.safetensors'), 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        state = {}
        for k, h in header.items():
            f.seek(base + h['data_offsets'][0])
            buf = f.read(h['data_offsets'][1] - h['data_offsets'][0])
            state[k] = torch.frombuffer(bytearray(buf), dtype=torch.float32).reshape(h['shape'])
    m.load_state_dict(state)
    return m.eval()


GGUF_SCALAR = {0: '<B', 1: '<b', 2: '<H', 3: '<h', 4: '<I', 5: '<i', 6: '<f', 7: '<?', 10: '<Q', 11: '<q', 12: '<d'}


def load_gguf(path: str) -> Llama:
    """The llama-architecture GGUF (all tensors F32) as model.py's Llama."""
    with open(path, 'rb') as f:
        data = f.read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return v[0]

    def string():
        nonlocal pos
        n = take('<Q')
        pos += n
        return data[pos - n:pos].decode('utf-8')

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take('<I'), take('<Q')
            return [value(et) for _ in range(n)]
        return take(GGUF_SCALAR[t])

    if data[:4] != b'GGUF':
        raise SystemExit(f'{path}: not a GGUF file')
    pos = 4
    version, n_tensors, n_kv = take('<I'), take('<Q'), take('<Q')
    if version != 3:
        raise SystemExit(f'{path}: GGUF version {version}, expected 3')
    meta = {}
    for _ in range(n_kv):
        k = string()
        meta[k] = value(take('<I'))
    infos = []
    for _ in range(n_tensors):
        name = string()
        dims = [take('<Q') for _ in range(take('<I'))]
        ggml_type, offset = take('<I'), take('<Q')
        if ggml_type != 0:
            raise SystemExit(f'{path}: tensor {name} has ggml type {ggml_type}; only F32 (0) is read here')
        infos.append((name, dims, offset))
    align = meta.get('general.alignment', 32)
    base = (pos + align - 1) // align * align
    c = Config(vocab_size=len(meta['tokenizer.ggml.tokens']), hidden_size=meta['llama.embedding_length'],
               intermediate_size=meta['llama.feed_forward_length'], num_hidden_layers=meta['llama.block_count'],
               num_attention_heads=meta['llama.attention.head_count'], num_key_value_heads=meta['llama.attention.head_count_kv'],
               max_position_embeddings=meta['llama.context_length'], rope_theta=meta['llama.rope.freq_base'],
               rms_norm_eps=meta['llama.attention.layer_norm_rms_epsilon'])

    def unpermute(w, heads):
        # llama.cpp's converter: w.reshape(heads, 2, rows/heads/2, cols).swapaxes(1, 2); this is its inverse.
        rows, cols = w.shape
        return w.reshape(heads, rows // heads // 2, 2, cols).swapaxes(1, 2).reshape(rows, cols)

    names = {'token_embd': 'model.embed_tokens', 'output_norm': 'model.norm'}
    per_layer = {'attn_norm': 'input_layernorm', 'ffn_norm': 'post_attention_layernorm', 'attn_q': 'self_attn.q_proj',
                 'attn_k': 'self_attn.k_proj', 'attn_v': 'self_attn.v_proj', 'attn_output': 'self_attn.o_proj',
                 'ffn_gate': 'mlp.gate_proj', 'ffn_up': 'mlp.up_proj', 'ffn_down': 'mlp.down_proj'}
    state = {}
    for name, dims, offset in infos:
        n = 1
        for x in dims:
            n *= x
        start = base + offset
        # GGUF lists dims innermost first: [cols, rows] is torch's [rows, cols].
        t = torch.frombuffer(bytearray(data[start:start + 4 * n]), dtype=torch.float32).reshape(list(reversed(dims)))
        stem, _ = name.rsplit('.', 1)
        parts = stem.split('.')
        if parts[0] == 'blk':
            kind = parts[2]
            if kind == 'attn_q':
                t = unpermute(t, c.num_attention_heads)
            elif kind == 'attn_k':
                t = unpermute(t, c.num_key_value_heads)
            key = f'model.layers.{parts[1]}.{per_layer[kind]}.weight'
        elif stem in names:
            key = names[stem] + '.weight'
        else:
            raise SystemExit(f'{path}: unexpected tensor {name} (the demo model ties its embeddings)')
        state[key] = t
    m = Llama(c)
    m.load_state_dict(state)
    return m.eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'reference-logits.json'))
    ap.add_argument('--gguf', help='read the weights from this GGUF and the ids from the existing --out file')
    args = ap.parse_args()
    if args.gguf:
        old = json.load(open(args.out))
        if old['prompt'] != PROMPT:
            raise SystemExit(f'{args.out} holds ids for another prompt')
        ids, piece = old['ids'], str
        m = load_gguf(args.gguf)
    else:
        work = work_dir()
        sp = spm.SentencePieceProcessor(model_file=os.path.join(work, 'spm.model'))
        ids, piece = [1] + sp.encode(PROMPT), sp.id_to_piece
        m = load(work)
    with torch.no_grad():
        logits = m(torch.tensor([ids]))[0]
    assert logits.dtype == torch.float32
    rows = list(range(0, len(ids), max(1, len(ids) // 8))) + [len(ids) - 1]
    out = {'prompt': PROMPT, 'ids': ids, 'encoding': 'base64 of little-endian float32, every vocabulary column',
           'rows': {str(r): base64.b64encode(logits[r].contiguous().numpy().astype('<f4').tobytes()).decode('ascii') for r in rows},
           'argmax_last': int(logits[-1].argmax()), 'source': 'PyTorch ' + torch.__version__ + ', build/demo-model/model.py'}
    json.dump(out, open(args.out, 'w'))
    print(f'wrote {args.out}: {len(ids)} tokens, argmax at the end = {out["argmax_last"]} ({piece(out["argmax_last"])!r})', file=sys.stderr)


if __name__ == '__main__':
    main()
