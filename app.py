"""python app.py: bring the schema up to date, seed a demo shop on an empty database, start the
monitor and the dispatcher, and serve with waitress until Ctrl-C or SIGTERM."""
import gc
import logging
import signal
import sys

from flask_migrate import upgrade
from waitress import wasyncore

from modules import create_app
from modules.serving import bind
from modules.workers import start_workers, stop_workers

log = logging.getLogger("stockbell")
app = create_app()


def prepare(app):
    """Migrate, then seed the demo shop once; returns the demo login when one was made."""
    from modules.seed import demo_exists, seed_demo

    with app.app_context():
        upgrade()
        if app.config["SEED_DEMO"] and not demo_exists():
            return seed_demo()
    return None


def main():
    # A thread waiting on the database gets the interpreter back within 1 ms of its answer, not 5:
    # under a flood of cheap requests (429s), a page's few queries would each wait a full switch.
    sys.setswitchinterval(0.001)
    connections = {}
    server = bind(app, connections)
    if server is None:
        return 1
    demo = prepare(app)
    if demo:
        # Printed once, on the console of whoever started the app: the only copy of the password.
        print(f"\nDemo shop ready. Log in at {app.config['PUBLIC_URL']}/login as {demo[0]} "
              f"with password {demo[1]}\n", flush=True)
    start_workers(app)
    # The ~150,000 objects of start-up (modules, the app, SQLAlchemy's mappers) live as long as the
    # process: kept out of the collector's full passes, each of which held every thread for ~0.1 s.
    gc.freeze()

    def _shutdown(signum, frame):
        log.info("signal %s: shutting down", signum)
        # Close the listener and every connection, idle keep-alive ones included: the loop ends
        # when its map is empty (server.close() alone waits for clients to hang up).
        wasyncore.close_all(connections)

    signal.signal(signal.SIGTERM, _shutdown)
    log.info("serving on http://%s:%s", app.config["HOST"], app.config["PORT"])
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    except OSError:
        # server.close() from the signal handler ends the loop with a closed socket.
        pass
    finally:
        # SIGTERM to exit within 2 s, with room to spare on a busy machine: a quarter of a second for
        # the requests under way, as much for the workers.
        server.task_dispatcher.shutdown(timeout=0.25)
        stop_workers(app)
        log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
