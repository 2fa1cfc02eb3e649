# shellcheck shell=bash
#
# Helpers sourced by every mount test (tests/fs/*.test).
#
# A test sources this file, mounts jobfs with `jobfs_mount || bail_out ...`
# (not through check: a first mount that the machine forbids skips the
# whole test, which must print its plan itself), makes checks with
# check/check_fail/is/like/unlike (each prints one TAP line; a failure prints
# "# ..." diagnostics with the tail of the daemon log) and ends with
# done_testing. The plan ("1..N") is printed at exit, so a test does not
# count its checks; a script that stops before done_testing gets a final
# "not ok". Everything lives in one temporary directory, removed at exit
# after the mount is gone; a watchdog kills the daemon and the test if it
# runs longer than $JOBFS_TEST_TIMEOUT seconds, so a hung FUSE read cannot
# hang `make check`.
#
# Timing: the machine may be slow (2 cores, sanitizers, other tests in
# parallel). Conditions are polled every 0.1 s with generous deadlines;
# fixed sleeps are only used to let something that must NOT happen show up.
#
# Environment (set by `make check`; the defaults let a test run by hand
# from the source tree after scripts/build): JOBFS_BIN, JOBFS_TESTS,
# JOBFS_BUILD_TESTS, JOBFS_TOP. JOBFS_TEST_OPTS (default "poll=1") is added
# to every mount's -o list.

set -u
export LC_ALL=C
# Nothing may wait for a terminal (rm asks about read-only files on one).
exec </dev/null

JOBFS_TESTS=${JOBFS_TESTS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
JOBFS_TOP=${JOBFS_TOP:-$(dirname "$JOBFS_TESTS")}
JOBFS_BIN=${JOBFS_BIN:-$JOBFS_TOP/build/src/jobfs}
JOBFS_BUILD_TESTS=${JOBFS_BUILD_TESTS:-$(dirname "$(dirname "$JOBFS_BIN")")/tests}
JOBFS_TEST_OPTS=${JOBFS_TEST_OPTS-poll=1}
JOBFS_TEST_TIMEOUT=${JOBFS_TEST_TIMEOUT:-600}
export JOBFS_BIN JOBFS_TESTS JOBFS_BUILD_TESTS JOBFS_TOP

# shellcheck disable=SC2034 # for the tests
POLLWAIT=$JOBFS_BUILD_TESTS/fs/pollwait
TERMINAL_STATES="SUCCEEDED|FAILED|CANCELLED|LOST"
# shellcheck disable=SC2034 # for the tests
ALL_STATES="CANCELLED CANCELLING DEPLOYING FAILED LOST QUEUED RUNNING SUCCEEDED"

_tap_n=0
_tap_failed=0
_tap_done=0
_tap_closed=0
_watchdog_pid=""
JOBFS_PID=""

# ---------------------------------------------------------------- TAP

ok() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1"
}

not_ok() {
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_n - $1"
}

# diag TEXT...: each line of TEXT as a TAP comment.
diag() {
	printf '%s\n' "$*" | sed 's/^/# /'
}

# diag_text LABEL TEXT: LABEL, then TEXT indented (shows empty text too).
diag_text() {
	if [ -z "$2" ]; then
		diag "$1: (empty)"
		return
	fi
	diag "$1:"
	printf '%s\n' "$2" | sed 's/^/#   /'
}

# diag_daemon [LINES]: the tail of the daemon's log; and, the first time
# one shows up, the head of a sanitizer report (its stack traces are long
# gone from the tail).
_sanitizer_shown=0
diag_daemon() {
	[ -s "${DAEMON_LOG:-}" ] || return 0
	if [ "$_sanitizer_shown" -eq 0 ] &&
		grep -qE '^==[0-9]+==ERROR|runtime error:' "$DAEMON_LOG"; then
		_sanitizer_shown=1
		diag "sanitizer report in the daemon log:"
		grep -m 1 -A 40 -E '^==[0-9]+==ERROR|runtime error:' "$DAEMON_LOG" |
			sed 's/^/#   | /'
	fi
	diag "daemon log (last ${1:-25} lines):"
	tail -n "${1:-25}" "$DAEMON_LOG" | sed 's/^/#   | /'
}

# check DESC CMD...: passes when CMD exits 0; on failure shows CMD, its
# status and output, and the daemon log.
check() {
	local desc=$1 rc=0
	shift
	"$@" >"$TEST_TMP/check.out" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ]; then
		ok "$desc"
		return 0
	fi
	not_ok "$desc"
	diag "command: $*"
	diag "exit status: $rc"
	diag_text "output" "$(head -c 4000 "$TEST_TMP/check.out")"
	diag_daemon
	return 1
}

# check_fail DESC REGEX CMD...: passes when CMD fails (non-zero status) and
# its output (stdout and stderr) has a line matching the extended REGEX,
# e.g. "Permission denied" or "EINVAL".
check_fail() {
	local desc=$1 regex=$2 rc=0
	shift 2
	"$@" >"$TEST_TMP/check.out" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ] && grep -qE -- "$regex" "$TEST_TMP/check.out"; then
		ok "$desc"
		return 0
	fi
	not_ok "$desc"
	diag "command: $*"
	diag "exit status: $rc (wanted non-zero and output matching /$regex/)"
	diag_text "output" "$(head -c 4000 "$TEST_TMP/check.out")"
	diag_daemon
	return 1
}

# is GOT EXPECTED DESC
is() {
	if [ "$1" == "$2" ]; then
		ok "$3"
		return 0
	fi
	not_ok "$3"
	diag_text "got" "$1"
	diag_text "expected" "$2"
	diag_daemon
	return 1
}

# like TEXT REGEX DESC: some line of TEXT matches the extended REGEX.
like() {
	if printf '%s\n' "$1" | grep -qE -- "$2"; then
		ok "$3"
		return 0
	fi
	not_ok "$3"
	diag_text "got" "$1"
	diag "expected a line matching: $2"
	diag_daemon
	return 1
}

# unlike TEXT REGEX DESC: no line of TEXT matches the extended REGEX.
unlike() {
	if ! printf '%s\n' "$1" | grep -qE -- "$2"; then
		ok "$3"
		return 0
	fi
	not_ok "$3"
	diag_text "got" "$1"
	diag "expected no line matching: $2"
	diag_daemon
	return 1
}

# skip_all REASON: the whole test is skipped. Exit status 0, because
# automake's tap-driver.sh turns any other status into an ERROR; the
# "1..0 # SKIP" plan is what marks the test as skipped.
skip_all() {
	echo "1..0 # SKIP $1"
	_tap_closed=1
	exit 0
}

bail_out() {
	echo "Bail out! $1"
	diag_daemon 40
	_tap_closed=1 # no plan: the TAP stream ends here
	exit 1
}

# done_testing: the last line of every test.
done_testing() {
	_tap_done=1
	exit 0
}

# ---------------------------------------------------------------- setup

[ -e /dev/fuse ] || skip_all "/dev/fuse is missing"
if [ ! -r /dev/fuse ] || [ ! -w /dev/fuse ]; then
	skip_all "/dev/fuse is not usable"
fi
command -v python3 >/dev/null || bail_out "python3 is needed by the tests"
[ -x "$JOBFS_BIN" ] || bail_out "no jobfs binary at $JOBFS_BIN (build first)"

# Physical path: the daemon and /proc/self/mounts show no symlinks.
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/jobfs-test.XXXXXX") ||
	bail_out "cannot create a temporary directory"
TEST_TMP=$(cd "$TEST_TMP" && pwd -P)
MNT=$TEST_TMP/mnt
STATE=$TEST_TMP/state
WORK=$TEST_TMP/work
GATES=$TEST_TMP/gates
DAEMON_LOG=$TEST_TMP/daemon.log
mkdir -p "$MNT" "$STATE" "$WORK" "$GATES"
: >"$DAEMON_LOG"

# ---------------------------------------------------------------- processes

# pid_alive PID: running (a zombie counts as gone).
pid_alive() {
	local stat
	[ -n "$1" ] || return 1
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# wait_until SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
wait_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

pid_gone() {
	! pid_alive "$1"
}

# is_mounted [DIR]: DIR (default $MNT) is a mount point, even a dead one
# (a killed daemon leaves a mount whose stat fails with ENOTCONN).
is_mounted() {
	awk -v d="${1:-$MNT}" '$2 == d { found = 1 } END { exit !found }' \
		/proc/self/mounts
}

# daemon_alive: the daemon runs and the mount answers within 5 s.
daemon_alive() {
	pid_alive "$JOBFS_PID" || {
		echo "daemon (pid ${JOBFS_PID:-none}) is not running"
		return 1
	}
	timeout 5 ls "$MNT" >/dev/null || {
		echo "the mount did not answer ls within 5 s"
		return 1
	}
}

# jobfs_mount [OPTION...]: starts jobfs in the foreground (-f) in the
# background on $MNT with state=$STATE, $JOBFS_TEST_OPTS and each OPTION
# added to the -o list (e.g. jobfs_mount config=/x.json), and waits up to
# 10 s for the mount. The daemon's stdout and stderr go to $DAEMON_LOG.
jobfs_mount() {
	local opts="state=$STATE" o
	for o in $JOBFS_TEST_OPTS "$@"; do
		opts="$opts,$o"
	done
	echo "=== jobfs -f -o $opts $MNT" >>"$DAEMON_LOG"
	"$JOBFS_BIN" -f -o "$opts" "$MNT" </dev/null >>"$DAEMON_LOG" 2>&1 &
	JOBFS_PID=$!
	echo "$JOBFS_PID" >"$TEST_TMP/daemon.pid"
	local end=$((SECONDS + 10))
	until mountpoint -q "$MNT"; do
		if ! pid_alive "$JOBFS_PID"; then
			_mount_failed "jobfs exited before mounting"
			return 1
		fi
		if [ "$SECONDS" -ge "$end" ]; then
			_mount_failed "jobfs did not mount within 10 s"
			return 1
		fi
		sleep 0.1
	done
}

_mount_failed() {
	if [ "$_tap_n" -eq 0 ] &&
		grep -qE 'Operation not permitted|fuse: device not found' \
			"$DAEMON_LOG"; then
		skip_all "this machine does not allow FUSE mounts"
	fi
	echo "# $1"
}

# jobfs_unmount: unmounts (fusermount3 -u, else umount -l), waits up to
# 20 s for the daemon to exit (then kills it) and returns its exit status,
# so that `check "..." jobfs_unmount` catches sanitizer reports at exit.
jobfs_unmount() {
	local pid=$JOBFS_PID rc=0
	if is_mounted; then
		fusermount3 -u "$MNT" 2>/dev/null || umount "$MNT" 2>/dev/null ||
			umount -l "$MNT" || fusermount3 -uz "$MNT" || rc=1
	fi
	[ -n "$pid" ] || return "$rc"
	JOBFS_PID=""
	if ! wait_until 20 pid_gone "$pid"; then
		echo "jobfs (pid $pid) still running 20 s after unmount: killed"
		kill -TERM "$pid" 2>/dev/null
		wait_until 5 pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 1
	fi
	wait "$pid" 2>/dev/null || rc=$?
	[ "$rc" -eq 0 ] || echo "jobfs exited with status $rc"
	return "$rc"
}

# jobfs_kill9: kills the daemon with SIGKILL and lazily unmounts the dead
# mount; runs started by the daemon go on.
jobfs_kill9() {
	local pid=$JOBFS_PID
	[ -n "$pid" ] || return 1
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	JOBFS_PID=""
	umount -l "$MNT" 2>/dev/null || fusermount3 -uz "$MNT"
	wait_until 10 not_mounted
}

not_mounted() {
	! is_mounted "$@"
}

# ---------------------------------------------------------------- jobs

# rd FILE...: cat with a deadline; errors go to stdout, to be compared.
rd() {
	timeout "${RD_TIMEOUT:-15}" cat -- "$@" 2>&1
}

# wait_job NAME [SECONDS]: cat NAME/wait (default deadline 30 s).
wait_job() {
	timeout "${2:-30}" cat -- "$MNT/$1/wait" 2>&1
}

# wait_for_state NAME REGEX [SECONDS]: polls NAME/status until it matches
# ^(REGEX)$ (default 30 s); gives up early on a terminal state that does
# not match, since a run never leaves one.
wait_for_state() {
	local name=$1 want=$2 end=$((SECONDS + ${3:-30})) s=""
	while :; do
		s=$(timeout 5 cat "$MNT/$name/status" 2>&1)
		[[ $s =~ ^($want)$ ]] && return 0
		if [[ $s =~ ^($TERMINAL_STATES)$ ]]; then
			echo "$name ended $s, wanted $want"
			return 1
		fi
		if [ "$SECONDS" -ge "$end" ]; then
			echo "$name is '$s' after ${3:-30} s, wanted $want"
			return 1
		fi
		sleep 0.1
	done
}

# json_get FILE KEY[.KEY...]: a value of a JSON file, printed as JSON except
# that strings are printed bare (null, true, 3, "a" -> a).
json_get() {
	timeout 15 python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v if isinstance(v, str) else json.dumps(v))
' "$1" "$2" 2>&1
}

# fs_write PATH [DATA]: open(O_WRONLY|O_CREAT|O_TRUNC) as a shell
# redirection does, write DATA, close; prints "ok" or e.g. "EINVAL at close:
# Invalid argument" and fails. Unlike a shell, it sees close() errors.
fs_write() {
	timeout 30 python3 -c '
import errno, os, sys
data = sys.argv[2].encode() if len(sys.argv) > 2 else b""
step = "open"
try:
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    step = "write"
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:
        try:
            os.close(fd)
        except OSError:
            pass
        raise
    step = "close"
    os.close(fd)
except OSError as e:
    name = errno.errorcode.get(e.errno, str(e.errno))
    print("%s at %s: %s" % (name, step, e.strerror))
    sys.exit(1)
print("ok")
' "$@" 2>&1
}

# mkfile PATH CONTENT: writes CONTENT and a newline to PATH (outside the
# mount), creating its directory.
mkfile() {
	mkdir -p "$(dirname "$1")" && printf '%s\n' "$2" >"$1"
}

# deploy NAME CONFIG [BUNDLE...]: copies each BUNDLE file or directory into
# new/ (cp -r), then the config as new/NAME.json with cp, which reports a
# failing close(). Output: cp's errors.
deploy() {
	local name=$1 conf=$2 f
	shift 2
	for f in "$@"; do
		timeout 60 cp -r -- "$f" "$MNT/new/" || return 1
	done
	mkfile "$WORK/cfg/$name.json" "$conf" || return 1
	timeout 60 cp -- "$WORK/cfg/$name.json" "$MNT/new/$name.json"
}

# gate_sh GATE [COMMANDS]: sh code that waits until the file GATE exists
# (at most 120 s, and no longer than the test's directory), then runs
# COMMANDS. Lets a test decide when a run ends instead of guessing with
# sleep. Open a gate with: touch GATE.
# shellcheck disable=SC2016 # $i is for sh, not for this shell
gate_sh() {
	printf 'i=0\nwhile [ ! -e %s ] && [ -d %s ] && [ "$i" -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done\n%s\n' \
		"'$1'" "'$GATES'" "${2:-}"
}

# gated_job NAME [COMMANDS] [CONFIG]: deploys NAME.sh waiting for the gate
# $GATES/NAME, then running COMMANDS; waits until it is RUNNING.
gated_job() {
	local conf='{}'
	[ -z "${3:-}" ] || conf=$3
	mkfile "$WORK/src/$1.sh" "$(gate_sh "$GATES/$1" "${2:-}")" &&
		deploy "$1" "$conf" "$WORK/src/$1.sh" &&
		wait_for_state "$1" RUNNING
}

open_gate() {
	touch "$GATES/$1"
}

# ---------------------------------------------------------------- cleanup

# Cancels runs still active, so that no job outlives its test.
_cancel_active() {
	local d s
	for d in "$MNT"/*/; do
		[ -f "$d/cancel" ] || continue
		s=$(timeout 5 cat "$d/status" 2>/dev/null) || continue
		case $s in
		DEPLOYING | QUEUED | RUNNING)
			# shellcheck disable=SC2016 # $1 is for sh
			timeout 5 sh -c 'echo test-cleanup >"$1"' _ "$d/cancel" \
				2>/dev/null
			;;
		esac
	done
}

# Releases everything the test made: background commands (by pid), active
# runs, the mount, the daemon, the watchdog and the temporary directory.
_release() {
	local pid
	[ -z "$_watchdog_pid" ] || kill "$_watchdog_pid" 2>/dev/null
	for pid in $(jobs -p); do
		[ "$pid" = "$JOBFS_PID" ] || [ "$pid" = "$_watchdog_pid" ] ||
			kill -KILL "$pid" 2>/dev/null
	done
	if pid_alive "$JOBFS_PID"; then
		_cancel_active
		jobfs_unmount >/dev/null 2>&1
	elif is_mounted; then
		umount -l "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null
	fi
	if is_mounted; then
		echo "# $MNT is still mounted: $TEST_TMP left in place"
	else
		rm -rf --one-file-system "$TEST_TMP" 2>/dev/null
	fi
}

_cleanup() {
	local status=$?
	trap - EXIT
	if [ "$_tap_closed" -eq 0 ] && [ "$_tap_done" -ne 1 ]; then
		not_ok "test script ended before done_testing (status $status)"
		diag_daemon 40
	fi
	_release
	[ "$_tap_closed" -eq 0 ] || exit "$status"
	echo "1..$_tap_n"
	[ "$_tap_failed" -eq 0 ] && [ "$_tap_done" -eq 1 ] && exit 0
	exit 1
}

trap _cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# The watchdog: past the deadline, kill the daemon (which makes every
# blocked FUSE call fail) and then the test, whose exit trap reports it.
(
	end=$((SECONDS + JOBFS_TEST_TIMEOUT))
	while [ "$SECONDS" -lt "$end" ]; do
		sleep 1 >/dev/null 2>&1
		kill -0 $$ 2>/dev/null || exit 0
	done
	echo "# watchdog: test still running after $JOBFS_TEST_TIMEOUT s"
	pid=$(cat "$TEST_TMP/daemon.pid" 2>/dev/null)
	[ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null
	kill -TERM $$
	# The shell runs its trap once its foreground command ends: end the
	# test's own commands (its children, this watchdog aside).
	sleep 2 >/dev/null 2>&1
	for pid in $(ps -o pid= --ppid $$ 2>/dev/null); do
		[ "$pid" = "$BASHPID" ] || kill -TERM "$pid" 2>/dev/null
	done
) &
_watchdog_pid=$!
