#!/usr/bin/env bash
# Runs one KV Lab experiment as a Slurm job array: task i of n takes the i-th
# of n deterministic slices of the cells (`kvlab run --shard i/n`), writing to
# its own results folder (results/<experiment>.shard<i>of<n>/ under the
# checkout); a dependent job merges the shards.
#
#   sbatch --array=0-7 docs/cluster/slurm-array.sh experiment.json
#   # when all tasks are done:
#   npm run kvlab -- merge results/experiment results/experiment.shard*of8
#
#SBATCH --job-name=kvlab
#SBATCH --cpus-per-task=8
#SBATCH --mem=32G
#SBATCH --time=12:00:00
#SBATCH --output=kvlab-%A_%a.log
set -euo pipefail
EXPERIMENT="${1:?usage: sbatch --array=0-(n-1) slurm-array.sh <experiment.json>}"
N="${SLURM_ARRAY_TASK_COUNT:?run this as an array job}"
I="${SLURM_ARRAY_TASK_ID:?run this as an array job}"
cd "${KVLAB_HOME:-$SLURM_SUBMIT_DIR}"
# A killed or pre-empted task resumes where it stopped when Slurm requeues it.
exec npm run --silent kvlab -- run "$EXPERIMENT" --shard "$I/$N"
