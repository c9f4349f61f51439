"""The centre's words, as shipped: the legal terms Whisper may be primed with
(`transcripts.whisper.glossary`) and the phrases that raise an alert
(`transcripts.alert_phrases`). Centres edit both in their settings file; these are
the defaults, kept in one place for the people who review them in Chinese."""

from __future__ import annotations

# The public-opinion duty's watch list: a final utterance containing any of these
# (spaces ignored) raises an alert to supervisors at once.
ALERT_PHRASES: dict[str, list[str]] = {
    "self_harm": ["不想活了", "活不下去了", "想自杀", "跳楼", "喝农药", "寻死"],
    "wage_arrears": ["拖欠工资", "欠薪", "讨薪", "工资一直没发", "包工头跑了", "几十个工人"],
    "group_petition": ["集体上访", "联名上访", "去北京上访", "一起去上访", "堵路", "围堵"],
    "violence": ["杀了他", "砍死", "打死他", "同归于尽", "炸药", "报复他"],
}

# Words a centre hears every day that Whisper base rarely writes right on its own.
LEGAL_GLOSSARY = [
    "宅基地",
    "抚养费",
    "赡养费",
    "法律援助",
    "劳动仲裁",
    "工伤认定",
    "民间借贷",
    "拖欠工资",
    "劳动合同",
    "离婚",
    "继承",
    "交通事故",
    "人民调解",
    "公证",
]
