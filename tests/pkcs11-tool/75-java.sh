#!/usr/bin/env bash
# Java's SunPKCS11 provider against Craton. RSA-2048 and P-256 key pairs are
# generated with pkcs11-tool; a self-signed certificate for each is made by
# `openssl req -x509` signing with the token key through the libp11 `pkcs11`
# engine and written back to the token under the key's CKA_ID and label.
# `keytool -list` then shows two PrivateKeyEntry aliases, and
# tests/java/CratonSign.java (compiled here) signs through the token,
# verifies on Java's software providers, decrypts, digests, runs AES-GCM and
# checks that the JVM's SIGSEGV-based null checks survive the Go runtime's
# signal handlers. A second run under libjsig with -Xcheck:jni checks the
# signal chaining is clean. A JVM crash fails with its hs_err file shown.
#
#   CRATON_SO=/abs/path/libcraton.so bash tests/pkcs11-tool/75-java.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/lib.sh"

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../java" && pwd)/CratonSign.java

MISSING=()
for tool in java javac keytool openssl; do
	command -v "$tool" >/dev/null 2>&1 || MISSING+=("$tool")
done
if [ "${#MISSING[@]}" -ne 0 ]; then
	fail "Java and OpenSSL tools present" "missing: ${MISSING[*]} (apt-get install default-jdk-headless openssl)"
	finish
fi
note "$(java -version 2>&1 | head -n 1)"

LOGIN=(--login --pin "$USER_PIN")
T=(timeout "$P11_TIMEOUT")

# The libp11 engine (libengine-pkcs11-openssl) is how OpenSSL 3.0 signs with
# a token key here; it loads the module named by PKCS11_MODULE_PATH.
eng() {
	PKCS11_MODULE_PATH=$CRATON_SO "${T[@]}" openssl "$@"
}
run eng engine -t pkcs11
if ! grep -q -F '[ available ]' "$OUT"; then
	fail "OpenSSL's pkcs11 engine is available" "apt-get install libengine-pkcs11-openssl"
	_lib_show_output
	finish
fi
pass "OpenSSL's pkcs11 engine is available"

init_token t1

echo "# key pairs (pkcs11-tool) and self-signed certificates (openssl + libp11 engine)"
# name id pkcs11-tool-key-type
KEYS=("java-rsa 01 rsa:2048" "java-ec 02 EC:prime256v1")
for k in "${KEYS[@]}"; do
	read -r name id kt <<<"$k"
	check "$name: generate $kt (id $id)" p11 "${LOGIN[@]}" --keypairgen --key-type "$kt" --id "$id" --label "$name"
	check "$name: openssl req -x509 signs with the token key" \
		eng req -x509 -new -engine pkcs11 -keyform engine \
		-key "pkcs11:token=t1;object=$name;type=private;pin-value=$USER_PIN" \
		-subj "/CN=$name/O=Craton test" -days 30 -sha256 -outform DER -out "$WORK/$name.der"
	check "$name: the certificate's self-signature verifies (openssl)" \
		openssl verify -check_ss_sig -CAfile <(openssl x509 -inform DER -in "$WORK/$name.der") \
		<(openssl x509 -inform DER -in "$WORK/$name.der")
	check "$name: read the token's public key" p11 --read-object --type pubkey --id "$id" -o "$WORK/$name.pub.der"
	openssl x509 -inform DER -in "$WORK/$name.der" -noout -pubkey | openssl pkey -pubin -outform DER -out "$WORK/$name.certpub.der"
	assert_same "$name: the certificate holds the token's public key" "$WORK/$name.pub.der" "$WORK/$name.certpub.der"
	check "$name: write the certificate (same id and label)" \
		p11 "${LOGIN[@]}" --write-object "$WORK/$name.der" --type cert --id "$id" --label "$name"
done

cat >"$WORK/craton-java.cfg" <<EOF
name = Craton
library = $CRATON_SO
slot = 0
EOF

# A JVM crash leaves hs_err_<pid>.log in $WORK (-XX:ErrorFile).
JOPTS=(-XX:ErrorFile="$WORK/hs_err_%p.log")
no_jvm_crash() {
	local f
	for f in "$WORK"/hs_err_*.log; do
		[ -e "$f" ] || continue
		fail "$1: no JVM crash" "$f"
		sed -n '1,40p' "$f" | sed 's/^/    | /'
		rm -f "$f"
		return
	done
	pass "$1: no JVM crash"
}

echo "# keytool -list"
check "keytool -list -storetype PKCS11" "${T[@]}" keytool -J"${JOPTS[0]}" -list -keystore NONE -storetype PKCS11 \
	-providerClass sun.security.pkcs11.SunPKCS11 -providerArg "$WORK/craton-java.cfg" -storepass "$USER_PIN"
assert_contains "keytool: provider SunPKCS11-Craton" "Keystore provider: SunPKCS11-Craton"
assert_contains "keytool: 2 entries" "Your keystore contains 2 entries"
assert_contains "keytool: java-rsa is a PrivateKeyEntry" "java-rsa, PrivateKeyEntry,"
assert_contains "keytool: java-ec is a PrivateKeyEntry" "java-ec, PrivateKeyEntry,"
want_fp=$(openssl x509 -inform DER -in "$WORK/java-rsa.der" -noout -fingerprint -sha256 | sed 's/.*=//')
assert_contains "keytool: java-rsa's certificate fingerprint" "$want_fp"
no_jvm_crash "keytool -list"
run "${T[@]}" keytool -J"${JOPTS[0]}" -list -v -keystore NONE -storetype PKCS11 \
	-providerClass sun.security.pkcs11.SunPKCS11 -providerArg "$WORK/craton-java.cfg" -storepass 00000000
assert_true "keytool with a wrong PIN fails (status $RC)" test "$RC" -ne 0 -a "$RC" -ne 124
assert_contains "... keytool -v: caused by CKR_PIN_INCORRECT" "PKCS11Exception: CKR_PIN_INCORRECT"

echo "# CratonSign.java"
check "javac CratonSign.java" "${T[@]}" javac -d "$WORK/classes" "$SRC"
# run_java NAME [ENV...] -- [JAVA OPTIONS...]: one pass per "OK" line,
# a failure per "FAIL" line, and the program's own verdict.
run_java() {
	local name=$1 line n_ok=0
	shift
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	run env "${envs[@]}" "${T[@]}" java "${JOPTS[@]}" "$@" -cp "$WORK/classes" CratonSign \
		"$WORK/craton-java.cfg" "$USER_PIN" java-rsa java-ec
	cp "$OUT" "$WORK/$name.out"
	while IFS= read -r line; do
		case "$line" in
		"OK "*) pass "$name: ${line#OK }"; n_ok=$((n_ok + 1)) ;;
		"FAIL "*) fail "$name: ${line#FAIL }" ;;
		esac
	done <"$WORK/$name.out"
	assert_true "$name: all 21 checks ran ($n_ok OK)" test "$n_ok" -eq 21
	assert_contains "$name: exits with 'DONE ok'" "DONE ok"
	assert_true "$name: status 0 (got $RC)" test "$RC" -eq 0
	no_jvm_crash "$name"
}
run_java java --
assert_not_contains "java: no JVM warning" "Warning:"

# The Go runtime installs its own SIGSEGV/SIGBUS/SIGFPE/SIGPIPE handlers and
# forwards what is not its own to the JVM's; -Xcheck:jni alone reports them as
# "handler modified". The JVM's signal-chaining library makes that clean.
JSIG=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")/lib/libjsig.so
if [ -f "$JSIG" ]; then
	run_java java-jsig LD_PRELOAD="$JSIG" -- -Xcheck:jni
	assert_not_contains "java-jsig: -Xcheck:jni sees no modified signal handler" "handler modified"
else
	skip "java with libjsig and -Xcheck:jni" "no $JSIG"
fi

finish
