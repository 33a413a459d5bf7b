"""JSON-LD for a question page: TechArticle with a BreadcrumbList (not QAPage, which search
engines reserve for user-submitted answers)."""

from django.conf import settings

from .models import Question


def question_structured_data(*, question: Question) -> list[dict]:
    url = f"{settings.SITE_URL}{question.get_absolute_url()}"
    article = {
        "@context": "https://schema.org",
        "@type": "TechArticle",
        "headline": question.title,
        "description": question.summary,
        "url": url,
        "mainEntityOfPage": url,
        "keywords": [tag.name for tag in question.tags.all()],
        "dateModified": question.updated_at.isoformat(),
        "publisher": {"@type": "Organization", "name": settings.SITE_NAME},
    }
    if question.published_at:
        article["datePublished"] = question.published_at.isoformat()
    breadcrumbs = {
        "@context": "https://schema.org",
        "@type": "BreadcrumbList",
        "itemListElement": [
            {"@type": "ListItem", "position": 1, "name": "Questions", "item": f"{settings.SITE_URL}/"},
            {"@type": "ListItem", "position": 2, "name": question.title, "item": url},
        ],
    }
    return [article, breadcrumbs]
