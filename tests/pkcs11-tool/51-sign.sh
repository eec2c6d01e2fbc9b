#!/usr/bin/env bash
# Signatures across the token boundary, both ways:
#   token signs (pkcs11-tool --sign) → OpenSSL verifies with the public key
#   exported from the token: RSA-2048/3072 PKCS#1 v1.5 and PSS (hashed, and
#   raw over a DigestInfo / digest), ECDSA P-256/384/521 (hashed and raw),
#   Ed25519;
#   OpenSSL signs → the token verifies (pkcs11-tool --verify) with an imported
#   key, and refuses a tampered signature;
#   HMAC-SHA-2 with a known key equals openssl dgst -mac HMAC.
# pkcs11-tool 0.23 exits 0 on a bad signature ("Invalid signature"), so every
# verification checks the text, never the status alone.
#
#   CRATON_SO=/abs/path/libcraton.so bash tests/pkcs11-tool/51-sign.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/lib.sh"
need_tools openssl

init_token sign

# 5000 bytes: pkcs11-tool feeds C_SignUpdate in pieces, so multi-part is exercised.
random_bytes 5000 "$WORK/data"
random_bytes 5000 "$WORK/other"
for h in sha256 sha384 sha512; do
	openssl dgst -"$h" -binary "$WORK/data" >"$WORK/data.$h"
done
# DigestInfo prefixes (RFC 8017 §9.2 note 1) for raw CKM_RSA_PKCS.
{ printf '\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20'; cat "$WORK/data.sha256"; } >"$WORK/di.sha256"
{ printf '\x30\x41\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x02\x05\x00\x04\x30'; cat "$WORK/data.sha384"; } >"$WORK/di.sha384"

differ() { ! cmp -s "$1" "$2"; }

# sig_ok NAME: the last `run` printed pkcs11-tool's "Signature is valid".
sig_ok() { assert_contains "$1" "Signature is valid"; }
# sig_bad NAME: a verification the token must refuse (pkcs11-tool prints
# "Invalid signature" and may still exit 0).
sig_bad() {
	if grep -q -F "Signature is valid" "$OUT"; then
		fail "$1" "the token accepted it"
		_lib_show_output
	elif grep -q -F -e "Invalid signature" -e "CKR_SIGNATURE_INVALID" -e "CKR_SIGNATURE_LEN_RANGE" "$OUT"; then
		pass "$1"
	else
		fail "$1" "neither 'Invalid signature' nor CKR_SIGNATURE_INVALID"
		_lib_show_output
	fi
}

echo "# token key pairs"
gen() { # NAME KEY-TYPE ID
	check "generate $1" p11 "${LOGIN[@]}" --keypairgen --key-type "$2" --label "$1" --id "$3"
	cp "$OUT" "$WORK/$1.gen"
	check "$1: export the public key" pubkey_pem "$3" "$WORK/$1.gen" "$WORK/$1.pem"
}
gen rsa2048 rsa:2048 01
gen rsa3072 rsa:3072 02
gen p256 EC:prime256v1 03
gen p384 EC:secp384r1 04
gen p521 EC:secp521r1 05
gen ed25519 EC:edwards25519 06

echo "# RSA: token signs, openssl verifies"
for spec in "rsa2048 01 256" "rsa3072 02 384"; do
	read -r k id nbytes <<<"$spec"
	for h in sha256 sha384 sha512; do
		H=${h^^}
		check "$k $H-RSA-PKCS: sign" p11 "${LOGIN[@]}" --sign -m "$H-RSA-PKCS" --id "$id" -i "$WORK/data" -o "$WORK/$k.$h.pkcs"
		assert_true "$k $H-RSA-PKCS: signature is $nbytes bytes" test "$(wc -c <"$WORK/$k.$h.pkcs")" -eq "$nbytes"
		run openssl dgst -"$h" -verify "$WORK/$k.pem" -signature "$WORK/$k.$h.pkcs" "$WORK/data"
		assert_verified "$k $H-RSA-PKCS: openssl dgst -$h -verify"
	done
	# PKCS#1 v1.5 is deterministic: the same signature twice.
	check "$k SHA256-RSA-PKCS: sign again" p11 "${LOGIN[@]}" --sign -m SHA256-RSA-PKCS --id "$id" -i "$WORK/data" -o "$WORK/$k.sha256.pkcs2"
	assert_same "$k SHA256-RSA-PKCS: deterministic" "$WORK/$k.sha256.pkcs" "$WORK/$k.sha256.pkcs2"
	run openssl dgst -sha256 -verify "$WORK/$k.pem" -signature "$WORK/$k.sha256.pkcs" "$WORK/other"
	assert_contains "$k: openssl rejects the signature over other data (harness self-check)" "Verification failure"

	for h in sha256 sha384; do
		H=${h^^}
		salt=$(($(wc -c <"$WORK/data.$h")))
		check "$k $H-RSA-PKCS-PSS: sign" p11 "${LOGIN[@]}" --sign -m "$H-RSA-PKCS-PSS" --id "$id" -i "$WORK/data" -o "$WORK/$k.$h.pss"
		assert_contains "$k $H-RSA-PKCS-PSS: pkcs11-tool asked for MGF1-$H, salt $salt" "mgf=MGF1-$H, salt_len=$salt B"
		run openssl dgst -"$h" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:"$salt" -sigopt rsa_mgf1_md:"$h" \
			-verify "$WORK/$k.pem" -signature "$WORK/$k.$h.pss" "$WORK/data"
		assert_verified "$k $H-RSA-PKCS-PSS: openssl verifies (salt $salt)"
	done
	check "$k SHA256-RSA-PKCS-PSS: sign again" p11 "${LOGIN[@]}" --sign -m SHA256-RSA-PKCS-PSS --id "$id" -i "$WORK/data" -o "$WORK/$k.sha256.pss2"
	assert_true "$k SHA256-RSA-PKCS-PSS: randomised (two signatures differ)" differ "$WORK/$k.sha256.pss" "$WORK/$k.sha256.pss2"

	for h in sha256 sha384; do
		check "$k RSA-PKCS over a ${h^^} DigestInfo: sign" p11 "${LOGIN[@]}" --sign -m RSA-PKCS --id "$id" -i "$WORK/di.$h" -o "$WORK/$k.$h.raw"
		assert_same "$k RSA-PKCS over DigestInfo = ${h^^}-RSA-PKCS" "$WORK/$k.$h.raw" "$WORK/$k.$h.pkcs"
		run openssl dgst -"$h" -verify "$WORK/$k.pem" -signature "$WORK/$k.$h.raw" "$WORK/data"
		assert_verified "$k RSA-PKCS over a ${h^^} DigestInfo: openssl verifies"
	done
	check "$k RSA-PKCS-PSS over a SHA-256 digest: sign" p11 "${LOGIN[@]}" --sign -m RSA-PKCS-PSS --hash-algorithm SHA256 --mgf MGF1-SHA256 \
		--id "$id" -i "$WORK/data.sha256" -o "$WORK/$k.rawpss"
	run openssl pkeyutl -verify -pubin -inkey "$WORK/$k.pem" -in "$WORK/data.sha256" -sigfile "$WORK/$k.rawpss" \
		-pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32
	assert_verified "$k RSA-PKCS-PSS over a digest: openssl pkeyutl verifies"

	run p11 "${LOGIN[@]}" --verify -m SHA256-RSA-PKCS --id "$id" -i "$WORK/data" --signature-file "$WORK/$k.sha256.pkcs"
	sig_ok "$k: the token verifies its own SHA256-RSA-PKCS signature"
	tamper "$WORK/$k.sha256.pkcs" "$WORK/$k.bad"
	run p11 "${LOGIN[@]}" --verify -m SHA256-RSA-PKCS --id "$id" -i "$WORK/data" --signature-file "$WORK/$k.bad"
	sig_bad "$k: the token refuses a tampered SHA256-RSA-PKCS signature"
	run p11 "${LOGIN[@]}" --verify -m SHA256-RSA-PKCS-PSS --id "$id" -i "$WORK/data" --signature-file "$WORK/$k.sha256.pss"
	sig_ok "$k: the token verifies its own SHA256-RSA-PKCS-PSS signature"
	run p11 "${LOGIN[@]}" --verify -m SHA256-RSA-PKCS-PSS --id "$id" -i "$WORK/other" --signature-file "$WORK/$k.sha256.pss"
	sig_bad "$k: the token refuses a PSS signature over other data"
done

echo "# ECDSA: token signs, openssl verifies"
for spec in "p256 03 32 sha256" "p384 04 48 sha384" "p521 05 66 sha512"; do
	read -r k id n hraw <<<"$spec"
	for h in sha256 sha384 sha512; do
		H=${h^^}
		check "$k ECDSA-$H: sign (--signature-format openssl)" p11 "${LOGIN[@]}" --sign -m "ECDSA-$H" --id "$id" \
			-i "$WORK/data" -o "$WORK/$k.$h.der" --signature-format openssl
		run openssl dgst -"$h" -verify "$WORK/$k.pem" -signature "$WORK/$k.$h.der" "$WORK/data"
		assert_verified "$k ECDSA-$H: openssl dgst -$h -verify"
	done
	check "$k ECDSA-SHA256: sign, PKCS#11 r||s format" p11 "${LOGIN[@]}" --sign -m ECDSA-SHA256 --id "$id" -i "$WORK/data" -o "$WORK/$k.rs"
	assert_true "$k: r||s signature is 2 × $n bytes" test "$(wc -c <"$WORK/$k.rs")" -eq $((2 * n))
	check "$k raw ECDSA over a ${hraw^^} digest: sign" p11 "${LOGIN[@]}" --sign -m ECDSA --id "$id" \
		-i "$WORK/data.$hraw" -o "$WORK/$k.raw.der" --signature-format openssl
	run openssl pkeyutl -verify -pubin -inkey "$WORK/$k.pem" -in "$WORK/data.$hraw" -sigfile "$WORK/$k.raw.der"
	assert_verified "$k raw ECDSA: openssl pkeyutl -verify"
	run openssl dgst -"$hraw" -verify "$WORK/$k.pem" -signature "$WORK/$k.raw.der" "$WORK/data"
	assert_verified "$k raw ECDSA over the digest = ECDSA-${hraw^^} over the data (openssl dgst)"

	# A digest longer (or shorter) than the order: ECDSA truncates (or pads)
	# it the same way on both sides.
	other=$([ "$hraw" = sha512 ] && echo sha256 || echo sha512)
	check "$k raw ECDSA over a ${other^^} digest: sign" p11 "${LOGIN[@]}" --sign -m ECDSA --id "$id" \
		-i "$WORK/data.$other" -o "$WORK/$k.raw2.der" --signature-format openssl
	run openssl pkeyutl -verify -pubin -inkey "$WORK/$k.pem" -in "$WORK/data.$other" -sigfile "$WORK/$k.raw2.der"
	assert_verified "$k raw ECDSA over a ${other^^} digest: openssl pkeyutl -verify"

	run p11 "${LOGIN[@]}" --verify -m ECDSA-SHA256 --id "$id" -i "$WORK/data" --signature-file "$WORK/$k.sha256.der" --signature-format openssl
	sig_ok "$k: the token verifies its own ECDSA-SHA256 signature"
	run p11 "${LOGIN[@]}" --verify -m ECDSA-SHA256 --id "$id" -i "$WORK/other" --signature-file "$WORK/$k.sha256.der" --signature-format openssl
	sig_bad "$k: the token refuses it over other data"
done

echo "# Ed25519: token signs, openssl verifies"
check "EDDSA: sign" p11 "${LOGIN[@]}" --sign -m EDDSA --id 06 -i "$WORK/data" -o "$WORK/ed.sig"
assert_true "EDDSA: signature is 64 bytes" test "$(wc -c <"$WORK/ed.sig")" -eq 64
run openssl pkeyutl -verify -pubin -inkey "$WORK/ed25519.pem" -rawin -in "$WORK/data" -sigfile "$WORK/ed.sig"
assert_verified "EDDSA: openssl pkeyutl -verify -rawin"
check "EDDSA: sign again" p11 "${LOGIN[@]}" --sign -m EDDSA --id 06 -i "$WORK/data" -o "$WORK/ed.sig2"
assert_same "EDDSA: deterministic (RFC 8032)" "$WORK/ed.sig" "$WORK/ed.sig2"
run openssl pkeyutl -verify -pubin -inkey "$WORK/ed25519.pem" -rawin -in "$WORK/other" -sigfile "$WORK/ed.sig"
assert_contains "EDDSA: openssl rejects it over other data (self-check)" "Signature Verification Failure"
run p11 "${LOGIN[@]}" --verify -m EDDSA --id 06 -i "$WORK/data" --signature-file "$WORK/ed.sig"
sig_ok "EDDSA: the token verifies its own signature"

echo "# OpenSSL signs, the token verifies (imported keys)"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/o-rsa.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/o-p256.pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$WORK/o-p384.pem"
openssl genpkey -algorithm ED25519 -out "$WORK/o-ed.pem"
for k in o-rsa o-p256 o-p384 o-ed; do
	openssl pkey -in "$WORK/$k.pem" -pubout -outform DER -out "$WORK/$k.pub.der"
	openssl pkey -in "$WORK/$k.pem" -pubout -out "$WORK/$k.pub.pem"
	openssl pkey -in "$WORK/$k.pem" -outform DER -out "$WORK/$k.der"
done
for spec in "o-rsa 21" "o-p256 22" "o-p384 23"; do
	read -r k id <<<"$spec"
	check "$k: --write-object public key" p11 "${LOGIN[@]}" --write-object "$WORK/$k.pub.der" --type pubkey --label "$k" --id "$id"
	assert_contains "$k: 'Created public key'" "Created public key:"
	check "$k: --write-object private key" p11 "${LOGIN[@]}" --write-object "$WORK/$k.der" --type privkey --label "$k" --id "$id"
	assert_contains "$k: imported private key is sensitive" "Access:     sensitive"
	assert_not_contains "$k: imported private key is not 'local'" "local"
done

openssl dgst -sha256 -sign "$WORK/o-rsa.pem" -out "$WORK/o-rsa.sig" "$WORK/data"
run p11 "${LOGIN[@]}" --verify -m SHA256-RSA-PKCS --id 21 -i "$WORK/data" --signature-file "$WORK/o-rsa.sig"
sig_ok "openssl SHA256 RSA PKCS#1 v1.5 signature: token SHA256-RSA-PKCS verifies"
tamper "$WORK/o-rsa.sig" "$WORK/o-rsa.bad"
run p11 "${LOGIN[@]}" --verify -m SHA256-RSA-PKCS --id 21 -i "$WORK/data" --signature-file "$WORK/o-rsa.bad"
sig_bad "tampered openssl RSA signature: token refuses"
# The public half alone, as its own object: verification needs nothing else.
check "o-rsa: its public key alone as another object" p11 "${LOGIN[@]}" --write-object "$WORK/o-rsa.pub.der" --type pubkey --label o-rsa-pub --id 25
run p11 "${LOGIN[@]}" --verify -m SHA256-RSA-PKCS --id 25 -i "$WORK/data" --signature-file "$WORK/o-rsa.sig"
sig_ok "openssl RSA signature: the lone public key object verifies it"
run p11 "${LOGIN[@]}" --verify -m SHA256-RSA-PKCS --id 25 -i "$WORK/data" --signature-file "$WORK/o-rsa.bad"
sig_bad "tampered openssl RSA signature: the lone public key object refuses it"
openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -sign "$WORK/o-rsa.pem" -out "$WORK/o-rsa.pss" "$WORK/data"
run p11 "${LOGIN[@]}" --verify -m SHA256-RSA-PKCS-PSS --id 21 -i "$WORK/data" --signature-file "$WORK/o-rsa.pss"
sig_ok "openssl RSA-PSS (SHA-256, salt 32) signature: token SHA256-RSA-PKCS-PSS verifies"
tamper "$WORK/o-rsa.pss" "$WORK/o-rsa.pss.bad"
run p11 "${LOGIN[@]}" --verify -m SHA256-RSA-PKCS-PSS --id 21 -i "$WORK/data" --signature-file "$WORK/o-rsa.pss.bad"
sig_bad "tampered openssl RSA-PSS signature: token refuses"
check "imported RSA private key: token signs" p11 "${LOGIN[@]}" --sign -m SHA384-RSA-PKCS --id 21 -i "$WORK/data" -o "$WORK/o-rsa.tok"
run openssl dgst -sha384 -verify "$WORK/o-rsa.pub.pem" -signature "$WORK/o-rsa.tok" "$WORK/data"
assert_verified "imported RSA private key: openssl verifies with the original public key"

for spec in "o-p256 22 sha256" "o-p384 23 sha384"; do
	read -r k id h <<<"$spec"
	openssl dgst -"$h" -sign "$WORK/$k.pem" -out "$WORK/$k.sig" "$WORK/data"
	run p11 "${LOGIN[@]}" --verify -m "ECDSA-${h^^}" --id "$id" -i "$WORK/data" --signature-file "$WORK/$k.sig" --signature-format openssl
	sig_ok "openssl ECDSA ${h^^} signature ($k): token ECDSA-${h^^} verifies"
	# Flip a bit in s (the last bytes): still valid DER, wrong signature.
	python3 -c 'import sys; b=bytearray(open(sys.argv[1],"rb").read()); b[-3]^=1; open(sys.argv[2],"wb").write(b)' \
		"$WORK/$k.sig" "$WORK/$k.bad"
	run p11 "${LOGIN[@]}" --verify -m "ECDSA-${h^^}" --id "$id" -i "$WORK/data" --signature-file "$WORK/$k.bad" --signature-format openssl
	sig_bad "tampered openssl ECDSA signature ($k): token refuses"
	run openssl pkeyutl -sign -inkey "$WORK/$k.pem" -in "$WORK/data.$h" -out "$WORK/$k.rawsig"
	run p11 "${LOGIN[@]}" --verify -m ECDSA --id "$id" -i "$WORK/data.$h" --signature-file "$WORK/$k.rawsig" --signature-format openssl
	sig_ok "openssl ECDSA over a digest ($k): token raw ECDSA verifies"
	check "imported $k private key: token signs" p11 "${LOGIN[@]}" --sign -m "ECDSA-${h^^}" --id "$id" -i "$WORK/data" \
		-o "$WORK/$k.tok" --signature-format openssl
	run openssl dgst -"$h" -verify "$WORK/$k.pub.pem" -signature "$WORK/$k.tok" "$WORK/data"
	assert_verified "imported $k private key: openssl verifies with the original public key"
done

# pkcs11-tool 0.23 cannot write Ed25519 keys ("Unsupported key type: 0x43F");
# PyKCS11 creates the public key object (RFC 8410 OID as CKA_EC_PARAMS).
HAVE_OED=0
run p11 "${LOGIN[@]}" --write-object "$WORK/o-ed.pub.der" --type pubkey --label o-ed --id 24
if [ "$RC" -ne 0 ] && grep -q -F "Unsupported key type" "$OUT"; then
	skip "o-ed: pkcs11-tool --write-object Ed25519 public key" "pkcs11-tool 0.23 cannot (client limitation)"
	if [ "$HAVE_PYKCS11" = 1 ]; then
		check "o-ed: PyKCS11 C_CreateObject of the Ed25519 public key" p11py import-ed25519-pub --label o-ed --id 24 --spki "$WORK/o-ed.pub.der"
		HAVE_OED=1
	else
		skip "o-ed: import and verify" "no PyKCS11 either"
	fi
else
	assert_true "o-ed: pkcs11-tool --write-object Ed25519 public key" test "$RC" -eq 0
	HAVE_OED=1
fi
if [ "$HAVE_OED" = 1 ]; then
	openssl pkeyutl -sign -inkey "$WORK/o-ed.pem" -rawin -in "$WORK/data" -out "$WORK/o-ed.sig"
	run p11 "${LOGIN[@]}" --verify -m EDDSA --id 24 -i "$WORK/data" --signature-file "$WORK/o-ed.sig"
	sig_ok "openssl Ed25519 signature: token EDDSA verifies"
	tamper "$WORK/o-ed.sig" "$WORK/o-ed.bad"
	run p11 "${LOGIN[@]}" --verify -m EDDSA --id 24 -i "$WORK/data" --signature-file "$WORK/o-ed.bad"
	sig_bad "tampered openssl Ed25519 signature: token refuses"
fi

echo "# HMAC with a known key"
random_bytes 32 "$WORK/hmac-aes.key"
random_bytes 45 "$WORK/hmac-gen.key"
# pkcs11-tool 0.23 cannot write CKK_GENERIC_SECRET (see 20-objects.sh): the
# generic key comes from PyKCS11; the token also accepts an AES key for HMAC.
check "write an HMAC key as AES:32 (pkcs11-tool)" p11 "${LOGIN[@]}" --write-object "$WORK/hmac-aes.key" --type secrkey --key-type AES:32 --label hmac-aes --id 31
HMAC_KEYS=("hmac-aes 31")
if [ "$HAVE_PYKCS11" = 1 ]; then
	check "create a 45-byte CKK_GENERIC_SECRET HMAC key (PyKCS11)" p11py create-secret --label hmac-gen --id 32 --key-type generic --value-file "$WORK/hmac-gen.key" --sensitive
	HMAC_KEYS+=("hmac-gen 32")
else
	skip "CKK_GENERIC_SECRET HMAC key" "no PyKCS11"
fi
# pkcs11-tool 0.23 --sign/--verify pick a key by --id only (--label is
# ignored there), so every key in this file has its own CKA_ID.
for spec in "${HMAC_KEYS[@]}"; do
	read -r key id <<<"$spec"
	hkey=$(hexof "$WORK/$key.key")
	for h in sha256 sha384 sha512; do
		H=${h^^}
		check "$key $H-HMAC: sign" p11 "${LOGIN[@]}" --sign -m "$H-HMAC" --id "$id" -i "$WORK/data" -o "$WORK/$key.$h.mac"
		openssl dgst -"$h" -mac HMAC -macopt hexkey:"$hkey" -binary -out "$WORK/$key.$h.ossl" "$WORK/data"
		assert_same "$key $H-HMAC = openssl dgst -$h -mac HMAC" "$WORK/$key.$h.mac" "$WORK/$key.$h.ossl"
	done
	run p11 "${LOGIN[@]}" --verify -m SHA256-HMAC --id "$id" -i "$WORK/data" --signature-file "$WORK/$key.sha256.ossl"
	sig_ok "$key: the token verifies openssl's HMAC-SHA256"
	tamper "$WORK/$key.sha256.ossl" "$WORK/$key.bad"
	run p11 "${LOGIN[@]}" --verify -m SHA256-HMAC --id "$id" -i "$WORK/data" --signature-file "$WORK/$key.bad"
	sig_bad "$key: the token refuses a tampered HMAC"
done

echo "# digests, and empty input"
: >"$WORK/empty"
for in in data empty; do
	for h in sha256 sha384 sha512; do
		check "${h^^} digest of $in" p11 --hash -m "${h^^}" -i "$WORK/$in" -o "$WORK/$in.$h.tok"
		openssl dgst -"$h" -binary -out "$WORK/$in.$h.ossl" "$WORK/$in"
		assert_same "${h^^} digest of $in = openssl dgst -$h" "$WORK/$in.$h.tok" "$WORK/$in.$h.ossl"
	done
done
check "SHA256-RSA-PKCS over empty input" p11 "${LOGIN[@]}" --sign -m SHA256-RSA-PKCS --id 01 -i "$WORK/empty" -o "$WORK/empty.rsa"
run openssl dgst -sha256 -verify "$WORK/rsa2048.pem" -signature "$WORK/empty.rsa" "$WORK/empty"
assert_verified "SHA256-RSA-PKCS over empty input: openssl verifies"
check "SHA256-HMAC over empty input" p11 "${LOGIN[@]}" --sign -m SHA256-HMAC --id 31 -i "$WORK/empty" -o "$WORK/empty.mac"
openssl dgst -sha256 -mac HMAC -macopt hexkey:"$(hexof "$WORK/hmac-aes.key")" -binary -out "$WORK/empty.mac.ossl" "$WORK/empty"
assert_same "SHA256-HMAC over empty input = openssl" "$WORK/empty.mac" "$WORK/empty.mac.ossl"
# (openssl 3.0 pkeyutl cannot read an empty -rawin file: the token checks itself.)
check "EDDSA over empty input" p11 "${LOGIN[@]}" --sign -m EDDSA --id 06 -i "$WORK/empty" -o "$WORK/empty.ed"
run p11 "${LOGIN[@]}" --verify -m EDDSA --id 06 -i "$WORK/empty" --signature-file "$WORK/empty.ed"
sig_ok "EDDSA over empty input: the token verifies"
run p11 "${LOGIN[@]}" --verify -m EDDSA --id 06 -i "$WORK/data" --signature-file "$WORK/empty.ed"
sig_bad "EDDSA: the empty input's signature does not verify other data"

assert_no_panic "no recovered panic in the log"
finish
