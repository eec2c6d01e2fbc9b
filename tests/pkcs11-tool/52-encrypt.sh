#!/usr/bin/env bash
# Encryption across the token boundary, both ways, comparing bytes:
#   RSA-OAEP (SHA-256/384, with and without a label) and RSA PKCS#1 v1.5:
#     openssl encrypts to the token's exported public key → the token decrypts;
#     the token encrypts to an imported OpenSSL key → openssl decrypts;
#   AES-ECB/CBC/CBC-PAD (pkcs11-tool), AES-CTR and AES-GCM (PyKCS11: OpenSC
#   0.23's --encrypt/--decrypt know only ECB, CBC and CBC-PAD) with an
#   imported key of known bytes: token output = openssl output, and each side
#   decrypts what the other encrypted. OpenSSL 3.0's `enc` refuses GCM and
#   python3-cryptography is not a CI dependency, so tools/aesgcm (Go's
#   crypto/cipher) is the other side for GCM.
#
#   CRATON_SO=/abs/path/libcraton.so bash tests/pkcs11-tool/52-encrypt.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/lib.sh"
need_tools openssl

init_token encrypt

random_bytes 100 "$WORK/pt100"
random_bytes 64 "$WORK/pt64"
random_bytes 77 "$WORK/pt77"
random_bytes 10000 "$WORK/pt10k"
random_bytes 1 "$WORK/pt1"

# py_or_skip NAME: true when PyKCS11 is there; else records a skip.
py_or_skip() {
	[ "$HAVE_PYKCS11" = 1 ] && return 0
	skip "$1" "no python3 with PyKCS11 (Debian: python3-pykcs11)"
	return 1
}

echo "# RSA keys: one generated on the token, one imported from OpenSSL"
check "generate rsa2048" p11 "${LOGIN[@]}" --keypairgen --key-type rsa:2048 --label rsa2048 --id 01
check "export its public key" pubkey_pem 01 "" "$WORK/rsa2048.pem"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/o-rsa.pem" 2>/dev/null
openssl pkey -in "$WORK/o-rsa.pem" -pubout -outform DER -out "$WORK/o-rsa.pub.der"
openssl pkey -in "$WORK/o-rsa.pem" -outform DER -out "$WORK/o-rsa.der"
check "import o-rsa public key" p11 "${LOGIN[@]}" --write-object "$WORK/o-rsa.pub.der" --type pubkey --label o-rsa --id 21
check "import o-rsa private key" p11 "${LOGIN[@]}" --write-object "$WORK/o-rsa.der" --type privkey --label o-rsa --id 21

echo "# RSA-OAEP: openssl encrypts, the token decrypts"
for h in sha256 sha384; do
	H=${h^^}
	openssl pkeyutl -encrypt -pubin -inkey "$WORK/rsa2048.pem" -in "$WORK/pt100" -out "$WORK/oaep.$h" \
		-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:"$h" -pkeyopt rsa_mgf1_md:"$h"
	rm -f "$WORK/oaep.$h.out"
	check "OAEP $H: pkcs11-tool --decrypt" p11 "${LOGIN[@]}" --decrypt -m RSA-PKCS-OAEP --hash-algorithm "$H" --mgf "MGF1-$H" \
		--id 01 -i "$WORK/oaep.$h" -o "$WORK/oaep.$h.out"
	assert_same "OAEP $H: the token's plaintext = openssl's input" "$WORK/pt100" "$WORK/oaep.$h.out"
done
openssl pkeyutl -encrypt -pubin -inkey "$WORK/rsa2048.pem" -in "$WORK/pt100" -out "$WORK/oaep.label" \
	-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -pkeyopt rsa_oaep_label:c0ffee0102
# pkcs11-tool 0.23 has no option for the OAEP label (its --label names the
# object), so labelled OAEP goes through PyKCS11.
if py_or_skip "OAEP with a label"; then
	check "OAEP SHA256 label c0ffee0102: token decrypts (PyKCS11)" p11py decrypt --key rsa2048 --mech oaep --hash sha256 \
		--oaep-label c0ffee0102 --in "$WORK/oaep.label" --out "$WORK/oaep.label.out"
	assert_same "OAEP with a label: plaintext = openssl's input" "$WORK/pt100" "$WORK/oaep.label.out"
	expect_fail "OAEP with the wrong label is refused" p11py decrypt --key rsa2048 --mech oaep --hash sha256 \
		--oaep-label c0ffee0103 --in "$WORK/oaep.label" --out "$WORK/oaep.wrong"
	assert_rv "... CKR_ENCRYPTED_DATA_INVALID" CKR_ENCRYPTED_DATA_INVALID
	expect_fail "OAEP without the label is refused" p11py decrypt --key rsa2048 --mech oaep --hash sha256 \
		--in "$WORK/oaep.label" --out "$WORK/oaep.wrong"
	assert_rv "... CKR_ENCRYPTED_DATA_INVALID" CKR_ENCRYPTED_DATA_INVALID
	tamper "$WORK/oaep.sha256" "$WORK/oaep.bad"
	expect_fail "tampered OAEP ciphertext is refused" p11py decrypt --key rsa2048 --mech oaep --hash sha256 \
		--in "$WORK/oaep.bad" --out "$WORK/oaep.wrong"
	assert_rv "... CKR_ENCRYPTED_DATA_INVALID" CKR_ENCRYPTED_DATA_INVALID
fi
# (pkcs11-tool itself, on a bad ciphertext, retries with C_DecryptUpdate after
# C_Decrypt's CKR_ENCRYPTED_DATA_INVALID and prints that call's error instead.)
expect_fail "tampered OAEP ciphertext: pkcs11-tool --decrypt fails" p11 "${LOGIN[@]}" --decrypt -m RSA-PKCS-OAEP \
	--hash-algorithm SHA256 --mgf MGF1-SHA256 --id 01 -i "$WORK/oaep.label" -o "$WORK/oaep.wrong2"
assert_true "... and writes no plaintext" test ! -s "$WORK/oaep.wrong2"

echo "# RSA-OAEP: the token encrypts, openssl decrypts"
run p11 "${LOGIN[@]}" --encrypt -m RSA-PKCS-OAEP --hash-algorithm SHA256 --mgf MGF1-SHA256 --id 21 -i "$WORK/pt100" -o "$WORK/tok.oaep"
if [ "$RC" -ne 0 ] && grep -q -F "Secret key not found" "$OUT"; then
	skip "pkcs11-tool --encrypt with an RSA key" "OpenSC 0.23 encrypts with secret keys only (client limitation)"
else
	note "pkcs11-tool --encrypt with an RSA key: status $RC"
fi
if py_or_skip "token RSA encryption"; then
	for h in sha256 sha384; do
		check "OAEP ${h^^}: token encrypts to o-rsa (PyKCS11)" p11py encrypt --key o-rsa --mech oaep --hash "$h" \
			--in "$WORK/pt100" --out "$WORK/tok.oaep.$h"
		assert_true "OAEP ${h^^}: ciphertext is 256 bytes" test "$(wc -c <"$WORK/tok.oaep.$h")" -eq 256
		check "OAEP ${h^^}: openssl decrypts" openssl pkeyutl -decrypt -inkey "$WORK/o-rsa.pem" -in "$WORK/tok.oaep.$h" \
			-out "$WORK/tok.oaep.$h.out" -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:"$h" -pkeyopt rsa_mgf1_md:"$h"
		assert_same "OAEP ${h^^}: openssl's plaintext = the token's input" "$WORK/pt100" "$WORK/tok.oaep.$h.out"
	done
	check "OAEP SHA256 label 0a0b0c: token encrypts (PyKCS11)" p11py encrypt --key o-rsa --mech oaep --hash sha256 \
		--oaep-label 0a0b0c --in "$WORK/pt100" --out "$WORK/tok.oaep.label"
	check "OAEP label: openssl decrypts with the label" openssl pkeyutl -decrypt -inkey "$WORK/o-rsa.pem" -in "$WORK/tok.oaep.label" \
		-out "$WORK/tok.oaep.label.out" -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 \
		-pkeyopt rsa_oaep_label:0a0b0c
	assert_same "OAEP label: openssl's plaintext = the token's input" "$WORK/pt100" "$WORK/tok.oaep.label.out"
	expect_fail "OAEP label: openssl without the label fails" openssl pkeyutl -decrypt -inkey "$WORK/o-rsa.pem" \
		-in "$WORK/tok.oaep.label" -out "$WORK/x" -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256
	check "OAEP: token encrypts to its own rsa2048 (PyKCS11)" p11py encrypt --key rsa2048 --mech oaep --hash sha256 \
		--in "$WORK/pt100" --out "$WORK/tok.own"
	check "... and pkcs11-tool decrypts it" p11 "${LOGIN[@]}" --decrypt -m RSA-PKCS-OAEP --hash-algorithm SHA256 --mgf MGF1-SHA256 \
		--id 01 -i "$WORK/tok.own" -o "$WORK/tok.own.out"
	assert_same "... round trip" "$WORK/pt100" "$WORK/tok.own.out"
fi

echo "# RSA PKCS#1 v1.5 encryption (not FIPS): openssl encrypts, the token decrypts"
openssl pkeyutl -encrypt -pubin -inkey "$WORK/rsa2048.pem" -in "$WORK/pt100" -out "$WORK/v15"
check "RSA-PKCS: pkcs11-tool --decrypt" p11 "${LOGIN[@]}" --decrypt -m RSA-PKCS --id 01 -i "$WORK/v15" -o "$WORK/v15.out"
assert_same "RSA-PKCS: plaintext = openssl's input" "$WORK/pt100" "$WORK/v15.out"

echo "# AES with known keys (imported with --write-object)"
random_bytes 32 "$WORK/aes256.key"
random_bytes 16 "$WORK/aes128.key"
check "import AES-256 key" p11 "${LOGIN[@]}" --write-object "$WORK/aes256.key" --type secrkey --key-type AES:32 --label aes256 --id 31
check "import AES-128 key" p11 "${LOGIN[@]}" --write-object "$WORK/aes128.key" --type secrkey --key-type AES:16 --label aes128 --id 32
IV=$(python3 -c 'import os; print(os.urandom(16).hex())')

for spec in "aes256 31 256" "aes128 32 128"; do
	read -r k id bits <<<"$spec"
	key=$(hexof "$WORK/$k.key")
	# mechanism  openssl-cipher  padding  input
	for m in "AES-ECB ecb -nopad pt64" "AES-CBC cbc -nopad pt64" "AES-CBC-PAD cbc '' pt77" "AES-CBC-PAD cbc '' pt64" "AES-CBC-PAD cbc '' pt10k"; do
		eval "set -- $m"
		mech=$1 mode=$2 pad=$3 in=$4
		ivopt=()
		[ "$mode" = cbc ] && ivopt=(--iv "$IV")
		osslopt=(-K "$key")
		[ "$mode" = cbc ] && osslopt+=(-iv "$IV")
		[ -n "$pad" ] && osslopt+=("$pad")
		name="$k $mech ($in)"
		rm -f "$WORK/t.enc" "$WORK/t.dec"
		check "$name: token encrypts" p11 "${LOGIN[@]}" --encrypt -m "$mech" --id "$id" "${ivopt[@]}" -i "$WORK/$in" -o "$WORK/t.enc"
		openssl enc -aes-"$bits"-"$mode" "${osslopt[@]}" -in "$WORK/$in" -out "$WORK/o.enc"
		assert_same "$name: token ciphertext = openssl enc" "$WORK/t.enc" "$WORK/o.enc"
		check "$name: token decrypts openssl's ciphertext" p11 "${LOGIN[@]}" --decrypt -m "$mech" --id "$id" "${ivopt[@]}" -i "$WORK/o.enc" -o "$WORK/t.dec"
		assert_same "$name: token plaintext = input" "$WORK/$in" "$WORK/t.dec"
		check "$name: openssl decrypts the token's ciphertext" openssl enc -d -aes-"$bits"-"$mode" "${osslopt[@]}" -in "$WORK/t.enc" -out "$WORK/o.dec"
		assert_same "$name: openssl plaintext = input" "$WORK/$in" "$WORK/o.dec"
	done
done
expect_fail "AES-CBC without padding refuses 77 bytes" p11 "${LOGIN[@]}" --encrypt -m AES-CBC --id 31 --iv "$IV" -i "$WORK/pt77" -o "$WORK/x"
assert_rv "... CKR_DATA_LEN_RANGE" CKR_DATA_LEN_RANGE
# A ciphertext whose last plaintext byte is 0x00: never valid PKCS#7 padding.
{ head -c 63 "$WORK/pt64"; printf '\x00'; } >"$WORK/badpad.pt"
openssl enc -aes-256-cbc -nopad -K "$(hexof "$WORK/aes256.key")" -iv "$IV" -in "$WORK/badpad.pt" -out "$WORK/pad.bad"
expect_fail "AES-CBC-PAD: a ciphertext with bad padding is refused" p11 "${LOGIN[@]}" --decrypt -m AES-CBC-PAD --id 31 --iv "$IV" -i "$WORK/pad.bad" -o "$WORK/x"
assert_contains "... CKR_ENCRYPTED_DATA_INVALID" "CKR_ENCRYPTED_DATA_INVALID"
# pkcs11-tool pads a short --iv with zeros itself; PyKCS11 sends it as is.
if py_or_skip "AES-CBC-PAD with a 15-byte IV"; then
	expect_fail "AES-CBC-PAD with a 15-byte IV is refused" p11py encrypt --key aes256 --mech cbc-pad --iv "${IV:2}" --in "$WORK/pt64" --out "$WORK/x"
	assert_rv "... CKR_MECHANISM_PARAM_INVALID" CKR_MECHANISM_PARAM_INVALID
fi

echo "# AES-CTR (PyKCS11; openssl enc -aes-*-ctr on the other side)"
run p11 "${LOGIN[@]}" --encrypt -m AES-CTR --id 31 --iv "$IV" -i "$WORK/pt77" -o "$WORK/x"
if [ "$RC" -ne 0 ] && grep -q -F "Mechanism AES-CTR illegal or not supported" "$OUT"; then
	skip "pkcs11-tool --encrypt -m AES-CTR" "OpenSC 0.23 cannot (client limitation)"
fi
if py_or_skip "AES-CTR"; then
	# A counter block whose low 64 bits are about to wrap: with ulCounterBits =
	# 128 the carry runs into the high half, as in openssl's CTR.
	CB=0123456789abcdeffffffffffffffffe
	for spec in "aes256 256" "aes128 128"; do
		read -r k bits <<<"$spec"
		key=$(hexof "$WORK/$k.key")
		for in in pt77 pt10k; do
			check "$k AES-CTR ($in): token encrypts" p11py encrypt --key "$k" --mech ctr --iv "$CB" --in "$WORK/$in" --out "$WORK/t.ctr"
			openssl enc -aes-"$bits"-ctr -K "$key" -iv "$CB" -in "$WORK/$in" -out "$WORK/o.ctr"
			assert_same "$k AES-CTR ($in): token = openssl enc -aes-$bits-ctr" "$WORK/t.ctr" "$WORK/o.ctr"
			check "$k AES-CTR ($in): token decrypts openssl's" p11py decrypt --key "$k" --mech ctr --iv "$CB" --in "$WORK/o.ctr" --out "$WORK/t.dec"
			assert_same "$k AES-CTR ($in): plaintext = input" "$WORK/$in" "$WORK/t.dec"
		done
	done
fi

echo "# AES-GCM (PyKCS11; tools/aesgcm, Go's crypto/cipher, on the other side)"
run p11 "${LOGIN[@]}" --encrypt -m AES-GCM --id 31 --iv "${IV:0:24}" -i "$WORK/pt77" -o "$WORK/x"
if [ "$RC" -ne 0 ] && grep -q -F "Mechanism AES-GCM illegal or not supported" "$OUT"; then
	skip "pkcs11-tool --encrypt -m AES-GCM" "OpenSC 0.23 cannot (client limitation)"
fi
if py_or_skip "AES-GCM" && AESGCM=$(go_tool aesgcm); then
	pass "build tools/aesgcm"
	GIV=$(python3 -c 'import os; print(os.urandom(12).hex())')
	AAD=$(python3 -c 'import os; print(os.urandom(20).hex())')
	# (No empty plaintext: PyKCS11 1.5 refuses an empty buffer itself with
	# CKR_ARGUMENTS_BAD before calling C_Encrypt.)
	for spec in "aes256 128 pt77" "aes256 128 pt1" "aes256 96 pt10k" "aes128 128 pt64"; do
		read -r k tag in <<<"$spec"
		key=$(hexof "$WORK/$k.key")
		name="$k GCM tag $tag ($in)"
		check "$name: token encrypts" p11py encrypt --key "$k" --mech gcm --iv "$GIV" --aad "$AAD" --tag-bits "$tag" \
			--in "$WORK/$in" --out "$WORK/t.gcm"
		assert_true "$name: ciphertext = plaintext + $((tag / 8))-byte tag" \
			test "$(wc -c <"$WORK/t.gcm")" -eq $(($(wc -c <"$WORK/$in") + tag / 8))
		rm -f "$WORK/g.dec"
		check "$name: Go opens the token's ciphertext" "$AESGCM" open -key "$key" -iv "$GIV" -aad "$AAD" -tag $((tag / 8)) \
			-in "$WORK/t.gcm" -out "$WORK/g.dec"
		assert_same "$name: Go's plaintext = input" "$WORK/$in" "$WORK/g.dec"
		"$AESGCM" seal -key "$key" -iv "$GIV" -aad "$AAD" -tag $((tag / 8)) -in "$WORK/$in" -out "$WORK/g.gcm"
		assert_same "$name: token ciphertext = Go's (same key, IV, AAD)" "$WORK/t.gcm" "$WORK/g.gcm"
		check "$name: token decrypts Go's ciphertext" p11py decrypt --key "$k" --mech gcm --iv "$GIV" --aad "$AAD" --tag-bits "$tag" \
			--in "$WORK/g.gcm" --out "$WORK/t.dec"
		assert_same "$name: token plaintext = input" "$WORK/$in" "$WORK/t.dec"
	done
	key=$(hexof "$WORK/aes256.key")
	"$AESGCM" seal -key "$key" -iv "$GIV" -aad "$AAD" -in "$WORK/pt77" -out "$WORK/g.gcm"
	rm -f "$WORK/x"
	tamper "$WORK/g.gcm" "$WORK/g.bad"
	expect_fail "GCM: a tampered ciphertext is refused" p11py decrypt --key aes256 --mech gcm --iv "$GIV" --aad "$AAD" \
		--in "$WORK/g.bad" --out "$WORK/x"
	assert_rv "... CKR_ENCRYPTED_DATA_INVALID" CKR_ENCRYPTED_DATA_INVALID
	assert_true "... and no plaintext is released" test ! -s "$WORK/x"
	expect_fail "GCM: the wrong AAD is refused" p11py decrypt --key aes256 --mech gcm --iv "$GIV" --aad "${AAD}00" \
		--in "$WORK/g.gcm" --out "$WORK/x"
	assert_rv "... CKR_ENCRYPTED_DATA_INVALID" CKR_ENCRYPTED_DATA_INVALID
	# A 16-byte IV (GHASH-derived J0) both ways.
	LIV=$(python3 -c 'import os; print(os.urandom(16).hex())')
	check "GCM 16-byte IV: token encrypts" p11py encrypt --key aes256 --mech gcm --iv "$LIV" --aad "$AAD" --in "$WORK/pt77" --out "$WORK/t.gcm"
	"$AESGCM" seal -key "$key" -iv "$LIV" -aad "$AAD" -in "$WORK/pt77" -out "$WORK/g.gcm"
	assert_same "GCM 16-byte IV: token ciphertext = Go's" "$WORK/t.gcm" "$WORK/g.gcm"
else
	[ "$HAVE_PYKCS11" = 1 ] && fail "build tools/aesgcm" "go build failed"
fi

assert_no_panic "no recovered panic in the log"
finish
