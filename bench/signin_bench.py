"""Sign-in under a password-guessing flood: what the argon2 bound costs and what it saves.

The real app on uvicorn with a private redis-server. Guessers on `--sources`
loopback addresses (127.0.2.x) send `--flood` wrong sign-ins at once for one
lawyer, in `--rounds` waves; meanwhile the lawyer signs in from their own desk
(127.0.1.1, where they signed in before) once per wave. Prints the answers the
flood got, the process's peak RSS, and the lawyer's sign-in latency; the last
line is
`flood=... checked=... refused=... rss_mb=... lawyer_ok=... lawyer_p50_ms=... lawyer_p99_ms=...`.

    .venv/bin/python bench/signin_bench.py --flood 200 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lawline.accounts.settings import AccountSettings
from lawline.config import Settings
from lawline.redis_server import EmbeddedRedis
from tests.lawline_server import running_lawline
from tests.test_accounts import PASSWORD, add_user

LAWYER = "wang"
# A connection per request: a kept-alive one may be closed by uvicorn (timeout_keep_alive)
# between waves just as it is reused.
FRESH = httpx.Limits(max_keepalive_connections=0)


async def one(http: httpx.AsyncClient, password: str) -> tuple[int, float]:
    """(status, ms); status 0: the connection failed (counted, not raised)."""
    started = time.perf_counter()
    try:
        r = await http.post("/api/session", json={"username": LAWYER, "password": password})
    except httpx.TransportError:
        return 0, (time.perf_counter() - started) * 1000
    return r.status_code, (time.perf_counter() - started) * 1000


async def bench(flood: int, rounds: int, sources: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        settings = Settings(data_dir=data, secret_key="bench", accounts=AccountSettings())
        add_user(settings, LAWYER, "lawyer")
        with EmbeddedRedis(data / "redis", appendfsync="no") as redis:
            async with running_lawline(settings, redis.url) as running:
                guessers = [
                    httpx.AsyncClient(
                        base_url=running.base,
                        transport=httpx.AsyncHTTPTransport(local_address=f"127.0.2.{n + 1}"),
                        timeout=60,
                        limits=FRESH,
                    )
                    for n in range(sources)
                ]
                desk = httpx.AsyncClient(
                    base_url=running.base,
                    transport=httpx.AsyncHTTPTransport(local_address="127.0.1.1"),
                    timeout=60,
                    limits=FRESH,
                )
                # The lawyer's desk is known: they signed in from it before.
                assert (await one(desk, PASSWORD))[0] == 200
                answers: Counter[int] = Counter()
                lawyer: list[tuple[int, float]] = []
                for _ in range(rounds):
                    wave = [one(guessers[n % sources], f"guess {n}") for n in range(flood)]
                    flooding = asyncio.gather(*wave)
                    await asyncio.sleep(0.05)  # the flood first, then the lawyer
                    lawyer.append(await one(desk, PASSWORD))
                    answers.update(code for code, _ in await flooding)
                for client in [*guessers, desk]:
                    await client.aclose()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ok = [ms for code, ms in lawyer if code == 200]
    print(f"flood answers: {dict(sorted(answers.items()))}")
    print(f"lawyer answers: {[code for code, _ in lawyer]}")
    p50 = statistics.median(ok) if ok else float("nan")
    p99 = max(ok) if ok else float("nan")  # few samples: the worst stands for p99
    print(
        f"flood={flood * rounds} checked={answers[401]} refused={answers[503] + answers[429]} "
        f"rss_mb={rss_mb:.0f} lawyer_ok={len(ok)}/{len(lawyer)} "
        f"lawyer_p50_ms={p50:.0f} lawyer_p99_ms={p99:.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flood", type=int, default=200, help="wrong sign-ins per wave")
    parser.add_argument("--rounds", type=int, default=5, help="waves")
    parser.add_argument("--sources", type=int, default=50, help="guessing addresses")
    args = parser.parse_args()
    asyncio.run(bench(args.flood, args.rounds, args.sources))


if __name__ == "__main__":
    main()
