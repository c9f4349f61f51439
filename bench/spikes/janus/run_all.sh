#!/bin/sh
# Every figure in FINDINGS.md, in order (as root; about 10 minutes on 2 cores).
set -e
cd "$(dirname "$0")/../../.."
PY=".venv/bin/python -W ignore"
R=bench/spikes/janus/results
mkdir -p $R
$PY bench/spikes/janus/audiobridge_bench.py --calls 1,4,10 --seconds 20 --idle 10 --empty 10 --json $R/ab_pb6_16k.json
$PY bench/spikes/janus/audiobridge_bench.py --calls 1,4,10 --seconds 20 --rate 8000 --json $R/ab_pb6_8k.json
$PY bench/spikes/janus/audiobridge_bench.py --calls 1,4,10 --seconds 20 --prebuffer 2 --json $R/ab_pb2_16k.json
$PY bench/spikes/janus/sip_plugin_bench.py --calls 1,4,10 --seconds 20 --json $R/sip_plugin.json
$PY bench/spikes/janus/port_rtp_bench.py --calls 1,4 --seconds 20 --json $R/port_rtp.json
$PY bench/spikes/janus/chromium_bench.py --calls 1,4 --seconds 20 --json $R/chromium_pb6_16k.json
$PY bench/spikes/janus/chromium_bench.py --calls 1,4 --seconds 20 --prebuffer 3 --json $R/chromium_pb3_16k.json
$PY bench/spikes/janus/audiobridge_bench.py --calls 4,10 --seconds 20 --rate 8000 --browser-codec pcmu --json $R/ab_pb6_8k_pcmu.json
$PY bench/spikes/janus/audiobridge_bench.py --calls 4,10 --seconds 20 --forward pcmu --json $R/ab_pb6_16k_fwd_pcmu.json
$PY bench/spikes/janus/supervisor_check.py $R/supervisor_check.json
$PY bench/bridge_bench.py --calls 1,4 --seconds 20 > $R/baseline_aiortc_bridge.txt 2>&1  # today's bridge, for comparison
S19J_EVENT_LOOPS=2 $PY bench/spikes/janus/audiobridge_bench.py --calls 4,10 --seconds 20 --json $R/ab_pb6_16k_loops2.json
S19J_EVENT_LOOPS=2 $PY bench/spikes/janus/audiobridge_bench.py --calls 10 --seconds 20 --rate 8000 --prebuffer 3 --json $R/ab_pb3_8k_loops2.json
$PY bench/spikes/janus/e2e_bench.py --calls 1,4 --seconds 20 --json $R/e2e_design_a_pb3_16k.json
$PY bench/spikes/janus/e2e_bench.py --calls 4 --seconds 20 --prebuffer 6 --json $R/e2e_design_a_pb6_16k.json
$PY bench/spikes/janus/latch_check.py $R/latch_check.json
$PY bench/spikes/janus/mediation_bench.py --phones 3 --browsers 5 --json $R/mediation_3p5b_16k.json
