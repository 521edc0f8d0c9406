#!/usr/bin/env bash
# The main job on a fresh machine: set up (if needed), generate the built-in synthetic RGB-D
# data set (if absent), train DFormer-Tiny on it, then evaluate the final checkpoint and write
# colour overlays. Every run gets its own work directory under work_dirs/dformer_tiny_demo/.
set -e
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$REPO/tools/setup_env.sh"
cd "$REPO"

CONFIG=configs/demo/dformer_tiny_demo.py
DATA=data/demo_rgbd
if [ ! -f "$DATA/train.txt" ]; then
    python tools/dataset_converters/generate_demo_rgbd.py --out "$DATA" --seed 0
fi
WORK_DIR="work_dirs/dformer_tiny_demo/$(date +%Y%m%d_%H%M%S)"
python tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "$@"
python tools/test.py "$CONFIG" "$(cat "$WORK_DIR/last_checkpoint")" --work-dir "$WORK_DIR" \
    --show-dir "$WORK_DIR/show"
echo "[demo] logs, checkpoints and overlays are in $WORK_DIR"
