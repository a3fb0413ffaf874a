# shellcheck shell=bash
# Shell helpers shared by tools/sandbox-asterisk and tools/sandbox-pg.
#
# Sourced, never executed. Every helper is prefixed `lib_`; callers run with
# `set -euo pipefail`, so a helper that fails stops the tool unless the caller
# tests its status.

# The tool name used in messages; set by the sourcing script.
LIB_PROG=${LIB_PROG:-${0##*/}}

# apt-get update runs at most once per tool run, and only when something must
# be installed, so a machine that already has everything never touches the
# network.
LIB_APT_UPDATED=0

# lib_log MESSAGE...: print a progress message on stderr, keeping stdout for
# the single machine-readable result line that callers capture.
lib_log() {
    printf '%s: %s\n' "$LIB_PROG" "$*" >&2
}

# lib_die MESSAGE...: print an error on stderr and exit with status 1.
lib_die() {
    printf '%s: error: %s\n' "$LIB_PROG" "$*" >&2
    exit 1
}

# lib_need_root: the sandboxes create users' data directories, chroot and
# mount, all of which need root.
lib_need_root() {
    [ "$(id -u)" -eq 0 ] || lib_die "must run as root"
}

# lib_apt_install PACKAGE...: install Debian packages non-interactively.
lib_apt_install() {
    command -v apt-get >/dev/null || lib_die "apt-get not found; install $* by hand"
    if [ "$LIB_APT_UPDATED" -eq 0 ]; then
        lib_log "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        LIB_APT_UPDATED=1
    fi
    lib_log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# lib_now: the current time in seconds with a fraction, for timings.
lib_now() {
    printf '%s\n' "${EPOCHREALTIME:-$(date +%s.%N)}"
}

# lib_elapsed START: seconds elapsed since START (a lib_now value), rounded to
# tenths.
lib_elapsed() {
    awk -v a="$1" -v b="$(lib_now)" 'BEGIN { printf "%.1f\n", b - a }'
}

# lib_wait_until SECONDS COMMAND...: run COMMAND every 100 ms until it
# succeeds; return 1 if it still fails after SECONDS.
lib_wait_until() {
    local limit=$1 start
    shift
    start=$(lib_now)
    until "$@"; do
        if awk -v a="$start" -v b="$(lib_now)" -v l="$limit" 'BEGIN { exit !(b - a > l) }'; then
            return 1
        fi
        sleep 0.1
    done
}

# lib_check_port PORT: fail unless PORT is a TCP/UDP port number.
lib_check_port() {
    if ! [[ $1 =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ] || [ "$1" -gt 65535 ]; then
        lib_die "not a port number: $1"
    fi
}

# lib_port_busy PROTO PORT: succeed if something on this host listens on
# 127.0.0.1 or the wildcard address at PORT (PROTO is tcp or udp).
lib_port_busy() {
    local flag=-ltn
    [ "$1" = udp ] && flag=-lun
    ss -H "$flag" "sport = :$2" 2>/dev/null | grep -q .
}

# lib_pid_alive PID: succeed if PID names a live process (zombies excluded).
# A multi-threaded process whose main thread has exited shows that thread as
# a zombie while its other threads still run and still hold its sockets, so
# the process counts as alive while any of its threads is not a zombie.
lib_pid_alive() {
    local t state
    [ -n "$1" ] && [ -d "/proc/$1/task" ] || return 1
    for t in /proc/"$1"/task/*/stat; do
        state=$(awk '{ print $3 }' "$t" 2>/dev/null) || continue
        [ -n "$state" ] && [ "$state" != Z ] && return 0
    done
    return 1
}

# lib_urldecode STRING: decode %XX escapes, as found in the user and password
# parts of a libpq URI.
lib_urldecode() {
    printf '%b' "${1//%/\\x}"
}
