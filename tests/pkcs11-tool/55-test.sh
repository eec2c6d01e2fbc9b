#!/usr/bin/env bash
# pkcs11-tool's own self-test (--test) on a token holding RSA-2048, P-256 and
# AES-256 keys: random, digests, RSA signatures (with --allow-sw: Craton does
# not claim CKF_HW, and without it pkcs11-tool skips the signature section),
# verification and decryption (PKCS#1 v1.5 and OAEP, with and without a
# label). Then --test-ec, which OpenSC 0.23 hard-codes to CKM_ECDSA_SHA1, and
# that mechanism's signature checked by OpenSSL.
#
#   CRATON_SO=/abs/path/libcraton.so bash tests/pkcs11-tool/55-test.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/lib.sh"

init_token selftest

check "generate RSA-2048" p11 "${LOGIN[@]}" --keypairgen --key-type rsa:2048 --label rsa2048 --id 01
check "generate P-256" p11 "${LOGIN[@]}" --keypairgen --key-type EC:prime256v1 --label p256 --id 02
cp "$OUT" "$WORK/p256.gen"
check "generate AES-256" p11 "${LOGIN[@]}" --keygen --key-type AES:32 --sensitive --label aes256 --id 03

# no_error_lines NAME: the last --test output has no line reporting an error.
no_error_lines() {
	if grep -n -i -E 'ERR|fail|error|mismatch|wrong' "$OUT" | grep -v -F "No errors" >"$WORK/errlines"; then
		fail "$1" "$(head -n 3 "$WORK/errlines" | tr '\n' ' ')"
		_lib_show_output
	else
		pass "$1"
	fi
}

echo "# --test --login"
check "--test --login" p11 "${LOGIN[@]}" --test
assert_contains "--test: 'No errors'" "No errors"
no_error_lines "--test: no line reports an error"
assert_contains "--test: C_GenerateRandom OK" "seems to be OK"
assert_contains "--test: digests work" "all 4 digest functions seem to work"
assert_contains "--test: SHA256 digest OK" "SHA256: OK"
assert_contains "--test: RSA-2048 was tested" "testing key 0 (rsa2048)"
assert_contains "--test: RSA-PKCS verify/decrypt OK" "RSA-PKCS: OK"
assert_contains "--test: SHA1-RSA-PKCS verify OK" "SHA1-RSA-PKCS: OK"
assert_contains "--test: OAEP with a label was exercised" "encoding parameter (Label) present"
assert_line_count "--test: both OAEP decryptions OK" "RSA-PKCS-OAEP: mgf not set, defaulting to MGF1-SHA256" 2
assert_contains "--test: signatures skipped without --allow-sw (no CKF_HW)" "Signatures: not implemented"

echo "# --test --login --allow-sw"
check "--test --login --allow-sw" p11 "${LOGIN[@]}" --test --allow-sw
assert_contains "--test --allow-sw: 'No errors'" "No errors"
no_error_lines "--test --allow-sw: no line reports an error"
assert_contains "--test --allow-sw: the four signature functions work" "all 4 signature functions seem to work"
assert_contains "--test --allow-sw: SHA256-RSA-PKCS OK" "SHA256-RSA-PKCS: OK"
assert_contains "--test --allow-sw: RSA-PKCS signature OK" "    RSA-PKCS: OK"

echo "# --test without login (public objects only)"
check "--test" p11 --test
assert_contains "--test (no login): 'No errors'" "No errors"

echo "# --test-ec"
# OpenSC 0.23's --test-ec generates a key pair (needs --session-rw and --id),
# then signs with CKM_ECDSA_SHA1 and verifies the signature.
check "--test-ec" p11 "${LOGIN[@]}" --session-rw --test-ec --id 04 --key-type EC:prime256v1
assert_contains "--test-ec: its key pair is generated" "Key pair generated:"
assert_contains "--test-ec: the P-256 public key" "EC_PARAMS:  06082a8648ce3d030107"
assert_contains "--test-ec: it gets to the signature" "*** Doing a signature ***"
no_error_lines "--test-ec: no line reports an error"
check "-M" p11 -M
assert_contains "-M: ECDSA-SHA1 is offered (outside FIPS mode)" "ECDSA-SHA1"
# --test-ec does not verify what it signed: OpenSSL does, and the token
# verifies it too.
head -c 1000 /dev/urandom >"$WORK/data"
check "ECDSA-SHA1: sign" p11 "${LOGIN[@]}" --sign -m ECDSA-SHA1 --id 02 -i "$WORK/data" -o "$WORK/p256-sha1.sig" --signature-format openssl
check "P-256: export the public key" pubkey_pem 02 "$WORK/p256.gen" "$WORK/p256.pem"
run openssl dgst -sha1 -verify "$WORK/p256.pem" -signature "$WORK/p256-sha1.sig" "$WORK/data"
assert_verified "ECDSA-SHA1: openssl verifies"
run p11 "${LOGIN[@]}" --verify -m ECDSA-SHA1 --id 02 -i "$WORK/data" --signature-file "$WORK/p256-sha1.sig" --signature-format openssl
assert_contains "ECDSA-SHA1: the token verifies" "Signature is valid"
echo x >>"$WORK/data"
run openssl dgst -sha1 -verify "$WORK/p256.pem" -signature "$WORK/p256-sha1.sig" "$WORK/data"
assert_not_contains "ECDSA-SHA1: openssl rejects it for other data" "Verified OK"

assert_no_panic "no recovered panic in the log"
finish
