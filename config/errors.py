"""The error pages readers get when a request fails on our side.

A database that is briefly away (a restart, a failover) is not a bug of the page: readers get
a 503 with Retry-After instead of the 500 page, while cached pages keep being
served from the page cache, which never reaches the database. It is the 500 handler so that it
covers a failure anywhere in the request, middleware included (sessions, authentication), and
not only in views.
"""

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.template import loader
from django.views import defaults

# Seconds a reader (or a crawler) is asked to wait: a PostgreSQL restart takes a few.
RETRY_AFTER_S = 30


def server_error(request):
    """Django's server_error, except while the database is unreachable: then a 503."""
    exc = sys.exc_info()[1]  # called from inside Django's handler of the uncaught exception
    if not isinstance(exc, OperationalError | InterfaceError):
        return defaults.server_error(request)
    response = HttpResponse(loader.get_template("503.html").render(), status=503)
    response["Retry-After"] = str(RETRY_AFTER_S)
    response["Cache-Control"] = "no-store"
    return response
