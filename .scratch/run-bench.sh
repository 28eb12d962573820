#!/bin/bash
cd /tmp/quality-snap
flock /tmp/mnist-bench.lock npx tsx bench/train.ts --full-only --arch strong-cnn --epochs strong-cnn=10 --seeds 1,2,3 --dataset mnist > /work/wt/quality/.scratch/bench-mnist.log 2>&1
flock /tmp/mnist-bench.lock npx tsx bench/train.ts --full-only --arch strong-cnn --epochs strong-cnn=10 --seeds 1 --dataset fashion-mnist > /work/wt/quality/.scratch/bench-fashion.log 2>&1
[ -x /tmp/quality-snap2/run.sh ] && /tmp/quality-snap2/run.sh
