"""One training run per work dir: a run holds work_dir/.lock for its lifetime (two real processes here)."""
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from dformer_seg.engine import Runner
from dformer_seg.engine import work_dir as work_dir_module
from dformer_seg.engine.work_dir import LOCK_FILE, WorkDirError, WorkDirLock

from toy import toy_runner_kwargs

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# A training run that signals when its loop starts and holds there until a file appears.
HOLDING_RUN = textwrap.dedent('''
    import os, sys, time
    sys.path.insert(0, {here!r})
    from dformer_seg import runtime
    runtime.setup()
    from dformer_seg.engine import Hook, Runner
    from toy import toy_runner_kwargs

    class Hold(Hook):
        def before_train(self, runner):
            open({ready!r}, 'w').close()
            while not os.path.exists({release!r}):
                time.sleep(0.05)

    runner = Runner(**toy_runner_kwargs({work_dir!r}, val_dataloader=None,
                                        loop=dict(type='IterBasedTrainLoop', max_iters=2)))
    runner.register_hook(Hold())
    runner.train()
''')


def short_run(work_dir, **overrides):
    return Runner(**toy_runner_kwargs(work_dir, val_dataloader=None, loop=dict(type='IterBasedTrainLoop', max_iters=2),
                                      **overrides))


@pytest.fixture
def holding_run(tmp_path):
    """Start a training run in ``tmp_path/work`` in another process; yields ``(process, release_file)`` once it
    trains."""
    work_dir, ready, release = tmp_path / 'work', tmp_path / 'ready', tmp_path / 'release'
    script = HOLDING_RUN.format(here=HERE, ready=str(ready), release=str(release), work_dir=str(work_dir))
    process = subprocess.Popen([sys.executable, '-c', script], cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 600
        while not ready.exists():
            assert process.poll() is None, process.stderr.read().decode()[-3000:]
            assert time.time() < deadline, 'the first run did not start training'
            time.sleep(0.1)
        yield process, release
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait()
        process.stderr.close()


def test_a_second_run_and_a_resume_are_refused_while_a_run_trains(tmp_path, holding_run):
    process, release = holding_run
    work_dir = tmp_path / 'work'
    owner = rf'pid {process.pid} on host {socket.gethostname()}, started \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d'
    for resume in (False, True):
        with pytest.raises(WorkDirError, match=rf'is in use by another training run \({owner}.*\)'):
            short_run(work_dir, resume=resume).train()
    release.touch()
    assert process.wait(timeout=600) == 0
    assert not (work_dir / LOCK_FILE).exists()  # a run that ends removes its lock
    resumed = short_run(work_dir, resume=True, train_loop=dict(type='IterBasedTrainLoop', max_iters=3))
    resumed.train()
    assert resumed.iter == 3


def test_the_lock_of_a_killed_run_is_taken_over(tmp_path, holding_run):
    process, _ = holding_run
    work_dir = tmp_path / 'work'
    # SIGTERM ends the run at once, without Python's clean-up, as kill -9 would (Jittor in this process
    # quits when a child process dies of any other signal: it takes it for a data loader worker).
    os.kill(process.pid, signal.SIGTERM)
    assert process.wait() == -signal.SIGTERM
    assert f'pid {process.pid} ' in (work_dir / LOCK_FILE).read_text()  # stale: nobody holds it
    runner = short_run(work_dir, allow_existing_work_dir=True)
    runner.train()
    log = open(os.path.join(work_dir, f'{runner.timestamp}.log')).read()
    assert f'took over the lock of {work_dir} from a run that no longer runs (pid {process.pid} ' in log
    assert not (work_dir / LOCK_FILE).exists()


def test_under_mpi_only_rank_0_takes_the_lock(tmp_path, monkeypatch):
    # Rank 1's view: it takes no lock, and it stops (instead of waiting forever) when rank 0 could not.
    monkeypatch.setattr(work_dir_module.dist, 'is_main_process', lambda: False)
    monkeypatch.setattr(work_dir_module.dist, 'broadcast_int', lambda value: 0)
    lock = WorkDirLock(str(tmp_path / 'work')).acquire()
    assert not lock.held and not (tmp_path / 'work').exists()
    monkeypatch.setattr(work_dir_module.dist, 'broadcast_int', lambda value: 1)
    with pytest.raises(WorkDirError, match='in use by another training run .see the error of MPI rank 0'):
        WorkDirLock(str(tmp_path / 'work')).acquire()
