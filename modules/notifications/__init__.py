"""The bell: in-app notifications, their read state, and /api/notifications."""
from flask import Blueprint

bp = Blueprint("notifications", __name__)

from . import api, service, views  # noqa: E402,F401  (service listens to alerts_raised)
