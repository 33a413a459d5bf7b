"""The two e-mails a demo request sends, built from a saved request.

Every value that reaches a header is one line (the form refuses control characters) and is
flattened again here, so no field can add a header; Django's EmailMessage also refuses CR/LF.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse

from .models import DemoRequest, EmailKind


def _header_safe(value: str, limit: int = 80) -> str:
    flat = " ".join(value.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def email_build(*, demo_request: DemoRequest, kind: str) -> EmailMessage:
    if kind == EmailKind.SALES:
        admin_path = reverse("admin:demo_requests_demorequest_change", args=[demo_request.pk])
        body = render_to_string(
            "demo_requests/email/sales.txt",
            {
                "demo_request": demo_request,
                "admin_url": f"{settings.SITE_URL}{admin_path}",
                "source_url": (
                    f"{settings.SITE_URL}{demo_request.source_question.get_absolute_url()}"
                    if demo_request.source_question
                    else ""
                ),
            },
        )
        subject = (
            f"Demo request: {_header_safe(demo_request.name, 60)}, {_header_safe(demo_request.company, 60)}"
        )
        return EmailMessage(
            subject=subject,
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=settings.SALES_EMAIL,
            reply_to=[demo_request.email],
        )
    if kind == EmailKind.CONFIRMATION:
        # Nothing the visitor typed is echoed back: a confirmation that repeated the message
        # would let anyone send text of their choosing to any address through this site.
        body = render_to_string("demo_requests/email/confirmation.txt", {"site_name": settings.SITE_NAME})
        return EmailMessage(
            subject=f"Your demo request to {settings.SITE_NAME}",
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[demo_request.email],
        )
    raise ValueError(f"unknown e-mail kind {kind!r}")
