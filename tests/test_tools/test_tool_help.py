"""Every tool (except the data set converters) is built on dformer_seg.cli: its parser comes from
cli.default_parser, its errors go through cli.main, and --help answers at once without importing Jittor."""
import glob
import json
import os
import subprocess
import sys

import pytest

from script_loading import REPO

TOOLS = sorted(os.path.relpath(path, REPO) for path in glob.glob(os.path.join(REPO, 'tools', '**', '*.py'),
                                                                   recursive=True)
               if os.sep + 'dataset_converters' + os.sep not in path
               # developer tools that drive the official PyTorch code in its own environment (README there)
               and os.path.join('tools', 'misc', 'reference') not in path)

# Runs a tool's ``--help`` as ``python TOOL --help`` would, then says which heavy modules were imported.
HELP_PROBE = '''
import json, runpy, sys
sys.argv = [sys.argv[1], '--help']
try:
    runpy.run_path(sys.argv[0], run_name='__main__')
except SystemExit as exit_info:
    code = exit_info.code
print(json.dumps(dict(code=code, jittor='jittor' in sys.modules, cv2='cv2' in sys.modules)))
'''


def test_the_tool_list_is_complete():
    assert 'tools/train.py' in TOOLS and 'tools/model_converters/dformer2jittor.py' in TOOLS and len(TOOLS) >= 13


@pytest.mark.parametrize('tool', TOOLS)
def test_help_imports_no_jittor(tool):
    result = subprocess.run([sys.executable, '-c', HELP_PROBE, tool], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    *usage, probe = result.stdout.strip().splitlines()
    assert json.loads(probe) == dict(code=0, jittor=False, cv2=False)
    text = '\n'.join(usage)
    assert text.startswith('usage:') and '--debug' in text and result.stderr == ''


@pytest.mark.parametrize('tool', TOOLS)
def test_built_on_the_shared_cli(tool):
    with open(os.path.join(REPO, tool), encoding='utf-8') as f:
        source = f.read()
    assert 'cli.default_parser(' in source and ('cli.main(' in source or 'cli.exit_status(' in source)
    assert 'argparse.ArgumentParser(' not in source and 'cli.setup(' in source
