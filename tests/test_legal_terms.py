"""Legal terms heard right after decoding: sentences as Whisper mis-hears them are
corrected, and sentences that are right (no legal term, the term already right, a
near homophone right where it stands) come out as they went in. Text only: the
shipped lexicon, no model, no audio.

These sentences are the pass's tuning set; the held-out recordings are elsewhere.
"""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from lawline.config import Settings
from lawline.transcripts.engines import decode_settings
from lawline.transcripts.legal_terms import LegalTermCorrector, shipped_corrector
from lawline.transcripts.settings import WhisperSettings
from lawline.transcripts.whisper import DecodeSettings, WhisperDecoder

# As Whisper writes them, and as they were said.
MISHEARD = [
    ("我想问一下工商认定要多久", "我想问一下工伤认定要多久"),
    ("公司不给我做工商认定怎么办", "公司不给我做工伤认定怎么办"),
    ("我想申请劳动重裁", "我想申请劳动仲裁"),
    ("老板拖了三个月工资，我能不能去劳动重裁", "老板拖了三个月工资，我能不能去劳动仲裁"),
    ("我们村的宅急地被别人占了", "我们村的宅基地被别人占了"),
    ("摘基地能不能卖给外村人", "宅基地能不能卖给外村人"),
    ("离婚以后父养费怎么算", "离婚以后抚养费怎么算"),
    ("他前夫一直不给孩子的父养费", "他前夫一直不给孩子的抚养费"),
    ("儿子不给善养费我该怎么办", "儿子不给赡养费我该怎么办"),
    ("老人要善养费可以起诉吗", "老人要赡养费可以起诉吗"),
    ("民间结贷的利息最高是多少", "民间借贷的利息最高是多少"),
    ("这个属于民间结贷纠纷吗", "这个属于民间借贷纠纷吗"),
    ("我没有钱请律师，能申请法律援组吗", "我没有钱请律师，能申请法律援助吗"),
    ("我们没签劳动和同", "我们没签劳动合同"),
    ("出了交通事顾对方跑了", "出了交通事故对方跑了"),
    ("可以找人民条解委员会", "可以找人民调解委员会"),
    ("公司不给交社会保线", "公司不给交社会保险"),
    ("他说要给我经济不偿", "他说要给我经济补偿"),
    ("我想问问诉讼实效是几年", "我想问问诉讼时效是几年"),
    ("这个算不算加庭暴力", "这个算不算家庭暴力"),
    ("签了竞业线制协议", "签了竞业限制协议"),
    ("我要申请工伤人定", "我要申请工伤认定"),
    ("他们是违法解出劳动合同", "他们是违法解除劳动合同"),
    ("车祸以后开了交通事故认定输", "车祸以后开了交通事故认定书"),
    ("这是夫妻共同才产吗", "这是夫妻共同财产吗"),
    ("用人单为不给我交社保", "用人单位不给我交社保"),
    ("公司一直拖欠劳动抱酬", "公司一直拖欠劳动报酬"),
]

RIGHT = [
    # near homophones of a term, right where they stand
    "我去工商局办营业执照",
    "我在工商银行上班",
    "工商部门来检查了",
    "他对这件事很公正",
    "法官判得很公正",
    "公正处理这件事",
    "我想去公证处做个公证",
    "扶养和抚养不是一回事",
    "夫妻之间的扶养费也能要",
    "他善于沟通",
    "她是个善良的人",
    "山羊肥了可以卖",
    "父亲养了三头牛",
    "我父亲养老的钱被他拿走了",
    "宅急送的快递到了",
    "我借了他五千块钱",
    "我在商场上班",
    "这栋建筑无人管理",
    "这是他的事实",
    # legal terms already right
    "我想问一下工伤认定要多久",
    "我想申请劳动仲裁",
    "宅基地能不能卖",
    "离婚以后抚养费怎么算",
    "儿子不给赡养费",
    "民间借贷的利息是多少",
    "我想申请法律援助",
    "我们是签了劳动合同的",
    "夫妻共同财产怎么分",
    # no legal term
    "他是个好人",
    "这个事情很复杂",
    "今天天气很好，我们去公园走走",
    "你吃饭了吗",
    "我家孩子在上小学",
    "我们村里种的是小麦和玉米",
    "他昨天晚上喝多了",
    "请问你们几点下班",
    "他们家的房子很大",
    "这个问题我们要商量一下",
    "我老公在外地打工",
    "这家店的老板人不错",
    "我们要节约用电",
    "这个东西质量不好",
    "我不知道该怎么说",
    "他的伤已经好了",
    "这件事情我要跟家里人商量商量",
    "医院说要住院观察",
    "村里修了一条新路",
    "我觉得这个价格太高了",
    "他经常加班到很晚",
    "工作上的事情很多",
]


@pytest.fixture(scope="module")
def corrector() -> LegalTermCorrector:
    return shipped_corrector()


def test_misheard_legal_terms_are_corrected(corrector: LegalTermCorrector) -> None:
    wrong = [(heard, corrector.correct(heard), said) for heard, said in MISHEARD]
    assert [w for w in wrong if w[1] != w[2]] == []


@pytest.mark.parametrize("said", RIGHT + [said for _, said in MISHEARD])
def test_right_text_is_left_alone(corrector: LegalTermCorrector, said: str) -> None:
    assert corrector.corrections(said) == []


def test_how_each_span_was_matched(corrector: LegalTermCorrector) -> None:
    [fix] = corrector.corrections("我想问一下工商认定要多久")
    assert (fix.start, fix.heard, fix.term, fix.how) == (5, "工商认定", "工伤认定", "toned")
    [fix] = corrector.corrections("我们村的宅急地被别人占了")
    assert fix.how == "toneless"  # zhai2 ji2 di4 / zhai2 ji1 di4
    [fix] = corrector.corrections("能申请法律援组吗")
    assert fix.how == "near"  # zu / zhu


def test_guards(corrector: LegalTermCorrector) -> None:
    # Never across punctuation, nor from a traditional or Latin span.
    assert corrector.correct("工商，认定") == "工商，认定"
    assert corrector.correct("劳动 重裁") == "劳动 重裁"
    # A term of two characters is never a target (押金 is not heard in 压金).
    assert corrector.correct("房东不退压金") == "房东不退压金"
    # Nothing of the term heard, only its toneless sound: left alone.
    assert corrector.correct("山羊肥了") == "山羊肥了"


def test_the_centres_own_terms_join_the_lexicon() -> None:
    assert shipped_corrector().correct("孩子的监护全归谁") == "孩子的监护全归谁"
    own = shipped_corrector(("监护权",))
    assert own.correct("孩子的监护全归谁") == "孩子的监护权归谁"
    assert own.correct("工商认定") == "工伤认定"  # the shipped terms still there


def test_a_twenty_character_utterance_takes_well_under_a_millisecond(
    corrector: LegalTermCorrector,
) -> None:
    utterances = [a + "，" + b for a, b in zip(RIGHT, reversed(RIGHT), strict=True)]
    utterances += [heard + "，" + b for (heard, _), b in zip(MISHEARD, RIGHT, strict=False)]
    started = time.perf_counter()
    for _ in range(5):
        for text in utterances:
            corrector.correct(text)
    per_utterance = (time.perf_counter() - started) / (5 * len(utterances))
    assert per_utterance < 0.5e-3, per_utterance  # about 20-40 µs on this machine


def test_whisper_text_is_corrected_after_simplification() -> None:
    decoder = WhisperDecoder.__new__(WhisperDecoder)  # finish_text needs no model
    decoder.settings = DecodeSettings()
    assert decoder.finish_text("我想申請工商認定") == "我想申请工伤认定"
    assert decoder.finish_text("我去工商局辦執照") == "我去工商局办执照"
    decoder.settings = DecodeSettings(numbers="digits")
    assert decoder.finish_text("拖了三個月的善養費") == "拖了3个月的赡养费"
    decoder.settings = DecodeSettings(correct_legal_terms=False)
    assert decoder.finish_text("我想申請工商認定") == "我想申请工商认定"
    decoder.settings = DecodeSettings(legal_terms=("监护权",))
    assert decoder.finish_text("監護全歸誰") == "监护权归谁"


def test_settings_carry_the_centres_terms_to_the_decoder() -> None:
    settings = Settings()
    settings.transcripts.whisper = WhisperSettings(legal_terms=["监护权", "抚养权"])
    decoding = decode_settings(settings)
    assert decoding.correct_legal_terms
    assert decoding.legal_terms[-2:] == ("监护权", "抚养权")
    assert "宅基地" in decoding.legal_terms  # the glossary, as the centre edited it
    for wrong in (["监护"], ["monitor"], ["监护权 "], ["监" * 13], ["监护权"] * 501):
        with pytest.raises(ValidationError):
            WhisperSettings(legal_terms=wrong)
