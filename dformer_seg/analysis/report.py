"""Reading a FLOP report: totals by module, and a printable summary."""
from collections import defaultdict


def flops_by_module(report, depth=1):
    """``{module path prefix: (thop, full)}``: each count summed over the modules under a path
    truncated to ``depth`` components (``'(model)'`` for ops the top-level module runs itself)."""
    if depth < 1:
        raise ValueError(f'depth must be at least 1, got {depth}')
    grouped = defaultdict(lambda: [0, 0])
    for index, per_module in enumerate((report.thop_by_module, report.full_by_module)):
        for path, flops in per_module.items():
            prefix = '.'.join(path.split('.')[:depth]) if path else '(model)'
            grouped[prefix][index] += flops
    return {k: tuple(v) for k, v in sorted(grouped.items(), key=lambda item: -item[1][1])}


def format_report(report, top=8):
    """Human-readable summary: params, both FLOP counts and the largest contributors."""
    lines = [
        f'{"Params (trainable)":<30}{report.params.trainable / 1e6:>12.3f} M  ({report.params.trainable:,})',
        f'{"Params (thop convention)":<30}{report.thop_params / 1e6:>12.3f} M  ({report.thop_params:,})',
        f'{"Non-trainable Vars":<30}{report.params.non_trainable / 1e6:>12.3f} M  '
        + ', '.join(f'{k}={v:,}' for k, v in sorted(report.params.non_trainable_by_name.items())),
        f'{"GFLOPs (thop, as in papers)":<30}{report.thop_flops / 1e9:>12.3f} G  ({report.thop_flops:,})',
        f'{"GFLOPs (full)":<30}{report.full_flops / 1e9:>12.3f} G  ({report.full_flops:,})',
        '',
        f'Top op types (full count){"":<10}{"GFLOPs":>10}{"share":>9}',
    ]
    for kind, flops in list(report.full_by_op.items())[:top]:
        share = flops / report.full_flops if report.full_flops else 0.0
        lines.append(f'  {kind:<33}{flops / 1e9:>10.3f}{share:>9.1%}')
    lines.append(f'Top layer types (thop count){"":<7}{"GFLOPs":>10}{"share":>9}')
    for kind, flops in list(report.thop_by_type.items())[:top]:
        share = flops / report.thop_flops if report.thop_flops else 0.0
        lines.append(f'  {kind:<33}{flops / 1e9:>10.3f}{share:>9.1%}')
    if report.uncounted:
        lines.append('WARNING: fast ops without a FLOP rule, NOT counted: '
                     + ', '.join(f'{name} ({calls} calls)' for name, calls in sorted(report.uncounted.items())))
    return '\n'.join(lines)
