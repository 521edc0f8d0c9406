"""Chain transforms built from config dicts."""
from ...registry import PIPELINES


class BaseTransform:
    """A transform: ``results = transform(results)``; ``repr`` lists its settings."""

    def __call__(self, results):
        return self.transform(results)

    def transform(self, results):
        raise NotImplementedError(f'{type(self).__name__} must implement transform(results)')

    def __repr__(self):
        args = ', '.join(f'{k}={v!r}' for k, v in vars(self).items() if not k.startswith('_'))
        return f'{type(self).__name__}({args})'


@PIPELINES.register_module()
class Compose:
    """Apply transforms in order; each item is a config dict or a callable."""

    def __init__(self, transforms):
        if not isinstance(transforms, (list, tuple)):
            raise TypeError(f'a pipeline must be a list of transforms, got {type(transforms).__name__}')
        self.transforms = []
        for item in transforms:
            if isinstance(item, dict):
                self.transforms.append(PIPELINES.build(item))
            elif callable(item):
                self.transforms.append(item)
            else:
                raise TypeError(f'a pipeline item must be a config dict or a callable, got {item!r}')

    def __call__(self, results):
        for transform in self.transforms:
            results = transform(results)
            if not isinstance(results, dict):
                raise TypeError(f'{transform!r} returned {type(results).__name__}, expected the results dict')
        return results

    def find(self, transform_type):
        """The first transform of class ``transform_type`` (a class or its name), or None."""
        for transform in self.transforms:
            cls = type(transform)
            if cls is transform_type or cls.__name__ == transform_type:
                return transform
        return None

    def __repr__(self):
        lines = ',\n'.join(f'    {t!r}' for t in self.transforms)
        return f'Compose([\n{lines}\n])'
