"""Open a local HTML page in headless Chromium and report what a person would see go wrong.

    python tests/browser_page.py PAGE.html [--screenshot OUT.png] [--width 1200]

``load_page(path)`` drives the browser over the DevTools protocol on a pipe (``--remote-debugging-pipe``; no
network port): it loads the page, lists every <img> with its natural width (0: it did not load) and collects
console errors, uncaught exceptions and failed loads; optionally it saves a screenshot of the whole page.
Works with Debian's ``chromium-headless-shell`` or ``chromium``.
"""
import argparse
import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

BROWSERS = ('chromium-headless-shell', 'chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable')
TIMEOUT_S = 60


def find_browser():
    """The path of the first Chromium-like browser on PATH, or None."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


class _DevTools:
    """A browser process and its DevTools pipe (JSON messages ending in NUL, fd 3 in, fd 4 out)."""

    def __init__(self, binary, profile):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_fds():  # in the child: its fd 3 reads our commands, its fd 4 writes the replies
            read_end, write_end = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        args = [binary, '--headless', '--remote-debugging-pipe', '--no-sandbox', '--disable-gpu',
                '--no-first-run', '--no-default-browser-check', f'--user-data-dir={profile}', 'about:blank']
        self.process = subprocess.Popen(args, preexec_fn=wire_fds, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, close_fds=False)  # fds 3 and 4 must stay
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b''
        self._next_id = 0
        self.events = []

    def send(self, method, params=None, session=None, timeout=TIMEOUT_S):
        self._next_id += 1
        message = dict(id=self._next_id, method=method, params=params or {})
        if session:
            message['sessionId'] = session
        os.write(self._to_browser, json.dumps(message).encode() + b'\0')
        while True:
            reply = self._receive(timeout)
            if reply.get('id') == self._next_id:
                if 'error' in reply:
                    raise RuntimeError(f'{method}: {reply["error"]}')
                return reply.get('result', {})
            self.events.append(reply)

    def wait_for(self, method, session, timeout=TIMEOUT_S):
        for event in self.events:
            if event.get('method') == method and event.get('sessionId') == session:
                return event
        while True:
            event = self._receive(timeout)
            self.events.append(event)
            if event.get('method') == method and event.get('sessionId') == session:
                return event

    def _receive(self, timeout):
        deadline = time.time() + timeout
        while b'\0' not in self._buffer:
            left = deadline - time.time()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError(f'the browser did not answer within {timeout} s')
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError('the browser closed the DevTools pipe (it exited)')
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b'\0', 1)
        return json.loads(message)

    def close(self):
        try:
            self.send('Browser.close', timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


_IMAGES_JS = ('JSON.stringify(Array.from(document.images).map('
              'i => ({src: i.getAttribute("src"), complete: i.complete, naturalWidth: i.naturalWidth})))')


def _errors(events, session):
    found = []
    for event in events:
        if event.get('sessionId') != session:
            continue
        method, params = event.get('method'), event.get('params', {})
        if method == 'Runtime.exceptionThrown':
            found.append(f'exception: {params["exceptionDetails"].get("text")}')
        elif method == 'Runtime.consoleAPICalled' and params.get('type') in ('error', 'assert'):
            found.append('console.error: ' + ' '.join(str(a.get('value', a.get('description')))
                                                       for a in params.get('args', [])))
        elif method == 'Log.entryAdded' and params['entry'].get('level') == 'error':
            entry = params['entry']
            found.append(f'{entry.get("source")}: {entry.get("text")} {entry.get("url", "")}'.strip())
    return found


def load_page(path, screenshot=None, width=1200, binary=None):
    """Load ``path`` in headless Chromium: ``dict(images=[{src, complete, naturalWidth}], errors=[...], title)``;
    with ``screenshot`` the whole page is saved there as PNG."""
    binary = binary or find_browser()
    if binary is None:
        raise FileNotFoundError(f'no Chromium browser found on PATH (tried {", ".join(BROWSERS)})')
    with tempfile.TemporaryDirectory(prefix='report-browser-') as profile:
        browser = _DevTools(binary, profile)
        try:
            target = browser.send('Target.createTarget', dict(url='about:blank'))['targetId']
            session = browser.send('Target.attachToTarget', dict(targetId=target, flatten=True))['sessionId']
            for domain in ('Page', 'Runtime', 'Log'):
                browser.send(f'{domain}.enable', session=session)
            browser.send('Emulation.setDeviceMetricsOverride', dict(width=width, height=900, deviceScaleFactor=1,
                                                                     mobile=False), session=session)
            browser.send('Page.navigate', dict(url='file://' + os.path.abspath(path)), session=session)
            browser.wait_for('Page.loadEventFired', session)
            value = browser.send('Runtime.evaluate', dict(expression=_IMAGES_JS, returnByValue=True),
                                 session=session)['result']['value']
            title = browser.send('Runtime.evaluate', dict(expression='document.title', returnByValue=True),
                                 session=session)['result']['value']
            if screenshot:
                size = browser.send('Page.getLayoutMetrics', session=session)['cssContentSize']
                browser.send('Emulation.setDeviceMetricsOverride', dict(
                    width=width, height=int(size['height']) + 1, deviceScaleFactor=1, mobile=False), session=session)
                data = browser.send('Page.captureScreenshot', dict(format='png', captureBeyondViewport=True),
                                    session=session)['data']
                os.makedirs(os.path.dirname(os.path.abspath(screenshot)), exist_ok=True)
                with open(screenshot, 'wb') as f:
                    f.write(base64.b64decode(data))
            return dict(images=json.loads(value), errors=_errors(browser.events, session), title=title)
        finally:
            browser.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description='Load a local HTML page in headless Chromium')
    parser.add_argument('page')
    parser.add_argument('--screenshot', help='save a screenshot of the whole page (PNG)')
    parser.add_argument('--width', type=int, default=1200)
    args = parser.parse_args(argv)
    result = load_page(args.page, args.screenshot, args.width)
    broken = [image['src'] for image in result['images'] if not image['naturalWidth']]
    print(f'{len(result["images"])} images, {len(broken)} broken {broken}, {len(result["errors"])} errors')
    for error in result['errors']:
        print('  ' + error)
    return 1 if broken or result['errors'] else 0


if __name__ == '__main__':
    sys.exit(main())
