"""GeometryMixLoggerHook: follow how much the model uses each geometry channel."""
from dformer_seg.engine.hooks import Hook
from dformer_seg.registry import HOOKS


@HOOKS.register_module()
class GeometryMixLoggerHook(Hook):
    """Every ``interval`` training iterations, log the weights GeometryDFormer's
    ``geometry_mix`` gives to its input channels (named by ``channel_names``), and
    keep them in ``history`` as ``(iteration, [weights])``.

    A weight moving away from 0 shows the model started to use that channel.
    """

    priority = 'LOW'  # after the optimizer step of the iteration

    def __init__(self, interval=10, channel_names=('depth', 'slope_x', 'slope_y')):
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'interval must be a positive int, got {interval!r}')
        self.interval = interval
        self.channel_names = tuple(channel_names)
        self.history = []

    def before_train(self, runner):
        backbone = getattr(runner.model, 'backbone', None)
        if not hasattr(backbone, 'mix_weights'):
            raise TypeError(f'GeometryMixLoggerHook needs a GeometryDFormer backbone, got '
                            f'{type(backbone).__name__}')
        if backbone.geometry_channels != len(self.channel_names):
            raise ValueError(f'{len(self.channel_names)} channel_names for a mix of '
                             f'{backbone.geometry_channels} channels')

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if not (self.every_n_iters(runner, self.interval) or runner.iter == runner.max_iters):
            return
        weights = [float(w) for w in runner.model.backbone.mix_weights()]
        self.history.append((runner.iter, weights))
        shown = ', '.join(f'{name} {w:+.4f}' for name, w in zip(self.channel_names, weights))
        runner.logger.info(f'geometry mix at iteration {runner.iter}: {shown}')
