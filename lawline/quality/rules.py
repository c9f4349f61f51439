"""The quality rules (`[quality]`), which the centre edits in its settings file.

Each rule has a kind, a weight and whether failing it fails the call (critical):
  required    the lawyer says one of `phrases` (within the first `within_s` seconds, or
              in the last `last_s` seconds, when given): the greeting with the hotline's
              name and the lawyer's number, asking the matter, telling everything in one
              go, the closing
  required_if once the citizen says one of `when`, the lawyer says one of `phrases` after:
              pointing to legal aid for a citizen who cannot pay
  forbidden   the lawyer never says any of `phrases`: promising an outcome, asking for
              fees, taking the case privately
  silence     no gap of more than `max_s` with nobody speaking (a hold's time is not
              silence: the caller hears the music, and the hold rule judges it)
  hold        each time the lawyer puts the caller on hold (music), they said one of
              `phrases` in the `within_s` seconds before (请稍等, 我帮您查一下), and the
              hold lasts at most `max_s` (coming back and holding again starts a new
              one; a hold still on at hang-up ends there)
  talk_over   the lawyer starts speaking over the citizen (by more than `min_s`) at most
              `max_count` times
  talk_share  the lawyer's share of the talking at most `max_share`
Phrases are matched in the recognised text with spaces and punctuation ignored, so they
should be written as said (and as speech recognition writes them: 12348 and 幺二三四八).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

Kind = Literal["required", "required_if", "forbidden", "silence", "hold", "talk_over", "talk_share"]


class Rule(BaseModel):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    name: str = Field(min_length=1, max_length=40)  # as the review shows it
    kind: Kind
    weight: float = Field(default=1, ge=0, le=100)
    critical: bool = False
    phrases: list[str] = Field(default_factory=list, max_length=100)
    when: list[str] = Field(default_factory=list, max_length=100)
    within_s: float | None = Field(default=None, gt=0)
    last_s: float | None = Field(default=None, gt=0)
    max_s: float = Field(default=20, gt=0)
    min_s: float = Field(default=1.0, ge=0)
    max_count: int = Field(default=2, ge=0)
    max_share: float = Field(default=0.7, gt=0, le=1)

    @model_validator(mode="after")
    def _has_what_it_needs(self) -> Rule:
        if self.kind in ("required", "required_if", "forbidden", "hold") and not self.phrases:
            raise ValueError(f"rule {self.id}: a {self.kind} rule needs phrases")
        if self.kind == "hold" and self.within_s is None:
            raise ValueError(f"rule {self.id}: a hold rule needs `within_s`")
        if self.kind == "required_if" and not self.when:
            raise ValueError(f"rule {self.id}: a required_if rule needs `when` phrases")
        if any(not p.strip() or len(p) > 40 for p in self.phrases + self.when):
            raise ValueError(f"rule {self.id}: phrases are 1 to 40 characters")
        return self


def default_rules() -> list[Rule]:
    return [
        Rule(id="greeting", name="开头报号问候", kind="required", weight=2, within_s=30,
             phrases=["12348", "幺二三四八", "一二三四八", "法律服务热线", "工号"]),
        Rule(id="ask_matter", name="询问来电事项", kind="required", within_s=90,
             phrases=["请问", "什么问题", "什么事", "您要咨询", "您说", "你说", "怎么回事"]),
        Rule(id="one_go", name="一次性告知", kind="required", weight=2,
             phrases=["还有什么", "还有其他", "一次性", "都告诉您", "还需要", "您记一下"]),
        Rule(id="legal_aid", name="符合条件的告知法律援助", kind="required_if", weight=2,
             when=["没钱", "请不起", "困难户", "低保", "交不起", "付不起", "没有钱"],
             phrases=["法律援助"]),
        Rule(id="closing", name="结束语", kind="required", last_s=60,
             phrases=["再见", "感谢您的来电", "谢谢您的来电", "祝您", "还有别的"]),
        Rule(id="promise", name="承诺结果", kind="forbidden", weight=3, critical=True,
             phrases=["保证能赢", "肯定能赢", "一定能赢", "包赢", "保证胜诉", "一定胜诉",
                      "肯定胜诉", "百分之百"]),
        Rule(id="fees", name="索要费用", kind="forbidden", weight=3, critical=True,
             phrases=["转账给我", "给我转账", "红包", "好处费", "辛苦费", "收您费用", "交点钱"]),
        Rule(id="private", name="私下接案", kind="forbidden", weight=3, critical=True,
             phrases=["加我微信", "私下联系", "私下找我", "我的私人电话", "到我们所里来",
                      "我私下帮您"]),
        Rule(id="silence", name="长时间无人说话", kind="silence", max_s=20),
        Rule(id="hold", name="保持通话未说明", kind="hold", within_s=20, max_s=120,
             phrases=["请稍等", "稍等一下", "您稍等", "我帮您查一下", "我查询一下", "我查一下",
                      "不要挂机", "别挂机"]),
        Rule(id="talk_over", name="打断来电人", kind="talk_over", min_s=1.0, max_count=2),
        Rule(id="talk_share", name="律师说话占比过高", kind="talk_share", max_share=0.75),
    ]  # fmt: skip


class QualitySettings(BaseModel):
    # Review every finished call that has a transcript (the web process does, in the
    # background); the rules below, or lawline's defaults.
    enabled: bool = True
    rules: list[Rule] = Field(default_factory=default_rules, max_length=100)
    # A call scoring under this is shown first in the review queue as failing.
    pass_score: float = Field(default=80, ge=0, le=100)

    @model_validator(mode="after")
    def _unique_ids(self) -> QualitySettings:
        ids = [r.id for r in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError("quality rules need distinct ids")
        return self
