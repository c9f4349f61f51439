"""Janus's configuration, written by lawline from its settings at every start.

`render` is a pure function: settings, secrets and the folder -> the text of each
jcfg file. `write_config` puts them in data_dir/janus (0700, files 0600) with the
secrets generated once into data_dir/janus/secrets (0600), as the SIP front's is.

Only what lawline uses is loaded: the HTTP transport (API and admin API on private
addresses), AudioBridge and VideoRoom; every other plugin, transport, event handler
and logger that Janus 1.1 ships is disabled by name.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from lawline.config import Settings
from lawline.media.settings import MediaSettings
from lawline.private_files import private_dir, write_private

PLUGINS = ("libjanus_audiobridge.so", "libjanus_videoroom.so")
TRANSPORTS = ("libjanus_http.so",)
# Everything else Janus 1.1 ships (Debian 12's janus 1.1.2), kept from loading.
OTHER_PLUGINS = (
    "libjanus_duktape.so",
    "libjanus_echotest.so",
    "libjanus_lua.so",
    "libjanus_nosip.so",
    "libjanus_recordplay.so",
    "libjanus_sip.so",
    "libjanus_streaming.so",
    "libjanus_textroom.so",
    "libjanus_videocall.so",
    "libjanus_voicemail.so",
)
OTHER_TRANSPORTS = (
    "libjanus_mqtt.so",
    "libjanus_nanomsg.so",
    "libjanus_pfunix.so",
    "libjanus_rabbitmq.so",
    "libjanus_websockets.so",
)
EVENT_HANDLERS = (
    "libjanus_gelfevh.so",
    "libjanus_mqttevh.so",
    "libjanus_nanomsgevh.so",
    "libjanus_rabbitmqevh.so",
    "libjanus_sampleevh.so",
    "libjanus_wsevh.so",
)
LOGGERS = ("libjanus_jsonlog.so",)
SECRETS_FILE = "secrets"
_SECRET_NAMES = ("api_secret", "admin_secret", "admin_key")


class JanusConfigError(ValueError):
    """A setting Janus's configuration cannot be written from."""


@dataclass(frozen=True)
class JanusSecrets:
    api_secret: str  # every HTTP API request ("apisecret")
    admin_secret: str  # the admin API ("admin_secret")
    admin_key: str  # AudioBridge/VideoRoom: creating and destroying rooms ("admin_key")


@dataclass(frozen=True)
class JanusConfig:
    folder: Path
    secrets: JanusSecrets
    api_url: str  # http://host:port/janus
    admin_url: str  # http://host:port/admin
    # New at every write: `info` tells this Janus from another answering on the port.
    server_name: str = "lawline"

    @property
    def main_file(self) -> Path:
        return self.folder / "janus.jcfg"


def janus_dir(settings: Settings) -> Path:
    return (settings.media.config_dir or settings.data_dir / "janus").resolve()


def _url(host: str, port: int, path: str) -> str:
    return f"http://{f'[{host}]' if ':' in host else host}:{port}{path}"


def api_url(media: MediaSettings) -> str:
    return _url(media.api_host, media.api_port, "/janus")


def admin_url(media: MediaSettings) -> str:
    return _url(media.admin_host, media.admin_port, "/admin")


def _q(value: object) -> str:
    """A libconfig string (paths, addresses, hex secrets: nothing that needs escaping)."""
    text = str(value)
    if any(c in text for c in '"\\\n\r'):
        raise JanusConfigError(f"cannot be written into Janus's configuration: {text!r}")
    return f'"{text}"'


def _block(name: str, items: dict[str, object]) -> str:
    lines = [f"{name}: {{"]
    for key, value in items.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int):
            text = str(value)
        else:
            text = _q(value)
        lines.append(f"\t{key} = {text}")
    lines.append("}")
    return "\n".join(lines)


def _file(comment: str, *blocks: str) -> str:
    return f"# {comment}\n# Written by lawline at every start of Janus; edits are lost.\n" + (
        "\n".join(blocks) + "\n"
    )


def _check_range(name: str, text: str) -> None:
    low, high = (int(p) for p in text.split("-"))
    if not 1024 < low < high < 65536:
        raise JanusConfigError(f"media.{name} {text!r}: want low-high within 1025-65535")


def render(
    media: MediaSettings, keys: JanusSecrets, folder: Path, server_name: str = "lawline"
) -> dict[str, str]:
    """Each jcfg file's name and text."""
    _check_range("rtp_port_range", media.rtp_port_range)
    _check_range("plain_rtp_port_range", media.plain_rtp_port_range)
    general: dict[str, object] = {"configs_folder": folder}
    if media.lib_dir is not None:
        for kind in ("plugins", "transports", "events", "loggers"):
            general[f"{kind}_folder"] = media.lib_dir / kind
    general.update(
        {
            "debug_level": 4,  # warnings and errors, with Janus's info lines (no SDPs)
            "debug_timestamps": True,
            "debug_colors": False,
            "api_secret": keys.api_secret,
            "admin_secret": keys.admin_secret,
            "token_auth": False,
            "session_timeout": media.session_timeout_s,
            "server_name": server_name,
        }
    )
    if media.event_loops:
        general["event_loops"] = media.event_loops
    nat: dict[str, object] = {
        "full_trickle": False,
        "ice_lite": False,
        "ice_tcp": False,
        "nice_debug": False,
    }
    if media.interfaces:
        nat["ice_enforce_list"] = ",".join(media.interfaces)
    if media.nat_1_1:
        nat["nat_1_1_mapping"] = media.nat_1_1
    janus = _file(
        "Janus, lawline's media server",
        _block("general", general),
        _block("certificates", {}),
        _block("media", {"rtp_port_range": media.rtp_port_range, "dtls_timeout": 500}),
        _block("nat", nat),
        _block("plugins", {"disable": ",".join(OTHER_PLUGINS)}),
        _block("transports", {"disable": ",".join(OTHER_TRANSPORTS)}),
        _block("loggers", {"disable": ",".join(LOGGERS)}),
        _block("events", {"broadcast": False, "disable": ",".join(EVENT_HANDLERS)}),
    )
    http = _file(
        "Janus's HTTP API (lawline's client) and admin API: private addresses only",
        _block(
            "general",
            {
                "json": "compact",
                "base_path": "/janus",
                "http": True,
                "ip": media.api_host,
                "port": media.api_port,
                "https": False,
            },
        ),
        _block(
            "admin",
            {
                "admin_base_path": "/admin",
                "admin_http": True,
                "admin_ip": media.admin_host,
                "admin_port": media.admin_port,
                "admin_https": False,
            },
        ),
        _block("cors", {}),
    )
    bridge: dict[str, object] = {
        "admin_key": keys.admin_key,
        "lock_rtp_forward": True,
        "lock_play_file": True,
        "string_ids": True,  # rooms are named by the contact's id
        "events": False,
        "rtp_port_range": media.plain_rtp_port_range,
        # Plain RTP from the telephony workers only.
        "local_ip": media.rtp_host,
    }
    audiobridge = _file(
        "AudioBridge: no static rooms (one per conversation, created and destroyed by lawline)",
        _block("general", bridge),
    )
    videoroom = _file(
        "VideoRoom: no static rooms",
        _block(
            "general",
            {"admin_key": keys.admin_key, "lock_rtp_forward": True, "string_ids": True},
        ),
    )
    return {
        "janus.jcfg": janus,
        "janus.transport.http.jcfg": http,
        "janus.plugin.audiobridge.jcfg": audiobridge,
        "janus.plugin.videoroom.jcfg": videoroom,
    }


def janus_secrets(folder: Path) -> JanusSecrets:
    """Read, or made once (hex: safe in a jcfg and in JSON) into folder/secrets (0600)."""
    path = folder / SECRETS_FILE
    try:
        data = json.loads(path.read_text())
        if all(isinstance(data.get(k), str) and len(data[k]) == 64 for k in _SECRET_NAMES):
            return JanusSecrets(**{k: data[k] for k in _SECRET_NAMES})
    except (FileNotFoundError, json.JSONDecodeError, AttributeError):
        pass
    fresh = {k: secrets.token_hex(32) for k in _SECRET_NAMES}
    private_dir(folder)
    write_private(path, json.dumps(fresh) + "\n")
    return JanusSecrets(**fresh)


def write_config(settings: Settings, folder: Path | None = None) -> JanusConfig:
    """Janus's files under data_dir/janus (or `folder`): 0700 folder, 0600 files."""
    folder = (folder or janus_dir(settings)).resolve()
    private_dir(folder)
    keys = janus_secrets(folder)
    server_name = f"lawline-{secrets.token_hex(4)}"
    for name, text in render(settings.media, keys, folder, server_name).items():
        write_private(folder / name, text)
    media = settings.media
    return JanusConfig(folder, keys, api_url(media), admin_url(media), server_name)
