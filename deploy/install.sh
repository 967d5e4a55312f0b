#!/usr/bin/env bash
# Install, upgrade or remove edge-agent on Raspberry Pi OS, Debian or Ubuntu (Jetson).
#
#   sudo deploy/install.sh                     # install or upgrade (idempotent)
#   sudo deploy/install.sh --dry-run           # print what would change, change nothing
#   sudo deploy/install.sh --uninstall [--purge]
#   deploy/install.sh --help
#
# What it does: a venv under PREFIX with the package from this source tree, the
# shipped model packages (models/<family>/ with a manifest.toml), mosquitto with a
# local-only configuration (unix socket + loopback TCP, per-listener auth, ACL), the
# daemon's broker credentials, a default config, and the hardened systemd unit
# (enabled and started where systemd runs).  Every target path can be redirected
# (flags or EDGE_AGENT_* variables; --root DIR moves all of them under DIR) so the
# script can be exercised in a temporary root.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE_DIR=${EDGE_AGENT_SOURCE_DIR:-$(dirname "$SCRIPT_DIR")}

ROOT=${EDGE_AGENT_ROOT:-}
PREFIX=${EDGE_AGENT_PREFIX:-}
ETC_DIR=${EDGE_AGENT_ETC_DIR:-}
MOSQ_CONF_DIR=${EDGE_AGENT_MOSQUITTO_CONF_DIR:-}
MOSQ_ETC=${EDGE_AGENT_MOSQUITTO_ETC_DIR:-}
UNIT_DIR=${EDGE_AGENT_UNIT_DIR:-}
RUN_DIR=${EDGE_AGENT_RUN_DIR:-}
TCP_PORT=${EDGE_AGENT_TCP_PORT:-1883}
TOPIC_PREFIX=${EDGE_AGENT_TOPIC_PREFIX:-edge-agent}
SOCKET_GROUP=${EDGE_AGENT_SOCKET_GROUP:-edge-agent-mqtt}
DAEMON_USER=${EDGE_AGENT_BROKER_USER:-edge-agent}
MAX_PACKET_SIZE=${EDGE_AGENT_MAX_PACKET_SIZE:-8388608}
MEMORY_HIGH=${EDGE_AGENT_MEMORY_HIGH:-40%}
MEMORY_MAX=${EDGE_AGENT_MEMORY_MAX:-50%}
PYTHON=${EDGE_AGENT_PYTHON:-}
PIP_ARGS=${EDGE_AGENT_PIP_ARGS:-}
SYSTEMD_MODE=${EDGE_AGENT_SYSTEMD:-auto}   # auto | yes | no
VARIANTS=()
DRY_RUN=0
MOVED_MARK='#edge-agent: moved to conf.d/edge-agent.conf (tmpfs): '
UNINSTALL=0
PURGE=0
SKIP_APT=0
SKIP_PACKAGE=0
SKIP_GROUP=0
KNOWN_VARIANTS="loopback-tcp coral hailo jetson"

usage() {
    cat <<EOF
Usage: install.sh [options]

  --prefix DIR            program prefix (venv, models)            [/opt/edge-agent]
  --etc-dir DIR           edge-agent config                        [/etc/edge-agent]
  --mosquitto-conf-dir D  mosquitto include_dir                    [/etc/mosquitto/conf.d]
  --mosquitto-etc-dir D   mosquitto passwd + acl for edge-agent    [/etc/mosquitto/edge-agent]
  --unit-dir DIR          systemd unit directory                   [/etc/systemd/system]
  --run-dir DIR           mosquitto run dir holding the socket     [/run/mosquitto]
  --root DIR              put every default path above under DIR (testing)
  --tcp-port N            loopback TCP listener port               [1883]
  --topic-prefix P        topic prefix of the daemon               [edge-agent]
  --socket-group G        group allowed into the socket directory  [edge-agent-mqtt]
  --variant NAME          add a unit drop-in: $KNOWN_VARIANTS (repeatable)
  --memory-high V         MemoryHigh= of the unit (bytes, K/M/G or %) [40%]
  --memory-max V          MemoryMax= of the unit                    [50%]
  --python PATH           Python >= 3.11 for the venv              [first found]
  --skip-apt              do not apt-get install mosquitto and python3-venv
  --skip-package          do not create the venv / pip install (layout only)
  --skip-group            do not create the socket group
  --systemd auto|yes|no   manage units with systemctl              [auto: if /run/systemd/system]
  --dry-run               print what would change; change nothing
  --uninstall             remove what the install put in place
  --purge                 with --uninstall: also remove config, credentials, ACL, group
  -h, --help              this text

Environment: EDGE_AGENT_PREFIX, EDGE_AGENT_ETC_DIR, EDGE_AGENT_MOSQUITTO_CONF_DIR,
EDGE_AGENT_MOSQUITTO_ETC_DIR, EDGE_AGENT_UNIT_DIR, EDGE_AGENT_RUN_DIR, EDGE_AGENT_ROOT,
EDGE_AGENT_PIP_ARGS (extra pip install arguments), EDGE_AGENT_SYSTEMD, ...
EOF
}

die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }
say() { printf '%s\n' "$*"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX=$2; shift 2 ;;
        --etc-dir) ETC_DIR=$2; shift 2 ;;
        --mosquitto-conf-dir) MOSQ_CONF_DIR=$2; shift 2 ;;
        --mosquitto-etc-dir) MOSQ_ETC=$2; shift 2 ;;
        --unit-dir) UNIT_DIR=$2; shift 2 ;;
        --run-dir) RUN_DIR=$2; shift 2 ;;
        --root) ROOT=$2; shift 2 ;;
        --tcp-port) TCP_PORT=$2; shift 2 ;;
        --topic-prefix) TOPIC_PREFIX=$2; shift 2 ;;
        --socket-group) SOCKET_GROUP=$2; shift 2 ;;
        --variant) VARIANTS+=("$2"); shift 2 ;;
        --variant=*) VARIANTS+=("${1#*=}"); shift ;;
        --memory-high) MEMORY_HIGH=$2; shift 2 ;;
        --memory-max) MEMORY_MAX=$2; shift 2 ;;
        --python) PYTHON=$2; shift 2 ;;
        --skip-apt) SKIP_APT=1; shift ;;
        --skip-package) SKIP_PACKAGE=1; shift ;;
        --skip-group) SKIP_GROUP=1; shift ;;
        --systemd) SYSTEMD_MODE=$2; shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        --uninstall) UNINSTALL=1; shift ;;
        --purge) PURGE=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done

ROOT=${ROOT%/}
PREFIX=${PREFIX:-$ROOT/opt/edge-agent}
ETC_DIR=${ETC_DIR:-$ROOT/etc/edge-agent}
MOSQ_CONF_DIR=${MOSQ_CONF_DIR:-$ROOT/etc/mosquitto/conf.d}
MOSQ_ETC=${MOSQ_ETC:-$ROOT/etc/mosquitto/edge-agent}
UNIT_DIR=${UNIT_DIR:-$ROOT/etc/systemd/system}
RUN_DIR=${RUN_DIR:-$ROOT/run/mosquitto}
SOCKET_PATH=$RUN_DIR/edge-agent.sock

for v in "${VARIANTS[@]+"${VARIANTS[@]}"}"; do
    case " $KNOWN_VARIANTS " in *" $v "*) ;; *) die "unknown variant '$v' (known: $KNOWN_VARIANTS)" ;; esac
done
case "$TCP_PORT" in ''|*[!0-9]*) die "--tcp-port must be a number, got '$TCP_PORT'" ;; esac
case "$TOPIC_PREFIX" in ''|*[+#/]*) die "--topic-prefix must be one topic level without + # /" ;; esac

# systemctl only for the real system: never when paths were redirected with --root.
USE_SYSTEMD=0
case "$SYSTEMD_MODE" in
    yes) USE_SYSTEMD=1 ;;
    no) USE_SYSTEMD=0 ;;
    auto) if [ -z "$ROOT" ] && [ -d /run/systemd/system ]; then USE_SYSTEMD=1; fi ;;
    *) die "--systemd must be auto, yes or no" ;;
esac

if [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
    die "run as root (or try --dry-run)"
fi

CHANGES=0
# run CMD...: execute, or only print it under --dry-run.
run() {
    if [ "$DRY_RUN" -eq 1 ]; then say "would run: $*"; else "$@"; fi
}

# ensure_dir DIR MODE [OWNER:GROUP]
ensure_dir() {
    local dir=$1 mode=$2 owner=${3:-}
    if [ -d "$dir" ] && [ "$(stat -c %a "$dir")" = "${mode#0}" ]; then
        [ -z "$owner" ] || [ "$(stat -c %U:%G "$dir")" = "$owner" ] && return 0
    fi
    CHANGES=$((CHANGES + 1))
    if [ "$DRY_RUN" -eq 1 ]; then say "would create directory $dir ($mode${owner:+ $owner})"; return 0; fi
    mkdir -p "$dir"
    chmod "$mode" "$dir"
    [ -z "$owner" ] || chown "$owner" "$dir"
    say "directory $dir"
}

# put_file DST MODE [OWNER:GROUP] < content: write only when content, mode or owner differ.
put_file() {
    local dst=$1 mode=$2 owner=${3:-} tmp
    tmp=$(mktemp)
    cat > "$tmp"
    if [ -f "$dst" ] && cmp -s "$tmp" "$dst" && [ "$(stat -c %a "$dst")" = "${mode#0}" ] \
        && { [ -z "$owner" ] || [ "$(stat -c %U:%G "$dst")" = "$owner" ]; }; then
        rm -f "$tmp"
        return 0
    fi
    CHANGES=$((CHANGES + 1))
    if [ "$DRY_RUN" -eq 1 ]; then
        say "would write $dst ($mode${owner:+ $owner})"
        rm -f "$tmp"
        return 0
    fi
    mkdir -p "$(dirname "$dst")"
    chmod "$mode" "$tmp"
    [ -z "$owner" ] || chown "$owner" "$tmp"
    mv -f "$tmp" "$dst.new.$$"   # same directory from here on: the rename is atomic
    mv -f "$dst.new.$$" "$dst"
    say "wrote $dst"
}

# remove PATH...: delete files or directories that exist.
remove() {
    local p
    for p in "$@"; do
        if [ -e "$p" ] || [ -L "$p" ]; then
            CHANGES=$((CHANGES + 1))
            if [ "$DRY_RUN" -eq 1 ]; then say "would remove $p"; else rm -rf -- "$p"; say "removed $p"; fi
        fi
    done
}

render() {
    sed -e "s#@PREFIX@#$PREFIX#g" \
        -e "s#@ETC_DIR@#$ETC_DIR#g" \
        -e "s#@MOSQ_CONF_DIR@#$MOSQ_CONF_DIR#g" \
        -e "s#@MOSQ_ETC@#$MOSQ_ETC#g" \
        -e "s#@RUN_DIR@#$RUN_DIR#g" \
        -e "s#@SOCKET_PATH@#$SOCKET_PATH#g" \
        -e "s#@SOCKET_GROUP@#$SOCKET_GROUP#g" \
        -e "s#@TCP_PORT@#$TCP_PORT#g" \
        -e "s#@TOPIC_PREFIX@#$TOPIC_PREFIX#g" \
        -e "s#@DAEMON_USER@#$DAEMON_USER#g" \
        -e "s#@MAX_PACKET_SIZE@#$MAX_PACKET_SIZE#g" \
        "$1"
}

# The unit ships with the default paths; point it at the chosen ones.
render_unit() {
    sed -e "s#/opt/edge-agent#$PREFIX#g" \
        -e "s#/etc/edge-agent#$ETC_DIR#g" \
        -e "s#^SupplementaryGroups=edge-agent-mqtt#SupplementaryGroups=$SOCKET_GROUP#" \
        "$SOURCE_DIR/systemd/edge-agent.service"
}

# Owner for broker files: mosquitto reads them again (SIGHUP) after dropping to its user.
mosquitto_owner() {
    if getent passwd mosquitto > /dev/null && getent group mosquitto > /dev/null; then
        echo mosquitto:mosquitto
    fi
}

detect_os() {
    local id="unknown" like=""
    if [ -r /etc/os-release ]; then
        # shellcheck disable=SC1091
        id=$(. /etc/os-release && echo "${ID:-unknown}")
        # shellcheck disable=SC1091
        like=$(. /etc/os-release && echo "${ID_LIKE:-}")
    fi
    case "$id $like" in
        *raspbian*|*debian*|*ubuntu*) ;;
        *) say "warning: untested OS '$id'; continuing as for Debian" ;;
    esac
    if [ -e /etc/nv_tegra_release ]; then say "detected NVIDIA Jetson (consider --variant jetson)"; fi
    say "os: $id"
}

find_python() {
    local p
    for p in ${PYTHON:-python3.13 python3.12 python3.11 python3}; do
        if command -v "$p" > /dev/null \
            && "$p" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2> /dev/null; then
            command -v "$p"
            return 0
        fi
    done
    return 1
}

step_apt() {
    [ "$SKIP_APT" -eq 1 ] && return 0
    local missing=()
    command -v mosquitto > /dev/null || missing+=(mosquitto)
    command -v mosquitto_sub > /dev/null || missing+=(mosquitto-clients)
    command -v mosquitto_passwd > /dev/null || missing+=(mosquitto)
    if [ "$SKIP_PACKAGE" -eq 0 ]; then
        python3 -c 'import ensurepip' 2> /dev/null || missing+=(python3-venv)
    fi
    [ ${#missing[@]} -eq 0 ] && return 0
    CHANGES=$((CHANGES + 1))
    run apt-get update
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

step_group() {
    [ "$SKIP_GROUP" -eq 1 ] && return 0
    getent group "$SOCKET_GROUP" > /dev/null && return 0
    CHANGES=$((CHANGES + 1))
    run groupadd --system "$SOCKET_GROUP"
}

step_package() {
    [ "$SKIP_PACKAGE" -eq 1 ] && return 0
    local py
    py=$(find_python) || die "no Python >= 3.11 found (Ubuntu 22.04/JetPack 6: install python3.11 and python3.11-venv, then --python python3.11)"
    [ -f "$SOURCE_DIR/pyproject.toml" ] || die "no pyproject.toml in $SOURCE_DIR: not an edge-agent source tree"
    ensure_dir "$PREFIX" 0755
    if [ ! -x "$PREFIX/venv/bin/python" ]; then
        CHANGES=$((CHANGES + 1))
        run "$py" -m venv "$PREFIX/venv"
    fi
    # Upgrade in place: pip replaces the installed version by the source tree's.
    # shellcheck disable=SC2086
    run "$PREFIX/venv/bin/pip" install --quiet --disable-pip-version-check --upgrade $PIP_ARGS "$SOURCE_DIR"
}

step_models() {
    local src fam stage
    ensure_dir "$PREFIX" 0755
    ensure_dir "$PREFIX/models" 0755
    for src in "$SOURCE_DIR"/models/*/; do
        [ -f "$src/manifest.toml" ] || continue
        fam=$(basename "$src")
        if [ -d "$PREFIX/models/$fam" ] && diff -rq "$src" "$PREFIX/models/$fam" > /dev/null 2>&1; then
            continue
        fi
        CHANGES=$((CHANGES + 1))
        if [ "$DRY_RUN" -eq 1 ]; then say "would install model family $fam"; continue; fi
        stage=$(mktemp -d "$PREFIX/models/.stage.XXXXXX")
        cp -R "$src/." "$stage/"
        chmod -R u=rwX,go=rX "$stage"
        rm -rf "$PREFIX/models/$fam"
        mv "$stage" "$PREFIX/models/$fam"
        say "model family $fam"
    done
}

step_broker() {
    local owner pw_file passwd acl tmp password
    owner=$(mosquitto_owner)
    ensure_dir "$MOSQ_ETC" 0750 "${owner:+root:${owner#*:}}"
    put_file "$MOSQ_CONF_DIR/edge-agent.conf" 0644 < <(render "$SOURCE_DIR/deploy/mosquitto/edge-agent.conf.in")
    acl=$MOSQ_ETC/acl
    if [ ! -f "$acl" ]; then
        put_file "$acl" 0640 "$owner" < <(render "$SOURCE_DIR/deploy/mosquitto/acl.in")
    elif ! grep -q '^# BEGIN edge-agent daemon$' "$acl"; then
        put_file "$acl" 0640 "$owner" < <(
            render "$SOURCE_DIR/deploy/mosquitto/acl.in" | sed -n '/^# BEGIN edge-agent daemon$/,/^# END edge-agent daemon$/p'
            cat "$acl")
    else
        # An upgrade may grant the daemon new topics: refresh its block in place, keep the rest.
        put_file "$acl" 0640 "$owner" < <(
            awk -v block="$(render "$SOURCE_DIR/deploy/mosquitto/acl.in" | sed -n '/^# BEGIN edge-agent daemon$/,/^# END edge-agent daemon$/p')" \
                '/^# BEGIN edge-agent daemon$/ { print block; skip = 1; next }
                 /^# END edge-agent daemon$/ { skip = 0; next }
                 !skip' "$acl")
    fi
    # The daemon's broker password: generated once, kept across upgrades.
    ensure_dir "$ETC_DIR" 0755
    pw_file=$ETC_DIR/broker-password
    passwd=$MOSQ_ETC/passwd
    if [ -f "$pw_file" ] && [ -f "$passwd" ] && grep -q "^$DAEMON_USER:" "$passwd"; then
        :
    elif [ "$DRY_RUN" -eq 1 ]; then
        CHANGES=$((CHANGES + 1))
        say "would create broker credentials for user $DAEMON_USER ($pw_file, $passwd)"
    else
        CHANGES=$((CHANGES + 1))
        if [ -f "$pw_file" ]; then
            password=$(cat "$pw_file")
        else
            password=$(head -c 32 /dev/urandom | base64 | tr -d '/+=\n' | head -c 32)
            (umask 077; printf '%s' "$password" > "$pw_file")
        fi
        [ -f "$passwd" ] || (umask 077; : > "$passwd")
        mosquitto_passwd -b "$passwd" "$DAEMON_USER" "$password"
        say "broker credentials for user $DAEMON_USER"
    fi
    if [ "$DRY_RUN" -eq 0 ]; then
        chmod 0600 "$pw_file"
        chmod 0640 "$passwd" "$acl"
        [ -z "$owner" ] || chown "$owner" "$passwd" "$acl"
    fi
    put_file "$UNIT_DIR/mosquitto.service.d/edge-agent.conf" 0644 \
        < <(render "$SOURCE_DIR/deploy/mosquitto/mosquitto.service.d-edge-agent.conf.in")
    local main_conf
    main_conf=$(dirname "$MOSQ_CONF_DIR")/mosquitto.conf
    if [ -f "$main_conf" ] && ! grep -Eq "^[[:space:]]*include_dir[[:space:]]+$MOSQ_CONF_DIR/?[[:space:]]*$" "$main_conf"; then
        say "warning: $main_conf has no 'include_dir $MOSQ_CONF_DIR': mosquitto will not read edge-agent.conf"
    fi
    # mosquitto 2.0 refuses a second persistence_location ("Duplicate ... value"), and
    # edge-agent.conf moves the file to the tmpfs run dir: set Debian's line aside
    # (marked, so --uninstall puts it back).
    if [ -f "$main_conf" ] && grep -Eq '^[[:space:]]*persistence_location[[:space:]]' "$main_conf"; then
        CHANGES=$((CHANGES + 1))
        run sed -i -E "s|^([[:space:]]*persistence_location[[:space:]].*)$|$MOVED_MARK\\1|" "$main_conf"
        say "moved persistence_location of $main_conf to $MOSQ_CONF_DIR/edge-agent.conf (tmpfs)"
    fi
}

step_config() {
    ensure_dir "$ETC_DIR" 0755
    if [ -f "$ETC_DIR/config.toml" ]; then
        say "keeping $ETC_DIR/config.toml (never overwritten; the shipped default is config.toml.dist)"
    else
        put_file "$ETC_DIR/config.toml" 0644 < <(render "$SOURCE_DIR/deploy/config/config.toml.in")
    fi
    put_file "$ETC_DIR/config.toml.dist" 0644 < <(render "$SOURCE_DIR/deploy/config/config.toml.in")
}

step_unit() {
    local v dropins=$UNIT_DIR/edge-agent.service.d
    put_file "$UNIT_DIR/edge-agent.service" 0644 < <(render_unit)
    put_file "$dropins/memory.conf" 0644 < <(printf '%s\n' \
        "# Written by install.sh (--memory-high/--memory-max).  The elastic sizing reads" \
        "# this limit from the cgroup and picks model variants that fit under it." \
        "[Service]" "MemoryHigh=$MEMORY_HIGH" "MemoryMax=$MEMORY_MAX")
    for v in $KNOWN_VARIANTS; do
        if printf '%s\n' "${VARIANTS[@]+"${VARIANTS[@]}"}" | grep -qx "$v"; then
            put_file "$dropins/$v.conf" 0644 < "$SOURCE_DIR/systemd/dropins/$v.conf"
        else
            remove "$dropins/$v.conf"
        fi
    done
    ensure_dir "$PREFIX/share/doc" 0755
    put_file "$PREFIX/share/doc/systemd/README.md" 0644 < "$SOURCE_DIR/systemd/README.md"
    put_file "$PREFIX/.edge-agent-install" 0644 \
        < <(echo "edge-agent install marker: 'install.sh --uninstall' removes this prefix")
}

step_services() {
    if [ "$USE_SYSTEMD" -eq 1 ]; then
        run systemctl daemon-reload
        run systemctl enable mosquitto.service edge-agent.service
        run systemctl restart mosquitto.service
        run systemctl restart edge-agent.service
        say "edge-agent enabled and started: systemctl status edge-agent; journalctl -u edge-agent"
    else
        say "systemd is not running here (no /run/systemd/system) or was disabled: the unit is installed"
        say "in $UNIT_DIR but not enabled or started.  To run by hand:"
        say "  mosquitto -c $(dirname "$MOSQ_CONF_DIR")/mosquitto.conf -d"
        say "  $PREFIX/venv/bin/edge-agent run -c $ETC_DIR/config.toml"
    fi
}

do_install() {
    detect_os
    step_apt
    step_group
    step_package
    step_models
    step_broker
    step_config
    step_unit
    if [ "$DRY_RUN" -eq 1 ]; then
        say "dry run: $CHANGES change(s) would be made"
        return 0
    fi
    step_services
    say "install complete ($CHANGES change(s)); add sensors with: $PREFIX/venv/bin/edge-agent sensor add NAME"
}

do_uninstall() {
    if [ "$USE_SYSTEMD" -eq 1 ] && [ -f "$UNIT_DIR/edge-agent.service" ]; then
        run systemctl disable --now edge-agent.service || true
    fi
    remove "$UNIT_DIR/edge-agent.service" "$UNIT_DIR/edge-agent.service.d" \
        "$UNIT_DIR/mosquitto.service.d/edge-agent.conf" "$MOSQ_CONF_DIR/edge-agent.conf"
    if [ -d "$UNIT_DIR/mosquitto.service.d" ] && [ -z "$(ls -A "$UNIT_DIR/mosquitto.service.d")" ]; then
        remove "$UNIT_DIR/mosquitto.service.d"
    fi
    local main_conf
    main_conf=$(dirname "$MOSQ_CONF_DIR")/mosquitto.conf
    if [ -f "$main_conf" ] && grep -q "^$MOVED_MARK" "$main_conf"; then
        CHANGES=$((CHANGES + 1))
        run sed -i "s|^$MOVED_MARK||" "$main_conf"
        say "restored persistence_location in $main_conf"
    fi
    if [ -f "$PREFIX/.edge-agent-install" ]; then
        remove "$PREFIX"
    elif [ -e "$PREFIX" ]; then
        say "not removing $PREFIX: no install marker (.edge-agent-install) in it"
    fi
    if [ "$PURGE" -eq 1 ]; then
        remove "$ETC_DIR" "$MOSQ_ETC"
        if [ "$SKIP_GROUP" -eq 0 ] && getent group "$SOCKET_GROUP" > /dev/null; then
            CHANGES=$((CHANGES + 1))
            run groupdel "$SOCKET_GROUP"
        fi
    else
        say "kept $ETC_DIR and $MOSQ_ETC (config, credentials, sensor ACL): --purge removes them"
    fi
    if [ "$USE_SYSTEMD" -eq 1 ]; then
        run systemctl daemon-reload
        run systemctl try-restart mosquitto.service
        [ "$PURGE" -eq 0 ] || run systemctl clean --what=all edge-agent.service || true
    fi
    if [ "$DRY_RUN" -eq 1 ]; then say "dry run: $CHANGES change(s) would be made"; else say "uninstalled ($CHANGES change(s))"; fi
}

if [ "$UNINSTALL" -eq 1 ]; then do_uninstall; else do_install; fi
