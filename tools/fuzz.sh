#!/usr/bin/env bash
# Runs every Go fuzz target in the repository for FUZZTIME each.
#
# FUZZTIME is a go test -fuzztime value: a count ("200000x", what `make test`
# uses) or a duration ("10m", what `make fuzz` uses). A count has no wall-clock
# deadline, so it cannot hit Go 1.26's fuzz-coordinator race
# (go.dev/issue/75804): when a duration expires while a worker is mid-call,
# the coordinator reports a bare "context deadline exceeded" failure and
# writes no input. A duration run that fails only that way, with no failing
# input written and no panic, is retried once and then reported as a flake;
# every other failure fails the run.
set -u
FUZZTIME=${FUZZTIME:-200000x}
GO=${GO:-go}
# FUZZPAR: workers per target (go test -parallel; default GOMAXPROCS).
PAR=${FUZZPAR:+-parallel=$FUZZPAR}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

only_deadline_flake() {
	grep -q 'context deadline exceeded' "$log" &&
		! grep -qE 'Failing input written|panic:|seed corpus|fuzz_test.go:[0-9]+:|_test.go:[0-9]+:' "$log"
}

status=0
for d in $(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do
	for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$d"/*_test.go | sed 's/func //'); do
		for try in 1 2; do
			echo "== fuzz $d $f ($FUZZTIME, try $try)"
			if $GO test -run='^$' -fuzz="^$f\$" -fuzztime="$FUZZTIME" $PAR "$d" 2>&1 | tee "$log"; [ "${PIPESTATUS[0]}" = 0 ]; then
				break
			fi
			if [ "$try" = 1 ] && only_deadline_flake; then
				echo "== $f: bare 'context deadline exceeded' with no failing input (go.dev/issue/75804); retrying once"
				continue
			fi
			echo "== $f FAILED"
			status=1
			break
		done
	done
done
exit $status
