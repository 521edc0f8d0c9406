"""Small helpers shared by the engine and the tools."""
import datetime
import sys
import time


def format_eta(seconds):
    return str(datetime.timedelta(seconds=int(max(seconds, 0))))


class ProgressBar:
    """A text progress bar for validation and testing: ``[>>>   ] 3/10, 2.1 it/s, ETA: 0:00:04``.

    ``enabled=False`` makes every call a no-op (used on MPI ranks other than 0).
    On a non-terminal stream it prints a line every ``~10%`` instead of redrawing.
    """

    def __init__(self, total, width=30, stream=None, enabled=True):
        self.total = int(total)
        self.width = width
        self.stream = stream if stream is not None else sys.stdout
        self.enabled = enabled
        self.completed = 0
        self.start = time.time()
        self._interactive = bool(getattr(self.stream, 'isatty', lambda: False)())
        self._last_reported_tenth = -1

    def update(self, count=1):
        self.completed += count
        if not self.enabled:
            return
        elapsed = max(time.time() - self.start, 1e-9)
        rate = self.completed / elapsed
        if self.total > 0:
            fraction = min(self.completed / self.total, 1.0)
            filled = int(self.width * fraction)
            eta = (self.total - self.completed) / rate if rate > 0 else 0
            text = (f'[{">" * filled}{" " * (self.width - filled)}] {self.completed}/{self.total}, '
                    f'{rate:.1f} it/s, elapsed: {format_eta(elapsed)}, ETA: {format_eta(eta)}')
            tenth = int(fraction * 10)
        else:
            text = f'completed: {self.completed}, elapsed: {format_eta(elapsed)}, {rate:.1f} it/s'
            tenth = self.completed
        if self._interactive:
            self.stream.write('\r' + text)
            if self.total > 0 and self.completed >= self.total:
                self.stream.write('\n')
        elif tenth != self._last_reported_tenth:
            self.stream.write(text + '\n')
        self._last_reported_tenth = tenth
        self.stream.flush()
