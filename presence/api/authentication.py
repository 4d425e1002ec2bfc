"""Token authentication with an optional lifetime, recording when each token was last used."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from presence.services.tokens import api_token_record_use


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`. With API_TOKEN_TTL_HOURS set, a token older than that is
    deleted and refused (401): sign in again for a new one."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        ttl = settings.API_TOKEN_TTL_HOURS
        if ttl and token.created < timezone.now() - timedelta(hours=ttl):
            token.delete()
            raise AuthenticationFailed("The token has expired: sign in again for a new one.")
        api_token_record_use(token)
        return user, token
