#!/usr/bin/env bash
# On a CUDA machine, in one go: render a training set on all cores, train the whole pipeline
# (autoencoder -> image -> video) within a wall-time budget, measure training and sampling speed,
# score the model with `kinetype eval model`, and leave everything in one folder.
#
#   tools/gpu_train.sh MINUTES [OUT]        e.g. tools/gpu_train.sh 8 gpu_run
#
# OUT/pipeline is the trained model; OUT/figures.txt the speed tables and OUT/eval/report.md its
# scores. If OUT/eval beats the bundled model's card, bundle it:
#   python tools/bundle_model.py OUT/pipeline kinetype/assets/model
# Settings by environment: PRESET (small), CLIPS (20000), SIZE (128), FRAMES (24), EVAL_N (100),
# KINETYPE (kinetype), PYTHON (python); SPEED_STEPS, SPEED_REPEATS, SAMPLE_STEPS size the benchmarks. The same script runs on a CPU with tiny settings (tests).
set -euo pipefail
minutes=${1:?usage: tools/gpu_train.sh MINUTES [OUT]}
out=${2:-gpu_run}
preset=${PRESET:-small}
clips=${CLIPS:-20000}
size=${SIZE:-128}
frames=${FRAMES:-24}
eval_n=${EVAL_N:-100}
kt=${KINETYPE:-kinetype}
py=${PYTHON:-python}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
start=$(date +%s)

# 1. Training data, on every core (resumable: a second run reuses it).
"$kt" render --n "$clips" --size "$size" --frames "$frames" --shard-size 500 --out "$out/shards" --quiet

# 2. The whole pipeline within the budget: `--minutes` splits it over the stages (20 / 35 / 45 %);
#    each stage fixes its step count from its share after a few timed steps, so its learning-rate
#    schedule ends when its time does (max_steps stays as a ceiling).
"$kt" train --preset "$preset" --shards "$out/shards" --out "$out/runs" --minutes "$minutes"
train_s=$(( $(date +%s) - start ))
rm -rf "$out/pipeline" && cp -r "$out/runs/video/pipeline" "$out/pipeline"

# 3. Speed tables and scores.
{
  echo "kinetype tools/gpu_train.sh $minutes: preset $preset, $clips clips at $size px, render + train wall time ${train_s} s"
  "$py" "$here/benchmarks/train_speed.py" --preset "$preset" --shards "$out/shards" --steps "${SPEED_STEPS:-30}" \
      --autoencoder "$out/runs/autoencoder/pipeline/autoencoder"
  "$py" "$here/benchmarks/sample_speed.py" --preset "$preset" --repeats "${SPEED_REPEATS:-2}" --steps "${SAMPLE_STEPS:-25}"
} > "$out/figures.txt" 2>&1
"$kt" eval model --model "$out/pipeline" --n "$eval_n" --out "$out/eval" --quiet
cat "$out/figures.txt"
echo "done in $(( $(date +%s) - start )) s: $out/pipeline, $out/figures.txt, $out/eval/report.md"
