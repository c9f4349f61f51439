"""The law's short words heard right after decoding: two- and three-character words
Whisper wrote as characters that sound the same and make no word are corrected; right
sentences, a word jieba's dictionary is too old to know, and two right characters
that merely sound like a commoner word come out as they went in. Text only: the
shipped corrector (jieba's dictionary, the statutes pack), no model, no audio.

The misheard sentences are Whisper's own mistakes on the tuning sets (bench/asr_dev),
the pass's tuning set; the held-out recordings are elsewhere.
"""

from __future__ import annotations

import pytest

from lawline.config import Settings
from lawline.transcripts.engines import decode_settings
from lawline.transcripts.legal_words import LegalWordCorrector, shipped_word_corrector
from tests.test_legal_terms import MISHEARD as MISHEARD_TERMS
from tests.test_legal_terms import RIGHT as RIGHT_TERMS

# As Whisper wrote them (tuning sets, 8 and 16 kHz), and as they were said.
MISHEARD = [
    ("房东部退压金说我弄坏了空调", "房东部退押金说我弄坏了空调"),
    ("我在超市买到了过期的牛奶能所赔吗", "我在超市买到了过期的牛奶能索赔吗"),
    ("我签了试用期盒同三个月就被词退了", "我签了试用期合同三个月就被辞退了"),
    ("我帮朋友做了单保", "我帮朋友做了担保"),
    ("村里的土地流转合同道期了", "村里的土地流转合同到期了"),
    ("学校要求我们交的补课费和法吗", "学校要求我们交的补课费合法吗"),
    ("干了三个月就被慈退了", "干了三个月就被辞退了"),
]

RIGHT = [
    *RIGHT_TERMS,
    *(said for _, said in MISHEARD_TERMS),
    *(said for _, said in MISHEARD),
    # 寄的 sounds like 记得 (remember), a far commoner word: the two characters stand.
    "快递公司把我寄的东西弄丢了",
    # Too new for jieba's dictionary, so its characters stand alone there.
    "没有写借条，只有微信聊天记录",
    "钱是用支付宝转的，聊天记录在抖音上",
    "喂，你好，我想问一下工资的事情",
    "我老公要跟我离婚，孩子归谁",
    "他借了我三万块钱到现在一直没有还",
    "我明天上午去镇上的司法所",
    "好的，我记下来了，谢谢你",
]


@pytest.fixture(scope="module")
def corrector() -> LegalWordCorrector:
    return shipped_word_corrector()


def test_misheard_short_words_of_the_law_are_corrected(corrector: LegalWordCorrector) -> None:
    wrong = [(heard, corrector.correct(heard), said) for heard, said in MISHEARD]
    assert [w for w in wrong if w[1] != w[2]] == []


@pytest.mark.parametrize("said", RIGHT)
def test_right_text_is_left_alone(corrector: LegalWordCorrector, said: str) -> None:
    assert corrector.corrections(said) == []


def test_each_fix_says_where_and_how_much_likelier(corrector: LegalWordCorrector) -> None:
    [fix] = corrector.corrections("房东不退压金")
    assert (fix.start, fix.heard, fix.word) == (4, "压金", "押金")
    assert fix.gain > 2.5
    # Never across punctuation: 压，金 is two words said apart.
    assert corrector.correct("压，金") == "压，金"


def test_the_centres_own_terms_are_never_replaced() -> None:
    assert shipped_word_corrector().correct("单保的事") == "担保的事"
    assert shipped_word_corrector(("单保",)).correct("单保的事") == "单保的事"


def test_the_decoder_corrects_words_unless_configured_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert decode_settings(Settings(), "zh").correct_legal_words
    monkeypatch.setenv("LAWLINE_TRANSCRIPTS__WHISPER__CORRECT_LEGAL_WORDS", "false")
    assert not decode_settings(Settings(), "zh").correct_legal_words
