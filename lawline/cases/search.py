"""Words in transcripts, found on SQLite and PostgreSQL alike.

Chinese has no spaces, and neither database's full-text search segments it. So
the indexed text is the transcript with every Han character a token of its own
and every run of other letters and digits one token, lower-cased, wherever it stands
(2023年 is 2023 followed by 年, ABC公司 abc, 公, 司), and a search is a *phrase* query
over the same tokens: "工资" is the token 工 followed by 资. That finds any run of
characters, two-character words included, on SQLite's FTS5 (table
`contact_search_fts`, kept in step with `contact_search` by triggers) and on
PostgreSQL's text search.

A number of seven digits or more (a telephone, ID or bank card number; the rule the
logs mask by) is not indexed: it is stored as the token NUMBER_HIDDEN, so the words
either side of it stay apart, and a phrase holding one finds nothing. Contacts are
found by the caller's number with the ledger's own filter, audited with the number
masked; a number said in a call stays in its transcript, for those who may read it.

On PostgreSQL the stored column `body_bigrams` (contact_search_vector(body), computed
once when the transcript is written, under a GIN index; migration 0012) holds every
token and also every pair of neighbouring Han characters as one lexeme. A phrase's
candidates are the transcripts holding all its lexemes (拖欠工资: 拖欠, 欠工, 工资),
which the index answers alone, and the tokens' order is checked on `body`, a short
text stored in the row: a phrase operator (<->) would read and decompress each
candidate's vector instead, which is what made common phrases slow.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    Select,
    String,
    any_,
    bindparam,
    column,
    false,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from lawline.cases.models import ContactSearch, LedgerContact
from lawline.cases.search_index import has_newest_index
from lawline.phone_numbers import PHONE_LIKE_DIGITS

# The Han characters (CJK unified ideographs, extension A, compatibility ideographs): the
# same ranges as contact_search_vector's (migration 0012).
_HAN_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN = re.compile(f"[{_HAN_CHARS}]")
# A Han character, or a run of other letters and digits: a Han character ends the run.
_TOKEN = re.compile(f"[{_HAN_CHARS}]|[^\\W_{_HAN_CHARS}]+")
_LONG_NUMBER = re.compile(rf"\d{{{PHONE_LIKE_DIGITS},}}")
# What a token holding a long number is stored and searched as: one itself, so a phrase
# typed as this finds nothing too.
NUMBER_HIDDEN = "0" * PHONE_LIKE_DIGITS


def tokens(words: str) -> list[str]:
    """Han characters one by one; runs of other letters and digits as words, a word
    holding a telephone-like number as NUMBER_HIDDEN."""
    found = _TOKEN.findall(unicodedata.normalize("NFKC", words).lower())
    return [NUMBER_HIDDEN if _LONG_NUMBER.search(t) else t for t in found]


def searchable(toks: list[str]) -> bool:
    """Whether a phrase can be searched: it has tokens and holds no hidden number."""
    return bool(toks) and NUMBER_HIDDEN not in toks


def search_body(texts: Iterable[str]) -> str:
    return " ".join(t for s in texts for t in tokens(s))


def _is_han(token: str) -> bool:
    return len(token) == 1 and _HAN.match(token) is not None


def lexemes(toks: list[str]) -> list[str]:
    """The lexemes of contact_search_vector a transcript holding this phrase holds.

    Each pair of neighbouring Han characters is its bigram; any other token (a Han
    character with no Han neighbour, a number, a Latin word) is itself. So 拖欠工资 is
    拖欠, 欠工, 工资, and 工资 the one lexeme 工资."""
    out: list[str] = []
    for i, t in enumerate(toks):
        han = _is_han(t)
        if han and i + 1 < len(toks) and _is_han(toks[i + 1]):
            out.append(t + toks[i + 1])
        elif not (han and i > 0 and _is_han(toks[i - 1])):  # else its bigram holds it
            out.append(t)
    return list(dict.fromkeys(out))


def lexeme_query(toks: list[str]) -> str:
    """The tsquery (as text) of all of the phrase's lexemes, in any order: answered by
    the GIN index alone, no transcript read (a phrase operator would make PostgreSQL
    read and decompress every candidate's vector to check positions)."""
    return " & ".join("'" + x.replace("\\", "\\\\").replace("'", "''") + "'" for x in lexemes(toks))


def _like_pattern(toks: list[str]) -> str:
    """The phrase as a LIKE pattern over ' ' || body || ' ': its tokens, in order, whole."""
    escaped = (t.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for t in toks)
    return "% " + " ".join(escaped) + " %"


def matching_contacts(session: Session, words: str) -> Select[tuple[str]]:
    """The ids of contacts whose transcript holds these words, in this order."""
    toks = tokens(words)
    if not searchable(toks):
        return select(ContactSearch.contact_id).where(text("1 = 0"))
    if session.get_bind().dialect.name == "postgresql":
        return select(ContactSearch.contact_id).where(*_pg_match(toks))
    phrase = " ".join(toks)
    # FTS5: a double-quoted string is a phrase; tokens hold no quotes.
    return (
        select(ContactSearch.contact_id)
        .where(
            text(
                "contact_search.rowid IN (SELECT rowid FROM contact_search_fts "
                "WHERE contact_search_fts MATCH :q)"
            )
        )
        .params(q=f'"{phrase}"')
    )


_FTS = table("contact_search_fts", column("rowid"))

# The phrase is in its tokens' order, whole, on the body text itself (short, stored
# uncompressed in the row): no vector is read. One lexeme needs no such check.
_PHRASE = text("(' ' || contact_search.body || ' ') LIKE :phrase")
_LEXEMES = text("contact_search.body_bigrams @@ CAST(:lexemes AS tsquery)")
# RUM's "distance below": how long before this far moment a transcript's contact came,
# so the smallest first is the newest first, straight from the index (search_index.py).
_NEWEST_FIRST = text("contact_search.entered_at <=| CAST('2200-01-01 00:00+00' AS timestamptz)")


def _pg_match(toks: list[str]) -> list[Any]:
    where = [_LEXEMES.bindparams(lexemes=lexeme_query(toks))]
    # One token, or two Han characters (one bigram), is a single lexeme: no order. A
    # number or Latin word beside Han (2023年) is lexemes of its own, its order checked.
    if not (len(toks) == 1 or (len(toks) == 2 and all(map(_is_han, toks)))):
        where.append(_PHRASE.bindparams(phrase=_like_pattern(toks)))
    return where


# A phrase whose rarest lexeme is in at least this share of transcripts is looked for
# newest contact first (LIMIT / share transcripts checked); a rarer one by its matches.
# By the GIN index each match is a row read: the two cost the same near 0.7% at a
# million contacts. By the RUM index the newest matches come first, but several
# lexemes are matched whole before they are ordered, so the cost grows with the
# matches: at 200,000 contacts 8-10 ms against the walk's 84-117 ms at 0.7-1%, the
# same near 10%, 185 ms against 11 for 拖欠工资 at 15%; a walk costs the same at any
# size, RUM's matches grow with the ledger, so 2% (a walk of 5,000 contacts, ~40 ms).
COMMON_SHARE = 0.007
COMMON_SHARE_WITH_RUM = 0.02

_FREQUENCIES = text(
    "SELECT e, f FROM pg_stats s, "
    "unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) AS u(e, f) "
    "WHERE s.tablename = 'contact_search' AND s.attname = 'body_bigrams' AND e = ANY(:lexemes)"
)


def common(toks: list[str], shares: dict[str, float], threshold: float = COMMON_SHARE) -> bool:
    """Whether a phrase is common, by the share of transcripts holding each of its
    lexemes (as ANALYZE last counted the most common ones; a lexeme not counted is
    rarer than those): its rarest lexeme's share bounds the phrase's."""
    return min(shares.get(x, 0.0) for x in lexemes(toks)) >= threshold


def said_in(
    session: Session,
    query: Select[tuple[LedgerContact]],
    words: str,
) -> Select[tuple[LedgerContact]]:
    """`query` (contacts, with its LIMIT) narrowed to those whose transcript holds these
    words, newest first.

    On SQLite the full-text index drives the query, in the order transcripts were
    stored, newest first (FTS5 walks its rowids backwards), so LIMIT stops it after the
    newest matches instead of matching every transcript first: a phrase said in a
    third of all calls took 65 ms that way on 50,000 contacts, 0.8 ms this way. The
    order is then that of the transcripts' storing, which is the contacts' order but for
    calls that overlapped.

    On PostgreSQL the planner cannot tell a common phrase from a rare one: it takes the
    bigrams of 拖欠工资 as independent and expects a handful of rows where there are
    100,000, and a lexeme too rare for its statistics it guesses at 3,500 (so it walked
    a million contacts for 遗嘱). So the choice is made here, from the statistics of
    the phrase's rarest lexeme: a common phrase walks the contacts newest first, each
    checked, until LIMIT is reached; a rare one takes its matches from the index. The
    RUM index (migration 0014, cases/search_index.py) gives them newest first, each
    carrying its contact's time, so LIMIT stops the scan; a GIN index (a server without
    RUM) gives them in no useful order, so every match's row is read to pick the
    newest. RUM is not used for common phrases (COMMON_SHARE_WITH_RUM): several lexemes
    ANDed are matched whole before they are ordered."""
    toks = tokens(words)
    if not searchable(toks):
        return query.where(false())
    if session.get_bind().dialect.name == "postgresql":
        shares = {e: f for e, f in session.execute(_FREQUENCIES, {"lexemes": lexemes(toks)})}
        rum = has_newest_index(session.connection())
        if not common(toks, shares, COMMON_SHARE_WITH_RUM if rum else COMMON_SHARE):
            if rum:
                # Its matches newest first, straight from the RUM index: LIMIT stops it.
                return (
                    query.join(ContactSearch, ContactSearch.contact_id == LedgerContact.id)
                    .where(*_pg_match(toks))
                    .order_by(None)
                    .order_by(_NEWEST_FIRST)
                )
            # Its matches first: as a subquery the planner might walk instead, on its
            # guess of 3,500 (a million contacts for 遗嘱).
            found = session.scalars(matching_contacts(session, words)).all()
            return query.where(LedgerContact.id == any_(bindparam("found", found, ARRAY(String))))
        # OFFSET 0 keeps the subquery a check of each contact the walk reaches: as a
        # join the planner would match every transcript first.
        check = _PHRASE.bindparams(phrase=_like_pattern(toks))
        match = select(ContactSearch.contact_id).where(
            ContactSearch.contact_id == LedgerContact.id, check
        )
        return query.where(match.offset(0).exists())
    phrase = " ".join(toks)
    return (
        query.join(ContactSearch, ContactSearch.contact_id == LedgerContact.id)
        .join(_FTS, _FTS.c.rowid == literal_column("contact_search.rowid"))
        .where(text("contact_search_fts MATCH :q"))
        .params(q=f'"{phrase}"')
        .order_by(None)
        .order_by(_FTS.c.rowid.desc())
    )
