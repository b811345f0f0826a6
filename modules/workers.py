"""Start and stop the background threads that run beside the web server."""
import atexit
import logging
import signal
import threading
import time

log = logging.getLogger(__name__)


def start_workers(app):
    """The stock monitor and the delivery dispatcher, each when enabled; stopped at exit."""
    from .delivery.dispatcher import Dispatcher
    from .alerts.monitor import StockMonitorService

    workers = []
    if app.config["STOCK_MONITOR_ENABLED"]:
        monitor = StockMonitorService(app)
        app.extensions["stock_monitor"] = monitor
        workers.append(monitor)
    if app.config["DELIVERY_ENABLED"]:
        dispatcher = Dispatcher(app)
        app.extensions["dispatcher"] = dispatcher
        workers.append(dispatcher)
    for worker in workers:
        worker.start()
    atexit.register(stop_workers, app)
    return workers


STOP_SECONDS = 0.25  # how long a shutdown waits for the cycles under way, all workers together


def stop_workers(app, timeout=STOP_SECONDS):
    """Ask every worker to stop at once, then wait for them together, `timeout` s at most: the
    threads are daemons, so a cycle still stuck after that (a dead SMTP server) cannot hold up
    the exit (SIGTERM within 2 s); its claimed rows come back when their lease ends."""
    workers = [w for w in (app.extensions.pop(key, None) for key in ("stock_monitor", "dispatcher")) if w is not None]
    for worker in workers:
        worker.signal_stop()
    deadline = time.monotonic() + timeout
    for worker in workers:
        worker.stop(max(0.0, deadline - time.monotonic()))


def run_until_signalled(app):
    """The worker process: start the threads, wait for SIGTERM or SIGINT, stop them, return."""
    stop = threading.Event()

    def _stop(signum, frame):
        log.info("signal %s: stopping the workers", signum)
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        workers = start_workers(app)
        log.info("workers running: %s", ", ".join(w.thread_name for w in workers))
        while not stop.wait(0.2):  # woken by the signal within 0.2 s, whatever the platform's locks do
            pass
    finally:
        stop_workers(app)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("workers stopped")
