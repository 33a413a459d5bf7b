"""Content-Security-Policy and Permissions-Policy on every response.

The policy has no 'unsafe-inline': templates load their scripts and styles from static files.
The admin gets the same policy: Django's own admin templates (5.2) carry no inline script,
style or event handler, and ours moved theirs to static files (tests/e2e/test_csp.py checks the
pages in Chromium). A page that Django allows to be framed by its own site
(@xframe_options_sameorigin) gets frame-ancestors 'self' instead of 'none'.
"""

from django.conf import settings


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and "Content-Security-Policy" not in response:
            if response.get("X-Frame-Options", "").upper() == "SAMEORIGIN":
                policy = policy.replace("frame-ancestors 'none'", "frame-ancestors 'self'")
            response["Content-Security-Policy"] = policy
        if settings.PERMISSIONS_POLICY and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = settings.PERMISSIONS_POLICY
        return response
