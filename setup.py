import os

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_requirements(name):
    with open(os.path.join(HERE, 'requirements', name)) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith('#')]


def read_version():
    namespace = {}
    with open(os.path.join(HERE, 'dformer_seg', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


setup(
    name='dformer_seg',
    version=read_version(),
    description='RGB-D semantic segmentation toolbox (DFormer, DFormerv2) on Jittor',
    long_description=open(os.path.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['dformer_seg', 'dformer_seg.*']),
    package_data={'dformer_seg.ops': ['csrc/*.h']},  # the fast-op kernel sources, read at run time
    python_requires='>=3.10',
    install_requires=read_requirements('runtime.txt'),
    extras_require={'tests': read_requirements('tests.txt'), 'deploy': read_requirements('deploy.txt')},
    license='MIT',
)
