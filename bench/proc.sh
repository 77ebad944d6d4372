# bench/proc.sh - stopping the processes a benchmark started, sourced by the
# bench scripts (POSIX sh).

alive() { # pid: running, not a zombie waiting to be reaped
    [ -d "/proc/$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# SIGTERM, up to 10 s, then SIGKILL; returns 0 when SIGTERM was enough.
term_or_kill() { # pid
    tk_i=0
    kill -TERM "$1" 2>/dev/null || true
    while [ $tk_i -lt 100 ] && alive "$1"; do
        sleep 0.1
        tk_i=$((tk_i + 1))
    done
    alive "$1" || return 0
    kill -KILL "$1" 2>/dev/null || true
    return 1
}

stop_pid() { # pid: stop it and reap it
    term_or_kill "$1" || true
    wait "$1" 2>/dev/null || true
}
