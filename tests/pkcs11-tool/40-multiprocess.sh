#!/usr/bin/env bash
# Several processes on one token at once: two writers (20 data objects each,
# distinct labels) while a reader lists objects; then every label is listed
# exactly once and reads back its own content; then two processes delete
# disjoint halves at the same time.
#
#   CRATON_SO=/abs/path/libcraton.so bash tests/pkcs11-tool/40-multiprocess.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/lib.sh"

N=20
LOGIN=(--login --pin "$USER_PIN")
mkdir -p "$WORK/in" "$WORK/out"

init_token t1

# writer PREFIX: writes PREFIX-1 .. PREFIX-N, each with its own content;
# records every failure in $WORK/PREFIX.failures.
writer() {
	local prefix=$1 i
	: >"$WORK/$prefix.failures"
	for i in $(seq 1 "$N"); do
		printf '%s object %d %s\n' "$prefix" "$i" "$RANDOM$RANDOM" >"$WORK/in/$prefix-$i"
		if ! p11 "${LOGIN[@]}" --write-object "$WORK/in/$prefix-$i" --type data --label "$prefix-$i" \
			>"$WORK/$prefix-$i.log" 2>&1; then
			echo "$prefix-$i: $(grep -v '^Using slot' "$WORK/$prefix-$i.log" | tr '\n' ' ')" >>"$WORK/$prefix.failures"
		fi
	done
}

# reader: lists objects (no login) while the writers run.
reader() {
	local i
	: >"$WORK/reader.failures"
	for i in $(seq 1 10); do
		if ! p11 -O --type data >"$WORK/reader-$i.log" 2>&1; then
			echo "listing $i: $(grep -v '^Using slot' "$WORK/reader-$i.log" | tr '\n' ' ')" >>"$WORK/reader.failures"
		fi
	done
}

# deleter PREFIX FROM TO: deletes PREFIX-FROM .. PREFIX-TO.
deleter() {
	local prefix=$1 i
	: >"$WORK/del-$prefix.failures"
	for i in $(seq "$2" "$3"); do
		if ! p11 "${LOGIN[@]}" --delete-object --type data --label "$prefix-$i" >"$WORK/del-$prefix-$i.log" 2>&1; then
			echo "$prefix-$i: $(grep -v '^Using slot' "$WORK/del-$prefix-$i.log" | tr '\n' ' ')" >>"$WORK/del-$prefix.failures"
		fi
	done
}

# count_label LABEL: how many listed objects carry exactly LABEL in $OUT.
count_label() {
	grep -c -x -F "  label:          '$1'" "$OUT" || true
}

echo "# two writers and a reader at the same time"
writer A &
pid_a=$!
writer B &
pid_b=$!
reader &
pid_r=$!
status_a=0 status_b=0 status_r=0
wait "$pid_a" || status_a=$?
wait "$pid_b" || status_b=$?
wait "$pid_r" || status_r=$?
for w in A B; do
	if [ -s "$WORK/$w.failures" ]; then
		fail "writer $w: all $N writes succeeded" "$(wc -l <"$WORK/$w.failures") failed"
		sed 's/^/    | /' "$WORK/$w.failures" | head -n 10
	else
		pass "writer $w: all $N writes succeeded"
	fi
done
assert_true "writers exited cleanly" test "$status_a" -eq 0 -a "$status_b" -eq 0
if [ -s "$WORK/reader.failures" ]; then
	fail "concurrent listings all succeeded"
	sed 's/^/    | /' "$WORK/reader.failures" | head -n 10
else
	pass "concurrent listings all succeeded"
fi
assert_true "reader exited cleanly" test "$status_r" -eq 0

echo "# every label exactly once (new process)"
check "-O after the writers" p11 -O --type data
bad=()
for w in A B; do
	for i in $(seq 1 "$N"); do
		c=$(count_label "$w-$i")
		[ "$c" -eq 1 ] || bad+=("$w-$i x$c")
	done
done
assert_true "all $((2 * N)) labels listed exactly once${bad[*]:+ (wrong: ${bad[*]})}" test "${#bad[@]}" -eq 0
assert_line_count "exactly $((2 * N)) data objects" "Data object " $((2 * N))

echo "# each object holds its own writer's content"
bad=()
for w in A B; do
	for i in 1 7 13 "$N"; do
		if ! p11 --read-object --type data --label "$w-$i" -o "$WORK/out/$w-$i" >/dev/null 2>&1 ||
			! cmp -s "$WORK/in/$w-$i" "$WORK/out/$w-$i"; then
			bad+=("$w-$i")
		fi
	done
done
assert_true "sampled objects read back byte-identical${bad[*]:+ (wrong: ${bad[*]})}" test "${#bad[@]}" -eq 0

echo "# two deleters at the same time (disjoint halves)"
half=$((N / 2))
deleter A 1 "$half" &
pid_a=$!
deleter B $((half + 1)) "$N" &
pid_b=$!
status_a=0 status_b=0
wait "$pid_a" || status_a=$?
wait "$pid_b" || status_b=$?
for w in A B; do
	if [ -s "$WORK/del-$w.failures" ]; then
		fail "deleter $w: all deletes succeeded" "$(wc -l <"$WORK/del-$w.failures") failed"
		sed 's/^/    | /' "$WORK/del-$w.failures" | head -n 10
	else
		pass "deleter $w: all deletes succeeded"
	fi
done
check "-O after the deleters" p11 -O --type data
bad=()
for i in $(seq 1 "$N"); do
	if [ "$i" -le "$half" ]; then want_a=0 want_b=1; else want_a=1 want_b=0; fi
	[ "$(count_label "A-$i")" -eq "$want_a" ] || bad+=("A-$i")
	[ "$(count_label "B-$i")" -eq "$want_b" ] || bad+=("B-$i")
done
assert_true "exactly the undeleted labels remain${bad[*]:+ (wrong: ${bad[*]})}" test "${#bad[@]}" -eq 0
assert_line_count "exactly $N data objects left" "Data object " "$N"

finish
