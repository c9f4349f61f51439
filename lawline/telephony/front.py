"""The SIP front: Kamailio on the public SIP address, the telephony workers behind it.

lawline writes Kamailio's configuration from its own settings at every start
(the template is kamailio.cfg next to this file) and runs it in the foreground
as one of serve's children, with its own working and runtime directories.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import secrets
import shutil
import socket
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from redis.connection import UnixDomainSocketConnection, parse_url

from lawline.children import Child
from lawline.config import Settings
from lawline.telephony.front_accounts import accounts_dir, ensure_table
from lawline.telephony.front_trust import front_secret
from lawline.telephony.keys import TelephonyKeys
from lawline.telephony.sip import MAX_CALLS

RTP_PORTS_PER_WORKER = 400
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


class FrontConfigError(ValueError):
    """A setting the front cannot be written from."""


@dataclass(frozen=True)
class WorkerAddress:
    name: str
    sip_host: str
    sip_port: int
    rtp_port: int


def worker_count(settings: Settings) -> int:
    """Configured, or enough 4-call workers for the expected calls, one per core at least."""
    tel = settings.telephony
    if tel.workers is not None:
        return tel.workers
    return max(os.cpu_count() or 1, math.ceil(tel.expected_calls / MAX_CALLS))


def node_name(settings: Settings) -> str:
    return settings.telephony.node or socket.gethostname()


def worker_addresses(settings: Settings) -> list[WorkerAddress]:
    """Behind the front: loopback ports from worker_port up. Without it: sip_port up."""
    tel, front = settings.telephony, settings.telephony.front
    if front.enabled:
        host, first = front.worker_host, front.worker_port or settings.sip_port + 1
    else:
        host, first = settings.sip_host, settings.sip_port
    node = node_name(settings)
    return [
        WorkerAddress(
            name=f"{node}/worker-{i + 1}",
            sip_host=host,
            sip_port=first + i,
            rtp_port=tel.rtp_port + i * RTP_PORTS_PER_WORKER,
        )
        for i in range(worker_count(settings))
    ]


def _template() -> str:
    return resources.files("lawline.telephony").joinpath("kamailio.cfg").read_text()


def _fill(template: str, values: dict[str, object]) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise FrontConfigError(f"kamailio.cfg names {{{{{match.group(1)}}}}}, not filled in")
        return str(values[match.group(1)])

    return _PLACEHOLDER.sub(one, template)


def _subnets(trunks: list[str]) -> str:
    """Kamailio's is_in_subnet list: every trunk as a network (a bare address is /32)."""
    nets = []
    for trunk in trunks:
        try:
            nets.append(str(ipaddress.ip_network(trunk.strip(), strict=False)))
        except ValueError as exc:
            raise FrontConfigError(f"telephony.front.trunks: {trunk!r} is not an address") from exc
    if not nets:
        raise FrontConfigError("telephony.front.trunks is empty: no carrier could call in")
    return ",".join(nets)


def _scanner_regex(agents: list[str]) -> str:
    # Kamailio's =~ is a case-insensitive POSIX regex; a quote or backslash would end
    # Kamailio's string.
    parts = []
    for agent in agents:
        if not agent or any(c in agent for c in '"\\'):
            raise FrontConfigError(f"telephony.front.blocked_user_agents: bad entry {agent!r}")
        parts.append(re.sub(r"([.^$*+?()\[\]{}|])", r"\\\\\1", agent))
    return "|".join(parts) if parts else "^$a"


def dispatcher_list(workers: list[WorkerAddress]) -> str:
    """Set 1: every worker, with the call-load attributes algorithm 10 needs."""
    lines = ["# set destination flags priority attributes (written by lawline)"]
    for i, w in enumerate(workers):
        attrs = f"duid={w.name};maxload={MAX_CALLS}"
        lines.append(f"1 sip:{w.sip_host}:{w.sip_port} 0 {len(workers) - i} {attrs}")
    return "\n".join(lines) + "\n"


# What ndb_redis can be told: attribute=value pairs separated by ';'.
_NDB_VALUE = re.compile(r"[^;=\s]+")


def steer_store(redis_url: str | None) -> str | None:
    """ndb_redis's server attributes for lawline's Redis, where the front keeps which
    calls it steers so that a restarted front goes on steering them; None where the
    module cannot reach it (TLS, a user other than default, a value it cannot quote):
    then the state lives in the front's memory alone."""
    if redis_url is None:
        return None
    try:
        url = parse_url(redis_url)
    except ValueError:
        return None
    if url.get("connection_class") not in (None, UnixDomainSocketConnection):
        return None  # TLS (rediss://): not in this Kamailio's ndb_redis
    if url.get("username") not in (None, "", "default"):
        return None  # the module sends AUTH with a password only
    attributes = {"name": "state", "db": str(url.get("db") or 0)}
    if "path" in url:
        attributes["unix"] = str(url["path"])
    else:
        attributes["addr"] = str(url.get("host") or "127.0.0.1")
        attributes["port"] = str(url.get("port") or 6379)
    if url.get("password"):
        attributes["pass"] = str(url["password"])
    if not all(_NDB_VALUE.fullmatch(v) for v in attributes.values()):
        return None
    return ";".join(f"{k}={v}" for k, v in attributes.items())


def render(
    settings: Settings,
    workers: list[WorkerAddress],
    dispatcher_path: Path,
    redis_url: str | None = None,
) -> str:
    front = settings.telephony.front
    store = steer_store(redis_url)
    return _fill(
        _template(),
        {
            "host": settings.sip_host,
            "port": settings.sip_port,
            "udp_children": 4,
            "tcp_children": 2,
            "trunks": _subnets(front.trunks),
            "scanner_regex": _scanner_regex(front.blocked_user_agents),
            "pike_requests": front.pike_requests,
            "pike_window_s": front.pike_window_s,
            "pike_block_s": front.pike_block_s,
            "invites_per_s": front.invites_per_s,
            "probe_interval_s": front.probe_interval_s,
            "worker_timeout_ms": int(front.worker_timeout_s * 1000),
            "dispatcher_list": dispatcher_path,
            "realm": front.realm,
            "accounts_dir": accounts_dir(settings),
            # Signs the digest nonces; a new one at every start only makes terminals
            # answer one more challenge.
            "auth_secret": secrets.token_hex(16),
            # Signs what the front tells the workers and its Record-Route (front_trust.py).
            "front_secret": front_secret(settings),
            # Which calls are steered, also in Redis when the front can reach it.
            "steer_store": "#!define STEER_STORE" if store else "# (in its memory only)",
            "steer_redis": store or "",
            "steer_key": TelephonyKeys(settings.redis_prefix).front_steer,
        },
    )


@dataclass(frozen=True)
class Front:
    child: Child
    config: Path


def prepare_front(
    settings: Settings, workers: list[WorkerAddress], redis_url: str | None = None
) -> Front:
    """Write Kamailio's files under data_dir/kamailio; the child that runs it."""
    front = settings.telephony.front
    binary = shutil.which(front.kamailio)
    if binary is None:
        raise FrontConfigError(
            f"{front.kamailio} not found: install the kamailio package (scripts/setup.sh)"
        )
    root = (settings.data_dir / "kamailio").resolve()  # Kamailio reads -P from /
    run_dir = root / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)  # the config holds the front's secret
    dispatcher_path = root / "dispatcher.list"
    dispatcher_path.write_text(dispatcher_list(workers))
    ensure_table(accounts_dir(settings))
    config = root / "kamailio.cfg"
    config.touch(mode=0o600)
    config.chmod(0o600)
    config.write_text(render(settings, workers, dispatcher_path, redis_url))
    args = [
        binary, "-f", str(config), "-DD", "-E",  # foreground, log to stderr
        "-w", str(root), "-Y", str(run_dir), "-P", str(run_dir / "kamailio.pid"),
        "-m", "64", "-M", "8",
    ]  # fmt: skip
    return Front(Child("kamailio", args, program=True), config)


def check_config(front: Front) -> str | None:
    """Kamailio's own check of the written file (-c); its complaint, or None."""
    import subprocess

    result = subprocess.run(
        [front.child.args[0], "-c", "-f", str(front.config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return None if result.returncode == 0 else (result.stderr or result.stdout)[-2000:]
