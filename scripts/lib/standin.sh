# The CRM stand-in (tests/standin/standin.py): ActiveCampaign + Ontraport APIs on BASE+5. Sourced by stack.sh.

standin_running() { live_pid "$STANDIN_PID" standin.py >/dev/null; }

standin_healthy() { curl -sf -m 2 "http://127.0.0.1:$PORT_STANDIN/_control/health" >/dev/null; }

standin_start() {
    if standin_running; then say "stand-in: already running"; return 0; fi
    if [ ! -f "$STANDIN_SCRIPT" ]; then
        warn "tests/standin/standin.py does not exist yet: CRM stand-in NOT started (webhooks cannot reach a CRM)"
        return 0
    fi
    require_free_port "$PORT_STANDIN" "the CRM stand-in"
    mkdir -p "$STANDIN_DIR"
    step "stand-in: starting on 127.0.0.1:$PORT_STANDIN"
    # The inner shell records its own PID, then becomes python (exec keeps the PID).
    setsid bash -c 'echo $$ > "$1"; shift; exec "$@"' standin "$STANDIN_PID" \
        python3 "$STANDIN_SCRIPT" --host 127.0.0.1 --port "$PORT_STANDIN" --seed "$STANDIN_SEED" \
        </dev/null >>"$STANDIN_LOG" 2>&1 &
    if ! wait_until 15 standin_healthy; then
        show_log_tail "$STANDIN_LOG"
        die "the stand-in did not answer /_control/health within 15 s"
    fi
    say "stand-in: running (pid $(live_pid "$STANDIN_PID" standin.py))"
}

standin_stop() { stop_by_pidfile stand-in "$STANDIN_PID" standin.py 10; }
