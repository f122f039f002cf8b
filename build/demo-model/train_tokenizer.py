"""Trains the demo model's SentencePiece BPE tokenizer on the public-domain prose in ../shared/texts.

Writes <work>/spm.model and <work>/vocab.json ({tokens, scores, types} in GGUF "llama" order), which
make-data.ts (the app's own SentencePiece tokenizer) and export.ts (the GGUF writer) read.

The held-out text (HELD_OUT, see common.py) is excluded, so the perplexity the lab reports on it is
on prose neither the tokenizer nor the model saw.
"""
import json
import os
import sys

import sentencepiece as spm

from common import HELD_OUT, TEXTS, VOCAB_SIZE, shared_texts, work_dir


def main() -> None:
    work = work_dir()
    src = shared_texts()
    files = [os.path.join(src, n) for n in TEXTS if n != HELD_OUT]
    spm.SentencePieceTrainer.train(
        input=','.join(files),
        model_prefix=os.path.join(work, 'spm'),
        model_type='bpe',
        vocab_size=VOCAB_SIZE,
        # Llama's settings: raw text (no NFKC), byte fallback for anything unseen, digits split so
        # every number is a sequence of single-digit tokens (copying a passkey = copying digits).
        normalization_rule_name='identity',
        remove_extra_whitespaces=False,
        add_dummy_prefix=True,
        byte_fallback=True,
        split_digits=True,
        allow_whitespace_only_pieces=True,
        character_coverage=0.9999,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        max_sentence_length=16384,
        input_sentence_size=2_000_000,
        shuffle_input_sentence=True,
        seed_sentencepiece_size=1_000_000,
        num_threads=2,
        minloglevel=1,
    )
    sp = spm.SentencePieceProcessor(model_file=os.path.join(work, 'spm.model'))
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        # GGUF llama token types: 1 normal, 2 unknown, 3 control, 6 byte.
        types.append(2 if sp.is_unknown(i) else 3 if sp.is_control(i) else 6 if sp.is_byte(i) else 1)
    with open(os.path.join(work, 'vocab.json'), 'w', encoding='utf-8') as f:
        json.dump({'tokens': tokens, 'scores': scores, 'types': types}, f, ensure_ascii=False)
    print(f'tokenizer: {len(tokens)} pieces -> {work}/spm.model, vocab.json', file=sys.stderr)


if __name__ == '__main__':
    main()
