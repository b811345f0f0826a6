"""Messages that leave the app: channels, the outbox, the dispatcher, digests; settings and deliveries pages."""
from flask import Blueprint

bp = Blueprint("delivery", __name__)

from . import api, outbox, push_routes, views  # noqa: E402,F401  (outbox listens to alerts_raised)
