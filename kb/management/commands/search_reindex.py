"""Rebuild what search reads: code names, search vectors and the vocabulary of typo correction."""

import time

from django.core.management.base import BaseCommand

from kb.search_index import search_rebuild


class Command(BaseCommand):
    help = (
        "Recompute every published question's code names and search vectors and the vocabulary "
        "typos are corrected against. Run it once after deploying a change to what is indexed, "
        "or after a bulk import; publishing keeps them current otherwise."
    )

    def handle(self, *args, **options):
        started = time.monotonic()
        counts = search_rebuild()
        self.stdout.write(
            f"Reindexed {counts['questions']} published questions ({counts['with_code']} with code); "
            f"{counts['words']} words in the vocabulary; {time.monotonic() - started:.1f} s."
        )
