import os

import pytest

from dformer_seg.utils.fileio import atomic_write, temp_files_of_atomic_writes


def test_atomic_write_replaces_the_file_only_when_complete(tmp_path):
    path = tmp_path / 'sub' / 'note.txt'
    with atomic_write(str(path), 'w') as f:
        f.write('first')
        temporary, = temp_files_of_atomic_writes(str(path.parent))
        assert not path.exists() and os.path.basename(temporary).startswith('.note.txt.')
    assert path.read_text() == 'first'
    with pytest.raises(OSError, match='disk full'):
        with atomic_write(str(path), 'w') as f:
            f.write('half of the sec')
            raise OSError('disk full')
    assert path.read_text() == 'first' and os.listdir(path.parent) == ['note.txt']


def test_the_temp_files_of_killed_writes_are_found(tmp_path):
    for name in ('.epoch_3.pkl.k2j4x8.tmp', '.last_checkpoint.a1b2c3.tmp', 'epoch_3.pkl', '.lock', 'x.tmp'):
        (tmp_path / name).write_text('')
    assert [os.path.basename(p) for p in temp_files_of_atomic_writes(str(tmp_path))] == \
        ['.epoch_3.pkl.k2j4x8.tmp', '.last_checkpoint.a1b2c3.tmp']
