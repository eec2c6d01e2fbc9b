#!/usr/bin/env bash
# GnuTLS p11tool against Craton: token listing and URLs, objects written by
# pkcs11-tool listed and exported (with and without login), token selection by
# URL, and the other direction: a certificate written by p11tool read back by
# pkcs11-tool.
#
#   CRATON_SO=/abs/path/libcraton.so bash tests/pkcs11-tool/30-p11tool.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/lib.sh"

for tool in p11tool openssl base64; do
	command -v "$tool" >/dev/null || { echo "30-p11tool: $tool not found" >&2; exit 2; }
done

# p11tool --provider needs an absolute path (lib.sh enforces it).
pt() {
	timeout "$P11_TIMEOUT" p11tool --provider "$CRATON_SO" "$@"
}
# pem_body_to_der PEMFILE OUTFILE: the base64 between the ----- lines.
pem_body_to_der() {
	grep -v -e '^-----' "$1" | base64 -d >"$2"
}

LOGIN=(--login --pin "$USER_PIN")
{ printf 'data written by pkcs11-tool\n'; head -c 16 /dev/urandom; } >"$WORK/d1.bin"
{ printf 'private data\n'; head -c 16 /dev/urandom; } >"$WORK/d2.bin"
head -c 32 /dev/urandom >"$WORK/k1.key"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=craton-p11tool" \
	-days 30 -outform DER -keyout "$WORK/c1.key.pem" -out "$WORK/c1.der" 2>"$WORK/openssl.err"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=written-by-p11tool" \
	-days 30 -keyout "$WORK/c2.key.pem" -out "$WORK/c2.pem" 2>>"$WORK/openssl.err"
openssl x509 -in "$WORK/c2.pem" -outform DER -out "$WORK/c2.der"

echo "# setup with pkcs11-tool"
init_token t1
check "pkcs11-tool writes data d1" p11 "${LOGIN[@]}" --write-object "$WORK/d1.bin" --type data --label d1
check "pkcs11-tool writes private data d2" p11 "${LOGIN[@]}" --write-object "$WORK/d2.bin" --type data --label d2 --private
check "pkcs11-tool writes certificate c1" p11 "${LOGIN[@]}" --write-object "$WORK/c1.der" --type cert --label c1 --id 01
check "pkcs11-tool writes AES key k1" p11 "${LOGIN[@]}" --write-object "$WORK/k1.key" --type secrkey --key-type AES:32 --label k1 --id 02
check "pkcs11-tool -T" p11 -T
SERIAL=$(sed -n 's/^ *serial num *: *//p' "$OUT")
assert_true "pkcs11-tool shows the serial" test -n "$SERIAL"

echo "# p11tool --list-tokens"
check "p11tool --list-tokens" pt --list-tokens
if ! grep -q -F "Manufacturer: Craton" "$OUT"; then
	fail "p11tool lists the Craton token" "p11tool cannot use the module; the remaining p11tool checks are not run"
	_lib_show_output
	finish
fi
assert_contains "--list-tokens: Manufacturer: Craton" "Manufacturer: Craton"
assert_contains "--list-tokens: Label: t1" "Label: t1"
assert_contains "--list-tokens: Model: Craton" "Model: Craton"
assert_contains "--list-tokens: the serial pkcs11-tool shows" "Serial: $SERIAL"
assert_contains "--list-tokens: token URL" "URL: pkcs11:model=Craton;manufacturer=Craton;serial=$SERIAL;token=t1"
assert_line_count "--list-tokens: one Craton token" "Manufacturer: Craton" 1

check "p11tool --list-token-urls" pt --list-token-urls
URL=$(grep -m1 -F 'manufacturer=Craton' "$OUT" || true)
assert_true "--list-token-urls gives a Craton URL" test -n "$URL"
assert_contains "the URL names the serial" "serial=$SERIAL"

echo "# p11tool --list-all"
check "--list-all without login" pt --list-all "$URL"
assert_line_count "no login: d1 listed once" "Label: d1" 1
assert_line_count "no login: c1 listed once" "Label: c1" 1
assert_line_count "no login: k1 listed once" "Label: k1" 1
assert_not_contains "no login: private d2 hidden" "Label: d2"
assert_contains "no login: c1 is an EC certificate" "Type: X.509 Certificate (EC/ECDSA-SECP256R1)"
assert_contains "no login: k1 is a secret key" "Type: Secret key"
assert_contains "no login: c1's object URL" "$URL;id=%01;object=c1;type=cert"

check "--list-all --login (GNUTLS_PIN)" env GNUTLS_PIN="$USER_PIN" timeout "$P11_TIMEOUT" \
	p11tool --provider "$CRATON_SO" --login --list-all "$URL"
assert_line_count "login: d1 once" "Label: d1" 1
assert_line_count "login: d2 once" "Label: d2" 1
assert_line_count "login: c1 once" "Label: c1" 1
assert_line_count "login: k1 once" "Label: k1" 1
assert_contains "login: d2 flagged CKA_PRIVATE" "Flags: CKA_PRIVATE;"
assert_line_count "login: 4 objects" "Label: " 4

echo "# selecting by URL"
check "--list-all-certs by token URL" pt --list-all-certs "$URL"
assert_line_count "only the certificate" "Label: " 1
assert_contains "... c1" "Label: c1"
check "--list-all with pkcs11:token=t1" pt --list-all "pkcs11:token=t1"
assert_contains "token=t1 selects the token" "Label: d1"
run pt --list-all "pkcs11:manufacturer=Craton;serial=0000000000000000"
assert_line_count "a wrong serial selects nothing" "Label: " 0
check "--export c1 by object URL" pt --export "$URL;object=c1;type=cert" --outfile "$WORK/c1.pem"
assert_true "exported PEM converts to DER" openssl x509 -in "$WORK/c1.pem" -outform DER -out "$WORK/c1.out"
assert_same "exported certificate byte-identical to what pkcs11-tool wrote" "$WORK/c1.der" "$WORK/c1.out"
check "--export data d1" pt --export "$URL;object=d1;type=data" --outfile "$WORK/d1.pem"
assert_true "exported data decodes" pem_body_to_der "$WORK/d1.pem" "$WORK/d1.out"
assert_same "exported data byte-identical" "$WORK/d1.bin" "$WORK/d1.out"
check "--export private d2 with login" env GNUTLS_PIN="$USER_PIN" timeout "$P11_TIMEOUT" \
	p11tool --provider "$CRATON_SO" --login --export "$URL;object=d2;type=data" --outfile "$WORK/d2.pem"
assert_true "exported private data decodes" pem_body_to_der "$WORK/d2.pem" "$WORK/d2.out"
assert_same "exported private data byte-identical" "$WORK/d2.bin" "$WORK/d2.out"

echo "# the other direction: p11tool writes, pkcs11-tool reads"
check "p11tool --write a certificate c2" env GNUTLS_PIN="$USER_PIN" timeout "$P11_TIMEOUT" \
	p11tool --provider "$CRATON_SO" --login --write --load-certificate "$WORK/c2.pem" --label c2 "$URL"
check "pkcs11-tool reads c2" p11 --read-object --type cert --label c2 -o "$WORK/c2.out"
assert_same "c2 byte-identical" "$WORK/c2.der" "$WORK/c2.out"
check "p11tool --delete c2" env GNUTLS_PIN="$USER_PIN" timeout "$P11_TIMEOUT" \
	p11tool --provider "$CRATON_SO" --login --batch --delete "$URL;object=c2;type=cert"
assert_contains "... 1 object deleted" "1 objects deleted"
check "pkcs11-tool -O after the delete" p11 -O --type cert
assert_not_contains "c2 gone" "label:      c2"
assert_contains "c1 still there" "label:      c1"

echo "# C_GenerateRandom through p11tool"
check "--generate-random 32" pt --generate-random 32 "$URL" --outfile "$WORK/rand1.bin"
check "--generate-random 32 again" pt --generate-random 32 "$URL" --outfile "$WORK/rand2.bin"
assert_true "32 bytes out" test "$(wc -c <"$WORK/rand1.bin")" -eq 32
assert_true "two calls give different bytes" test "$(od -An -tx1 "$WORK/rand1.bin")" != "$(od -An -tx1 "$WORK/rand2.bin")"

finish
