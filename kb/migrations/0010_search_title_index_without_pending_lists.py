"""Search indexes: one on the titles' lexemes, no pending lists on the vectors' indexes, and
kb_search_matches_estimate(tsquery, vector column): the planner's estimate of the published
matches (from the column's statistics, without reading them), with which search decides how
to find them.

Suggestions match titles only (weight A of the key vector). Without an index of their own,
the key vector's index finds every question whose title, summary or code has the word ("batch"
is in half the code cells) and each row is filtered by its title afterwards.

A GIN index normally queues new entries in a pending list that every search then reads whole
(after a bulk import, hundreds of pages on each query) until VACUUM merges it. Questions are
published one at a time and searched all the time, so the entries go straight into the index:
publishing costs a few milliseconds more, every search less. The queued entries are merged now.
PostgreSQL only, like the other search indexes.
"""

from django.db import migrations

VECTOR_INDEXES = ("kb_question_search_vector_gin", "kb_question_key_vector_gin")
FORWARD = [
    "CREATE INDEX IF NOT EXISTS kb_question_title_lexemes_gin ON kb_question "
    "USING gin (ts_filter(key_vector, '{a}')) WITH (fastupdate = off) WHERE status = 'published'",
    *(f"ALTER INDEX {name} SET (fastupdate = off)" for name in VECTOR_INDEXES),
    *(f"SELECT gin_clean_pending_list('{name}'::regclass)" for name in VECTOR_INDEXES),
    """CREATE OR REPLACE FUNCTION kb_search_matches_estimate(query tsquery, vector text) RETURNS bigint
    LANGUAGE plpgsql VOLATILE AS $$
    DECLARE plan json;
    BEGIN
        EXECUTE format(
            'EXPLAIN (FORMAT JSON) SELECT 1 FROM kb_question WHERE status = %%L AND %%I @@ %%L::tsquery',
            'published', vector, query::text
        ) INTO plan;
        RETURN (plan->0->'Plan'->>'Plan Rows')::bigint;
    END $$""",
]
BACKWARD = [
    "DROP FUNCTION IF EXISTS kb_search_matches_estimate(tsquery, text)",
    *(f"ALTER INDEX {name} RESET (fastupdate)" for name in VECTOR_INDEXES),
    "DROP INDEX IF EXISTS kb_question_title_lexemes_gin",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in FORWARD:
            schema_editor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("kb", "0009_question_review_state_and_can_publish")]
    operations = [migrations.RunPython(forward, backward)]
