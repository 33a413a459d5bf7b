"""Who is asking: one helper for the whole site, so every limit sees the same client.

The address comes from REMOTE_ADDR unless settings.CLIENT_IP_HEADER names the META key of the
header a trusted reverse proxy sets (e.g. HTTP_X_REAL_IP). A header the client sends itself
(X-Forwarded-For without such a proxy) could be forged, so none is trusted by default.
"""

import hashlib
import hmac

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    address = request.META.get(settings.CLIENT_IP_HEADER) or request.META.get("REMOTE_ADDR", "")
    return address.split(",")[0].strip()


def client_key(request: HttpRequest) -> str:
    """A keyed hash of the address: enough to rate-limit, useless for identifying anyone."""
    address = client_address(request)
    return hmac.new(settings.SECRET_KEY.encode(), address.encode(), hashlib.sha256).hexdigest()[:32]
