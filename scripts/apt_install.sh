#!/usr/bin/env bash
# apt_install.sh WHO PACKAGE...: install the Debian packages not installed yet (quiet
# when none are missing); WHO names the caller in its one line of output. Root or sudo.
set -euo pipefail
who=$1
shift
missing=()
for pkg in "$@"; do
    # dpkg also knows removed packages whose config is left: ask for "installed". (Not
    # `dpkg -s | grep -q`: grep leaving early kills dpkg with SIGPIPE, and under pipefail
    # an installed package then reads as missing.)
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [[ $status != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]})); then
    echo "$who: installing ${missing[*]}" >&2
    sudo=()
    if ((EUID != 0)); then sudo=(sudo); fi
    "${sudo[@]}" apt-get update -qq
    # A system redis service may start on 6379 here; lawline leaves it alone.
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
