#!/bin/bash
# Issue 16 items 2-4: the video stage fine-tuned from the bundled model on one budget (200 steps,
# seed 0, shards/cpu128), five ways, then all scored on the same eval items.
set -ex
cd "$(dirname "$0")/../.."
[ -f shards/cpu128/manifest.json ] || .venv/bin/kinetype render --n 3000 --size 128 --seed 0 --shard-size 500 --out shards/cpu128
K=.venv/bin/kinetype
for v in independent mixed trs demo; do
  $K train --preset cpu --stage video --shards shards/cpu128 --init models/kinetype --out runs/noise/$v \
     --config benchmarks/training_options/$v.toml --max-steps 200 --seed 0
done
.venv/bin/python benchmarks/motion_options.py noise --models models/kinetype,runs/noise/independent/pipeline,runs/noise/mixed/pipeline,runs/noise/trs/pipeline,runs/noise/demo/pipeline --priors mixed:0.5 --n 20 --steps 15 --out runs/noise/eval --quiet
