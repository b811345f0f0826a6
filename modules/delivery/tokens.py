"""Signed unsubscribe tokens: the shop, the channel and the address, so that a one-click link in
a message stops alerts to that address without a sign-in, and cannot be forged or pointed elsewhere."""
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

_SALT = "stockbell-unsubscribe"


def _serializer():
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def unsubscribe_token(client_id, channel, address):
    return _serializer().dumps([client_id, channel, address])


def read_unsubscribe_token(token):
    """(client_id, channel, address), or None for a token this server did not sign."""
    try:
        client_id, channel, address = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if not (isinstance(client_id, int) and isinstance(channel, str) and isinstance(address, str)):
        return None
    return client_id, channel, address
