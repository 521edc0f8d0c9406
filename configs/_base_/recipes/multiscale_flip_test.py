# The official multi-scale + flip evaluation (utils/eval.py --mst) that tools/test.py --tta runs: scales
# 0.5 .. 1.5, each scaled size rounded up to a multiple of 32.
tta_cfg = dict(scales=[0.5, 0.75, 1.0, 1.25, 1.5], flip=True, size_divisor=32)
