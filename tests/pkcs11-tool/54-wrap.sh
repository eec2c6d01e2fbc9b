#!/usr/bin/env bash
# Key wrapping across the token boundary, comparing bytes and then what the
# unwrapped keys do:
#   AES key wrap with padding (RFC 5649, CKM_AES_KEY_WRAP_KWP) and AES key
#   wrap (RFC 3394) with pkcs11-tool --wrap/--unwrap against openssl enc
#   -id-aes256-wrap(-pad); AES-CBC-PAD wrapping against openssl enc;
#   a sensitive-but-extractable generated key leaves the token only wrapped,
#   and OpenSSL, after unwrapping it, encrypts exactly like the token;
#   RSA-OAEP wrapping of an AES key, both ways, and AES-GCM wrapping (PyKCS11:
#   pkcs11-tool 0.23 sends no mechanism parameters for OAEP or GCM wrapping);
#   refusals: a non-extractable key, a tampered or truncated blob.
#
#   CRATON_SO=/abs/path/libcraton.so bash tests/pkcs11-tool/54-wrap.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/lib.sh"
need_tools openssl

init_token wrap

py_or_skip() {
	[ "$HAVE_PYKCS11" = 1 ] && return 0
	skip "$1" "no python3 with PyKCS11 (Debian: python3-pykcs11)"
	return 1
}

random_bytes 32 "$WORK/kek.key"
random_bytes 32 "$WORK/t256.key"
random_bytes 24 "$WORK/t192.key"
random_bytes 64 "$WORK/pt"
KEK=$(hexof "$WORK/kek.key")
IV=000102030405060708090a0b0c0d0e0f

# same_encryption NAME ID KEYFILE: the token's AES-CBC with key ID equals
# openssl's with the key bytes in KEYFILE.
same_encryption() {
	local bits=$(($(wc -c <"$3") * 8))
	rm -f "$WORK/se.tok"
	check "$1: token AES-CBC encrypts" p11 "${LOGIN[@]}" --encrypt -m AES-CBC --id "$2" --iv "$IV" -i "$WORK/pt" -o "$WORK/se.tok"
	openssl enc -aes-"$bits"-cbc -nopad -K "$(hexof "$3")" -iv "$IV" -in "$WORK/pt" -out "$WORK/se.ossl"
	assert_same "$1: = openssl enc -aes-$bits-cbc with the original key" "$WORK/se.tok" "$WORK/se.ossl"
}

echo "# keys"
check "import the KEK (AES-256)" p11 "${LOGIN[@]}" --write-object "$WORK/kek.key" --type secrkey --key-type AES:32 --usage-wrap --label kek --id 01
check "import target t256 (AES-256, extractable)" p11 "${LOGIN[@]}" --write-object "$WORK/t256.key" --type secrkey --key-type AES:32 --extractable --label t256 --id 02
check "import target t192 (AES-192, extractable)" p11 "${LOGIN[@]}" --write-object "$WORK/t192.key" --type secrkey --key-type AES:24 --extractable --label t192 --id 03
check "generate gen (AES-256, sensitive AND extractable)" p11 "${LOGIN[@]}" --keygen --key-type AES:32 --sensitive --extractable --label gen --id 04
assert_contains "gen: sensitive, always sensitive, extractable, local" "Access:     sensitive, always sensitive, extractable, local"
check "generate locked (AES-256, not extractable)" p11 "${LOGIN[@]}" --keygen --key-type AES:32 --sensitive --label locked --id 05

echo "# AES key wrap with padding (RFC 5649), mechanism 0x210B"
for spec in "t256 02" "t192 03"; do
	read -r t id <<<"$spec"
	check "$t: --wrap -m 0x210B" p11 "${LOGIN[@]}" --wrap -m 0x210B --id 01 --application-id "$id" -o "$WORK/$t.kwp"
	assert_contains "$t: 'Key wrapped'" "Key wrapped"
	openssl enc -id-aes256-wrap-pad -K "$KEK" -iv A65959A6 -in "$WORK/$t.key" -out "$WORK/$t.kwp.ossl"
	assert_same "$t: token KWP blob = openssl -id-aes256-wrap-pad" "$WORK/$t.kwp" "$WORK/$t.kwp.ossl"
	check "$t: openssl unwraps the token's blob" openssl enc -d -id-aes256-wrap-pad -K "$KEK" -iv A65959A6 -in "$WORK/$t.kwp" -out "$WORK/$t.kwp.unw"
	assert_same "$t: openssl recovers the key bytes" "$WORK/$t.key" "$WORK/$t.kwp.unw"
done
check "t256: --unwrap -m 0x210B openssl's blob" p11 "${LOGIN[@]}" --unwrap -m 0x210B --id 01 -i "$WORK/t256.kwp.ossl" \
	--key-type AES: --application-id 12 --application-label t256-kwp --extractable
assert_contains "t256-kwp: 'Key unwrapped'" "Key unwrapped"
assert_contains "t256-kwp: AES length 32" "Secret Key Object; AES length 32"
assert_not_contains "t256-kwp: not 'local' (unwrapped, not generated)" "local"
check "t256-kwp: read its value (extractable, not sensitive)" p11 "${LOGIN[@]}" --read-object --type secrkey --id 12 -o "$WORK/t256-kwp.val"
assert_same "t256-kwp: value = the original key" "$WORK/t256.key" "$WORK/t256-kwp.val"
same_encryption t256-kwp 12 "$WORK/t256.key"
check "t192: --unwrap -m 0x210B openssl's blob" p11 "${LOGIN[@]}" --unwrap -m 0x210B --id 01 -i "$WORK/t192.kwp.ossl" \
	--key-type AES: --application-id 13 --application-label t192-kwp
assert_contains "t192-kwp: AES length 24" "Secret Key Object; AES length 24"
same_encryption t192-kwp 13 "$WORK/t192.key"

echo "# AES key wrap (RFC 3394)"
check "t256: --wrap -m AES-KEY-WRAP" p11 "${LOGIN[@]}" --wrap -m AES-KEY-WRAP --id 01 --application-id 02 -o "$WORK/t256.kw"
openssl enc -id-aes256-wrap -K "$KEK" -iv A6A6A6A6A6A6A6A6 -in "$WORK/t256.key" -out "$WORK/t256.kw.ossl"
assert_same "t256: token KW blob = openssl -id-aes256-wrap" "$WORK/t256.kw" "$WORK/t256.kw.ossl"
check "t256: --unwrap -m AES-KEY-WRAP openssl's blob" p11 "${LOGIN[@]}" --unwrap -m AES-KEY-WRAP --id 01 -i "$WORK/t256.kw.ossl" \
	--key-type AES: --application-id 22 --application-label t256-kw
same_encryption t256-kw 22 "$WORK/t256.key"

echo "# AES-CBC-PAD wrapping"
check "t192: --wrap -m AES-CBC-PAD" p11 "${LOGIN[@]}" --wrap -m AES-CBC-PAD --iv "$IV" --id 01 --application-id 03 -o "$WORK/t192.cbc"
openssl enc -aes-256-cbc -K "$KEK" -iv "$IV" -in "$WORK/t192.key" -out "$WORK/t192.cbc.ossl"
assert_same "t192: token CBC-PAD blob = openssl enc -aes-256-cbc" "$WORK/t192.cbc" "$WORK/t192.cbc.ossl"
check "t192: --unwrap -m AES-CBC-PAD openssl's blob" p11 "${LOGIN[@]}" --unwrap -m AES-CBC-PAD --iv "$IV" --id 01 \
	-i "$WORK/t192.cbc.ossl" --key-type AES: --application-id 33 --application-label t192-cbc
same_encryption t192-cbc 33 "$WORK/t192.key"

echo "# a sensitive generated key leaves only wrapped"
expect_fail "gen: its value cannot be read" p11 "${LOGIN[@]}" --read-object --type secrkey --id 04 -o "$WORK/x"
assert_rv "... CKR_ATTRIBUTE_SENSITIVE" CKR_ATTRIBUTE_SENSITIVE
check "gen: --wrap -m 0x210B" p11 "${LOGIN[@]}" --wrap -m 0x210B --id 01 --application-id 04 -o "$WORK/gen.kwp"
check "gen: openssl unwraps it" openssl enc -d -id-aes256-wrap-pad -K "$KEK" -iv A65959A6 -in "$WORK/gen.kwp" -out "$WORK/gen.key"
assert_true "gen: 32 key bytes" test "$(wc -c <"$WORK/gen.key")" -eq 32
same_encryption gen 04 "$WORK/gen.key"
check "gen: unwrap it back as a second key" p11 "${LOGIN[@]}" --unwrap -m 0x210B --id 01 -i "$WORK/gen.kwp" \
	--key-type AES: --application-id 14 --application-label gen-copy
same_encryption gen-copy 14 "$WORK/gen.key"

echo "# refusals"
expect_fail "a non-extractable key cannot be wrapped" p11 "${LOGIN[@]}" --wrap -m 0x210B --id 01 --application-id 05 -o "$WORK/x"
assert_rv "... CKR_KEY_UNEXTRACTABLE" CKR_KEY_UNEXTRACTABLE
tamper "$WORK/t256.kwp.ossl" "$WORK/bad.kwp"
expect_fail "a tampered KWP blob is refused" p11 "${LOGIN[@]}" --unwrap -m 0x210B --id 01 -i "$WORK/bad.kwp" \
	--key-type AES: --application-id 1f --application-label bad
assert_rv "... CKR_WRAPPED_KEY_INVALID" CKR_WRAPPED_KEY_INVALID
tamper "$WORK/t256.kw.ossl" "$WORK/bad.kw"
expect_fail "a tampered KW blob is refused" p11 "${LOGIN[@]}" --unwrap -m AES-KEY-WRAP --id 01 -i "$WORK/bad.kw" \
	--key-type AES: --application-id 1f --application-label bad
assert_rv "... CKR_WRAPPED_KEY_INVALID" CKR_WRAPPED_KEY_INVALID
head -c 23 "$WORK/t256.kw.ossl" >"$WORK/short.kw"
expect_fail "a KW blob that is not a multiple of 8 bytes is refused" p11 "${LOGIN[@]}" --unwrap -m AES-KEY-WRAP --id 01 -i "$WORK/short.kw" \
	--key-type AES: --application-id 1f --application-label bad
assert_contains "... CKR_WRAPPED_KEY_INVALID or CKR_WRAPPED_KEY_LEN_RANGE" "CKR_WRAPPED_KEY_"
check "-O: none of the refused unwraps left an object" p11 "${LOGIN[@]}" -O --type secrkey
assert_not_contains "... no key labelled 'bad'" "label:      bad"

echo "# RSA-OAEP wrapping of an AES key"
check "generate rsa2048" p11 "${LOGIN[@]}" --keypairgen --key-type rsa:2048 --label rsa2048 --id 41
check "export its public key" pubkey_pem 41 "" "$WORK/rsa2048.pem"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/o-rsa.pem" 2>/dev/null
openssl pkey -in "$WORK/o-rsa.pem" -pubout -outform DER -out "$WORK/o-rsa.pub.der"
check "import o-rsa's public key" p11 "${LOGIN[@]}" --write-object "$WORK/o-rsa.pub.der" --type pubkey --label o-rsa --id 42
openssl pkeyutl -encrypt -pubin -inkey "$WORK/rsa2048.pem" -in "$WORK/t256.key" -out "$WORK/t256.oaep.ossl" \
	-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
# pkcs11-tool 0.23 --wrap/--unwrap pass pParameter = NULL for RSA-PKCS-OAEP
# (the token rightly answers CKR_MECHANISM_PARAM_INVALID): PyKCS11 instead.
run p11 "${LOGIN[@]}" --unwrap -m RSA-PKCS-OAEP --hash-algorithm SHA256 --mgf MGF1-SHA256 --id 41 -i "$WORK/t256.oaep.ossl" \
	--key-type AES: --application-id 4f --application-label oaep-tool
if [ "$RC" -ne 0 ] && grep -q -F "rv = CKR_MECHANISM_PARAM_INVALID" "$OUT"; then
	skip "pkcs11-tool --unwrap -m RSA-PKCS-OAEP" "OpenSC 0.23 sends no CK_RSA_PKCS_OAEP_PARAMS (client limitation)"
else
	note "pkcs11-tool --unwrap -m RSA-PKCS-OAEP: status $RC"
fi
if py_or_skip "RSA-OAEP wrapping"; then
	check "OAEP: token unwraps openssl's OAEP-SHA256 blob (PyKCS11)" p11py unwrap --key rsa2048 --mech oaep --hash sha256 \
		--in "$WORK/t256.oaep.ossl" --new-label t256-oaep --new-id 43 --key-type aes
	same_encryption t256-oaep 43 "$WORK/t256.key"
	check "OAEP: token wraps t256 for o-rsa (PyKCS11)" p11py wrap --key o-rsa --target t256 --mech oaep --hash sha256 --out "$WORK/t256.oaep"
	check "OAEP: openssl unwraps it" openssl pkeyutl -decrypt -inkey "$WORK/o-rsa.pem" -in "$WORK/t256.oaep" -out "$WORK/t256.oaep.unw" \
		-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
	assert_same "OAEP: openssl recovers t256's bytes" "$WORK/t256.key" "$WORK/t256.oaep.unw"
	check "OAEP: token wraps the sensitive generated key for o-rsa" p11py wrap --key o-rsa --target gen --mech oaep --hash sha384 \
		--oaep-label 6b6579 --out "$WORK/gen.oaep"
	check "OAEP: openssl unwraps it (SHA-384, label)" openssl pkeyutl -decrypt -inkey "$WORK/o-rsa.pem" -in "$WORK/gen.oaep" -out "$WORK/gen.oaep.unw" \
		-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha384 -pkeyopt rsa_mgf1_md:sha384 -pkeyopt rsa_oaep_label:6b6579
	assert_same "OAEP: = the key bytes the KWP route gave" "$WORK/gen.key" "$WORK/gen.oaep.unw"
	expect_fail "OAEP: a non-extractable key cannot be wrapped" p11py wrap --key o-rsa --target locked --mech oaep --out "$WORK/x"
	assert_rv "... CKR_KEY_UNEXTRACTABLE" CKR_KEY_UNEXTRACTABLE
	tamper "$WORK/t256.oaep.ossl" "$WORK/bad.oaep"
	expect_fail "OAEP: a tampered blob is refused" p11py unwrap --key rsa2048 --mech oaep --hash sha256 \
		--in "$WORK/bad.oaep" --new-label bad --new-id 4e --key-type aes
	assert_contains "... with CKR_WRAPPED_KEY_INVALID or CKR_ENCRYPTED_DATA_INVALID" "rv = CKR_"
	note "tampered OAEP unwrap: $(grep -o 'rv = CKR_[A-Z_]*' "$OUT" | head -n 1)"

	echo "# AES-GCM wrapping (PyKCS11; tools/aesgcm on the other side)"
	if AESGCM=$(go_tool aesgcm); then
		GIV=$(python3 -c 'import os; print(os.urandom(12).hex())')
		check "GCM: token wraps t192 under the KEK" p11py wrap --key kek --target t192 --mech gcm --iv "$GIV" --aad 6b6579 --out "$WORK/t192.gcm"
		rm -f "$WORK/t192.gcm.unw"
		check "GCM: Go opens the blob" "$AESGCM" open -key "$KEK" -iv "$GIV" -aad 6b6579 -in "$WORK/t192.gcm" -out "$WORK/t192.gcm.unw"
		assert_same "GCM: Go recovers t192's bytes" "$WORK/t192.key" "$WORK/t192.gcm.unw"
		"$AESGCM" seal -key "$KEK" -iv "$GIV" -aad 6b6579 -in "$WORK/t256.key" -out "$WORK/t256.gcm"
		check "GCM: token unwraps Go's blob" p11py unwrap --key kek --mech gcm --iv "$GIV" --aad 6b6579 --in "$WORK/t256.gcm" \
			--new-label t256-gcm --new-id 44 --key-type aes
		same_encryption t256-gcm 44 "$WORK/t256.key"
		tamper "$WORK/t256.gcm" "$WORK/bad.gcm"
		expect_fail "GCM: a tampered blob is refused" p11py unwrap --key kek --mech gcm --iv "$GIV" --aad 6b6579 --in "$WORK/bad.gcm" \
			--new-label bad --new-id 4d --key-type aes
		assert_contains "... with a CK_RV" "rv = CKR_"
	else
		fail "build tools/aesgcm" "go build failed"
	fi
fi

assert_no_panic "no recovered panic in the log"
finish
