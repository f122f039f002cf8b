"""Settings shared by the demo model's build scripts (tokenizer, training, export)."""
import os

# The prose the tokenizer and the model learn from (../shared/texts); HELD_OUT is never trained on:
# the lab's perplexity and the needle haystacks of the acceptance grid use it.
TEXTS = [
    'austen-emma.txt', 'austen-mansfieldpark.txt', 'austen-northangerabbey.txt', 'austen-persuasion.txt',
    'austen-prideprejudice.txt', 'austen-sensesensibility.txt', 'devil.txt', 'jargon.txt', 'kjv.txt',
    'melville-mobydick.txt',
]
HELD_OUT = 'austen-persuasion.txt'
VOCAB_SIZE = 4096


def shared_texts() -> str:
    """../shared/texts (or $KVLAB_SHARED/texts); fails loudly when missing."""
    root = os.environ.get('KVLAB_SHARED') or os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared')
    path = os.path.abspath(os.path.join(root, 'texts'))
    if not os.path.isdir(path):
        raise SystemExit(f'shared texts not found at {path} (set KVLAB_SHARED)')
    return path


def work_dir() -> str:
    """Where intermediate files go ($KVLAB_DEMO_WORK, default build/demo-model/work, git-ignored)."""
    path = os.environ.get('KVLAB_DEMO_WORK') or os.path.join(os.path.dirname(__file__), 'work')
    os.makedirs(path, exist_ok=True)
    return os.path.abspath(path)
