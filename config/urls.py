from django.conf import settings
from django.contrib import admin
from django.contrib.sitemaps.views import sitemap
from django.urls import include, path

from answers.authoring import authoring_reference_view
from config.health import liveness, readiness
from config.observability.metrics import metrics_view
from kb import views as kb_views
from kb.page_cache import reader_cached
from kb.sitemaps import QuestionSitemap, TagSitemap
from runner.pool_admin import pool_live_view, pool_view

sitemaps = {"questions": QuestionSitemap, "tags": TagSitemap}

urlpatterns = [
    path("admin/authoring/", admin.site.admin_view(authoring_reference_view), name="admin_authoring"),
    path("admin/pool/", admin.site.admin_view(pool_view), name="admin_pool"),
    path("admin/pool/live/", admin.site.admin_view(pool_live_view), name="admin_pool_live"),
    path("admin/", admin.site.urls),
    path(
        "sitemap.xml",
        reader_cached(params=("p",))(sitemap),
        {"sitemaps": sitemaps, "template_name": "kb/sitemap.xml"},
        name="sitemap",
    ),
    path("robots.txt", kb_views.robots_txt, name="robots_txt"),
    # Answered by config.health.ProbeMiddleware before routing; listed here for reverse().
    path("healthz", liveness, name="healthz"),
    path("healthz/ready", readiness, name="readiness"),
    path("metrics", metrics_view, name="metrics"),
    path("demo/", include("demo_requests.urls")),
    path("consent/", include("consent.urls")),
    path("", include("answers.urls")),
    path("", include("feedback.urls")),
    path("", include("kb.urls")),
]

# A database outage is a 503 with Retry-After, not a 500.
handler500 = "config.errors.server_error"

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
