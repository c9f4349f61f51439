"""Print the results/*.json of the spike as one markdown table (FINDINGS.md's)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

R = Path(__file__).resolve().parent / "results"


def ms(d: dict | None) -> str:
    return f"{d['p50']} / {d['p99']}" if d else "-"


def main() -> None:
    print(
        "| run | N | Janus % core (all) | % core per call "
        "| accept->first audio p50/p99 ms "
        "| caller->lawyer p50/p99 ms | lawyer->caller p50/p99 ms "
        "| bursts heard/expected | load avg |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for f in sorted(R.glob("*.json")):
        rows = json.loads(f.read_text())
        if f.stem.startswith(("port_rtp", "supervisor", "e2e")):
            continue
        for r in rows:
            if "calls" not in r:
                continue
            if f.stem.startswith("sip_plugin"):
                print(
                    f"| {f.stem} | {r['calls']} | {r['janus_cpu_pct_core']} "
                    f"| {r['per_call_pct_core']} "
                    f"| {ms(r['first_echo_ms'])} (first echo) "
                    f"| round trip {ms(r['round_trip_ms'])} | (round trip) "
                    f"| {r['round_trip_ms']['bursts']}/{r['round_trip_ms']['expected']} "
                    f"| {r['loadavg']} |"
                )
                continue
            t2b, b2t = r["trunk_to_browser_ms"], r["browser_to_trunk_ms"]
            heard = (
                f"{t2b['bursts']}+{b2t['bursts']}/{2 * t2b['expected']}"
                if "expected" in t2b
                else f"{t2b['bursts']}+{b2t['bursts']}"
            )
            print(
                f"| {f.stem} | {r['calls']} | {r['janus_cpu_pct_core']} "
                f"| {r['per_call_pct_core']} "
                f"| {ms(r['accept_to_first_audio_ms'])} | {ms(t2b)} | {ms(b2t)} "
                f"| {heard} | {r['loadavg']} |"
            )
    p = R / "port_rtp.json"
    if p.exists():
        print()
        print(
            "| worker relay port (pjsua2 AudioMediaPort -> G.711 RTP in Python) | N "
            "| process % core, players only | with relay | relay % core per call |"
        )
        print("|---|---|---|---|---|")
        for r in json.loads(p.read_text()):
            if "calls" in r:
                print(
                    f"| port_rtp | {r['calls']} | {r['players_only_pct_core']} "
                    f"| {r['with_relay_pct_core']} | {r['relay_per_call_pct_core']} |"
                )


if __name__ == "__main__":
    sys.exit(main())
