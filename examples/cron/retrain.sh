#!/usr/bin/env bash
# One `slmify retrain` cycle for cron: appends everything it prints to a log file and turns its exit
# code into what cron understands. Outcomes that are normal for a nightly job (promoted, nothing
# new, kept, busy) exit 0 and print nothing, so cron sends no mail; a real failure prints a short
# summary (cron mails a job's output) and exits with slmify's code. Exit codes: docs/cli.md.
#
# usage: retrain.sh [PIPELINE]        (default /srv/slmify/pipeline.yaml)
# env:   SLMIFY              the slmify binary (default: slmify on PATH)
#        SLMIFY_RETRAIN_LOG  the log file (default /var/log/slmify/retrain.log)
#        SLMIFY_ENV_FILE     KEY=VALUE lines loaded first, e.g. the data keys (default /etc/slmify/env)
set -u

pipeline=${1:-/srv/slmify/pipeline.yaml}
slmify=${SLMIFY:-slmify}
log=${SLMIFY_RETRAIN_LOG:-/var/log/slmify/retrain.log}
env_file=${SLMIFY_ENV_FILE:-/etc/slmify/env}

if [ -r "$env_file" ]; then
  set -a
  # shellcheck disable=SC1090
  . "$env_file"
  set +a
fi

stamp() { date -u +%Y-%m-%dT%H:%M:%SZ; }
mkdir -p "$(dirname "$log")" || exit 4
echo "$(stamp) start: $slmify retrain $pipeline (pid $$)" >>"$log" || exit 4

"$slmify" retrain "$pipeline" >>"$log" 2>&1
rc=$?

case $rc in
  0) outcome="promoted a new version" ;;
  5) outcome="nothing new to train on" ;;
  7) outcome="trained, but the serving version stays (no new adapter beat it)" ;;
  8) outcome="skipped: another slmify process holds the work directory" ;;
  *) outcome="FAILED" ;;
esac
echo "$(stamp) end: $outcome (exit $rc)" >>"$log"

case $rc in
  0 | 5 | 7 | 8) exit 0 ;;
esac
{
  echo "slmify retrain $pipeline FAILED with exit code $rc on $(hostname) (docs/cli.md); the last lines of $log:"
  tail -n 20 "$log"
} >&2
exit "$rc"
