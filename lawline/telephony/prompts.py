"""Voice prompts: the Mandarin defaults lawline ships, built with espeak-ng.

Each prompt is a WAV file (16 kHz, mono, 16-bit) named by its id. A centre
replaces any of them by putting its own recording of the same name in
`telephony.prompts_dir`; lawline's generated defaults live in
`data_dir/prompts` and are rebuilt only when their text changes.

Debian's espeak-ng reads Chinese characters badly with `-v cmn` (it spells out
pinyin with tone digits), so the text goes through pypinyin first and is
spoken with the `cmn-latn-pinyin` voice. It is robotic, but every tone is
right; a centre with a budget records the prompts with a person.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from pypinyin import Style, lazy_pinyin

SAMPLE_RATE = 16_000
_VOICE = ["espeak-ng", "-v", "cmn-latn-pinyin", "-s", "150"]
_DIGITS = "零一二三四五六七八九"

# Prompt id -> what it says. Menu keys are read as 一二三; the hotline number as 幺二三四八.
TEXTS: dict[str, str] = {
    "welcome": "您好，这里是幺二三四八公共法律服务热线。为保证服务质量，您的通话可能会被录音。",
    "main_menu": (
        "法律咨询请按一；申请法律援助请按二；人民调解请按三；公证及其他服务请按四；"
        "投诉和建议请按五。老年人、残疾人、未成年人和农民工讨要工资，请按八，进入绿色通道。"
        "蒙古语服务请按九。已约好调解、要进入调解室的当事人，请按零。"
    ),
    "domain_menu": (
        "劳动争议请按一；婚姻家庭请按二；土地和宅基地请按三；交通事故请按四；"
        "借贷和合同纠纷请按五；其他法律问题请按六。"
    ),
    "green_menu": "老年人请按一；残疾人请按二；未成年人请按三；农民工讨要工资请按四。",
    "invalid": "对不起，您的输入有误。",
    "queued": "正在为您转接值班律师，请稍候。",
    "please_wait": "值班律师正在通话中，请您耐心等待。",
    "you_are_next": "下一位就是您，请稍候。",
    "position_ahead": "您前面还有",
    "position_unit": "位来电。",
    "wait_about": "预计等待约",
    "wait_minutes": "分钟。",
    "wait_unknown": "暂时无法估计等待时间。",
    "callback_offer": "如需挂机等待律师回电，请按一。",
    "callback_taken": "已为您登记回电，律师会尽快给您回电，请保持电话畅通。再见。",
    "callback_refused": "这个号码今天的回电登记次数已经用完，请您继续等待，律师会尽快接听。",
    "transferring": "正在为您转接其他律师，请稍候。",
    "callback_connected": "您好，这里是一二三四八公共法律服务热线，给您回电，正在为您接通律师。",
    "closed": "您好，现在不是值班时间。如需留言，请按一，律师上班后会给您回电；其他请挂机。",
    "voicemail_prompt": "请在提示音后说明您的问题和联系电话，说完请挂机或按井号键。",
    "voicemail_saved": "您的留言已保存，律师会尽快给您回电。再见。",
    "survey": (
        "请对本次服务进行评价。非常满意请按五，满意请按四，一般请按三，"
        "不满意请按二，非常不满意请按一。"
    ),
    "thanks": "感谢您的评价，再见。",
    "goodbye": "感谢您的来电，再见。",
    # A mediation party's phone, dialled out by lawline (telephony/party_flow.py).
    "mediation_invite": "您好，这里是幺二三四八人民调解。调解员邀请您参加调解，请按一加入调解。",
    "mediation_joining": "正在为您接入调解室，请稍候。",
    # A party dialling in to a mediation room from the menu (key 0).
    "room_number": "请输入六位调解室号码。",
    "room_pin": "请输入您的六位入会密码。",
    "room_wrong": "调解室号码或密码不正确，或者调解尚未开始。",
    "room_blocked": "号码或密码输错次数过多，请稍后再拨，或与调解员联系。",
    "mediation_unavailable": "对不起，调解室暂时无法接入，调解员会再与您联系。再见。",
    "mediation_ended": "本次调解通话已结束，感谢您的参与，再见。",
    # Played into a mediation room by the mediator at the start (media/room_sounds.py).
    "mediation_consent": (
        "本次人民调解将全程录音，录音只作为调解记录保存。如有异议，请现在告诉调解员。"
    ),
}


def count_words(n: int) -> str:
    """0-99 as a Chinese count before a measure word (两位, 十二分钟)."""
    if n == 2:
        return "两"
    if n < 10:
        return _DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[ones] if ones else "")


def spoken_texts() -> dict[str, str]:
    """Every spoken prompt: the fixed texts and the numbers 0-99 for announcements."""
    texts = dict(TEXTS)
    texts.update({f"num_{n}": count_words(n) for n in range(100)})
    texts["num_many"] = "很多"
    return texts


def to_pinyin(text: str) -> str:
    """Tone-numbered pinyin for espeak-ng's cmn-latn-pinyin voice, punctuation kept."""
    return " ".join(lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True))


# Sounds that are not speech: made with sox's synthesiser.
TONES: dict[str, list[str]] = {
    "beep": ["synth", "0.3", "sine", "1000", "gain", "-6"],
    # A calm four-note pattern with gaps; the worker loops it while a caller waits.
    "hold_music": [
        "synth", "0.6", "sine", "523", "sine", "659", "sine", "784", "sine", "659",
        "pad", "0", "0.9", "repeat", "5", "fade", "0.05", "-0", "0.05", "gain", "-12",
    ],
}  # fmt: skip


def _fingerprint(kind: str, spec: str) -> str:
    return hashlib.sha256(f"{kind}\n{spec}\n{SAMPLE_RATE}".encode()).hexdigest()[:16]


def _jobs() -> Iterator[tuple[str, str, str]]:
    """(prompt id, kind, spec) for everything lawline builds."""
    for pid, text in spoken_texts().items():
        yield pid, "speech", to_pinyin(text)
    for pid, args in TONES.items():
        yield pid, "tone", json.dumps(args)


def build(
    out_dir: Path, force: bool = False, progress: Callable[[int, int], None] | None = None
) -> int:
    """Build the default prompts into out_dir; returns how many were (re)built.

    A manifest records what each file was built from, so a second run builds
    nothing unless a text changed.
    """
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed (Debian package {tool})")
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / "manifest.json"
    manifest: dict[str, str] = {}
    if manifest_path.exists() and not force:
        manifest = json.loads(manifest_path.read_text())
    jobs = list(_jobs())
    built = 0
    for i, (pid, kind, spec) in enumerate(jobs, start=1):
        target = out_dir / f"{pid}.wav"
        fp = _fingerprint(kind, spec)
        if manifest.get(pid) != fp or not target.exists():
            if kind == "speech":
                _speak(spec, target)
            else:
                synth(json.loads(spec), target)
            manifest[pid] = fp
            built += 1
        if progress is not None:
            progress(i, len(jobs))
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return built


def speak(text: str, target: Path) -> None:
    """A spoken text as a WAV of the prompts' format."""
    _speak(to_pinyin(text), target)


def _speak(pinyin: str, target: Path) -> None:
    with tempfile.NamedTemporaryFile(suffix=".wav") as raw:
        subprocess.run([*_VOICE, "-w", raw.name, pinyin], check=True, capture_output=True)
        _sox([raw.name, *_FORMAT, str(target), "gain", "-n", "-3"])


_FORMAT = ["-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", "-e", "signed-integer"]


def synth(args: list[str], target: Path) -> None:
    _sox(["-n", *_FORMAT, str(target), *args])


def _sox(args: list[str]) -> None:
    subprocess.run(["sox", *args], check=True, capture_output=True)


def resolve(prompt_id: str, custom_dir: Path | None, built_dir: Path) -> Path:
    """The file to play: the centre's own recording if it has one, else the default."""
    if custom_dir is not None:
        own = custom_dir / f"{prompt_id}.wav"
        if own.exists():
            return own
    path = built_dir / f"{prompt_id}.wav"
    if not path.exists():
        raise FileNotFoundError(f"no prompt {prompt_id!r} in {built_dir} (run `lawline prompts`)")
    return path
