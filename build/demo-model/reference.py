"""Writes PyTorch's logits for the trained demo model on a fixed prompt (<work>/hf weights): the
independent reference the CI test holds the app's ONNX engine to (test/build/demo-model.test.ts).

  /usr/bin/python3 build/demo-model/reference.py [--out build/demo-model/reference-logits.json]
"""
import argparse
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'reference-logits.json'))
    args = ap.parse_args()
    work = work_dir()
    sp = spm.SentencePieceProcessor(model_file=os.path.join(work, 'spm.model'))
    ids = [1] + sp.encode(PROMPT)
    m = load(work)
    with torch.no_grad():
        logits = m(torch.tensor([ids]))[0].double()
    rows = list(range(0, len(ids), max(1, len(ids) // 8))) + [len(ids) - 1]
    out = {'prompt': PROMPT, 'ids': ids, 'rows': {str(r): [round(float(x), 6) for x in logits[r, :64]] for r in rows},
           'argmax_last': int(logits[-1].argmax()), 'source': 'PyTorch ' + torch.__version__ + ', build/demo-model/model.py'}
    json.dump(out, open(args.out, 'w'))
    print(f'wrote {args.out}: {len(ids)} tokens, argmax at the end = {out["argmax_last"]} ({sp.id_to_piece(out["argmax_last"])!r})', file=sys.stderr)


if __name__ == '__main__':
    main()
