"""Sign-in throttling for the API's token endpoint (the form and the admin use django-axes).

A DRF throttle with a scoped rate, "sign-in" in DEFAULT_THROTTLE_RATES (SIGN_IN_FAILURE_LIMIT
failures per SIGN_IN_WINDOW_MINUTES, e.g. "10/15m"), counted per username and address, and
failed sign-ins only: reaching the limit locks that username at that address out for
SIGN_IN_LOCK_MINUTES, whatever the password (429 with Retry-After).
"""

import time

from rest_framework.throttling import SimpleRateThrottle

from presence.services.sign_in import sign_in_failure_record, sign_in_locked_until, sign_in_success


def _username(request) -> str:
    try:
        value = request.data.get("username", "")
    except AttributeError:  # a body that is not an object: no username to count
        value = ""
    return str(value)[:150]


class SignInThrottle(SimpleRateThrottle):
    scope = "sign-in"

    def parse_rate(self, rate):
        """DRF's rates, plus a number of minutes as the period: "10/15m"."""
        count, _, period = rate.partition("/")
        if period.endswith("m") and period[:-1].isdigit():
            return int(count), int(period[:-1]) * 60
        return super().parse_rate(rate)

    def get_cache_key(self, request, view) -> str:
        return f"{_username(request)}|{self.get_ident(request)}"

    def allow_request(self, request, view) -> bool:
        self.locked_until = sign_in_locked_until(_username(request), self.get_ident(request))
        return self.locked_until is None

    def wait(self) -> float:
        return max(1.0, (self.locked_until or 0) - time.time())

    def record(self, request, *, succeeded: bool) -> None:
        username, address = _username(request), self.get_ident(request)
        if succeeded:
            sign_in_success(username, address)
        else:
            sign_in_failure_record(username, address, limit=self.num_requests, window_seconds=self.duration)
