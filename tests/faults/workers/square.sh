#!/bin/sh
# A pmap worker in POSIX shell (docs/worker-protocol.md): squares integer items. It proves the
# protocol is language-neutral, and it misbehaves on request, for the fault tests:
#   --arg error_on=N    answers "error" for item N (a function error: the worker goes on)
#   --arg crash_on=N    kills itself with SIGSEGV at item N
#   --arg garbage_on=N  writes a line the protocol does not allow at item N
#   --arg hang_on=N     sleeps 3141 s (in a child process of its group) at item N
#   --arg pid_dir=DIR   writes its pid into DIR when it starts
#   --arg env_file=F    writes its environment into F when it starts
tab=$(printf '\t')
error_on= crash_on= garbage_on= hang_on= pid_dir= env_file=
# The header: "pmap-worker 1", "columns ...", "arg NAME VALUE"..., "items KIND", "end".
while IFS="$tab" read -r kind name value; do
  case $kind in
    pmap-worker) [ "$name" = 1 ] || { echo "protocol $name not spoken here" >&2; exit 2; } ;;
    arg)
      case $name in
        error_on) error_on=$value ;;
        crash_on) crash_on=$value ;;
        garbage_on) garbage_on=$value ;;
        hang_on) hang_on=$value ;;
        pid_dir) pid_dir=$value ;;
        env_file) env_file=$value ;;
      esac ;;
    end) break ;;
  esac
done
[ -n "$pid_dir" ] && echo $$ > "$pid_dir/worker.$$"
[ -n "$env_file" ] && env > "$env_file"
printf 'pmap-worker\t1\n'
# One answer per item, in order; printf is a builtin: every line leaves at once.
while IFS="$tab" read -r kind row item; do
  [ "$kind" = item ] || continue
  case $item in
    "$error_on") printf 'error\t%s\titem %s is not welcome\n' "$row" "$item" ;;
    "$crash_on") kill -SEGV $$ ;;
    "$garbage_on") echo "this is not the protocol" ;;
    "$hang_on") sleep 3141 ;;
    *[!0-9-]* | '') printf 'error\t%s\tnot an integer: %s\n' "$row" "$item" ;;
    *) printf 'ok\t%s\t%s\n' "$row" "$((item * item))" ;;
  esac
done
