"""Writes for consent: the record of a choice, the cookie that carries it, and the purge."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone

from .models import ConsentAction, ConsentRecord
from .policy import COOKIE_MAX_AGE_S, COOKIE_NAME, Consent, cookie_value


def consent_record(*, action: str, analytics: bool, gpc: bool) -> ConsentRecord:
    """Keep proof of a choice. With Global Privacy Control analytics stay refused."""
    action = ConsentAction(action)
    if action == ConsentAction.ACCEPT_ALL:
        analytics = True
    elif action == ConsentAction.REJECT_ALL:
        analytics = False
    return ConsentRecord.objects.create(
        choices={"necessary": True, "analytics": bool(analytics) and not gpc},
        policy_version=settings.CONSENT_POLICY_VERSION,
        action=action,
        gpc=gpc,
    )


def consent_cookie_set(*, response: HttpResponse, record: ConsentRecord) -> Consent:
    """Store the choice in the first-party cookie; returns the consent now in force."""
    value = cookie_value(
        version=record.policy_version, analytics=record.choices["analytics"], record_id=str(record.pk)
    )
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=COOKIE_MAX_AGE_S,
        secure=settings.CONSENT_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return Consent(
        current_version=settings.CONSENT_POLICY_VERSION,
        version=record.policy_version,
        analytics=record.choices["analytics"],
        record_id=str(record.pk),
        gpc=record.gpc,
    )


def consent_records_purge(*, older_than: timedelta) -> int:
    deleted, _ = ConsentRecord.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
