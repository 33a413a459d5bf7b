"""Bench-only settings: the site's settings plus a hello-world view (bench.urls)."""

from config.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench.urls"
