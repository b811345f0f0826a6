"""Start and stop the background threads that run beside the web server."""
import atexit
import logging
import signal
import threading

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


def stop_workers(app):
    for key in ("stock_monitor", "dispatcher"):
        worker = app.extensions.get(key)
        if worker is not None:
            worker.stop()


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
        while not stop.wait(1):
            pass
    finally:
        stop_workers(app)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("workers stopped")
