"""API tokens (A3): one per user, rotated, revoked, and gone with the password or the account."""

from django.db import transaction
from rest_framework.authtoken.models import Token


def api_token_get_or_create(user) -> Token:
    """The user's token, made on first sign-in through the API."""
    token, _ = Token.objects.get_or_create(user=user)
    return token


def api_token_rotate(user) -> Token:
    """A new key; the old one stops working at once."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)


def api_tokens_revoke(user) -> int:
    """Sign the user out of the API everywhere (a password change, a deactivation, sign-out)."""
    deleted, _ = Token.objects.filter(user_id=user.pk).delete()
    return deleted
