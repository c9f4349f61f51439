"""Who may read or work on what in the ledger: the rules, in one place.

A lawyer works on the cases they own; supervisors and admins (staff) on all. A
contact as recorded is read by staff, by the lawyers who took it, and by the owner
of the case it belongs to (after a hand-over, or a later call joined to the case).
"""

from __future__ import annotations

from dataclasses import dataclass

from lawline.cases.models import Case, LedgerContact


@dataclass(frozen=True)
class Actor:
    """Who acts: a lawyer id, or staff (supervisors, admins) who see every case."""

    id: str
    staff: bool = False


def may_work_on(actor: Actor, case: Case) -> bool:
    return actor.staff or case.owner == actor.id


def may_read_contact(actor: Actor, contact: LedgerContact, case_owner: str | None = None) -> bool:
    """Staff; the lawyer who first took it or the last one; the owner of its case."""
    return actor.staff or actor.id in (contact.first_lawyer, contact.lawyer, case_owner)


def sees_number(actor: Actor, owns_case: bool) -> bool:
    """A citizen's number in full: staff, and the lawyer who owns the case a contact
    belongs to (they follow it up); everyone else sees the last four digits, as on an
    offer."""
    return actor.staff or owns_case
