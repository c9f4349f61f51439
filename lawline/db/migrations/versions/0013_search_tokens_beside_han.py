"""Transcripts' search text rebuilt: numbers and Latin words beside Han characters kept.

search.tokens read a run of letters and digits together with the Han characters after
it and kept only the Han: 2023年签的合同 was stored without 2023, and a search for
2023年 looked for 年 alone (a number with no Han after it was kept, a telephone number
at the end of a sentence too). Now such a run is a token of its own wherever it stands, and
a telephone-like number (seven digits or more) is stored as search.NUMBER_HIDDEN,
never searchable (see cases/search.py).

Every stored transcript's search text is rebuilt from its final lines
(`transcript_segments`) as ingest writes it (search.search_body); a row whose text
comes out the same is not written. SQLite's FTS5 index follows by its triggers,
PostgreSQL's stored vector `body_bigrams` as a generated column (its function,
migration 0012, is unchanged: a number or Latin word was already a lexeme of its own),
and PostgreSQL's statistics are counted again, as search.said_in plans by them. The
transcripts are read and written BATCH at a time, in the migration's one transaction.
The downgrade writes the text back as the tokens before this change made it.

What it costs (50,000 contacts, 35,085 transcripts, README "The case ledger"): 3-5 s
when nothing changes; with every transcript rewritten 6 s on SQLite and 25 s on
PostgreSQL (the vector and its GIN entries written again), so minutes at a million.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable

import sqlalchemy as sa
from alembic import op

# The text ingest writes now: the point is that stored text and new text agree (a later
# change of the tokens rebuilds again, in a migration of its own).
from lawline.cases.search import search_body

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BATCH = 1000

# A batch of transcripts after `last` (by contact id) with their final lines in the order
# ingest joins them; a transcript with no final line comes with one NULL.
_BATCH = sa.text(
    "SELECT s.contact_id, s.body, t.text FROM "
    "(SELECT contact_id, body FROM contact_search WHERE contact_id > :last "
    "ORDER BY contact_id LIMIT :n) s "
    "LEFT JOIN transcript_segments t ON t.contact_id = s.contact_id AND t.kind = 'final' "
    "ORDER BY s.contact_id, t.start, t.id"
)
_WRITE = sa.text("UPDATE contact_search SET body = :body WHERE contact_id = :cid")

# The tokens as revision 0012's search.tokens made them, for the downgrade.
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_OLD_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_]+")


def _old_search_body(texts: Iterable[str]) -> str:
    out = []
    for s in texts:
        for m in _OLD_TOKEN.finditer(unicodedata.normalize("NFKC", s).lower()):
            t = m.group()
            out.extend(_HAN.findall(t) if _HAN.search(t) else [t])
    return " ".join(out)


def _rebuild(body_of: Callable[[Iterable[str]], str]) -> None:
    conn = op.get_bind()
    last, changed = "", 0
    while True:
        rows = conn.execute(_BATCH, {"last": last, "n": BATCH}).all()
        if not rows:
            break
        writes = []
        for cid, group in itertools.groupby(rows, key=lambda r: r[0]):
            lines = list(group)
            body = body_of(r[2] for r in lines if r[2] is not None)
            if body != lines[0][1]:
                writes.append({"cid": cid, "body": body})
        if writes:
            conn.execute(_WRITE, writes)
        changed += len(writes)
        last = rows[-1][0]
    if changed and conn.dialect.name == "postgresql":
        op.execute("ANALYZE contact_search")


def upgrade() -> None:
    _rebuild(search_body)


def downgrade() -> None:
    _rebuild(_old_search_body)
