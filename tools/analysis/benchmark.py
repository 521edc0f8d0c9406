"""Measure the latency of a segmentor (inference or one training step) and where its time goes.

Examples::

    python tools/analysis/benchmark.py configs/dformer/dformer_tiny_nyu.py
    python tools/analysis/benchmark.py configs/dformerv2/dformerv2_s_nyu.py --repeat 5 --profile
    python tools/analysis/benchmark.py configs/dformer/dformer_tiny_nyu.py --train --repeat 3

The model is built from the config (random weights unless a checkpoint is
given) and fed random inputs of ``--shape``. The first call is timed on its
own: it includes Jittor's compilation of every new kernel (seconds on a cold
cache, much less on a warm one). Then ``--warmup`` untimed calls run, then
``--repeat`` timed calls, each followed by ``jt.sync_all(True)`` so that the
lazily executed graph really finishes inside the timed region.

Inference times ``model.encode_decode(img, depth)``: backbone, decode head
and the bilinear upsampling of the logits to the input size. ``--train``
times a full step, ``model.train_step(batch, optim_wrapper)`` as the Runner runs it: forward in 'loss'
mode, backward and the optimizer step of the config's ``optim_wrapper`` (AdamW in the official recipes;
its clipping and accumulation settings included).

``--profile`` runs a few more calls under Jittor's profiler and prints the
time per op type (oneDNN convs, matmuls, the fast-op kernels of
``dformer_seg.ops``, generic fused kernels, ...) and the slowest kernels.

``--backend onnxruntime MODEL.onnx`` times an exported model (see
docs/deployment.md) in ONNX Runtime on the CPU with ``--threads`` intra-op
threads (default: all cores), at the input size it was exported for, in the
same way (first call, warm-up, timed calls of the logits).
"""
import os
import re
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))

from dformer_seg import cli  # noqa: E402  (does not import Jittor)


def parse_args(argv=None):
    parser = cli.default_parser(__doc__, checkpoint='optional')
    parser.add_argument('--shape', type=int, nargs=2, default=(480, 640), metavar=('H', 'W'),
                        help='input height and width (default 480 640)')
    parser.add_argument('--batch', type=int, default=None,
                        help='batch size (default 1 for inference, 2 for --train)')
    parser.add_argument('--repeat', type=int, default=10, help='timed calls (default 10)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed calls after the first one (default 1)')
    parser.add_argument('--train', action='store_true',
                        help='time a training step (forward + backward + optimizer step) instead of inference')
    parser.add_argument('--profile', action='store_true', help='print where the time goes, by op type')
    parser.add_argument('--profile-runs', type=int, default=2, help='calls recorded by --profile (default 2)')
    parser.add_argument('--top', type=int, default=15, help='slowest kernels listed by --profile (default 15)')
    parser.add_argument('--backend', choices=('jittor', 'onnxruntime'), default='jittor',
                        help='jittor (the config) or onnxruntime (an exported .onnx file, given in place of '
                             'CONFIG or CHECKPOINT); default jittor')
    parser.add_argument('--threads', type=int, default=None,
                        help='ONNX Runtime intra-op threads (default: all cores)')
    parser.add_argument('--precision', choices=('fp32', 'bf16'), default='fp32',
                        help='precision of the heavy ops in inference (default fp32; docs/precision.md)')
    args = parser.parse_args(argv)
    if args.precision != 'fp32' and (args.train or args.backend == 'onnxruntime'):
        parser.error('--precision applies to Jittor inference only (not --train, not --backend onnxruntime)')
    if args.backend == 'onnxruntime':
        onnx_files = [p for p in (args.config, args.checkpoint) if p is not None and p.endswith('.onnx')]
        if len(onnx_files) != 1:
            parser.error('--backend onnxruntime times one exported .onnx file: pass MODEL.onnx')
        if args.train or args.profile or (args.batch or 1) != 1:
            parser.error('--backend onnxruntime times batch-1 inference only (no --train, --profile, --batch)')
        args.onnx, args.config, args.checkpoint = onnx_files[0], None, None  # no config to load
    elif any(p is not None and p.endswith('.onnx') for p in (args.config, args.checkpoint)):
        parser.error('an .onnx file runs in ONNX Runtime: add --backend onnxruntime')
    if args.threads is not None and args.threads < 1:
        parser.error('--threads must be at least 1')
    if args.batch is None:
        args.batch = 2 if args.train else 1
    for name in ('batch', 'repeat'):
        if getattr(args, name) < 1:
            parser.error(f'--{name} must be at least 1')
    if args.warmup < 0 or args.profile_runs < 1:
        parser.error('--warmup must be >= 0 and --profile-runs >= 1')
    if min(args.shape) < 32:
        parser.error(f'--shape {args.shape} is too small: the backbones downsample by 32')
    return args


def make_batch(batch_size, shape, num_classes, with_labels, seed=0):
    """Random inputs in the value ranges a data pipeline produces (normalised image and depth)."""
    import jittor as jt
    import numpy as np

    rng = np.random.default_rng(seed)
    height, width = shape
    batch = dict(img=jt.array(rng.standard_normal((batch_size, 3, height, width)).astype(np.float32)),
                 depth=jt.array(rng.standard_normal((batch_size, 1, height, width)).astype(np.float32)))
    if with_labels:
        labels = rng.integers(0, num_classes, size=(batch_size, height, width)).astype(np.int32)
        batch['gt_seg'] = jt.array(labels)
    return batch


def inference_step(model, batch):
    import jittor as jt

    with jt.no_grad():
        logits = model.encode_decode(batch['img'], batch['depth'])
        logits.sync()
    jt.sync_all(True)


def make_train_step(model, optim_wrapper):
    import jittor as jt

    def train_step(batch):
        model.train_step(batch, optim_wrapper)
        jt.sync_all(True)
    return train_step


def timed(fn, *args):
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def peak_rss_mib():
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# Op types recognised in Jittor's kernel keys, checked in order. The fast-op kernels of
# dformer_seg.ops carry a `fastop_<name>` marker in their source, which shows up in the key.
_FASTOP_RE = re.compile(r'fastop_([a-z0-9_]+)')
_KEY_OP_RE = re.compile(r'opkey[0-9a-f]+:([a-z_]+)')


def classify_kernel(name):
    """Map one profiler kernel key to a readable op type."""
    fastop = _FASTOP_RE.search(name)
    if fastop:
        return f'fast-op {fastop.group(1)}'
    for prefix, label in (('mkl_conv_backward_w', 'conv weight-grad (oneDNN)'),
                          ('mkl_conv_backward_x', 'conv input-grad (oneDNN)'),
                          ('mkl_conv', 'conv (oneDNN)'),
                          ('mkl_matmul', 'matmul 2-D (oneDNN)'),
                          ('code', 'jt.code kernel'),
                          ('transpose', 'transpose'),
                          ('setitem', 'setitem'),
                          ('getitem', 'getitem / slice'),
                          ('concat', 'concat')):
        if name.startswith(prefix):
            return label
    ops = _KEY_OP_RE.findall(name)
    if not ops:
        return name.split('\u00ab', 1)[0] or 'other'
    kinds = set(ops)
    if 'reindex_reduce' in kinds:
        return 'scatter (reindex_reduce: interpolate/pad backward)'
    if 'reindex' in kinds and 'reduce' in kinds:
        return 'conv / pooling (reindex + reduce, not oneDNN)'
    if 'reduce' in kinds and 'binary' in kinds and 'broadcast_to' in kinds and 'unary' not in kinds:
        return 'batched matmul (broadcast-multiply-reduce)'
    if 'reduce' in kinds:
        return 'reduction (mean/sum/max, softmax, norms)'
    if 'reindex' in kinds:
        return 'gather (reindex: interpolate, pad, roll)'
    if kinds & {'getitem', 'setitem'}:
        return 'getitem / setitem'
    if 'transpose' in kinds:
        return 'transpose'
    return 'elementwise (fused)'


def summarize_profile(report, runs, top):
    """Per-op-type and per-kernel tables (ms per call) from ``jt.profile_scope``'s report."""
    if not report:
        return 'profiler recorded nothing'
    header, rows = report[0], report[1:]
    name_col, count_col, time_col = header.index('Name'), header.index('Count'), header.index('TotalTime')
    kernels = [(row[name_col], int(row[count_col]), float(row[time_col]) / 1e6 / runs) for row in rows]
    total = sum(ms for _, _, ms in kernels) or 1.0
    by_type = {}
    for name, count, ms in kernels:
        entry = by_type.setdefault(classify_kernel(name), [0, 0.0])
        entry[0] += count
        entry[1] += ms
    lines = [f'Kernel time per call: {total:.1f} ms over {len(kernels)} distinct kernels', '',
             f'{"op type":<55}{"launches":>10}{"ms/call":>10}{"share":>8}']
    for label, (count, ms) in sorted(by_type.items(), key=lambda item: -item[1][1]):
        if ms >= 0.05:  # zero-time entries are fused ops that Jittor relayed to oneDNN (counted there)
            lines.append(f'{label:<55}{count // runs:>10}{ms:>10.1f}{100 * ms / total:>7.1f}%')
    lines += ['', f'Slowest {top} kernels:', f'{"ms/call":>9}  {"launches":>8}  kernel']
    for name, count, ms in sorted(kernels, key=lambda k: -k[2])[:top]:
        short = re.sub(r'\u00ab(JIT|JIT_cpu|index_t|graph|var_info)[^\u00ab]*', '', name)
        short = ' '.join(short.replace('\u00ab', ' ').split())
        lines.append(f'{ms:>9.2f}  {count // runs:>8}  {classify_kernel(name)}: {short[:160]}')
    return '\n'.join(lines)


def run_profile(step, batch, runs):
    import jittor as jt

    # log_silent keeps Jittor from printing its own (long, unsorted by type) profile table.
    with jt.flag_scope(log_silent=1):
        with jt.profile_scope() as report:
            for _ in range(runs):
                step(batch)
    return report


def benchmark_onnxruntime(args):
    """Time an exported model in ONNX Runtime (batch 1, its own input size); same report as for Jittor."""
    import numpy as np

    from dformer_seg.deploy import ort_session

    start = time.perf_counter()
    session = ort_session(args.onnx, threads=args.threads)
    build_s = time.perf_counter() - start
    inputs = {i.name: tuple(i.shape) for i in session.get_inputs()}
    rng = np.random.default_rng(0)
    feeds = {name: rng.standard_normal(shape).astype(np.float32) for name, shape in inputs.items()}
    step = lambda feeds: session.run(None, feeds)  # noqa: E731
    threads = args.threads or os.cpu_count()
    height, width = inputs['rgb'][2:]
    print(f'{os.path.basename(args.onnx)}: ONNX Runtime {session.get_providers()[0]}, {threads} threads, batch 1, '
          f'{height}x{width}, load average {os.getloadavg()[0]:.2f}')
    print(f'session creation (graph optimisation): {build_s:.2f} s')
    return dict(build_s=build_s, **time_calls(step, feeds, args, images_per_call=1, first_label='first call'))


def time_calls(step, inputs, args, images_per_call, first_label):
    """Time the first call, ``args.warmup`` untimed calls and ``args.repeat`` timed ones; print and return them."""
    first = timed(step, inputs)
    print(f'{first_label}: {first:.2f} s')
    for _ in range(args.warmup):
        step(inputs)
    times_ms = [1000.0 * timed(step, inputs) for _ in range(args.repeat)]
    median = statistics.median(times_ms)
    print(f'latency over {args.repeat} calls: median {median:.1f} ms, min {min(times_ms):.1f} ms, '
          f'max {max(times_ms):.1f} ms')
    print(f'throughput: {1000.0 * images_per_call / median:.2f} images/s')
    print(f'peak resident memory: {peak_rss_mib():.0f} MiB')
    return dict(first_s=first, median_ms=median, min_ms=min(times_ms), max_ms=max(times_ms))


def run(args):
    cfg = cli.setup(args)
    if args.backend == 'onnxruntime':
        return benchmark_onnxruntime(args)
    import jittor as jt

    from dformer_seg.apis import init_model
    from dformer_seg.config import ConfigError
    from dformer_seg.engine.optim import build_optim_wrapper

    start = time.perf_counter()
    from dformer_seg.ops.precision import inference_precision

    model = init_model(cfg, args.checkpoint, precision=args.precision)  # also materialises the weights
    build_s = time.perf_counter() - start
    num_classes = model.decode_head.num_classes
    batch = make_batch(args.batch, tuple(args.shape), num_classes, with_labels=args.train)

    if args.train:
        if 'optim_wrapper' not in cfg:
            raise ConfigError(f'--train needs an optim_wrapper in {args.config}')
        model.train()
        optim_wrapper = build_optim_wrapper(model, cfg.to_dict()['optim_wrapper'])
        step = make_train_step(model, optim_wrapper)
        what = 'train step (forward + backward + optimizer step)'
    else:
        model.eval()

        def step(inputs):
            with inference_precision(args.precision):
                inference_step(model, inputs)
        what = f'inference (encode_decode, {args.precision})'

    device = 'cuda' if jt.flags.use_cuda else 'cpu'
    print(f'{os.path.basename(args.config)}: {what}, batch {args.batch}, {args.shape[0]}x{args.shape[1]}, '
          f'{device}, OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS", "unset")}, '
          f'load average {os.getloadavg()[0]:.2f}')
    print(f'model build + weight initialisation/loading: {build_s:.2f} s')
    result = dict(build_s=build_s, **time_calls(step, batch, args, images_per_call=args.batch,
                                                first_label='first call (includes compiling new kernels)'))
    if args.profile:
        report = run_profile(step, batch, args.profile_runs)
        print()
        print(summarize_profile(report, args.profile_runs, args.top))
    return result


def main(argv=None):
    return cli.main(run, parse_args(argv))


if __name__ == '__main__':
    main()
