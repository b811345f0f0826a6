"""Start and stop the background threads that run beside the web server."""
import atexit
import logging

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
