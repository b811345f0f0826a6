"""Shops, users, sign-up and sign-in."""
from flask import Blueprint

bp = Blueprint("auth", __name__)

from . import api, devices, sessions, views  # noqa: E402,F401
