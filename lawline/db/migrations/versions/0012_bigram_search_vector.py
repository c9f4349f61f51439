"""PostgreSQL: the transcript's search vector holds character bigrams.

With one lexeme a character, a common four-character phrase (拖欠工资) found every
transcript holding its four characters anywhere, and each one's vector was read and
decompressed to check their positions: 0.6-1 s at a million contacts. Now every pair
of neighbouring Han characters is a lexeme too, so 拖欠工资 is the lexemes 拖欠, 欠工,
工资, which the GIN index answers alone, and a two-character phrase is one lexeme. The
single tokens stay, for one-character queries and Han next to digits or Latin words.
Positions are kept as before (the order is checked on `body`, see cases/search.py).

The vector is built from `body` (tokens separated by single spaces) by the function
`contact_search_vector`, a stored generated column as before; its statistics are
counted finer, as search.said_in chooses its plan by them. What it costs on a large
table: adding the column rewrites `contact_search` and the GIN index is built, in the
migration's one transaction, holding an exclusive lock on the table throughout:
transcripts are not written (the ledger's events wait in Redis, none is lost) and
phrase searches wait. At a million contacts (700,000 transcripts): 231 s. The old
column is dropped first, so the rewrite leaves no dead vectors behind. SQLite's FTS5
index is unchanged.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# Tokens are letters and digits only (search.tokens), but a quote or backslash would
# break the cast, and a broken cast would refuse the transcript: escape them anyway.
# A Han token is always one character (search.tokens splits Han text so), so its
# code point says it: cheaper than a regular expression on every token.
VECTOR_FUNCTION = r"""
CREATE FUNCTION contact_search_vector(body text) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT coalesce(string_agg(
    CASE WHEN han AND next_han
        THEN '''' || t || ''':' || n || ' ''' || t || next || ''':' || n
        ELSE '''' || replace(replace(t, '\', '\\'), '''', '''''') || ''':' || n
    END, ' '), '')::tsvector
FROM (
    SELECT t, n, han, lead(t) OVER w AS next, lead(han) OVER w AS next_han
    FROM (
        SELECT t, n, ascii(t) BETWEEN 13312 AND 40959 AND ascii(t) NOT BETWEEN 19904 AND 19967
            OR ascii(t) BETWEEN 63744 AND 64255 AS han
        FROM unnest(string_to_array(body, ' ')) WITH ORDINALITY AS u(t, n)
        WHERE t <> ''
    ) tokens
    WINDOW w AS (ORDER BY n)
) pairs
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_contact_search_body_tsv_stored")
    op.execute("ALTER TABLE contact_search DROP COLUMN body_tsv")
    op.execute(VECTOR_FUNCTION)
    op.execute(
        "ALTER TABLE contact_search ADD COLUMN body_bigrams tsvector "
        "GENERATED ALWAYS AS (contact_search_vector(body)) STORED"
    )
    op.execute(
        "CREATE INDEX ix_contact_search_body_bigrams ON contact_search USING gin (body_bigrams)"
    )
    # search.said_in picks its plan by these statistics: counted down to lexemes in
    # 0.1% of transcripts (the default stops near 1%), and counted now, not at the
    # next autovacuum.
    op.execute("ALTER TABLE contact_search ALTER COLUMN body_bigrams SET STATISTICS 1000")
    op.execute("ANALYZE contact_search")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE contact_search DROP COLUMN body_bigrams")
    op.execute("DROP FUNCTION contact_search_vector(text)")
    op.execute(
        "ALTER TABLE contact_search ADD COLUMN body_tsv tsvector "
        "GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED"
    )
    op.execute(
        "CREATE INDEX ix_contact_search_body_tsv_stored ON contact_search USING gin (body_tsv)"
    )
