"""One settings object for every lawline process: the root that assembles each
package's block (`lawline/<package>/settings.py`) and reads them all.

Read from, highest priority first: keyword arguments, `LAWLINE_*` environment
variables (nested with `__`, e.g. `LAWLINE_ROUTING__OFFER_TIMEOUT_S=20`), the
TOML file named by `LAWLINE_CONFIG` (or `lawline.toml` in the working
directory), then the defaults below and in the blocks.

A new block: its model in its package's settings.py, one field here.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from lawline import centre_time
from lawline.accounts.settings import AccountSettings
from lawline.cases.settings import CaseSettings
from lawline.media.settings import MediaSettings
from lawline.mediation.settings import MediationSettings
from lawline.quality.rules import QualitySettings
from lawline.queue.settings import RoutingSettings
from lawline.telephony.settings import TelephonySettings
from lawline.terminals.settings import TerminalSettings
from lawline.transcripts.settings import TranscriptSettings
from lawline.video.settings import WebRTCSettings
from lawline.web.settings import SocketSettings, WallboardSettings


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
    # The centre's time zone (IANA name): every date a person sees, case numbers,
    # "today" and a report's days are on this clock, whatever the server's or browser's.
    timezone: str = "Asia/Shanghai"
    # Signs console and API tokens. Empty: generated once and kept in data_dir.
    secret_key: str = ""
    # Keep consoles working when nobody is rostered (a fresh install has no roster).
    open_without_roster: bool = True
    # The centre's holidays (法定节假日), e.g. ["2026-10-01", ...]: the week's shifts do
    # not apply on them; whoever is on holiday duty has it entered as extra duty (加班).
    holidays: list[date] = Field(default_factory=list, max_length=400)
    # Users and case records (SQLAlchemy URL). Empty: SQLite in data_dir/lawline.db;
    # production: postgresql+psycopg://...
    database_url: str = ""
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    telephony: TelephonySettings = Field(default_factory=TelephonySettings)
    accounts: AccountSettings = Field(default_factory=AccountSettings)
    webrtc: WebRTCSettings = Field(default_factory=WebRTCSettings)
    terminals: TerminalSettings = Field(default_factory=TerminalSettings)
    sockets: SocketSettings = Field(default_factory=SocketSettings)
    wallboard: WallboardSettings = Field(default_factory=WallboardSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    transcripts: TranscriptSettings = Field(default_factory=TranscriptSettings)
    cases: CaseSettings = Field(default_factory=CaseSettings)
    media: MediaSettings = Field(default_factory=MediaSettings)
    mediation: MediationSettings = Field(default_factory=MediationSettings)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        centre_time.zone(name)  # ValueError names the bad value
        return name

    @property
    def zone(self) -> ZoneInfo:
        """The centre's time zone (see `lawline.centre_time`)."""
        return centre_time.zone(self.timezone)

    @property
    def agreement_template(self) -> Path:
        """The mediation agreement's Word template in use (see mediation/agreement.py)."""
        configured = self.mediation.agreement_template
        return configured or self.data_dir / "templates" / "mediation-agreement.docx"

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
