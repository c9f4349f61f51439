"""The Chinese names of lawline's values, for what the server writes for people (the
ledger's exports, the voice menu's choices in words).

The same table as the pages' `web/static/lib/labels.js`, in the words of GLOSSARY.md:
tests/test_labels.py checks that the three agree, so a value is called the same in a
page, an export and the glossary. Change a word in all three.
"""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "service": {
        "consultation": "法律咨询", "legal_aid": "法律援助", "mediation": "人民调解",
        "notarisation": "公证及其他", "complaint": "投诉建议",
    },
    "domain": {
        "labour": "劳动争议", "marriage_family": "婚姻家庭", "land_homestead": "土地与宅基地",
        "housing_demolition": "房屋拆迁", "traffic": "交通事故",
        "lending_contracts": "民间借贷与合同", "consumer": "消费者权益",
        "social_security": "社会保障", "neighbour": "邻里纠纷", "other": "其他",
    },
    "state": {
        "offline": "未上岗", "available": "空闲，等待来电", "offered": "来电振铃",
        "busy": "通话中", "wrapup": "话后整理", "break": "小休",
    },
    "green": {"elderly": "老年人", "disabled": "残疾人", "minor": "未成年人",
              "migrant_wages": "农民工讨薪"},
    "channel": {"voice": "12348 电话", "video": "村居视频终端"},
    "language": {"zh": "普通话", "mn": "蒙古语"},
    "disposition": {
        "answered": "已解答", "referred_legal_aid": "转法律援助",
        "referred_mediation": "转人民调解", "referred_notary": "转公证",
        "referred_court": "建议诉讼", "appointment": "已预约面谈", "callback_needed": "需回访",
    },
    "contactState": {"ended": "已办结", "abandoned": "未接通", "connected": "通话中",
                     "waiting": "排队中"},
    "triage": {"simple": "简易", "general": "一般", "complex": "复杂"},
    "referral": {
        "": "不转办", "legal_aid_centre": "法律援助中心", "mediation_committee": "人民调解委员会",
        "notary": "公证机构", "court": "人民法院", "other_agency": "其他部门",
    },
    "exemption": {"elderly": "老年人", "disabled": "残疾人", "minor": "未成年人",
                  "migrant_wages": "农民工讨薪"},
    "caseStatus": {"open": "办理中", "closed": "已办结"},
    # The citizen's 1-5 rating: the words the phone survey reads out.
    "rating": {"1": "非常不满意", "2": "不满意", "3": "一般", "4": "满意", "5": "非常满意"},
    "event": {
        "contact.entered": "进入排队", "contact.offered": "分配给律师",
        "contact.answered": "律师接听", "contact.transferred": "转接",
        "contact.requeued": "退回排队", "contact.ended": "通话结束",
        "contact.abandoned": "来电人挂断（未接通）", "contact.callback": "预约回电",
        "contact.callback_failed": "回电未接通", "contact.case_saved": "保存案件记录",
        "contact.rated": "来电人评价", "call.menu": "语音菜单选择",
        "call.callback_dialled": "拨出回电", "call.callback_answered": "回电接通",
        "transcript.closed": "转写结束", "transcript.alert": "舆情预警",
    },
    "audit": {
        "open": "立案", "join": "并入来电", "read": "查阅", "update": "修改", "handover": "移交",
        "note": "跟进记录", "close": "办结", "legal_aid": "法律援助申请",
    },
    "leg": {"citizen": "来电人", "lawyer": "律师"},
    # A mediation's people, how each takes part, and how it ended.
    "partyRole": {
        "applicant": "申请人",
        "respondent": "被申请人",
        "third_party": "第三人",
        "mediator": "调解员",
    },
    "reach": {
        "phone": "电话",
        "terminal": "村务终端",
        "link": "链接",
        "hall": "现场",
        "console": "工作台",
    },
    "mediationState": {"scheduled": "待调解", "closed": "已结案"},
    "outcome": {"agreement": "达成协议", "partial": "部分达成", "none": "未达成"},
    # Why a contact moved on or ended: every reason lawline itself gives.
    "reason": {
        "lawyer": "律师挂断", "caller": "来电人挂断", "caller hung up": "来电人挂断",
        "timeout": "超时未接听", "rejected": "律师拒接", "gone": "律师已离线",
        "resident left the terminal": "村民离开视频终端",
        "terminal went away": "视频终端断开", "line lost": "线路中断",
        "line lost: telephony worker died": "线路中断（话务进程重启）",
    },
    # The live transcript's state, as the console shows it (transcripts/live.py).
    "transcriptStatus": {
        "on": "转写中", "ended": "转写已结束",
        "disabled": "转写已关闭：本中心未开启通话转写",
        "no_model": "转写不可用：语音识别模型未安装，请联系管理员",
        "no_transcriber": "转写不可用：转写服务未运行，请联系管理员",
        "no_language": "转写不可用：暂不支持该语种",
        "unreachable": "转写中断：无法连接转写服务，请联系管理员",
        "unknown": "转写不可用",
    },
}  # fmt: skip


def label(group: str, value: str | None, empty: str = "") -> str:
    """The Chinese name of `value`; `empty` for none. An unknown value is kept as it is
    (a centre's own text, e.g. a reason typed by a lawyer), never made up."""
    if not value:
        return empty
    return LABELS[group].get(value, value)
