"""What a worker believes about a call: the calling number from the URI's user part
only, and X-Lawline-* values only when the front signed them (front_trust.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lawline.config import Settings
from lawline.telephony.front_trust import front_secret, origin_signature, signed_origin
from lawline.telephony.sip_message import address_user, caller_number, headers

SECRET = "ab" * 32


@pytest.mark.parametrize(
    ("address", "number"),
    [
        ("<sip:13800138000@trunk>", "13800138000"),
        ("sip:+8613800138000@trunk;user=phone", "+8613800138000"),
        ('"Wang" <sip:13800138000@trunk>;tag=1', "13800138000"),
        ("tel:+86-10-1234-5678;phone-context=x", "+861012345678"),
        ("<sip:anonymous@anonymous.invalid>", None),
        ("<sip:trunk-host>", ""),  # no user part: withheld
        ("<sip:%2B8613800138000@trunk>", "+8613800138000"),
    ],
)
def test_the_calling_number_is_the_uri_user_part(address: str, number: str | None) -> None:
    assert caller_number(address) == number


@pytest.mark.parametrize(
    "address",
    [
        '"sip:+8699912345678@x" <sip:T1@host>',
        "sip:+8699912345678@x <sip:T1@host>",
        '"<sip:+8699912345678@x>" <sip:T1@host>',
        '"a \\" <sip:+8699912345678@x>" <sip:T1@host>',
    ],
)
def test_a_display_name_never_names_the_caller(address: str) -> None:
    assert address_user(address) == "T1"
    assert caller_number(address) is None, "T1 is not a number: withheld, not +86999..."


def test_an_overlong_or_odd_number_is_not_taken() -> None:
    assert caller_number("<sip:" + "1" * 40 + "@trunk>") is None
    assert caller_number("<sip:1380013800a@trunk>") is None
    assert caller_number('"unterminated <sip:13800138000@x>') == ""


INVITE = (
    "INVITE sip:12348@127.0.0.1:5061 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1\r\n"
    "Call-ID: abc@host\r\n"
    "Subject: hello\r\n X-Lawline-Village: %E5%A4%A7\r\n"
    "X-Lawline-Terminal: dalai-1\r\nX-Lawline-Village: %E5%A4%A7%E8%B5%89%E6%9D%91\r\n"
    "X-Lawline-Township: \r\n{signature}Content-Length: 0\r\n\r\nX-Lawline-Terminal: body\r\n"
)


def _signed(invite: str, fields: list[str], call_id: str = "abc@host") -> str:
    sig = origin_signature(SECRET, call_id, fields)
    return invite.replace("{signature}", f"X-Lawline-Signature: {sig}\r\n")


def test_a_continuation_line_belongs_to_the_header_before_it() -> None:
    fields = headers(INVITE.replace("{signature}", ""))
    assert ("subject", "hello X-Lawline-Village: %E5%A4%A7") in fields
    assert [v for n, v in fields if n == "x-lawline-village"] == ["%E5%A4%A7%E8%B5%89%E6%9D%91"]


def test_the_worker_takes_the_origin_the_front_signed() -> None:
    invite = _signed(INVITE, ["dalai-1", "%E5%A4%A7%E8%B5%89%E6%9D%91", ""])
    assert signed_origin(SECRET, headers(invite)) == {"terminal": "dalai-1", "village": "大赉村"}


@pytest.mark.parametrize(
    "invite",
    [
        INVITE.replace("{signature}", ""),  # nobody signed
        _signed(INVITE, ["dalai-1", "%E5%A4%A7", ""]),  # the front signed other values
        _signed(INVITE, ["dalai-1", "%E5%A4%A7%E8%B5%89%E6%9D%91", ""], call_id="other"),
        _signed(INVITE, ["dalai-1", "%E5%A4%A7%E8%B5%89%E6%9D%91", ""]).replace(
            "Content-Length", "X-Lawline-Signature: 00\r\nContent-Length"
        ),  # two signatures
    ],
)
def test_anything_the_front_did_not_sign_is_not_believed(invite: str) -> None:
    assert signed_origin(SECRET, headers(invite)) is None


def test_a_trunk_call_the_front_signed_has_no_origin() -> None:
    trunk = "INVITE sip:12348@x SIP/2.0\r\nCall-ID: t1\r\nX-Lawline-Signature: {}\r\n\r\n"
    assert (
        signed_origin(SECRET, headers(trunk.format(origin_signature(SECRET, "t1", ["", "", ""]))))
        == {}
    )


def test_the_front_secret_is_made_once_and_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = front_secret(settings)
    assert front_secret(settings) == first and len(first) == 64
    path = tmp_path / "kamailio" / "front.secret"
    assert path.stat().st_mode & 0o777 == 0o600
