# run_bench_file NAME FILE RESULTS_FILE OUTPUT_FILE: runs one benchmark file (node --import tsx FILE) within
# BENCH_TIMEOUT_S (default 300) seconds, its output (stdout and stderr) shown as it comes and kept in
# OUTPUT_FILE. When it fails or passes its time limit, says which and prints the last BENCH_TAIL_LINES
# (default 40) lines of that output again: a benchmark cut off mid-run, or whose error scrolled away under a
# long run, otherwise shows only "failed". Returns 0 when the file passed, 1 otherwise. Needs lib.sh (log).
run_bench_file() {
  local name="$1" file="$2" results="$3" output="$4"
  local limit="${BENCH_TIMEOUT_S:-300}" lines="${BENCH_TAIL_LINES:-40}" rc fd tee_pid why
  # The output goes through tee in a process substitution rather than a pipe: a process the benchmark left
  # behind that still holds the pipe cannot hold up the run (we wait for tee at most 5 s below).
  exec {fd}> >(tee "$output")
  tee_pid=$!
  BENCH_RESULTS_FILE="$results" timeout --kill-after=10 "$limit" node --import tsx "$file" >&"$fd" 2>&1 && rc=0 || rc=$?
  exec {fd}>&-
  for _ in $(seq 50); do kill -0 "$tee_pid" 2>/dev/null || break; sleep 0.1; done
  [ "$rc" = 0 ] && return 0
  case "$rc" in
    124) why="timed out after ${limit} s (BENCH_TIMEOUT_S)" ;;
    137) why="killed after ${limit} s + 10 s (it did not stop on SIGTERM)" ;;
    *) why="exit status $rc" ;;
  esac
  if [ -s "$output" ]; then
    log "bench $name failed: $why; the last $lines lines of its output:"
    tail -n "$lines" "$output" | sed 's/^/  | /' >&2
  else
    log "bench $name failed: $why; it printed nothing"
  fi
  return 1
}
