"""The vocabulary the queue routes on. Chinese terms are in GLOSSARY.md."""

from __future__ import annotations

from enum import StrEnum


class Service(StrEnum):
    CONSULTATION = "consultation"  # 法律咨询
    LEGAL_AID = "legal_aid"  # 法律援助
    MEDIATION = "mediation"  # 人民调解
    NOTARISATION = "notarisation"  # 公证
    COMPLAINT = "complaint"  # 投诉与监督


class Domain(StrEnum):
    LABOUR = "labour"  # 劳动争议
    MARRIAGE_FAMILY = "marriage_family"  # 婚姻家庭
    LAND_HOMESTEAD = "land_homestead"  # 土地与宅基地
    HOUSING_DEMOLITION = "housing_demolition"  # 房屋拆迁
    TRAFFIC = "traffic"  # 交通事故
    LENDING_CONTRACTS = "lending_contracts"  # 民间借贷与合同
    CONSUMER = "consumer"  # 消费者权益
    SOCIAL_SECURITY = "social_security"  # 社会保障
    NEIGHBOUR = "neighbour"  # 邻里纠纷
    OTHER = "other"  # 其他


class Channel(StrEnum):
    VOICE = "voice"  # 12348 phone call
    VIDEO = "video"  # village video terminal


class GreenReason(StrEnum):
    """Why a contact is on the green channel (绿色通道)."""

    ELDERLY = "elderly"
    DISABLED = "disabled"
    MINOR = "minor"
    MIGRANT_WAGES = "migrant_wages"  # migrant worker claiming unpaid wages


class Presence(StrEnum):
    """What the lawyer asked for on the console."""

    OFFLINE = "offline"
    AVAILABLE = "available"
    BREAK = "break"


class LawyerState(StrEnum):
    """What the lawyer is doing, derived from presence and work in hand."""

    OFFLINE = "offline"
    AVAILABLE = "available"
    OFFERED = "offered"
    BUSY = "busy"
    WRAPUP = "wrapup"
    BREAK = "break"


class ContactState(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    CONNECTED = "connected"
    # A callback whose dial-out failed, waiting for its retry time (not in the queue).
    SCHEDULED = "scheduled"
    ENDED = "ended"
    ABANDONED = "abandoned"
