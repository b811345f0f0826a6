"""Alerts: the kinds, their rules, raise_alerts(), the monitor, episodes, snooze and /api/alerts."""
from flask import Blueprint

bp = Blueprint("alerts", __name__)

from . import api, service, views  # noqa: E402,F401  (service listens to retail's stock_changed)
