"""Readers of the auth feature's input that the JSON routes and the pages share."""
from .models import TOKEN_SCOPES

MAX_TOKEN_NAME = 80


def read_new_token(fields):
    """{name, scope} of a new API token (errors collected on `fields`)."""
    name = fields.text("name", required=True, max_length=MAX_TOKEN_NAME)
    scope = fields.choice("scope", TOKEN_SCOPES, required=True)
    return name, scope
