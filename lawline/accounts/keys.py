"""Every Redis key of sign-in and credentials, named once: sessions, the sign-in
throttle's counters, revoked service tokens and the channel announcing revocations.

P is `settings.redis_prefix`. Each key's docstring says what it holds, its Redis type
and how long it lives, as the scripts' headers do for their KEYS.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AccountKeys:
    prefix: str

    def session(self, session_id: str) -> str:
        """string `P:session:ID`: JSON {sub, role} of a sign-in session; expires
        `accounts.session_ttl_s` after it was last used."""
        return f"{self.prefix}:session:{session_id}"

    def user_sessions(self, username: str) -> str:
        """set `P:sessions:USERNAME`: the user's session ids; no TTL (ids of expired
        sessions pruned at the next sign-in)."""
        return f"{self.prefix}:sessions:{username}"

    def signin_pair(self, username: str, source: str) -> str:
        """string `P:signin:pair:USERNAME:SOURCE`: failed sign-ins of this account from
        this address; expires `accounts.lockout_s` after the last attempt."""
        return f"{self.prefix}:signin:pair:{username}:{source}"

    def signin_pairs(self, username: str) -> str:
        """pattern `P:signin:pair:USERNAME:*`: every signin_pair of one account (SCAN)."""
        return f"{self.prefix}:signin:pair:{username}:*"

    def signin_account(self, username: str) -> str:
        """string `P:signin:account:USERNAME`: failed sign-ins of this account from
        anywhere; expires `accounts.lockout_s` after the last attempt."""
        return f"{self.prefix}:signin:account:{username}"

    def signin_source(self, source: str) -> str:
        """string `P:signin:source:SOURCE`: failed sign-ins from this address, any
        account; expires `accounts.lockout_s` after the last attempt."""
        return f"{self.prefix}:signin:source:{source}"

    def signin_known(self, username: str, source: str) -> str:
        """string `P:signin:known:USERNAME:SOURCE`: present while this address is a known
        desk of the account; expires `accounts.known_desk_days` after a sign-in from it."""
        return f"{self.prefix}:signin:known:{username}:{source}"

    def token_revoked(self, token_id: str) -> str:
        """string `P:token-revoked:ID`: present while that service token is revoked;
        expires once the token could no longer be valid."""
        return f"{self.prefix}:token-revoked:{token_id}"

    @property
    def revoked(self) -> str:
        """channel `P:revoked`: pub/sub of JSON {kind, id}, a credential that no longer
        holds (revocation.py); nothing stored."""
        return f"{self.prefix}:revoked"
