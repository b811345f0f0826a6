"""`python app.py` as a child process for the process tests: started with its settings in the
environment, its output read line by line until an expected one shows."""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def start(database_url, port, **env):
    environ = {**os.environ, "DATABASE_URL": database_url, "PORT": str(port), "HOST": "127.0.0.1",
               "SEED_DEMO": "1", "STOCK_MONITOR_INITIAL_DELAY": "0", "DELIVERY_POLL_SECONDS": "1",
               "PYTHONUNBUFFERED": "1", **env}
    return subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=environ, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def read_until(proc, pattern, timeout=60):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match, seen
    raise AssertionError("never printed " + pattern + ":\n" + "".join(seen))
