"""Every shipped config resolves to the recorded dict (tests/fixtures/resolved-configs.json).

The snapshot guards refactors of the config files (shared bases, ``{{_base_.xxx}}`` references): the resolved
values must not move. After an intended change of a recipe, rewrite it from the repository root with
``python tests/test_shipped_configs/test_resolved_configs.py --write`` and review the diff.
"""
import glob
import json
import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SNAPSHOT = os.path.join(REPO, 'tests', 'fixtures', 'resolved-configs.json')
TUPLE_TAG = '__tuple__'  # JSON has no tuples; a config's tuples and lists must stay apart


def to_json(value):
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return {TUPLE_TAG: [to_json(v) for v in value]}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return value


def shipped_configs(repo):
    """Paths relative to ``repo`` of every config under configs/; files named ``_*.py`` are pieces, not configs."""
    paths = glob.glob(os.path.join(repo, 'configs', '**', '*.py'), recursive=True)
    return sorted(os.path.relpath(p, repo) for p in paths if not os.path.basename(p).startswith('_'))


def resolve(repo, relpath):
    from dformer_seg.config import Config
    return to_json(Config.fromfile(os.path.join(repo, relpath), import_custom_modules=False).to_dict())


def canonical(value):
    return json.dumps(value, sort_keys=True)


def load_snapshot():
    with open(SNAPSHOT, encoding='utf-8') as f:
        return json.load(f)


def write_snapshot():
    snapshot = {relpath: resolve(REPO, relpath) for relpath in shipped_configs(REPO)}
    with open(SNAPSHOT, 'w', encoding='utf-8') as f:
        json.dump(snapshot, f, indent=1, sort_keys=True)
        f.write('\n')
    return len(snapshot)


@pytest.mark.parametrize('relpath', sorted(load_snapshot()) if os.path.isfile(SNAPSHOT) else [])
def test_config_resolves_to_the_snapshot(relpath):
    expected = load_snapshot()[relpath]
    actual = resolve(REPO, relpath)
    assert sorted(actual) == sorted(expected), f'{relpath}: top-level keys differ'
    for key in expected:  # compared as JSON text: 1 and 1.0, or True and 1, are different settings
        assert canonical(actual[key]) == canonical(expected[key]), f'{relpath}: {key} differs from the snapshot'


def test_every_recorded_config_still_exists():
    # Configs added later are not refactors of recorded ones; only removals and renames are refused.
    gone = sorted(set(load_snapshot()) - set(shipped_configs(REPO)))
    assert not gone, f'recorded configs no longer under configs/: {gone}'


if __name__ == '__main__':
    if sys.argv[1:] != ['--write']:
        sys.exit('usage: python tests/test_shipped_configs/test_resolved_configs.py --write')
    sys.path.insert(0, REPO)
    print(f'wrote {write_snapshot()} resolved configs to {SNAPSHOT}')
