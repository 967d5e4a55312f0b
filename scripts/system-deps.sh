#!/bin/sh
# Debian packages the test suite needs: a real broker, speech synthesisers for the
# wake-word reference check, and tools the privacy tests use. Installs only what is missing.
set -eu
need=""
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
have mosquitto       || need="$need mosquitto"
have mosquitto_pub   || need="$need mosquitto-clients"
have espeak-ng       || need="$need espeak-ng"
have flite           || need="$need flite"
have text2wave       || need="$need festival festvox-kdlpc16k"
have sox             || need="$need sox"
have strace          || need="$need strace"
have systemd-analyze || need="$need systemd"
have unshare         || need="$need util-linux"
have shellcheck      || need="$need shellcheck"
python3 -c 'import seccomp' 2>/dev/null || need="$need python3-seccomp"
[ -z "$need" ] && exit 0
echo "installing:$need"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null
