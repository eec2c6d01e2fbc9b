#!/usr/bin/env bash
# ECDH (CKM_ECDH1_DERIVE, CKD_NULL) against OpenSSL on P-256, P-384 and P-521:
# the token's key pair from --keypairgen, an OpenSSL peer key pair; the
# secret pkcs11-tool --derive reads back (it asks for an extractable,
# non-sensitive generic secret) equals openssl pkeyutl -derive from the other
# side. Then, through PyKCS11: the same secret as a generic key of chosen
# length, and as a sensitive AES-256 key that never leaves the token but
# encrypts exactly like OpenSSL with the secret OpenSSL derived. Refusals: a
# peer on another curve, a point off the curve, a key without CKA_DERIVE.
#
#   CRATON_SO=/abs/path/libcraton.so bash tests/pkcs11-tool/53-derive.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/lib.sh"
need_tools openssl

init_token derive

py_or_skip() {
	[ "$HAVE_PYKCS11" = 1 ] && return 0
	skip "$1" "no python3 with PyKCS11 (Debian: python3-pykcs11)"
	return 1
}

for spec in "p256 prime256v1 P-256 03 32" "p384 secp384r1 P-384 04 48" "p521 secp521r1 P-521 05 66"; do
	read -r k curve ocurve id n <<<"$spec"
	echo "# $ocurve"
	check "$k: token key pair" p11 "${LOGIN[@]}" --keypairgen --key-type "EC:$curve" --label "$k" --id "$id"
	cp "$OUT" "$WORK/$k.gen"
	check "$k: export the token's public key" pubkey_pem "$id" "$WORK/$k.gen" "$WORK/$k.pem"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:"$ocurve" -out "$WORK/$k.peer.pem"
	openssl pkey -in "$WORK/$k.peer.pem" -pubout -outform DER -out "$WORK/$k.peer.der"
	check "$k: openssl derives (peer private key, token public key)" \
		openssl pkeyutl -derive -inkey "$WORK/$k.peer.pem" -peerkey "$WORK/$k.pem" -out "$WORK/$k.ossl"
	assert_true "$k: openssl's secret is $n bytes" test "$(wc -c <"$WORK/$k.ossl")" -eq "$n"

	# pkcs11-tool 0.23 reads the peer's SubjectPublicKeyInfo (DER) and passes
	# the raw point; --derive-pass-der passes it as a DER OCTET STRING.
	rm -f "$WORK/$k.tok"
	check "$k: pkcs11-tool --derive -m ECDH1-DERIVE" p11 "${LOGIN[@]}" --derive -m ECDH1-DERIVE --id "$id" \
		-i "$WORK/$k.peer.der" -o "$WORK/$k.tok"
	assert_same "$k: the token's secret = openssl's" "$WORK/$k.tok" "$WORK/$k.ossl"
	rm -f "$WORK/$k.tokder"
	check "$k: pkcs11-tool --derive --derive-pass-der (point as DER OCTET STRING)" p11 "${LOGIN[@]}" --derive -m ECDH1-DERIVE \
		--id "$id" -i "$WORK/$k.peer.der" -o "$WORK/$k.tokder" --derive-pass-der
	assert_same "$k: same secret from a DER-wrapped point" "$WORK/$k.tokder" "$WORK/$k.ossl"
done

echo "# PyKCS11: chosen templates"
if py_or_skip "ECDH with PyKCS11 templates"; then
	check "p256: derive a 32-byte generic secret, extractable" p11py ecdh-derive --key p256 --peer-spki "$WORK/p256.peer.der" \
		--new-label ecdh-gen --new-id 41 --key-type generic --value-len 32 --extractable --out "$WORK/p256.py"
	assert_same "p256: CKA_VALUE = openssl's secret" "$WORK/p256.py" "$WORK/p256.ossl"
	run p11py attrs --key ecdh-gen
	assert_contains "ecdh-gen: CKA_LOCAL false (derived, not generated)" "CKA_LOCAL=False"
	assert_contains "ecdh-gen: CKA_VALUE_LEN 32" "CKA_VALUE_LEN=32"

	check "p384: derive a 48-byte generic secret, extractable" p11py ecdh-derive --key p384 --peer-spki "$WORK/p384.peer.der" \
		--new-label ecdh-384 --new-id 42 --key-type generic --value-len 48 --extractable --out "$WORK/p384.py"
	assert_same "p384: CKA_VALUE = openssl's secret" "$WORK/p384.py" "$WORK/p384.ossl"

	# A sensitive AES-256 key from the P-256 secret (32 bytes: no truncation):
	# it encrypts exactly like openssl with the secret openssl derived.
	check "p256: derive a sensitive AES-256 key" p11py ecdh-derive --key p256 --peer-spki "$WORK/p256.peer.der" \
		--new-label ecdh-aes --new-id 43 --key-type aes --value-len 32 --sensitive
	expect_fail "ecdh-aes: its value cannot be read" p11 "${LOGIN[@]}" --read-object --type secrkey --id 43 -o "$WORK/x"
	assert_rv "... CKR_ATTRIBUTE_SENSITIVE" CKR_ATTRIBUTE_SENSITIVE
	random_bytes 64 "$WORK/pt"
	IV=000102030405060708090a0b0c0d0e0f
	check "ecdh-aes: token AES-CBC encrypts" p11 "${LOGIN[@]}" --encrypt -m AES-CBC --id 43 --iv "$IV" -i "$WORK/pt" -o "$WORK/t.enc"
	openssl enc -aes-256-cbc -nopad -K "$(hexof "$WORK/p256.ossl")" -iv "$IV" -in "$WORK/pt" -out "$WORK/o.enc"
	assert_same "ecdh-aes: = openssl enc keyed with openssl's ECDH secret" "$WORK/t.enc" "$WORK/o.enc"

	# Refusals, each a clean CK_RV.
	P256_POINT=$(python3 - "$WORK/p256.peer.der" <<'PY'
import sys
spki = open(sys.argv[1], "rb").read()
print(spki[-65:].hex())
PY
)
	off=${P256_POINT:0:128}$(printf '%02x' $(((0x${P256_POINT:128:2} + 1) % 256)))
	expect_fail "a P-256 point off the curve is refused" p11py ecdh-derive --key p256 --raw-point-hex "$off" \
		--new-label bad1 --new-id 4f --value-len 32 --extractable --out "$WORK/x"
	assert_contains "... with a parameter or key error" "rv = CKR_"
	note "off-curve point: $(grep -o 'rv = CKR_[A-Z_]*' "$OUT" | head -n 1)"
	expect_fail "the point at infinity (0x00) is refused" p11py ecdh-derive --key p256 --raw-point-hex 00 \
		--new-label bad2 --new-id 4e --value-len 32 --extractable --out "$WORK/x"
	assert_contains "... with a CK_RV" "rv = CKR_"
	expect_fail "a compressed-format garbage point is refused" p11py ecdh-derive --key p256 --raw-point-hex "02${P256_POINT:2:64}ff" \
		--new-label bad3 --new-id 4d --value-len 32 --extractable --out "$WORK/x"
	assert_contains "... with a CK_RV" "rv = CKR_"
	expect_fail "a 64-byte key from a 32-byte P-256 secret is refused" p11py ecdh-derive --key p256 --peer-spki "$WORK/p256.peer.der" \
		--new-label bad4 --new-id 4c --value-len 64 --extractable --out "$WORK/x"
	assert_contains "... with a CK_RV" "rv = CKR_"
	note "CKA_VALUE_LEN 64 > secret: $(grep -o 'rv = CKR_[A-Z_]*' "$OUT" | head -n 1)"
fi

expect_fail "a P-384 peer for a P-256 key is refused" p11 "${LOGIN[@]}" --derive -m ECDH1-DERIVE --id 03 -i "$WORK/p384.peer.der" -o "$WORK/x"
assert_rv "... CKR_MECHANISM_PARAM_INVALID" CKR_MECHANISM_PARAM_INVALID
check "an EC key pair with --usage-sign only (no CKA_DERIVE)" p11 "${LOGIN[@]}" --keypairgen --key-type EC:prime256v1 --usage-sign --label nosign --id 06
assert_not_contains "... its private key has no 'derive' usage" "derive"
expect_fail "ECDH with a key without CKA_DERIVE is refused" p11 "${LOGIN[@]}" --derive -m ECDH1-DERIVE --id 06 -i "$WORK/p256.peer.der" -o "$WORK/x"
assert_rv "... CKR_KEY_FUNCTION_NOT_PERMITTED" CKR_KEY_FUNCTION_NOT_PERMITTED

assert_no_panic "no recovered panic in the log"
finish
