#!/usr/bin/env bash
# Rebuilds the bundled demo model from scratch (docs/demo-model.md): tokenizer, tasks, training,
# GGUF export, PyTorch reference logits. Python is a build tool here; users and CI never need it.
#
#   apt-get install -y python3-torch python3-sentencepiece libopenblas0-pthread   # Debian 12
#   bash build/demo-model/build.sh            # ~5 h on 2 CPU cores
#   bash build/demo-model/build.sh --resume   # continue an interrupted training run
#
# Debian's torch installs for /usr/bin/python3 only (not for a pyenv python on PATH). Without
# libopenblas0-pthread it falls back to reference BLAS and trains about 6x slower.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
# Under CPU contention OpenMP threads that spin-wait at barriers slow training several-fold.
export OMP_WAIT_POLICY=PASSIVE
if [[ "${1:-}" != "--resume" ]]; then
  $PY build/demo-model/train_tokenizer.py
  npx tsx build/demo-model/make-data.ts --samples 3000 --seed 1
  npx tsx build/demo-model/make-data.ts --samples 3000 --seed 1 --vary-numbers   # for the last anneal
fi
$PY build/demo-model/train.py --seed 1 ${1:-}
npx tsx build/demo-model/export.ts
$PY build/demo-model/reference.py
