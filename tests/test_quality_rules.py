"""Quality review of a call (质量评价): each default rule on transcripts written as a
lawyer and a citizen say them (and as speech recognition writes them), firing and not
firing; the score and the critical failures."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lawline.quality.review import HoldSpan, Line, holds_of, review
from lawline.quality.rules import QualitySettings, Rule, default_rules


def L(t: float, text: str, s: float = 3) -> Line:
    return Line("lawyer", t, t + s, text)


def C(t: float, text: str, s: float = 3) -> Line:
    return Line("citizen", t, t + s, text)


GOOD = [
    L(
        0,
        "您好，这里是幺二三四八公共法律服务热线，我是值班律师，工号〇一七。请问您要咨询什么问题？",
    ),
    C(6, "我在工地干活，老板拖欠了三个月工资，我家是低保户，请不起律师。"),
    L(12, "您可以先去劳动监察大队投诉，也可以申请劳动仲裁。"),
    C(18, "仲裁要花钱吗？"),
    L(22, "劳动仲裁不收费。您符合条件的话还可以申请法律援助，我把地址告诉您。"),
    L(30, "我一次性跟您说清楚需要带的材料：身份证、考勤记录、工资条。您还有其他问题吗？"),
    C(40, "没有了，谢谢。"),
    L(44, "好的，感谢您的来电，再见。"),
]


def findings(lines: list[Line]) -> dict[str, tuple[bool, str]]:
    return {f.rule: (f.held, f.why) for f in review(lines, default_rules()).findings}


def test_a_good_call_holds_every_rule() -> None:
    result = review(GOOD, default_rules())
    assert [f.rule for f in result.findings if not f.held] == []
    assert result.score == 100 and not result.critical_failed
    greeting = next(f for f in result.findings if f.rule == "greeting")
    assert greeting.evidence[0]["start"] == 0 and "幺二三四八" in greeting.evidence[0]["text"]


def test_each_required_step_missing_is_found_with_why() -> None:
    lines = [
        L(0, "喂，你说。"),  # no hotline name, no number
        C(4, "我想问离婚的事。"),
        L(8, "离婚可以协议也可以起诉。"),
        L(200, "好的。", s=1),
    ]
    got = findings(lines)
    assert got["greeting"][0] is False and "前30秒内" in got["greeting"][1]
    assert got["ask_matter"][0] is True  # 你说
    assert got["one_go"][0] is False
    assert got["closing"][0] is False and "最后60秒内" in got["closing"][1]
    assert got["legal_aid"] == (True, "不适用")  # the citizen gave no cue


def test_legal_aid_must_follow_a_citizen_who_cannot_pay() -> None:
    without = [line for line in GOOD if "法律援助" not in line.text]
    held, why = findings(without)["legal_aid"]
    assert not held and "法律援助" in why


@pytest.mark.parametrize(
    ("rule", "said"),
    [
        ("promise", "这个官司您放心，我保证能赢。"),
        ("fees", "您先给我转账五百块。"),
        ("private", "您加我微信，我私下帮您办。"),
    ],
)
def test_a_forbidden_phrase_fails_the_call_whatever_the_score(rule: str, said: str) -> None:
    result = review([*GOOD, L(35, said)], default_rules())
    broken = {f.rule: f for f in result.findings if not f.held}
    assert set(broken) == {rule}
    assert broken[rule].evidence[0]["text"] == said and broken[rule].evidence[0]["start"] == 35
    assert result.critical_failed and result.score < 100


def test_a_citizen_saying_a_forbidden_phrase_is_not_the_lawyers_fault() -> None:
    assert findings([*GOOD, C(35, "对方说保证能赢，还让我给他转账。")])["promise"][0]


def test_long_silence_talking_over_and_talk_share() -> None:
    shifted = GOOD[:3] + [Line(x.leg, x.start + 40, x.end + 40, x.text) for x in GOOD[3:]]
    held, why = findings(shifted)["silence"]
    assert not held and "超过20秒" in why

    over = [
        line
        for i in range(3)
        for line in (C(20 * i, "我跟你说这个事情是这样的", s=6), L(20 * i + 2, "你别说了，听我说"))
    ]
    held, why = findings(over)["talk_over"]
    assert not held and "打断" in why
    assert findings(GOOD)["talk_over"][0]

    lecture = [L(0, "长篇大论", s=60), C(61, "嗯", s=2)]
    held, why = findings(lecture)["talk_share"]
    assert not held and "%" in why


def test_the_centre_edits_the_rules_and_bad_rules_are_refused() -> None:
    custom = QualitySettings(
        rules=[Rule(id="name", name="报姓名", kind="required", phrases=["我姓"], within_s=20)]
    )
    result = review([L(0, "您好，我姓王。")], custom.rules)
    assert result.score == 100
    with pytest.raises(ValidationError):
        Rule(id="x", name="空", kind="forbidden")  # no phrases
    with pytest.raises(ValidationError):
        QualitySettings(rules=[default_rules()[0], default_rules()[0]])  # the same id twice
    with pytest.raises(ValidationError):  # a hold rule needs its window
        Rule(id="h", name="保持", kind="hold", phrases=["请稍等"])


# ----- holds (the console's 保持 button: music to the caller) ------------------------------

# A call of GOOD's steps with the lawyer looking something up mid-call: the citizen asks,
# the lawyer holds, comes back, answers.
ASKED = [
    *GOOD[:3],
    C(18, "那仲裁要去哪里申请？"),
]


def after(t: float) -> list[Line]:
    """GOOD's end of the call, from `t` on."""
    return [Line(x.leg, x.start - 22 + t, x.end - 22 + t, x.text) for x in GOOD[4:]]


def held(marks: list[tuple[float, str]], lines: list[Line]) -> tuple[bool, str, list]:
    end = max(ln.end for ln in lines)
    result = review(lines, default_rules(), holds_of(marks, end))
    f = next(f for f in result.findings if f.rule == "hold")
    silence = next(f for f in result.findings if f.rule == "silence")
    assert silence.held, "a hold was taken for silence"
    return f.held, f.why, f.evidence


def test_a_hold_announced_and_short_holds() -> None:
    lines = [*ASKED, L(22, "请稍等，我帮您查一下仲裁委的地址。"), *after(85)]
    ok, why, evidence = held([(26.0, "on"), (84.0, "off")], lines)
    assert ok and not why and not evidence
    # Said with recognition's punctuation and spacing, just before: still announced.
    lines[4] = L(22, "您 稍等 一下，不要挂机。")
    assert held([(26.0, "on"), (84.0, "off")], lines)[0]


def test_a_hold_without_a_word_fails_with_its_times_and_the_line_before() -> None:
    lines = [*ASKED, L(22, "仲裁委在市政府旁边。"), *after(85)]
    ok, why, evidence = held([(26.0, "on"), (84.0, "off")], lines)
    assert not ok and "1次保持通话前20秒内未说明" in why
    assert evidence[0] == {"hold": True, "start": 26.0, "end": 84.0}
    assert evidence[1]["leg"] == "lawyer" and evidence[1]["start"] == 22
    # Said long before (more than 20 s) does not explain this hold.
    early = [*GOOD[:2], L(3, "请稍等。", s=1), *GOOD[2:3], C(18, "然后呢？"), *after(85)]
    assert not held([(40.0, "on"), (84.0, "off")], early)[0]


def test_a_hold_too_long_fails_unless_the_lawyer_came_back_between() -> None:
    lines = [*ASKED, L(22, "请稍等，我查询一下。"), *after(200)]
    ok, why, evidence = held([(26.0, "on"), (199.0, "off")], lines)
    assert not ok and why == "1次保持通话超过120秒" and evidence[0]["end"] == 199.0
    # The lawyer came back after a minute (telling the citizen it takes longer) and
    # held again: two holds of about a minute, each announced.
    back = [*lines[:5], L(90, "还在查，您再稍等一下，别挂机。"), *lines[5:]]
    marks = [(26.0, "on"), (88.0, "off"), (95.0, "on"), (199.0, "off")]
    assert held(marks, back)[0]


def test_a_hold_left_on_at_hang_up_ends_there() -> None:
    # The ledger ends a hold still on at hang-up (cases/ingest.py): the caller hung up
    # on the music after five minutes.
    lines = [*ASKED, L(22, "请稍等。")]
    ok, why, _ = held([(26.0, "on"), (326.0, "off")], lines)
    assert not ok and "超过120秒" in why
    # A record without the end (written before holds were closed at hang-up): it lasts
    # to the last thing heard, never less than nothing.
    assert holds_of([(26.0, "on")], 25.0) == [HoldSpan(26.0, 26.0)]
    assert holds_of([(30.0, "on"), (10.0, "on"), (50.0, "off"), (60.0, "off")], 70.0) == [
        HoldSpan(10.0, 50.0)
    ]


def test_no_hold_is_no_finding_and_a_call_without_holds_keeps_its_silences() -> None:
    f = next(f for f in review(GOOD, default_rules()).findings if f.rule == "hold")
    assert f.held and f.why == "不适用"
    # The same half-minute gap: silence without a hold, none with one over it.
    gap = [*ASKED, L(22, "请稍等。"), *after(60)]
    assert not findings(gap)["silence"][0]
    assert held([(26.0, "on"), (58.0, "off")], gap)[0]
