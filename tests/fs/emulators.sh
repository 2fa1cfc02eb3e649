# shellcheck shell=bash
#
# Helpers of the mount tests that run a platform against its emulator in
# tests/emulators/ (livy, synapse, spark) and of those against a real
# service (slurm). Source it after lib.sh:
#
#   . "$JOBFS_TESTS/fs/emulators.sh"
#
# An emulator is started with start_emulator, which sets NAME_URL and
# NAME_PID; `emu` and the helpers built on it talk to the one in $EMU
# (with the headers in the array EMU_HEADERS), through the control
# endpoints every emulator has (tests/emulators/emulator.py): counters
# (emu_count, emu_reset_stats), settings (emu_config) and the fault switch
# (faults; its kinds act before the emulator acted, or after: after_drop,
# after_500, ...). The rest are checks the tests share: a config error
# before the mount, stale reads while the platform is stopped, 1000 reads
# of a status, secrets found nowhere.

EMULATORS=$JOBFS_TESTS/emulators
EMU=""
EMU_HEADERS=()
_emulator_pids=()

# ---------------------------------------------------------------- emulators

# start_emulator NAME [ARG...]: starts emulators/NAME.py --port 0 ARG...
# in the background and waits up to 10 s for its port; sets ${NAME^^}_URL
# (http://127.0.0.1:PORT) and ${NAME^^}_PID. Bails out if it does not start.
start_emulator() {
	local name=$1 var
	shift
	var=${name^^}
	python3 "$EMULATORS/$name.py" --port 0 "$@" >"$TEST_TMP/$name.out" \
		2>"$TEST_TMP/$name.err" &
	printf -v "${var}_PID" '%s' "$!"
	_emulator_pids+=("$!")
	wait_until 10 test -s "$TEST_TMP/$name.out" ||
		bail_out "$name.py did not start: $(cat "$TEST_TMP/$name.err")"
	printf -v "${var}_URL" 'http://127.0.0.1:%s' \
		"$(head -n 1 "$TEST_TMP/$name.out")"
}

# stop_emulators: stops every emulator start_emulator started (woken
# first: one may be stopped with SIGSTOP).
stop_emulators() {
	local pid
	for pid in "${_emulator_pids[@]}"; do
		kill -CONT "$pid" 2>/dev/null
		kill "$pid" 2>/dev/null
	done
	_emulator_pids=()
}

# emu METHOD PATH [BODY]: one request to the emulator at $EMU, with the
# headers of EMU_HEADERS ("Name: value" each); prints the body, or on an
# HTTP error the status and the body, and fails.
emu() {
	timeout 30 python3 -c '
import sys, urllib.error, urllib.request
n = int(sys.argv[2])
method, path = sys.argv[3], sys.argv[4]
body = sys.argv[5].encode() if n > 2 else None
req = urllib.request.Request(sys.argv[1] + path, data=body, method=method)
for h in sys.argv[3 + n:]:
    name, _, value = h.partition(":")
    req.add_header(name.strip(), value.strip())
try:
    print(urllib.request.urlopen(req, timeout=25).read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
    sys.exit(1)
' "$EMU" "$#" "$@" "${EMU_HEADERS[@]}"
}

# emu_count REGEX: the requests counted under the keys ("METHOD /template")
# that REGEX matches whole, summed.
emu_count() {
	emu GET /_emulator/stats | python3 -c '
import json, re, sys
print(sum(n for k, n in json.load(sys.stdin).items()
          if re.fullmatch(sys.argv[1], k)))' "$1"
}

emu_reset_stats() {
	emu DELETE /_emulator/stats >/dev/null
}

# emu_config JSON: the emulator's settings (POST /_emulator/config).
emu_config() {
	emu POST /_emulator/config "$1" >/dev/null
}

# faults JSON: the fault switch (POST /_emulator/faults); faults '{}'
# switches every fault off.
faults() {
	emu POST /_emulator/faults "$1" >/dev/null
}

# emu_named WHAT FIELD JOB: how many records of GET /_emulator/WHAT have a
# FIELD that is a run key of JOB ("JOB.").
emu_named() {
	emu GET "/_emulator/$1" | python3 -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin)
          if (r[sys.argv[1]] or "").startswith(sys.argv[2] + ".")))' "$2" "$3"
}

# emu_newest WHAT FIELD JOB KEY[.KEY]: a value of the newest record of
# GET /_emulator/WHAT whose FIELD is a run key of JOB (null if none); strings
# bare, anything else as JSON with sorted keys.
emu_newest() {
	emu GET "/_emulator/$1" | python3 -c '
import json, sys
rs = [r for r in json.load(sys.stdin)
      if (r[sys.argv[1]] or "").startswith(sys.argv[2] + ".")]
v = rs[-1] if rs else None
for k in sys.argv[3].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print(v if isinstance(v, str) else json.dumps(v, sort_keys=True))' "$2" "$3" "$4"
}

# batches_named JOB: batches livy.py ever created for runs of JOB.
batches_named() {
	emu_named batches name "$1"
}

# batch_of JOB KEY: a field of the request of the newest batch of JOB.
batch_of() {
	emu_newest batches name "$1" "request.$2"
}

# ---------------------------------------------------------------- set-up

# secret_file NAME VALUE: writes VALUE to $TEST_TMP/NAME, mode 600.
secret_file() {
	printf '%s\n' "$2" >"$TEST_TMP/$1" && chmod 600 "$TEST_TMP/$1"
}

# use_shared_dir: makes $SHARED and sets ARTIFACTS, the JSON of a
# shared_dir artifact store on it.
use_shared_dir() {
	SHARED=$TEST_TMP/shared
	mkdir -p "$SHARED"
	# shellcheck disable=SC2034 # for the tests
	ARTIFACTS='{"kind": "shared_dir", "path": "'$SHARED'", "url": "file://'$SHARED'"}'
}

# try_bad_config SED: runs jobfs on a second mount point with
# $TEST_TMP/config.json edited by the sed expression SED; sets BAD_RC and
# leaves its output in $TEST_TMP/bad.out. Run it before the first mount,
# check with check_bad_config after it.
try_bad_config() {
	sed "$1" "$TEST_TMP/config.json" >"$TEST_TMP/bad.json"
	mkdir -p "$TEST_TMP/mnt2"
	timeout 20 "$JOBFS_BIN" -f \
		-o "config=$TEST_TMP/bad.json,state=$TEST_TMP/state2" \
		"$TEST_TMP/mnt2" >"$TEST_TMP/bad.out" 2>&1
	BAD_RC=$?
	if mountpoint -q "$TEST_TMP/mnt2"; then
		fusermount3 -u "$TEST_TMP/mnt2"
	fi
}

# check_bad_config REGEX: the jobfs of try_bad_config exited non-zero
# (not by the timeout) with a message matching REGEX.
check_bad_config() {
	check "unknown platform field: jobfs exits non-zero" \
		test "$BAD_RC" -ne 0 -a "$BAD_RC" -ne 124
	like "$(cat "$TEST_TMP/bad.out")" "$1" \
		"unknown platform field: the message names it"
}

# ---------------------------------------------------------------- jobs

# deploy_echo NAME JSON: deploys NAME with echo, no bundle.
# shellcheck disable=SC2317 # called through check
deploy_echo() {
	# shellcheck disable=SC2016 # $1 and $2 are for bash -c
	timeout 30 bash -c 'echo "$2" >"$1"' _ "$MNT/new/$1.json" "$2"
}

# cancel_job NAME: echo stop > NAME/cancel.
# shellcheck disable=SC2317 # called through check
cancel_job() {
	# shellcheck disable=SC2016 # $1 is for sh
	timeout 30 sh -c 'echo stop >"$1"' _ "$MNT/$1/cancel"
}

# state_is NAME STATE: NAME/status (NAME may be JOB/runs/N) is STATE.
# shellcheck disable=SC2317 # called through wait_until
state_is() {
	[ "$(timeout 5 cat "$MNT/$1/status" 2>/dev/null)" = "$2" ]
}

# not_stale NAME: NAME/status.json says the state is fresh.
# shellcheck disable=SC2317 # called through wait_until
not_stale() {
	[ "$(json_get "$MNT/$1/status.json" stale)" = false ]
}

# ---------------------------------------------------------------- checks

# check_stale_read NAME PID MAX_MS [AGE [FRESH]]: with the platform's
# process PID stopped (SIGSTOP) for AGE s (default 3: older than the ttl),
# a read of NAME/status serves the cached RUNNING within MAX_MS, marked
# stale; once PID runs again, NAME is fresh within FRESH s (default 30).
check_stale_read() {
	local name=$1 pid=$2 max=$3 start s ms
	kill -STOP "$pid"
	sleep "${4:-3}"
	start=$(date +%s%N)
	s=$(rd "$MNT/$name/status")
	ms=$((($(date +%s%N) - start) / 1000000))
	is "$s" RUNNING "platform down: cat status serves the cached state"
	check "platform down: within 2 x timeout (took $ms ms)" \
		test "$ms" -lt "$max"
	is "$(json_get "$MNT/$name/status.json" stale)" true \
		"platform down: stale"
	kill -CONT "$pid"
	check "platform back: not stale" wait_until "${5:-30}" not_stale "$name"
}

# stat_of PLATFORM KEY: the value of KEY in platforms/PLATFORM/stats.
stat_of() {
	rd "$MNT/platforms/$1/stats" | awk -v k="$2" '$1 == k { print $2 }'
}

# health_is PLATFORM STATE: platforms/PLATFORM/health starts with STATE.
# shellcheck disable=SC2317 # called through wait_until
health_is() {
	[[ $(rd "$MNT/platforms/$1/health") == "$2 "* ]]
}

# check_dead_platform PLATFORM PID: with one run active on PLATFORM and
# nobody reading it (only the poller asks, for that one run), the
# platform's process PID is killed; platforms/PLATFORM/health is DOWN
# within 30 s, after at most 3 failed requests (the breaker's count).
check_dead_platform() {
	local before after
	before=$(stat_of "$1" errors)
	kill -9 "$2"
	check "platform dead: health DOWN with one active run" \
		wait_until 30 health_is "$1" DOWN
	after=$(stat_of "$1" errors)
	check "platform dead: DOWN after $((after - before)) failed requests" \
		test $((after - before)) -ge 1 -a $((after - before)) -le 3
	like "$(rd "$MNT/platforms/$1/health")" \
		'^DOWN since .*: .*(onnect|refused)' \
		"platform dead: health says why"
}

# read_burst FILE: 50 readers read FILE 20 times each, at once.
read_burst() {
	local readers="" _i
	for _i in $(seq 1 50); do
		(for _ in $(seq 1 20); do cat "$1" >/dev/null; done) &
		readers="$readers $!"
	done
	# shellcheck disable=SC2086 # one pid per word
	wait $readers
}

# no_secret_in_mount SECRET WHAT [SECONDS]: no file of the mount (wait
# aside: it blocks) holds SECRET; grep given SECONDS (default 60).
no_secret_in_mount() {
	unlike "$(timeout "${3:-60}" grep -rlsF --exclude=wait -- "$1" "$MNT")" . \
		"no $2 in the mount"
}

# no_secret_in_state SECRET WHAT [LABEL DIR]...: neither the state dir nor
# the daemon log (nor each DIR, named LABEL) holds SECRET.
no_secret_in_state() {
	local secret=$1 desc="the state dir" dirs=("$STATE" "$DAEMON_LOG")
	local what=$2
	shift 2
	while [ $# -ge 2 ]; do
		desc="$desc, $1"
		dirs+=("$2")
		shift 2
	done
	unlike "$(grep -rlaF -- "$secret" "${dirs[@]}" 2>/dev/null)" . \
		"no $what in $desc or the daemon log"
}

# no_secret SECRET WHAT: no_secret_in_mount and no_secret_in_state.
no_secret() {
	no_secret_in_mount "$1" "$2"
	no_secret_in_state "$1" "$2"
}

# ---------------------------------------------------------------- livy.py

# check_fault_jobs PLATFORM URL: with faults switched on, 20 jobs on
# PLATFORM, whose conf.file is URL with I.py appended: every 4th fails
# ("--fail=bad I"), the others print "args: --out=I"; all end as they
# should, each with exactly one batch.
check_fault_jobs() {
	local i args want got bad="" dups="" n
	for i in $(seq 1 20); do
		case $((i % 4)) in
		0) args='"--fail=bad '$i'"' ;;
		*) args='"--out='$i'"' ;;
		esac
		fs_write "$MNT/new/f$i.json" '{"platform": "'"$1"'", "args": ['"$args"'],
	  "conf": {"file": "'"$2$i"'.py"}}' >/dev/null
	done
	for i in $(seq 1 20); do
		case $((i % 4)) in
		0) want=FAILED ;;
		*) want=SUCCEEDED ;;
		esac
		got=$(wait_job "f$i" 120)
		[ "$got" = "$want" ] || bad="$bad f$i=$got(want $want)"
	done
	is "$bad" "" "faults: all 20 jobs reached their final state"
	for i in $(seq 1 20); do
		n=$(batches_named "f$i")
		[ "$n" = 1 ] || dups="$dups f$i:$n"
	done
	is "$dups" "" "faults: exactly one batch per job"
}

# check_crash_in_create PLATFORM FILE WHERE: jobfs killed while the create
# of a batch (of conf.file FILE) that reached WHERE waits for its answer;
# after a remount the run is found and ends SUCCEEDED, with one batch.
check_crash_in_create() {
	emu_config '{"post_delay": 3}'
	check "deploy crash" deploy_echo crash \
		'{"platform": "'"$1"'", "args": ["--out=crash"], "conf": {"file": "'"$2"'"}}'
	check "crash: the create reached $3" wait_until 30 \
		test "$(batches_named crash)" -eq 1
	check "kill -9 jobfs while the create waits for its answer" jobfs_kill9
	emu_config '{"post_delay": 0}'
	check "remount after kill -9" jobfs_mount "config=$TEST_TMP/config.json"
	is "$(wait_job crash 60)" SUCCEEDED \
		"crash: the run is found and ends SUCCEEDED"
	sleep 2
	is "$(batches_named crash)" 1 "crash: one batch, never two"
}
