# Common pieces of the Craton client conformance scripts.
#
# Sourced (never run) by tests/pkcs11-tool/NN-*.sh; it lives in lib/ so that
# the Makefile's `tests/pkcs11-tool/*.sh` glob matches only the tests.
#
#   CRATON_SO=/abs/path/libcraton.so bash tests/pkcs11-tool/10-token.sh
#
# What it gives a test script:
#   - a scratch directory $WORK (removed on exit; CRATON_TEST_KEEP=1 keeps it)
#     holding a fresh store ($STORE), a config file exported as CRATON_CONF
#     (kdf_iterations = 1000, max_failures = 3) and the module's log ($LOGFILE);
#   - p11 ARGS...        pkcs11-tool --module "$CRATON_SO" ARGS...
#   - run CMD...         runs CMD, stdout+stderr into $OUT (a file), status in $RC
#   - check NAME CMD...  run; passes when CMD exits 0
#   - expect_fail NAME CMD...  run; passes when CMD exits non-zero
#   - assertions on the last run's output ($OUT):
#       assert_contains NAME TEXT, assert_not_contains NAME TEXT,
#       assert_line_count NAME TEXT N (lines containing TEXT), assert_rv NAME CKR_X
#   - assert_same NAME FILE1 FILE2 (byte compare), assert_true NAME CMD...
#   - pass NAME / fail NAME WHY, skip NAME WHY, note TEXT
#   - finish: prints "NAME: N passed, M failed" and exits 1 if anything failed.
#   - init_token LABEL: --init-token with $SO_PIN, then --init-pin with $USER_PIN.
# Every pkcs11-tool / p11tool call runs under `timeout` ($P11_TIMEOUT s), so a
# hang in the module shows up as a failed check (status 124), not a stuck CI.

set -Eeuo pipefail

SO_PIN=12345678
USER_PIN=87654321
P11_TIMEOUT=${P11_TIMEOUT:-120}

TEST_NAME=$(basename "$0" .sh)

if [ -z "${CRATON_SO:-}" ]; then
	echo "$TEST_NAME: CRATON_SO is not set (absolute path of libcraton.so)" >&2
	exit 2
fi
case "$CRATON_SO" in
/*) ;;
*)
	echo "$TEST_NAME: CRATON_SO must be an absolute path, got '$CRATON_SO'" >&2
	exit 2
	;;
esac
if [ ! -f "$CRATON_SO" ]; then
	echo "$TEST_NAME: CRATON_SO=$CRATON_SO does not exist" >&2
	exit 2
fi
for tool in pkcs11-tool python3 timeout; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "$TEST_NAME: required tool '$tool' not found" >&2
		exit 2
	fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/craton-$TEST_NAME.XXXXXX")
STORE=$WORK/store
LOGFILE=$WORK/craton.log
OUT=$WORK/last-output
RC=0
PASSED=0
FAILED=0
FINISHED=0
FAILED_NAMES=()

# Servers a script starts in the background (openssl s_server,
# gnutls-serv): it adds their PIDs to SERVER_PIDS, and they are stopped at
# exit whatever happens.
SERVER_PIDS=()
# own_child PID: PID is still a child of this shell. (Once bash has reaped an
# exited child, its PID may belong to another process: never signal it.)
own_child() {
	[ "$(ps -o ppid= -p "$1" 2>/dev/null | tr -d ' ')" = "$$" ]
}
# stop_child PID: ends PID if it is still this shell's child, reaps it and
# drops it from SERVER_PIDS.
stop_child() {
	local p=$1 q keep=()
	if own_child "$p"; then kill "$p" 2>/dev/null || true; fi
	wait "$p" 2>/dev/null || true
	for q in "${SERVER_PIDS[@]}"; do
		if [ "$q" != "$p" ]; then keep+=("$q"); fi
	done
	SERVER_PIDS=("${keep[@]}")
}
# free_port: a TCP port free on the loopback interface now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

_lib_on_exit() {
	local rc=$? p
	# Stopping the servers must not trip set -e or the ERR trap.
	trap - ERR
	set +e
	for p in "${SERVER_PIDS[@]}"; do stop_child "$p"; done
	if [ "$FINISHED" != 1 ]; then
		# set -e (or an explicit exit) stopped the script before finish.
		echo "$TEST_NAME: aborted (status $rc) after $PASSED passed, $FAILED failed" >&2
		_lib_show_log
		[ "$rc" -eq 0 ] && rc=1
	fi
	if [ "${CRATON_TEST_KEEP:-0}" = 1 ]; then
		echo "$TEST_NAME: scratch directory kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap _lib_on_exit EXIT
trap 'echo "$TEST_NAME: command failed at line $LINENO: $BASH_COMMAND" >&2' ERR

# The environment overrides beat the config file; keep them from leaking in.
unset CRATON_STORE_PATH CRATON_LOG_LEVEL CRATON_LOG_FILE CRATON_FIPS_MODE
export CRATON_CONF=$WORK/craton.toml
cat >"$CRATON_CONF" <<EOF
[store]
path = "$STORE"

[pin]
kdf_iterations = 1000
max_failures = 3

[log]
level = "warn"
file = "$LOGFILE"
EOF

p11() {
	timeout "$P11_TIMEOUT" pkcs11-tool --module "$CRATON_SO" "$@"
}

# run CMD...: stdout and stderr of CMD go to $OUT, its status to $RC.
run() {
	if "$@" >"$OUT" 2>&1; then RC=0; else RC=$?; fi
}

_lib_show_output() {
	if [ -s "$OUT" ]; then
		echo "    --- output (status $RC) ---"
		head -n 60 "$OUT" | sed 's/^/    | /'
	else
		echo "    --- no output (status $RC) ---"
	fi
}

_lib_show_log() {
	if [ -s "$LOGFILE" ]; then
		echo "    --- last lines of $LOGFILE ---" >&2
		tail -n 20 "$LOGFILE" | sed 's/^/    | /' >&2
	fi
}

pass() {
	PASSED=$((PASSED + 1))
	echo "ok   - $1"
}

# fail NAME [WHY]
fail() {
	FAILED=$((FAILED + 1))
	FAILED_NAMES+=("$1")
	echo "FAIL - $1${2:+: $2}"
}

skip() {
	echo "skip - $1${2:+: $2}"
}

note() {
	echo "note - $*"
}

# check NAME CMD...: passes when CMD exits 0.
check() {
	local name=$1
	shift
	run "$@"
	if [ "$RC" -eq 0 ]; then
		pass "$name"
	else
		fail "$name" "exit status $RC from: $*"
		_lib_show_output
	fi
}

# expect_fail NAME CMD...: passes when CMD exits non-zero (but not on a
# timeout or a crash of the host: those are never the expected failure).
expect_fail() {
	local name=$1
	shift
	run "$@"
	if [ "$RC" -eq 0 ]; then
		fail "$name" "expected failure, got success from: $*"
		_lib_show_output
	elif [ "$RC" -eq 124 ] || [ "$RC" -ge 128 ]; then
		fail "$name" "status $RC (timeout or signal) from: $*"
		_lib_show_output
	else
		pass "$name"
	fi
}

# assert_contains NAME TEXT: the last output contains TEXT (fixed string).
assert_contains() {
	if grep -q -F -e "$2" "$OUT"; then
		pass "$1"
	else
		fail "$1" "output lacks '$2'"
		_lib_show_output
	fi
}

# assert_line NAME LINE: the last output has LINE as a whole line (so that
# "RSA" does not match "RSA-PSS").
assert_line() {
	if grep -q -x -F -e "$2" "$OUT"; then
		pass "$1"
	else
		fail "$1" "no line '$2'"
		_lib_show_output
	fi
}
assert_not_contains() {
	if grep -q -F -e "$2" "$OUT"; then
		fail "$1" "output contains '$2'"
		_lib_show_output
	else
		pass "$1"
	fi
}

# assert_line_count NAME TEXT N: exactly N lines of the last output contain TEXT.
assert_line_count() {
	local n
	n=$(grep -c -F -e "$2" "$OUT" || true)
	if [ "$n" -eq "$3" ]; then
		pass "$1"
	else
		fail "$1" "$n lines contain '$2', expected $3"
		_lib_show_output
	fi
}

# assert_rv NAME CKR_X: the last output reports rv = CKR_X (pkcs11-tool's wording).
assert_rv() {
	assert_contains "$1" "rv = $2 "
}

# assert_same NAME FILE1 FILE2: byte-identical files.
assert_same() {
	if [ ! -f "$2" ] || [ ! -f "$3" ]; then
		fail "$1" "missing file: $2 or $3"
	elif cmp -s "$2" "$3"; then
		pass "$1"
	else
		fail "$1" "$2 and $3 differ ($(wc -c <"$2") vs $(wc -c <"$3") bytes)"
	fi
}

# assert_true NAME CMD...: CMD (a test, not a client call) succeeds.
assert_true() {
	local name=$1
	shift
	if "$@"; then
		pass "$name"
	else
		fail "$name" "not true: $*"
	fi
}

# init_token LABEL: a fresh token with $SO_PIN and $USER_PIN.
init_token() {
	check "init token '$1'" p11 --init-token --label "$1" --so-pin "$SO_PIN"
	check "init user PIN of '$1'" p11 --init-pin --login --login-type so \
		--so-pin "$SO_PIN" --new-pin "$USER_PIN"
}

# files_containing DIR FILE: prints how many files under DIR (recursively,
# any kind of regular file: database, WAL, journal, ...) contain the raw
# bytes of FILE anywhere. Pure python: no text/locale games with binary.
files_containing() {
	python3 - "$1" "$2" <<'PY'
import os, sys
root, needle_file = sys.argv[1], sys.argv[2]
needle = open(needle_file, "rb").read()
assert needle, "empty needle"
hits = 0
for dirpath, _, names in os.walk(root):
    for n in names:
        p = os.path.join(dirpath, n)
        if not os.path.isfile(p):
            continue
        with open(p, "rb") as f:
            if needle in f.read():
                hits += 1
                print("found in " + p, file=sys.stderr)
print(hits)
PY
}

# random_bytes N FILE: N random bytes into FILE.
random_bytes() {
	python3 -c 'import os, sys; sys.stdout.buffer.write(os.urandom(int(sys.argv[1])))' "$1" >"$2"
}

finish() {
	FINISHED=1
	trap - ERR
	if [ "$FAILED" -ne 0 ]; then
		echo "failed checks:"
		printf '  - %s\n' "${FAILED_NAMES[@]}"
		_lib_show_log
	fi
	echo "$TEST_NAME: $PASSED passed, $FAILED failed"
	if [ "$FAILED" -ne 0 ]; then
		exit 1
	fi
	exit 0
}

# ---------------------------------------------------------------------------
# Helpers of the mechanism interop scripts (50-56).
#
#   need_tools TOOL...      exit 2 (not a pass) when a required tool is missing
#   hexof FILE              lowercase hex of FILE on one line
#   LOGIN                   array: pkcs11-tool's user login options
#   p11py CMD ARGS...       tools/p11.py (PyKCS11) on $CRATON_SO as the user;
#                           HAVE_PYKCS11=1 when a python3 with PyKCS11 exists
#                           ($PYKCS11_PYTHON)
#   go_tool NAME            builds tools/NAME (Go) once, prints the binary's path
#   assert_no_panic NAME    $LOGFILE has no "recovered panic" line
#   assert_verified NAME    the last output is OpenSSL's verification success
#   tamper IN OUT           OUT = IN with one bit of its middle byte flipped
#   spki_from_listing, pubkey_pem: public keys for openssl (below)

P11_TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../tools" && pwd)"
P11_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
LOGIN=(--login --pin "$USER_PIN")

need_tools() {
	local t
	for t in "$@"; do
		if ! command -v "$t" >/dev/null 2>&1; then
			echo "$TEST_NAME: required tool '$t' not found" >&2
			exit 2
		fi
	done
}

hexof() {
	od -An -v -tx1 "$1" | tr -d ' \n'
}

# PyKCS11 ships as Debian's python3-pykcs11, for /usr/bin/python3; the first
# python3 on PATH may be another interpreter without it.
PYKCS11_PYTHON=""
for _py in python3 /usr/bin/python3; do
	if command -v "$_py" >/dev/null 2>&1 && "$_py" -c 'import PyKCS11' >/dev/null 2>&1; then
		PYKCS11_PYTHON=$(command -v "$_py")
		break
	fi
done
unset _py
HAVE_PYKCS11=0
if [ -n "$PYKCS11_PYTHON" ]; then HAVE_PYKCS11=1; fi

p11py() {
	if [ -z "$PYKCS11_PYTHON" ]; then
		echo "p11py: no python3 with PyKCS11 (Debian: python3-pykcs11)" >&2
		return 2
	fi
	timeout "$P11_TIMEOUT" "$PYKCS11_PYTHON" "$P11_TOOLS_DIR/p11.py" "$CRATON_SO" "$USER_PIN" "$@"
}

go_tool() {
	local bin=$WORK/bin/$1 gobin
	if [ ! -x "$bin" ]; then
		gobin=$(command -v go || echo /usr/local/go/bin/go)
		mkdir -p "$WORK/bin"
		(cd "$P11_REPO_ROOT" && "$gobin" build -o "$bin" "./tests/pkcs11-tool/tools/$1") >&2 || return 1
	fi
	echo "$bin"
}

assert_no_panic() {
	if [ -f "$LOGFILE" ] && grep -q -F "recovered panic" "$LOGFILE"; then
		fail "$1" "$LOGFILE logs a recovered panic"
		grep -F -A3 "recovered panic" "$LOGFILE" | head -n 20 | sed 's/^/    | /'
	else
		pass "$1"
	fi
}

# openssl dgst -verify prints "Verified OK", openssl pkeyutl -verify
# "Signature Verified Successfully"; failures print "Verification failure"
# / "Signature Verification Failure".
assert_verified() {
	if grep -q -x -E 'Verified OK|Signature Verified Successfully' "$OUT"; then
		pass "$1"
	else
		fail "$1" "openssl did not verify"
		_lib_show_output
	fi
}

tamper() {
	python3 - "$1" "$2" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[len(b) // 2] ^= 0x01
open(sys.argv[2], "wb").write(bytes(b))
PY
}

# spki_from_listing LISTING OUT: a DER SubjectPublicKeyInfo in OUT for the EC
# public key whose "EC_POINT:" and "EC_PARAMS:" lines pkcs11-tool printed into
# the file LISTING (--keypairgen or -O output holding that one key). For what
# pkcs11-tool cannot export itself: OpenSC 0.23's --read-object fails on P-384
# public keys with "cannot create EVP_PKEY" (with SoftHSM2 too).
spki_from_listing() {
	python3 - "$1" "$2" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
point = bytes.fromhex(re.search(r"EC_POINT:\s+([0-9a-fA-F]+)", text).group(1))
params = bytes.fromhex(re.search(r"EC_PARAMS:\s+([0-9a-fA-F]+)", text).group(1))

def der(tag, body):
    n = len(body)
    if n < 0x80:
        head = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + head + body

def unwrap_octet_string(b):
    # CKA_EC_POINT is a DER OCTET STRING; accept a raw point too.
    if b[0] == 0x04 and len(b) > 2:
        n, off = b[1], 2
        if n & 0x80:
            k = n & 0x7F
            n, off = int.from_bytes(b[2:2 + k], "big"), 2 + k
        if off + n == len(b):
            return b[off:]
    return b

ec_public_key = bytes.fromhex("06072a8648ce3d0201")
spki = der(0x30, der(0x30, ec_public_key + params) + der(0x03, b"\x00" + unwrap_octet_string(point)))
open(sys.argv[2], "wb").write(spki)
PY
}

# pubkey_pem ID LISTING OUT: the public key with CKA_ID ID as PEM in OUT, for
# openssl. pkcs11-tool --read-object --type pubkey writes DER (PEM for
# Ed25519); when it fails with its P-384 bug ("cannot create EVP_PKEY"), the
# key is rebuilt from the EC_POINT/EC_PARAMS lines of LISTING (pkcs11-tool's
# output at generation) and a note says so.
pubkey_pem() {
	local raw=$WORK/.pub-$1.raw
	rm -f "$raw"
	if ! p11 --read-object --type pubkey --id "$1" -o "$raw" >"$WORK/.pub-$1.log" 2>&1; then
		if grep -q -F "cannot create EVP_PKEY" "$WORK/.pub-$1.log" && [ -n "$2" ]; then
			note "pubkey $1: OpenSC 0.23 cannot export it ('cannot create EVP_PKEY'); rebuilt from CKA_EC_POINT"
			spki_from_listing "$2" "$raw" || return 1
		else
			cat "$WORK/.pub-$1.log" >&2
			return 1
		fi
	fi
	openssl pkey -pubin -inform DER -in "$raw" -out "$3" 2>/dev/null ||
		openssl pkey -pubin -inform PEM -in "$raw" -out "$3"
}
