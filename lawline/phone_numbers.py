"""Citizens' telephone numbers: the one rule for what a number may be, and how it is shown.

A number enters lawline from SIP (the caller's URI user part, or a trunk's
P-Asserted-Identity), from the API and from the callback prompt. Each entry
point calls `normalise_number` and refuses (or sets aside) what it rejects, so
nothing downstream (the queue, the ledger's 32-character column, a callback
dial) ever sees an unbounded or non-numeric value.
"""

from __future__ import annotations

import re

MAX_DIGITS = 20  # E.164 allows 15; extensions and trunk prefixes need a little more
# A run of this many digits or more is taken for a telephone number wherever lawline
# hides numbers in free text (log lines, the transcript search): a local number has 7
# or 8 digits, with the area code or a mobile 11, with +86 13. Times, amounts and
# counts are mostly shorter.
PHONE_LIKE_DIGITS = 7
_NUMBER = re.compile(rf"\+?[0-9]{{1,{MAX_DIGITS}}}")
_SEPARATORS = str.maketrans("", "", " -().")


def normalise_number(raw: str) -> str:
    """Digits with an optional leading +; visual separators are dropped.

    The empty string (caller withheld) stays empty. ValueError says what is
    wrong without repeating the value, so the message is safe to log.
    """
    text = raw.strip().translate(_SEPARATORS)
    if not text:
        return ""
    if not _NUMBER.fullmatch(text):
        raise ValueError(
            f"a telephone number is up to {MAX_DIGITS} digits with an optional leading +"
        )
    return text


def mask_number(number: str) -> str:
    """All but the last four digits hidden: how a number is shown where it is not needed whole."""
    if len(number) <= 4:
        return "*" * len(number)
    return "*" * (len(number) - 4) + number[-4:]
