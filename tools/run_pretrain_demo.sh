#!/usr/bin/env bash
# The pretraining demo: set up (if needed), generate the synthetic RGB-D classification set and the
# segmentation demo set (if absent), pretrain DFormer-Tiny on the classification set, then fine-tune the
# segmentation demo (configs/demo/dformer_tiny_demo.py) from that backbone and evaluate it.
#   bash tools/run_pretrain_demo.sh [--seed N]        (default seed 0)
# The same segmentation run from scratch, for comparison: bash tools/run_demo.sh --seed N
set -e
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$REPO/tools/setup_env.sh"
cd "$REPO"

SEED=0
while [ $# -gt 0 ]; do
    case "$1" in
        --seed) SEED="$2"; shift 2 ;;
        *) echo "usage: bash tools/run_pretrain_demo.sh [--seed N]" >&2; exit 2 ;;
    esac
done
if [ ! -f data/demo_cls/meta.json ]; then
    python tools/dataset_converters/generate_demo_cls.py --out data/demo_cls --seed 0
fi
if [ ! -f data/demo_rgbd/train.txt ]; then
    python tools/dataset_converters/generate_demo_rgbd.py --out data/demo_rgbd --seed 0
fi
RUN_DIR="work_dirs/pretrain_demo/$(date +%Y%m%d_%H%M%S)_seed$SEED"
python tools/train.py configs/pretrain/dformer_tiny_demo_cls.py --work-dir "$RUN_DIR/pretrain" --seed "$SEED"
BACKBONE="$(cat "$RUN_DIR/pretrain/last_checkpoint")"
python tools/train.py configs/demo/dformer_tiny_demo.py --work-dir "$RUN_DIR/segmentation" --seed "$SEED" \
    --cfg-options model.pretrained="$BACKBONE"
python tools/test.py configs/demo/dformer_tiny_demo.py "$(cat "$RUN_DIR/segmentation/last_checkpoint")" \
    --work-dir "$RUN_DIR/segmentation"
echo "[pretrain demo] pretraining in $RUN_DIR/pretrain, segmentation from its backbone in $RUN_DIR/segmentation"
