#!/usr/bin/env bash
# Token objects through pkcs11-tool: data (public and private), an X.509
# certificate and secret keys written with --write-object, listed and read back
# from new processes, deleted; then the store's files are searched for the
# plaintext of the secret key, the private data and the PINs.
#
#   CRATON_SO=/abs/path/libcraton.so bash tests/pkcs11-tool/20-objects.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/lib.sh"

command -v openssl >/dev/null || { echo "20-objects: openssl not found" >&2; exit 2; }

LOGIN=(--login --pin "$USER_PIN")

# Inputs. Random bytes so that a hit in the store cannot be a coincidence.
{ printf 'craton public data object\n'; head -c 32 /dev/urandom; } >"$WORK/d1.bin"
random_bytes 48 "$WORK/d2.bin" # private data object's content
random_bytes 32 "$WORK/aes256.key"
random_bytes 16 "$WORK/aes128.key"
random_bytes 24 "$WORK/generic.key"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj "/CN=craton-test" -days 30 -outform DER \
	-keyout "$WORK/cert.key.pem" -out "$WORK/cert.der" 2>"$WORK/openssl.err"

init_token t1

echo "# --write-object"
check "write public data d1" p11 "${LOGIN[@]}" --write-object "$WORK/d1.bin" --type data --label d1
assert_contains "d1: 'Created Data Object'" "Created Data Object:"
assert_contains "d1: label shown" "label:          'd1'"
check "write private data d2" p11 "${LOGIN[@]}" --write-object "$WORK/d2.bin" --type data --label d2 --private
assert_contains "d2: flags 'modifiable private'" "flags:           modifiable private"
check "write certificate c1" p11 "${LOGIN[@]}" --write-object "$WORK/cert.der" --type cert --label c1 --id 01
assert_contains "c1: 'Created certificate'" "Created certificate:"
assert_contains "c1: subject parsed back" "subject:    DN: CN=craton-test"
check "write AES-256 secret key k1" p11 "${LOGIN[@]}" --write-object "$WORK/aes256.key" --type secrkey --key-type AES:32 --label k1 --id 02
assert_contains "k1: 'Created secret key'" "Created secret key:"
assert_contains "k1: AES length 32" "Secret Key Object; AES length 32"
assert_not_contains "k1: no C_GetAttributeValue(VERIFY) failure" "C_GetAttributeValue(VERIFY) failed"
assert_contains "k1: usage includes verify (CKA_VERIFY defaults to true)" "verify"
check "write private AES-128 secret key k2" p11 "${LOGIN[@]}" --write-object "$WORK/aes128.key" --type secrkey --key-type AES:16 --label k2 --id 03 --private
assert_contains "k2: AES length 16" "Secret Key Object; AES length 16"

# pkcs11-tool 0.23 refuses GENERIC for --write-object before it reaches the
# module ("Unknown key type: 0x10"; SoftHSMv2 gets the same); test it when a
# newer client accepts it.
run p11 "${LOGIN[@]}" --write-object "$WORK/generic.key" --type secrkey --key-type GENERIC:24 --label g1 --id 04
if [ "$RC" -ne 0 ] && grep -q -F "Unknown key type: 0x10" "$OUT"; then
	skip "write GENERIC:24 secret key" "pkcs11-tool itself cannot write CKK_GENERIC_SECRET ('Unknown key type: 0x10')"
	HAVE_GENERIC=0
elif [ "$RC" -eq 0 ]; then
	pass "write GENERIC:24 secret key g1"
	HAVE_GENERIC=1
else
	fail "write GENERIC:24 secret key g1" "status $RC"
	HAVE_GENERIC=0
fi

echo "# -O in new processes"
check "-O without login" p11 -O
assert_contains "-O: data d1" "label:          'd1'"
assert_contains "-O: certificate c1" "label:      c1"
assert_contains "-O: certificate type" "Certificate Object; type = X.509 cert"
assert_contains "-O: secret key k1" "label:      k1"
assert_contains "-O: k1 is AES-256" "Secret Key Object; AES length 32"
assert_not_contains "-O: private data d2 hidden before login" "'d2'"
assert_not_contains "-O: private key k2 hidden before login" "label:      k2"
check "-O with login" p11 "${LOGIN[@]}" -O
assert_line_count "-O --login: d1 once" "label:          'd1'" 1
assert_line_count "-O --login: d2 once" "label:          'd2'" 1
assert_line_count "-O --login: c1 once" "label:      c1" 1
assert_line_count "-O --login: k1 once" "label:      k1" 1
assert_line_count "-O --login: k2 once" "label:      k2" 1
assert_contains "-O --login: d2 is private" "flags:           modifiable private"
assert_contains "-O --login: k2 is AES-128" "Secret Key Object; AES length 16"
if [ "$HAVE_GENERIC" = 1 ]; then
	assert_contains "-O --login: generic key g1" "label:      g1"
fi

echo "# --read-object"
check "read data d1" p11 --read-object --type data --label d1 -o "$WORK/d1.out"
assert_same "d1 read back byte-identical" "$WORK/d1.bin" "$WORK/d1.out"
check "read certificate c1 by label" p11 --read-object --type cert --label c1 -o "$WORK/cert.out"
assert_same "c1 read back byte-identical" "$WORK/cert.der" "$WORK/cert.out"
check "read certificate by id 01" p11 --read-object --type cert --id 01 -o "$WORK/cert-id.out"
assert_same "c1 by id byte-identical" "$WORK/cert.der" "$WORK/cert-id.out"
expect_fail "read private d2 without login fails" p11 --read-object --type data --label d2 -o "$WORK/d2.nologin"
assert_contains "... pkcs11-tool: object not found" "error: object not found"
assert_true "... and writes no file" test ! -s "$WORK/d2.nologin"
check "read private d2 with login" p11 "${LOGIN[@]}" --read-object --type data --label d2 -o "$WORK/d2.out"
assert_same "d2 read back byte-identical" "$WORK/d2.bin" "$WORK/d2.out"
expect_fail "read secret key k1's value fails" p11 "${LOGIN[@]}" --read-object --type secrkey --label k1 -o "$WORK/k1.out"
assert_contains "... pkcs11-tool: get CKA_VALUE failed" "error: get CKA_VALUE failed"
assert_rv "... the module says CKR_ATTRIBUTE_SENSITIVE" CKR_ATTRIBUTE_SENSITIVE
assert_true "... and no key bytes written" test ! -s "$WORK/k1.out"
expect_fail "read secret key k2's value fails" p11 "${LOGIN[@]}" --read-object --type secrkey --label k2 -o "$WORK/k2.out"
assert_rv "... CKR_ATTRIBUTE_SENSITIVE" CKR_ATTRIBUTE_SENSITIVE

echo "# --delete-object"
check "delete data d1" p11 "${LOGIN[@]}" --delete-object --type data --label d1
check "-O --login after delete (new process)" p11 "${LOGIN[@]}" -O
assert_not_contains "-O: d1 gone" "'d1'"
assert_line_count "-O: d2 still there" "label:          'd2'" 1
assert_line_count "-O: c1 still there" "label:      c1" 1
assert_line_count "-O: k1 still there" "label:      k1" 1
assert_line_count "-O: k2 still there" "label:      k2" 1
expect_fail "read deleted d1 fails" p11 --read-object --type data --label d1 -o "$WORK/d1.gone"
assert_contains "... object not found" "error: object not found"
check "objects survive: c1 still reads back" p11 --read-object --type cert --label c1 -o "$WORK/cert.again"
assert_same "c1 still byte-identical" "$WORK/cert.der" "$WORK/cert.again"

echo "# encryption at rest: search every file under the store"
assert_true "the store directory exists and holds files" test -n "$(find "$STORE" -type f 2>/dev/null | head -n 1)"
note "store files: $(cd "$STORE" && find . -type f -printf '%p (%s bytes) ' 2>/dev/null)"
# The search helper must find what is there: plant a copy and look for it.
mkdir -p "$WORK/selftest" && { head -c 100 /dev/urandom; cat "$WORK/aes256.key"; head -c 100 /dev/urandom; } >"$WORK/selftest/blob"
assert_true "search helper finds planted key bytes (self-test)" test "$(files_containing "$WORK/selftest" "$WORK/aes256.key" 2>/dev/null)" -eq 1
assert_true "AES-256 key bytes (k1, public object) not in the store" test "$(files_containing "$STORE" "$WORK/aes256.key")" -eq 0
assert_true "AES-128 key bytes (k2, private object) not in the store" test "$(files_containing "$STORE" "$WORK/aes128.key")" -eq 0
assert_true "private data d2's content not in the store" test "$(files_containing "$STORE" "$WORK/d2.bin")" -eq 0
printf '%s' "$USER_PIN" >"$WORK/user.pin"
printf '%s' "$SO_PIN" >"$WORK/so.pin"
assert_true "user PIN not in the store" test "$(files_containing "$STORE" "$WORK/user.pin")" -eq 0
assert_true "SO PIN not in the store" test "$(files_containing "$STORE" "$WORK/so.pin")" -eq 0

finish
