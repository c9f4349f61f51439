"""The SIP terminals' credentials, where the front's Kamailio checks them.

Kamailio checks digest authentication (auth_db) against a db_text table in
data_dir/kamailio/accounts, and re-reads the file whenever its modification
time changes (db_text's non-caching mode). The database stays the one truth:
`lawline sip-accounts`, one of serve's children, rewrites the file from it when
something changed, so a terminal enrolled or revoked on any node takes effect
at every node's front within accounts_sync_s.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.orm import Session, sessionmaker

from lawline.config import Settings
from lawline.terminals.models import Terminal

log = logging.getLogger(__name__)

TABLE = "subscriber"
# auth_db reads username and ha1 (calculate_ha1 off); village and township are
# loaded with the credentials and passed on to the worker in the INVITE.
COLUMNS = "username(string) ha1(string) village(string) township(string)"


def accounts_dir(settings: Settings) -> Path:
    return (settings.data_dir / "kamailio" / "accounts").resolve()


def subscriber_table(terminals: Sequence[Terminal], realm: str) -> tuple[str, list[str]]:
    """The table's text, and the terminals left out because their HA1 is for another
    realm (the front's realm was changed after their password was issued)."""
    rows, stale = [COLUMNS], []
    for t in terminals:
        if t.sip_ha1 is None or t.sip_realm != realm:
            stale.append(t.id)
            continue
        # Percent-encoded: safe in db_text (':' separates fields) and in a SIP header.
        rows.append(
            ":".join([t.id, t.sip_ha1, quote(t.village, safe=""), quote(t.township, safe="")])
        )
    return "\n".join(rows) + "\n", stale


def write_table(directory: Path, text: str) -> bool:
    """Replace the table if its text changed; True if it did."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / TABLE
    previous = path.stat().st_mtime if path.exists() else 0.0
    if previous and path.read_text() == text:
        return False
    fresh = path.with_name(TABLE + ".new")
    fresh.write_text(text)
    # db_text compares whole seconds: two writes within one second must still differ.
    mtime = max(time.time(), math.floor(previous) + 1)
    os.utime(fresh, (mtime, mtime))
    os.replace(fresh, path)
    return True


def sync_once(settings: Settings, sessions: sessionmaker[Session]) -> int:
    """Write the table from the database; the number of terminals it lets in."""
    from lawline.terminals.registry import sip_terminals

    with sessions() as session:
        terminals = sip_terminals(session)
        realm = settings.telephony.front.realm
        text, stale = subscriber_table(terminals, realm)
    if write_table(accounts_dir(settings), text):
        log.info("SIP terminal accounts written", extra={"terminals": len(terminals) - len(stale)})
        if stale:
            log.warning(
                "SIP terminals with passwords for another realm left out: issue new ones",
                extra={"terminals": ",".join(stale), "realm": realm},
            )
    return len(terminals) - len(stale)


def ensure_table(directory: Path) -> None:
    """An empty table, so Kamailio starts before the first sync has run."""
    if not (directory / TABLE).exists():
        write_table(directory, COLUMNS + "\n")


def run_sync(settings: Settings, stop: threading.Event) -> None:
    """Keep the table in step with the database until stopped. A database that is
    away leaves the last table in place: terminals keep working meanwhile."""
    from lawline.db import make_engine, session_factory

    engine = make_engine(settings.database)
    sessions = session_factory(engine)
    failing = False
    while not stop.is_set():
        try:
            sync_once(settings, sessions)
            if failing:
                log.info("SIP terminal accounts: database reachable again")
            failing = False
        except Exception as exc:  # any database trouble: keep the old table
            if not failing:
                log.warning(
                    "SIP terminal accounts not synced, keeping the last table",
                    extra={"error": str(exc)[:300]},
                )
            failing = True
        stop.wait(settings.telephony.front.accounts_sync_s)
    engine.dispose()
