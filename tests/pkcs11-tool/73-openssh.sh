#!/usr/bin/env bash
# OpenSSH against Craton: RSA-2048, P-256 and Ed25519 key pairs generated with
# pkcs11-tool; `ssh-keygen -D` prints the public keys, each equal to the
# token's public key converted independently (pkcs11-tool --read-object ->
# openssl pkey -> ssh-keygen -i -m PKCS8); then ssh-agent loads the token
# (`ssh-add -s`, PIN through SSH_ASKPASS) and `ssh-keygen -Y sign` signs a file
# with the token's keys, verified by `ssh-keygen -Y verify`.
#
# OpenSSH 9.2 (Debian 12) handles only RSA and ECDSA keys over PKCS#11: it
# skips the Ed25519 key ("skipping unsupported key type"). The script notes
# that and checks the Ed25519 key when a newer OpenSSH lists it.
#
#   CRATON_SO=/abs/path/libcraton.so bash tests/pkcs11-tool/73-openssh.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/lib.sh"

MISSING=()
for tool in ssh-keygen ssh-agent ssh-add openssl base64; do
	command -v "$tool" >/dev/null 2>&1 || MISSING+=("$tool")
done
if [ "${#MISSING[@]}" -ne 0 ]; then
	fail "OpenSSH tools present" "missing: ${MISSING[*]} (apt-get install openssh-client openssl)"
	finish
fi
note "$(ssh -V 2>&1)"

# ssh-agent runs in the background: stop it on every way out, then hand over
# to lib.sh's exit handler with the original status.
AGENT_PID=
stop_agent() {
	if [ -n "$AGENT_PID" ]; then
		kill "$AGENT_PID" 2>/dev/null || true
		timeout 10 tail --pid="$AGENT_PID" -f /dev/null || true
		AGENT_PID=
	fi
}
trap 'rc=$?; trap - ERR; set +e; stop_agent; (exit $rc); _lib_on_exit' EXIT
unset SSH_AUTH_SOCK SSH_AGENT_PID # never touch the caller's agent

LOGIN=(--login --pin "$USER_PIN")
T=(timeout "$P11_TIMEOUT")

# blob FILE TYPE: the base64 key blob of the first line of FILE whose first
# field is TYPE (an OpenSSH public key line: "type blob comment").
blob() {
	awk -v t="$2" '$1 == t { print $2; exit }' "$1"
}
comment_of() {
	awk -v t="$2" '$1 == t { $1 = ""; $2 = ""; sub(/^  */, ""); print; exit }' "$1"
}
# spki_to_openssh SPKI(DER or PEM) OUT: the public key as an OpenSSH line,
# converted by OpenSSL + ssh-keygen (RSA, ECDSA) or, for Ed25519 (which
# `ssh-keygen -i -m PKCS8` of OpenSSH 9.2 does not take), assembled from the
# 32 key bytes of the SPKI: string "ssh-ed25519" || string key.
spki_to_openssh() {
	local inform=DER
	if head -c 11 "$1" | grep -q -e '-----BEGIN'; then
		inform=PEM # pkcs11-tool 0.23 writes Ed25519 public keys as PEM
	fi
	openssl pkey -pubin -inform "$inform" -in "$1" -out "$1.pem" || return 1
	if openssl pkey -pubin -in "$1.pem" -noout -text 2>/dev/null | grep -q '^ED25519 Public-Key'; then
		openssl pkey -pubin -in "$1.pem" -outform DER | python3 -c '
import sys, base64, struct
spki = sys.stdin.buffer.read()
assert len(spki) == 44 and spki.startswith(bytes.fromhex("302a300506032b6570032100")), spki.hex()
s = lambda b: struct.pack(">I", len(b)) + b
print("ssh-ed25519 " + base64.b64encode(s(b"ssh-ed25519") + s(spki[12:])).decode())
' >"$2"
	else
		ssh-keygen -i -m PKCS8 -f "$1.pem" >"$2"
	fi
}

init_token t1

echo "# key pairs on the token (pkcs11-tool)"
check "generate RSA-2048 (id 01, label ssh-rsa-key)" p11 "${LOGIN[@]}" --keypairgen --key-type rsa:2048 --id 01 --label ssh-rsa-key
check "generate P-256 (id 02, label ssh-ec-key)" p11 "${LOGIN[@]}" --keypairgen --key-type EC:prime256v1 --id 02 --label ssh-ec-key
check "generate Ed25519 (id 03, label ssh-ed-key)" p11 "${LOGIN[@]}" --keypairgen --key-type EC:edwards25519 --id 03 --label ssh-ed-key

echo "# independent conversion: pkcs11-tool --read-object -> openssl -> ssh-keygen -i"
for id in 01 02 03; do
	check "read public key $id" p11 --read-object --type pubkey --id "$id" -o "$WORK/pub$id.spki"
	check "convert public key $id to OpenSSH" spki_to_openssh "$WORK/pub$id.spki" "$WORK/conv$id.pub"
done
note "converted: $(cut -d' ' -f1 "$WORK"/conv0{1,2,3}.pub | tr '\n' ' ')"
assert_true "01 converts to ssh-rsa" test "$(cut -d' ' -f1 "$WORK/conv01.pub")" = ssh-rsa
assert_true "02 converts to ecdsa-sha2-nistp256" test "$(cut -d' ' -f1 "$WORK/conv02.pub")" = ecdsa-sha2-nistp256
assert_true "03 converts to ssh-ed25519" test "$(cut -d' ' -f1 "$WORK/conv03.pub")" = ssh-ed25519

echo "# ssh-keygen -D"
if "${T[@]}" ssh-keygen -D "$CRATON_SO" >"$WORK/D.out" 2>"$WORK/D.err"; then RC=0; else RC=$?; fi
cat "$WORK/D.out" "$WORK/D.err" >"$OUT"
if [ "$RC" -eq 0 ]; then pass "ssh-keygen -D exits 0"; else fail "ssh-keygen -D exits 0" "status $RC"; _lib_show_output; fi
assert_line_count "-D: one ssh-rsa key" "ssh-rsa " 1
assert_line_count "-D: one ecdsa-sha2-nistp256 key" "ecdsa-sha2-nistp256 " 1
assert_true "-D: the RSA key equals the converted token public key" \
	test -n "$(blob "$WORK/D.out" ssh-rsa)" -a "$(blob "$WORK/D.out" ssh-rsa)" = "$(blob "$WORK/conv01.pub" ssh-rsa)"
assert_true "-D: the P-256 key equals the converted token public key" \
	test -n "$(blob "$WORK/D.out" ecdsa-sha2-nistp256)" -a \
	"$(blob "$WORK/D.out" ecdsa-sha2-nistp256)" = "$(blob "$WORK/conv02.pub" ecdsa-sha2-nistp256)"
assert_true "-D: the RSA key's comment is its label" test "$(comment_of "$WORK/D.out" ssh-rsa)" = ssh-rsa-key
assert_true "-D: the P-256 key's comment is its label" test "$(comment_of "$WORK/D.out" ecdsa-sha2-nistp256)" = ssh-ec-key
if grep -q '^ssh-ed25519 ' "$WORK/D.out"; then
	assert_true "-D: the Ed25519 key equals the converted token public key" \
		test "$(blob "$WORK/D.out" ssh-ed25519)" = "$(blob "$WORK/conv03.pub" ssh-ed25519)"
else
	# OpenSSH <= 9.x: ssh-pkcs11.c knows CKK_RSA and CKK_EC only.
	assert_contains "-D: OpenSSH skips the Ed25519 key itself ('skipping unsupported key type')" "skipping unsupported key type"
	skip "-D lists the Ed25519 key" "$(ssh -V 2>&1 | cut -d, -f1) has no Ed25519 over PKCS#11"
fi
assert_not_contains "-D: no PKCS#11 error from the module" "C_"

echo "# ssh-agent: ssh-add -s, ssh-keygen -Y sign with the token's keys"
if ! eval "$("${T[@]}" ssh-agent -s -a "$WORK/agent.sock" -P "$CRATON_SO")" >/dev/null; then
	fail "start ssh-agent (-P allows the module's path)"
	finish
fi
AGENT_PID=$SSH_AGENT_PID
export SSH_AUTH_SOCK
pass "start ssh-agent (-P allows the module's path)"
printf '#!/bin/sh\necho 00000000\n' >"$WORK/askpass-wrong"
printf '#!/bin/sh\necho %s\n' "$USER_PIN" >"$WORK/askpass"
chmod 700 "$WORK/askpass-wrong" "$WORK/askpass"
add_card() {
	SSH_ASKPASS=$1 SSH_ASKPASS_REQUIRE=force DISPLAY=${DISPLAY:-:0} "${T[@]}" ssh-add -s "$CRATON_SO" </dev/null
}
expect_fail "ssh-add -s with a wrong PIN fails" add_card "$WORK/askpass-wrong"
check "ssh-add -s with the user PIN" add_card "$WORK/askpass"
assert_contains "ssh-add: 'Card added'" "Card added: $CRATON_SO"
check "ssh-add -L" "${T[@]}" ssh-add -L
cp "$OUT" "$WORK/agent.keys"
assert_true "agent: the RSA key equals -D's" test "$(blob "$WORK/agent.keys" ssh-rsa)" = "$(blob "$WORK/D.out" ssh-rsa)"
assert_true "agent: the P-256 key equals -D's" \
	test "$(blob "$WORK/agent.keys" ecdsa-sha2-nistp256)" = "$(blob "$WORK/D.out" ecdsa-sha2-nistp256)"

printf 'a file signed by a key that never leaves the token\n' >"$WORK/msg"
printf 'a file signed by a key that never leaves the token!\n' >"$WORK/msg.bad"
for kt in ssh-rsa ecdsa-sha2-nistp256; do
	grep -m1 "^$kt " "$WORK/D.out" >"$WORK/$kt.pub" || true
	printf 'craton@test %s\n' "$(cut -d' ' -f1,2 "$WORK/$kt.pub")" >"$WORK/$kt.allowed"
	cp "$WORK/msg" "$WORK/msg.$kt"
	check "$kt: ssh-keygen -Y sign through the agent (token signs)" \
		"${T[@]}" ssh-keygen -Y sign -f "$WORK/$kt.pub" -n file "$WORK/msg.$kt"
	assert_true "$kt: a signature file" test -s "$WORK/msg.$kt.sig"
	verify() {
		"${T[@]}" ssh-keygen -Y verify -f "$WORK/$kt.allowed" -I craton@test -n file -s "$WORK/msg.$kt.sig" <"$1"
	}
	check "$kt: ssh-keygen -Y verify accepts it" verify "$WORK/msg"
	assert_contains "$kt: 'Good \"file\" signature for craton@test'" 'Good "file" signature for craton@test'
	# ssh-keygen exits 255 on a bad signature, so not expect_fail (which
	# takes a status >= 128 for a signal).
	run verify "$WORK/msg.bad"
	assert_true "$kt: -Y verify refuses another message (status $RC)" test "$RC" -ne 0 -a "$RC" -ne 124
	assert_contains "$kt: ... 'incorrect signature'" "Signature verification failed: incorrect signature"
done

check "ssh-add -e removes the token's keys" "${T[@]}" ssh-add -e "$CRATON_SO"
run "${T[@]}" ssh-add -L
assert_contains "ssh-add -L: the agent has no identities left" "The agent has no identities."
stop_agent

finish
