"""The FINDINGS.md table from results/*.json.   python table.py [results dir]"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = {"pcma": 0, "pcma-sup": 1, "g722": 2, "opus": 3, "pcmu-x": 4, "oneleg": 5}


def ms(d: dict, key: str) -> str:
    return "-" if not d or not d.get("n") else f"{d[key]:.0f}"


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "results"
    rows = [json.loads(p.read_text()) for p in folder.glob("*.json")]
    rows.sort(key=lambda r: (ORDER.get(r["mode"], 9), r["calls"]))
    print(
        "| mode | N | rtpengine %/call | Kamailio %/call | workers %/call | total %/call "
        "| workers idle (% of a core, all) | caller->browser ms med/p95 "
        "| browser->caller ms med/p95 | steady c->b / b->c med | INVITE->first RTP ms med/max "
        "| calls not up | load 1-min |"
    )
    print("|" + "---|" * 13)
    for r in rows:
        pc = r["per_call_core_pct"]
        c2b, b2c = r.get("caller_to_browser", {}), r.get("browser_to_caller", {})
        fr = r.get("invite_to_first_rtp", {})
        print(f"| {r['mode']} | {r['calls']} | {pc['rtpengine']:.2f} | {pc['kamailio']:.2f} "
              f"| {pc['workers']:.2f} | {pc['total']:.2f} "
              f"| {100 * r['idle_core_share']['workers']:.1f} "
              f"| {ms(c2b, 'median_ms')}/{ms(c2b, 'p95_ms')} "
              f"| {ms(b2c, 'median_ms')}/{ms(b2c, 'p95_ms')} "
              f"| {ms(r.get('caller_to_browser_steady', {}), 'median_ms')}"
              f" / {ms(r.get('browser_to_caller_steady', {}), 'median_ms')} "
              f"| {ms(fr, 'median_ms')}/{ms(fr, 'max_ms')} "
              f"| {len(r.get('lawyers_not_up', []))} "
              f"| {r['load_before'][0]}-{r['load_after'][0]} |")  # fmt: skip


if __name__ == "__main__":
    main()
