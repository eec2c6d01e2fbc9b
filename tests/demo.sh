#!/usr/bin/env bash
# Craton's main job, end to end, with pkcs11-tool on a scratch store:
#
#   make demo            (= bash tests/demo.sh /abs/path/libcraton.so)
#
# Uses the built-in defaults (no config file) except the store directory,
# given by CRATON_STORE_PATH; PIN key derivation therefore runs at the default
# 600,000 PBKDF2 iterations, about 0.3 s per login.
set -euo pipefail

SO=${1:-}
if [ -z "$SO" ]; then
	echo "usage: $0 /absolute/path/libcraton.so" >&2
	exit 2
fi
case "$SO" in
/*) ;;
*) SO=$(cd "$(dirname "$SO")" && pwd)/$(basename "$SO") ;;
esac
if [ ! -f "$SO" ]; then
	echo "demo: $SO does not exist (run 'make build' first)" >&2
	exit 2
fi
for tool in pkcs11-tool openssl cmp; do
	command -v "$tool" >/dev/null || { echo "demo: $tool is not installed" >&2; exit 2; }
done

DEMO=$(mktemp -d "${TMPDIR:-/tmp}/craton-demo.XXXXXX")
trap 'rm -rf "$DEMO"' EXIT
STEP=0
trap 'echo; echo "demo: FAILED at step $STEP (line $LINENO: $BASH_COMMAND)" >&2' ERR

# Built-in defaults; only the store is redirected. XDG_CONFIG_HOME points at
# an empty directory so that a per-user craton.toml cannot change the demo.
unset CRATON_CONF CRATON_LOG_LEVEL CRATON_LOG_FILE CRATON_FIPS_MODE
export CRATON_STORE_PATH=$DEMO/store
export XDG_CONFIG_HOME=$DEMO/config

SO_PIN=12345678
USER_PIN=87654321
NEW_PIN=24681357

step() {
	STEP=$((STEP + 1))
	echo
	echo "== $STEP. $*"
}
# show CMD...: print the command, then run it with its output indented.
show() {
	if [ "$1" = p11 ]; then
		echo "\$ pkcs11-tool --module $SO ${*:2}"
	else
		echo "\$ $*"
	fi
	"$@" 2>&1 | sed 's/^/    /'
	return "${PIPESTATUS[0]}"
}
p11() {
	pkcs11-tool --module "$SO" "$@"
}
die() {
	echo "demo: FAILED at step $STEP: $*" >&2
	exit 1
}
# expect OUTFILE TEXT: OUTFILE must contain TEXT.
expect() {
	grep -q -F -e "$2" "$1" || die "expected '$2' in the output"
}

echo "Craton demo: module $SO"
echo "             store  $CRATON_STORE_PATH (default configuration otherwise)"

step "List the slots: one uninitialised slot"
show p11 -L | tee "$DEMO/out"
expect "$DEMO/out" "Craton slot 0"
expect "$DEMO/out" "uninitialized"

step "Initialise the token 'craton-demo' with the SO PIN"
show p11 --init-token --label craton-demo --so-pin "$SO_PIN"

step "The SO sets the user PIN"
show p11 --init-pin --login --login-type so --so-pin "$SO_PIN" --new-pin "$USER_PIN"

step "Token information"
show p11 -T | tee "$DEMO/out"
expect "$DEMO/out" "token label        : craton-demo"
expect "$DEMO/out" "token manufacturer : Craton"
expect "$DEMO/out" "PIN initialized"

step "Log in and write a data object"
printf 'Hello from the Craton demo, %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$DEMO/hello.txt"
show p11 --login --pin "$USER_PIN" --write-object "$DEMO/hello.txt" --type data --label hello

step "Make a self-signed P-256 certificate with openssl and store it"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=craton-demo" \
	-days 30 -outform DER -keyout "$DEMO/cert-key.pem" -out "$DEMO/cert.der" 2>/dev/null
show p11 --login --pin "$USER_PIN" --write-object "$DEMO/cert.der" --type cert --label demo-cert --id 01

# (A VALUE warning is normal: pkcs11-tool tries to read every key's value.)
step "Import an AES-256 secret key"
head -c 32 /dev/urandom >"$DEMO/aes.key"
show p11 --login --pin "$USER_PIN" --write-object "$DEMO/aes.key" --type secrkey --key-type AES:32 --label demo-aes --id 02

step "List the objects from a new process"
show p11 --login --pin "$USER_PIN" -O | tee "$DEMO/out"
expect "$DEMO/out" "label:          'hello'"
expect "$DEMO/out" "label:      demo-cert"
expect "$DEMO/out" "label:      demo-aes"
expect "$DEMO/out" "Secret Key Object; AES length 32"

step "Read the data object and the certificate back; compare bytes"
show p11 --read-object --type data --label hello -o "$DEMO/hello.out"
show p11 --read-object --type cert --label demo-cert -o "$DEMO/cert.out"
cmp "$DEMO/hello.txt" "$DEMO/hello.out" || die "the data object came back different"
cmp "$DEMO/cert.der" "$DEMO/cert.out" || die "the certificate came back different"
echo "data object: $(wc -c <"$DEMO/hello.out") bytes, identical"
echo "certificate: $(wc -c <"$DEMO/cert.out") bytes, identical"
openssl x509 -inform DER -in "$DEMO/cert.out" -noout -subject | sed 's/^/    /'

step "The secret key's value cannot be read (sensitive)"
if show p11 --login --pin "$USER_PIN" --read-object --type secrkey --label demo-aes -o "$DEMO/aes.out" | tee "$DEMO/out"; then
	die "the secret key's value was readable"
fi
expect "$DEMO/out" "CKR_ATTRIBUTE_SENSITIVE"
[ ! -s "$DEMO/aes.out" ] || die "key bytes were written to $DEMO/aes.out"
echo "refused with CKR_ATTRIBUTE_SENSITIVE, as it must be"

step "Change the user PIN"
show p11 --login --pin "$USER_PIN" --change-pin --new-pin "$NEW_PIN"
if p11 --login --pin "$USER_PIN" -O >"$DEMO/out" 2>&1; then
	die "the old PIN still works"
fi
expect "$DEMO/out" "CKR_PIN_INCORRECT"
echo "old PIN: refused (CKR_PIN_INCORRECT)"
p11 --login --pin "$NEW_PIN" -O >/dev/null 2>&1 || die "the new PIN does not work"
echo "new PIN: accepted"

step "Delete the data object"
show p11 --login --pin "$NEW_PIN" --delete-object --type data --label hello

step "List the objects again"
show p11 --login --pin "$NEW_PIN" -O | tee "$DEMO/out"
if grep -q -F "'hello'" "$DEMO/out"; then
	die "the data object is still listed"
fi
expect "$DEMO/out" "label:      demo-cert"
expect "$DEMO/out" "label:      demo-aes"

echo
echo "demo: OK"
