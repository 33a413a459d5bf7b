"""pg_trgm and unaccent, the forgiving search's indexes and its text-search configuration.

PostgreSQL only: on SQLite (bin/run's default) nothing happens and search keeps its LIKE
matching. `kb_english` is PostgreSQL's English configuration with accents removed first, so
"naïve" and "naive" are one word.
"""

from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    """DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'kb_english') THEN
            CREATE TEXT SEARCH CONFIGURATION kb_english (COPY = english);
            ALTER TEXT SEARCH CONFIGURATION kb_english
                ALTER MAPPING FOR hword, hword_part, word WITH unaccent, english_stem;
        END IF;
    END $$""",
    "CREATE INDEX IF NOT EXISTS kb_searchlexeme_word_trgm ON kb_searchlexeme USING gin (word gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS kb_searchlexeme_word_prefix ON kb_searchlexeme (word varchar_pattern_ops)",
    "CREATE INDEX IF NOT EXISTS kb_question_key_vector_gin ON kb_question USING gin (key_vector)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS kb_question_key_vector_gin",
    "DROP INDEX IF EXISTS kb_searchlexeme_word_prefix",
    "DROP INDEX IF EXISTS kb_searchlexeme_word_trgm",
    "DROP TEXT SEARCH CONFIGURATION IF EXISTS kb_english",
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
    dependencies = [("kb", "0005_question_search_code_and_key_vector")]
    operations = [migrations.RunPython(forward, backward)]
