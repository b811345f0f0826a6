"""What the HTTP benchmarks share: waiting until a server they started answers."""
import time
import urllib.error
import urllib.request


def wait_for(url, timeout=60):
    """Return once `url` answers at all (an HTTP error is an answer); give up after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")
