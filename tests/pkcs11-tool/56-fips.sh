#!/usr/bin/env bash
# The FIPS build (libcraton-fips.so: Go's certified FIPS 140-3 module,
# fips_mode on by default) through real clients:
#   -M hides every non-approved mechanism (SHA-1 in all its forms, AES-KW/KWP,
#   raw RSA-PKCS / RSA-PKCS-PSS / ECDSA); [fips] allow_prehashed_sign = true
#   brings back raw ECDSA, RSA-PKCS (sign/verify only) and RSA-PKCS-PSS;
#   under GODEBUG=fips140=only (Go panics on non-approved calls) RSA-2048,
#   P-256 and Ed25519 keys are generated, sign and verify, and what must be
#   refused is refused with a CK_RV, never a panic; AES-GCM IVs are the
#   token's; a fips_mode token under GODEBUG=fips140=off refuses to start.
#
#   CRATON_SO=/abs/libcraton.so [CRATON_FIPS_SO=/abs/libcraton-fips.so] bash tests/pkcs11-tool/56-fips.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/lib.sh"
need_tools openssl

NONFIPS_SO=$CRATON_SO
FIPS_SO=${CRATON_FIPS_SO:-$(dirname "$CRATON_SO")/libcraton-fips.so}
if [ ! -f "$FIPS_SO" ]; then
	fail "the FIPS library exists" "$FIPS_SO is missing (make fips)"
	finish
fi
pass "the FIPS library exists ($FIPS_SO)"
# From here on p11, p11py and pubkey_pem drive the FIPS build.
CRATON_SO=$FIPS_SO
unset GODEBUG

# only CMD...: CMD with Go's FIPS module enforcing (non-approved calls panic).
only() { GODEBUG=fips140=only "$@"; }
# pre CMD...: CMD with [fips] allow_prehashed_sign = true.
cp "$CRATON_CONF" "$WORK/prehashed.toml"
printf '\n[fips]\nallow_prehashed_sign = true\n' >>"$WORK/prehashed.toml"
pre() { CRATON_CONF=$WORK/prehashed.toml "$@"; }
py_or_skip() {
	[ "$HAVE_PYKCS11" = 1 ] && return 0
	skip "$1" "no python3 with PyKCS11 (Debian: python3-pykcs11)"
	return 1
}
# Built before anything runs under GODEBUG=fips140=only (the go command and
# the tool itself must not run under it).
AESGCM=""
if [ "$HAVE_PYKCS11" = 1 ]; then
	AESGCM=$(go_tool aesgcm) || AESGCM=""
fi

init_token fips
check "-I: the FIPS build answers" p11 -I

echo "# -M: only approved mechanisms"
check "-M (fips_mode by default in this build)" p11 -M
cp "$OUT" "$WORK/mechs"
for absent in "SHA-1," "SHA1-RSA-PKCS," "SHA-1-HMAC," "ECDSA-SHA1," "AES-KEY-WRAP," "mechtype-0x210B," "RSA-PKCS," "ECDSA," "RSA-PKCS-PSS,"; do
	assert_not_contains "-M: no ${absent%,}" "  $absent"
done
for present in \
	"RSA-PKCS-KEY-PAIR-GEN, keySize={2048,4096}, generate_key_pair" \
	"RSA-PKCS-OAEP, keySize={2048,4096}, encrypt, decrypt, wrap, unwrap" \
	"SHA256-RSA-PKCS, keySize={2048,4096}, sign, verify" \
	"SHA256-RSA-PKCS-PSS, keySize={2048,4096}, sign, verify" \
	"ECDSA-SHA256, keySize={256,521}, sign, verify" \
	"ECDH1-DERIVE, keySize={256,521}, derive" \
	"EDDSA, keySize={255,255}, sign, verify" \
	"AES-GCM, keySize={16,32}, encrypt, decrypt, wrap, unwrap" \
	"AES-CBC-PAD, keySize={16,32}, encrypt, decrypt, wrap, unwrap" \
	"AES-KEY-GEN, keySize={16,32}, generate" \
	"SHA256, digest" \
	"SHA256-HMAC, keySize={14,4096}, sign, verify" \
	"GENERIC-SECRET-KEY-GEN, keySize={14,4096}, generate"; do
	assert_contains "-M: $present" "  $present"
done

echo "# -M with [fips] allow_prehashed_sign = true"
check "-M (allow_prehashed_sign)" pre p11 -M
assert_contains "-M prehashed: RSA-PKCS for sign and verify only" "  RSA-PKCS, keySize={2048,4096}, sign, verify"
assert_not_contains "-M prehashed: RSA-PKCS never encrypts or decrypts" "  RSA-PKCS, keySize={2048,4096}, encrypt"
assert_contains "-M prehashed: raw ECDSA" "  ECDSA, keySize={256,521}, sign, verify"
assert_contains "-M prehashed: raw RSA-PKCS-PSS" "  RSA-PKCS-PSS, keySize={2048,4096}, sign, verify"
for absent in "SHA-1," "SHA1-RSA-PKCS," "SHA-1-HMAC," "ECDSA-SHA1," "AES-KEY-WRAP," "mechtype-0x210B,"; do
	assert_not_contains "-M prehashed: still no ${absent%,}" "  $absent"
done

random_bytes 3000 "$WORK/data"
openssl dgst -sha256 -binary "$WORK/data" >"$WORK/data.sha256"
openssl dgst -sha1 -binary "$WORK/data" >"$WORK/data.sha1"
{ printf '\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20'; cat "$WORK/data.sha256"; } >"$WORK/di.sha256"
{ printf '\x30\x21\x30\x09\x06\x05\x2b\x0e\x03\x02\x1a\x05\x00\x04\x14'; cat "$WORK/data.sha1"; } >"$WORK/di.sha1"

echo "# GODEBUG=fips140=only: key generation"
check "RSA-2048 key pair" only p11 "${LOGIN[@]}" --keypairgen --key-type rsa:2048 --label rsa --id 01
assert_contains "RSA-2048: 2048 bits" "Public Key Object; RSA 2048 bits"
check "P-256 key pair" only p11 "${LOGIN[@]}" --keypairgen --key-type EC:prime256v1 --label p256 --id 02
cp "$OUT" "$WORK/p256.gen"
check "Ed25519 key pair" only p11 "${LOGIN[@]}" --keypairgen --key-type EC:edwards25519 --label ed --id 03
check "AES-256 key" only p11 "${LOGIN[@]}" --keygen --key-type AES:32 --sensitive --label aes --id 04
expect_fail "RSA-1024 key pair is refused" only p11 "${LOGIN[@]}" --keypairgen --key-type rsa:1024 --label rsa1024 --id 0f
assert_rv "... CKR_KEY_SIZE_RANGE" CKR_KEY_SIZE_RANGE
for spec in "rsa 01" "p256 02" "ed 03"; do
	read -r k id <<<"$spec"
	check "$k: export the public key" pubkey_pem "$id" "$WORK/$k.gen" "$WORK/$k.pem"
done

echo "# GODEBUG=fips140=only: token signs, openssl verifies; token verifies"
check "SHA256-RSA-PKCS: sign" only p11 "${LOGIN[@]}" --sign -m SHA256-RSA-PKCS --id 01 -i "$WORK/data" -o "$WORK/rsa.sig"
run openssl dgst -sha256 -verify "$WORK/rsa.pem" -signature "$WORK/rsa.sig" "$WORK/data"
assert_verified "SHA256-RSA-PKCS: openssl verifies"
run only p11 "${LOGIN[@]}" --verify -m SHA256-RSA-PKCS --id 01 -i "$WORK/data" --signature-file "$WORK/rsa.sig"
assert_contains "SHA256-RSA-PKCS: the token verifies" "Signature is valid"
check "SHA384-RSA-PKCS-PSS: sign" only p11 "${LOGIN[@]}" --sign -m SHA384-RSA-PKCS-PSS --id 01 -i "$WORK/data" -o "$WORK/rsa.pss"
run openssl dgst -sha384 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:48 -sigopt rsa_mgf1_md:sha384 \
	-verify "$WORK/rsa.pem" -signature "$WORK/rsa.pss" "$WORK/data"
assert_verified "SHA384-RSA-PKCS-PSS: openssl verifies"
run only p11 "${LOGIN[@]}" --verify -m SHA384-RSA-PKCS-PSS --id 01 -i "$WORK/data" --signature-file "$WORK/rsa.pss"
assert_contains "SHA384-RSA-PKCS-PSS: the token verifies" "Signature is valid"
check "ECDSA-SHA256: sign" only p11 "${LOGIN[@]}" --sign -m ECDSA-SHA256 --id 02 -i "$WORK/data" -o "$WORK/p256.sig" --signature-format openssl
run openssl dgst -sha256 -verify "$WORK/p256.pem" -signature "$WORK/p256.sig" "$WORK/data"
assert_verified "ECDSA-SHA256: openssl verifies"
run only p11 "${LOGIN[@]}" --verify -m ECDSA-SHA256 --id 02 -i "$WORK/data" --signature-file "$WORK/p256.sig" --signature-format openssl
assert_contains "ECDSA-SHA256: the token verifies" "Signature is valid"
check "EDDSA: sign" only p11 "${LOGIN[@]}" --sign -m EDDSA --id 03 -i "$WORK/data" -o "$WORK/ed.sig"
run openssl pkeyutl -verify -pubin -inkey "$WORK/ed.pem" -rawin -in "$WORK/data" -sigfile "$WORK/ed.sig"
assert_verified "EDDSA: openssl verifies"
run only p11 "${LOGIN[@]}" --verify -m EDDSA --id 03 -i "$WORK/data" --signature-file "$WORK/ed.sig"
assert_contains "EDDSA: the token verifies" "Signature is valid"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/o-p256.pem"
openssl pkey -in "$WORK/o-p256.pem" -pubout -outform DER -out "$WORK/o-p256.der"
check "import an openssl P-256 public key" only p11 "${LOGIN[@]}" --write-object "$WORK/o-p256.der" --type pubkey --label o-p256 --id 21
openssl dgst -sha256 -sign "$WORK/o-p256.pem" -out "$WORK/o-p256.sig" "$WORK/data"
run only p11 "${LOGIN[@]}" --verify -m ECDSA-SHA256 --id 21 -i "$WORK/data" --signature-file "$WORK/o-p256.sig" --signature-format openssl
assert_contains "openssl's ECDSA-SHA256 signature: the token verifies" "Signature is valid"

echo "# GODEBUG=fips140=only: other approved services"
openssl pkeyutl -encrypt -pubin -inkey "$WORK/rsa.pem" -in "$WORK/data.sha256" -out "$WORK/oaep" \
	-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
check "RSA-OAEP SHA-256: the token decrypts openssl's ciphertext" only p11 "${LOGIN[@]}" --decrypt -m RSA-PKCS-OAEP \
	--hash-algorithm SHA256 --mgf MGF1-SHA256 --id 01 -i "$WORK/oaep" -o "$WORK/oaep.out"
assert_same "RSA-OAEP: plaintext = openssl's input" "$WORK/data.sha256" "$WORK/oaep.out"
check "SHA256 digest" only p11 --hash -m SHA256 -i "$WORK/data" -o "$WORK/h"
assert_same "SHA256 digest = openssl dgst -sha256" "$WORK/h" "$WORK/data.sha256"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/peer.pem"
openssl pkey -in "$WORK/peer.pem" -pubout -outform DER -out "$WORK/peer.der"
check "ECDH P-256: derive" only p11 "${LOGIN[@]}" --derive -m ECDH1-DERIVE --id 02 -i "$WORK/peer.der" -o "$WORK/ecdh.tok"
openssl pkeyutl -derive -inkey "$WORK/peer.pem" -peerkey "$WORK/p256.pem" -out "$WORK/ecdh.ossl"
assert_same "ECDH P-256: the token's secret = openssl's" "$WORK/ecdh.tok" "$WORK/ecdh.ossl"
random_bytes 32 "$WORK/k.key"
check "import a known AES-256 key" only p11 "${LOGIN[@]}" --write-object "$WORK/k.key" --type secrkey --key-type AES:32 --label k --id 05
IV=000102030405060708090a0b0c0d0e0f
check "AES-CBC-PAD: encrypt" only p11 "${LOGIN[@]}" --encrypt -m AES-CBC-PAD --id 05 --iv "$IV" -i "$WORK/data" -o "$WORK/cbc"
openssl enc -aes-256-cbc -K "$(hexof "$WORK/k.key")" -iv "$IV" -in "$WORK/data" -out "$WORK/cbc.ossl"
assert_same "AES-CBC-PAD: = openssl enc" "$WORK/cbc" "$WORK/cbc.ossl"
check "SHA256-HMAC with the 32-byte key" only p11 "${LOGIN[@]}" --sign -m SHA256-HMAC --id 05 -i "$WORK/data" -o "$WORK/mac"
openssl dgst -sha256 -mac HMAC -macopt hexkey:"$(hexof "$WORK/k.key")" -binary -out "$WORK/mac.ossl" "$WORK/data"
assert_same "SHA256-HMAC = openssl" "$WORK/mac" "$WORK/mac.ossl"
if py_or_skip "FIPS AES-GCM and short HMAC keys"; then
	random_bytes 77 "$WORK/pt"
	# The caller's IV is replaced: the token draws it and writes it back.
	check "AES-GCM: the token encrypts with its own IV" only p11py encrypt --key k --mech gcm --iv 000000000000000000000000 \
		--aad 0102 --in "$WORK/pt" --out "$WORK/gcm" --iv-out "$WORK/gcm.iv"
	GIV=$(cat "$WORK/gcm.iv")
	assert_true "AES-GCM: the IV written back is not the caller's zeros" test "$GIV" != 000000000000000000000000 -a ${#GIV} -eq 24
	if [ -n "$AESGCM" ]; then
		rm -f "$WORK/gcm.go"
		check "AES-GCM: Go opens it with the IV the token wrote back" "$AESGCM" open -key "$(hexof "$WORK/k.key")" -iv "$GIV" -aad 0102 \
			-in "$WORK/gcm" -out "$WORK/gcm.go"
		assert_same "AES-GCM: Go's plaintext = input" "$WORK/pt" "$WORK/gcm.go"
	else
		fail "build tools/aesgcm" "go build failed"
	fi
	check "AES-GCM: the token decrypts with that IV" only p11py decrypt --key k --mech gcm --iv "$GIV" --aad 0102 --in "$WORK/gcm" --out "$WORK/gcm.dec"
	assert_same "AES-GCM: token plaintext = input" "$WORK/pt" "$WORK/gcm.dec"
	check "AES-GCM: a second encryption" only p11py encrypt --key k --mech gcm --iv "$GIV" --aad 0102 --in "$WORK/pt" --out "$WORK/gcm2" --iv-out "$WORK/gcm2.iv"
	assert_true "AES-GCM: never the same IV twice" test "$(cat "$WORK/gcm2.iv")" != "$GIV"

	random_bytes 10 "$WORK/short.key"
	check "create a 10-byte (80-bit) generic secret" only p11py create-secret --label short --id 06 --key-type generic --value-file "$WORK/short.key"
	expect_fail "SHA256-HMAC with an 80-bit key is refused" only p11 "${LOGIN[@]}" --sign -m SHA256-HMAC --id 06 -i "$WORK/data" -o "$WORK/x"
	assert_rv "... CKR_KEY_SIZE_RANGE (Go's module would panic under fips140=only)" CKR_KEY_SIZE_RANGE
fi

echo "# GODEBUG=fips140=only: refused, each with a CK_RV"
# refused NAME EXPECTED-RV CMD...
refused() {
	local name=$1 want=$2
	shift 2
	expect_fail "$name" "$@"
	assert_rv "... $want" "$want"
}
refused "SHA-1 digest" CKR_MECHANISM_INVALID only p11 --hash -m SHA-1 -i "$WORK/data" -o "$WORK/x"
refused "SHA1-RSA-PKCS sign" CKR_MECHANISM_INVALID only p11 "${LOGIN[@]}" --sign -m SHA1-RSA-PKCS --id 01 -i "$WORK/data" -o "$WORK/x"
refused "ECDSA-SHA1 sign" CKR_MECHANISM_INVALID only p11 "${LOGIN[@]}" --sign -m ECDSA-SHA1 --id 02 -i "$WORK/data" -o "$WORK/x"
refused "SHA-1-HMAC" CKR_MECHANISM_INVALID only p11 "${LOGIN[@]}" --sign -m SHA-1-HMAC --id 05 -i "$WORK/data" -o "$WORK/x"
refused "raw RSA-PKCS sign (no allow_prehashed_sign)" CKR_MECHANISM_INVALID only p11 "${LOGIN[@]}" --sign -m RSA-PKCS --id 01 -i "$WORK/di.sha256" -o "$WORK/x"
refused "raw ECDSA sign (no allow_prehashed_sign)" CKR_MECHANISM_INVALID only p11 "${LOGIN[@]}" --sign -m ECDSA --id 02 -i "$WORK/data.sha256" -o "$WORK/x"
refused "raw RSA-PKCS-PSS sign (no allow_prehashed_sign)" CKR_MECHANISM_INVALID only p11 "${LOGIN[@]}" --sign -m RSA-PKCS-PSS \
	--hash-algorithm SHA256 --mgf MGF1-SHA256 --id 01 -i "$WORK/data.sha256" -o "$WORK/x"
refused "RSA-PKCS decrypt" CKR_MECHANISM_INVALID only p11 "${LOGIN[@]}" --decrypt -m RSA-PKCS --id 01 -i "$WORK/oaep" -o "$WORK/x"
head -c 16 "$WORK/k.key" >"$WORK/t.key"
check "import an extractable AES-128 key to wrap" only p11 "${LOGIN[@]}" --write-object "$WORK/t.key" --type secrkey --key-type AES:16 --extractable --label t16 --id 08
refused "AES-KEY-WRAP" CKR_MECHANISM_INVALID only p11 "${LOGIN[@]}" --wrap -m AES-KEY-WRAP --id 05 --application-id 08 -o "$WORK/x"
refused "AES key wrap with padding (0x210B)" CKR_MECHANISM_INVALID only p11 "${LOGIN[@]}" --wrap -m 0x210B --id 05 --application-id 08 -o "$WORK/x"
if py_or_skip "RSA PKCS#1 v1.5 encryption"; then
	refused "RSA-OAEP still encrypts, RSA PKCS#1 v1.5 does not (PyKCS11 C_EncryptInit)" CKR_MECHANISM_INVALID \
		only "$PYKCS11_PYTHON" -c '
import PyKCS11, sys
lib = PyKCS11.PyKCS11Lib(); lib.load(sys.argv[1])
s = lib.openSession(lib.getSlotList(tokenPresent=True)[0], PyKCS11.CKF_SERIAL_SESSION)
s.login(sys.argv[2])
k = s.findObjects([(PyKCS11.CKA_LABEL, "rsa"), (PyKCS11.CKA_CLASS, PyKCS11.CKO_PUBLIC_KEY)])[0]
try:
    s.encrypt(k, b"x" * 32, PyKCS11.MechanismRSAPKCS1)
except PyKCS11.PyKCS11Error as e:
    print("error: rv = %s " % PyKCS11.CKR[e.value]); sys.exit(3)
' "$FIPS_SO" "$USER_PIN"
fi

echo "# GODEBUG=fips140=only with allow_prehashed_sign = true"
check "raw ECDSA over a SHA-256 digest" only pre p11 "${LOGIN[@]}" --sign -m ECDSA --id 02 -i "$WORK/data.sha256" -o "$WORK/raw.ec" --signature-format openssl
run openssl pkeyutl -verify -pubin -inkey "$WORK/p256.pem" -in "$WORK/data.sha256" -sigfile "$WORK/raw.ec"
assert_verified "raw ECDSA: openssl verifies"
refused "raw ECDSA over a 20-byte digest (Go's module panics on it)" CKR_DATA_LEN_RANGE \
	only pre p11 "${LOGIN[@]}" --sign -m ECDSA --id 02 -i "$WORK/data.sha1" -o "$WORK/x"
check "RSA-PKCS over a SHA-256 DigestInfo" only pre p11 "${LOGIN[@]}" --sign -m RSA-PKCS --id 01 -i "$WORK/di.sha256" -o "$WORK/raw.rsa"
assert_same "RSA-PKCS over the DigestInfo = SHA256-RSA-PKCS" "$WORK/raw.rsa" "$WORK/rsa.sig"
run only pre p11 "${LOGIN[@]}" --verify -m RSA-PKCS --id 01 -i "$WORK/di.sha256" --signature-file "$WORK/rsa.sig"
assert_contains "RSA-PKCS verify over the DigestInfo" "Signature is valid"
refused "RSA-PKCS over a SHA-1 DigestInfo (Go's module panics on it)" CKR_DATA_INVALID \
	only pre p11 "${LOGIN[@]}" --sign -m RSA-PKCS --id 01 -i "$WORK/di.sha1" -o "$WORK/x"
refused "RSA-PKCS over a bare digest (hash 0: Go's module panics on it)" CKR_DATA_INVALID \
	only pre p11 "${LOGIN[@]}" --sign -m RSA-PKCS --id 01 -i "$WORK/data.sha256" -o "$WORK/x"
check "RSA-PKCS-PSS over a SHA-256 digest" only pre p11 "${LOGIN[@]}" --sign -m RSA-PKCS-PSS --hash-algorithm SHA256 --mgf MGF1-SHA256 \
	--id 01 -i "$WORK/data.sha256" -o "$WORK/raw.pss"
run openssl pkeyutl -verify -pubin -inkey "$WORK/rsa.pem" -in "$WORK/data.sha256" -sigfile "$WORK/raw.pss" \
	-pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32
assert_verified "RSA-PKCS-PSS: openssl verifies"
refused "RSA-PKCS-PSS with SHA-1 parameters" CKR_MECHANISM_PARAM_INVALID only pre p11 "${LOGIN[@]}" --sign -m RSA-PKCS-PSS \
	--hash-algorithm SHA-1 --mgf MGF1-SHA1 --id 01 -i "$WORK/data.sha1" -o "$WORK/x"
refused "RSA-PKCS decrypt, even with allow_prehashed_sign" CKR_MECHANISM_INVALID \
	only pre p11 "${LOGIN[@]}" --decrypt -m RSA-PKCS --id 01 -i "$WORK/oaep" -o "$WORK/x"

assert_no_panic "no recovered panic in the log so far"

echo "# fail closed: a fips_mode token without Go's FIPS module"
: >"$LOGFILE"
expect_fail "FIPS build under GODEBUG=fips140=off: C_Initialize refused" env GODEBUG=fips140=off \
	timeout "$P11_TIMEOUT" pkcs11-tool --module "$FIPS_SO" -L
assert_contains "... with CKR_FUNCTION_FAILED" "C_Initialize failed: rv = CKR_FUNCTION_FAILED"
run cat "$LOGFILE"
assert_contains "... the log says fips_mode is on" "fips_mode = true"
assert_contains "... the log names the cause" "GODEBUG=fips140=off"
: >"$LOGFILE"
expect_fail "non-FIPS build with CRATON_FIPS_MODE=true: C_Initialize refused" env CRATON_FIPS_MODE=true \
	timeout "$P11_TIMEOUT" pkcs11-tool --module "$NONFIPS_SO" -L
assert_contains "... with CKR_FUNCTION_FAILED" "C_Initialize failed: rv = CKR_FUNCTION_FAILED"
run cat "$LOGFILE"
assert_contains "... the log says why" "FIPS 140-3 module is off"
check "the FIPS build still starts without GODEBUG afterwards" p11 -L
assert_contains "... and lists the token" "token label        : fips"

assert_no_panic "no recovered panic in the log at the end"
finish
