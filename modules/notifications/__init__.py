"""Low-stock alerts: settings, the monitor, the bell, and the messages that leave the app."""
from flask import Blueprint

bp = Blueprint("notifications", __name__)

from . import pages, routes  # noqa: E402,F401
