from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from content_health.digest import DIGEST_PERIOD, digests_send


class Command(BaseCommand):
    help = "E-mail each answer owner their digest now (what the weekly beat task sends)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, default=DIGEST_PERIOD.days, help="How far back new feedback and searches go."
        )

    def handle(self, *args, days: int, **options):
        if days < 1:
            raise CommandError("--days must be at least 1.")
        sent = digests_send(period=timedelta(days=days))
        self.stdout.write(f"Sent {sent} digest(s).")
