#!/bin/sh
# Every mode at 1, 4 and 10 conversations, 20 s windows; results/<mode>-<N>.json.
here=$(cd "$(dirname "$0")" && pwd)
for n in 1 4 10; do
  for mode in pcma g722 opus oneleg; do
    echo "== $mode $n $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
    timeout 300 "$here/run.sh" --calls "$n" --mode "$mode" --window 20 > "/tmp/s19rtpe-run-$mode-$n.txt" 2>&1 || echo "   failed: /tmp/s19rtpe-run-$mode-$n.txt"
  done
done
