#!/usr/bin/env bash
# GnuTLS against Craton: p11tool lists the token (--provider, and through a
# p11-kit module file without --provider), generates EC P-256 and RSA-2048
# key pairs on it, lists them by URI; certtool makes a self-signed
# certificate (PKCS#1 v1.5, RSA-PSS, ECDSA) and a PKCS#10 request from the
# token keys, which OpenSSL verifies and whose public key is the token's;
# gnutls-cli authenticates to a TLS server on 127.0.0.1 with a token key
# (TLS 1.3 and 1.2); an RFC 7512 identity URI (manufacturer, model, serial,
# token) picks one of two tokens with the same label.
#
#   CRATON_SO=/abs/path/libcraton.so bash tests/pkcs11-tool/72-gnutls.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/tools/p11kit.sh"

for tool in p11tool certtool gnutls-cli openssl; do
	command -v "$tool" >/dev/null || { echo "72-gnutls: $tool not found" >&2; exit 2; }
done

LOGIN=(--login --pin "$USER_PIN")
LABEL=gnutls-token
export GNUTLS_PIN=$USER_PIN

# Background servers (an openssl s_server per TLS case) go in SERVER_PIDS;
# lib.sh stops them at exit.

pt() {
	timeout "$P11_TIMEOUT" p11tool --provider "$CRATON_SO" "$@"
}
ct() {
	timeout "$P11_TIMEOUT" certtool --provider "$CRATON_SO" "$@"
}
# der_pub FILE-PEM-OR-DER-KEY-CERT-OR-CSR KIND OUT: the SubjectPublicKeyInfo as DER.
der_pub() {
	case $2 in
	pem-key) openssl pkey -pubin -in "$1" -outform DER -out "$3" ;;
	cert) openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER -out "$3" ;;
	csr) openssl req -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER -out "$3" ;;
	esac
}


echo "# token (pkcs11-tool) and p11tool --list-tokens"
init_token "$LABEL"
check "pkcs11-tool -T" p11 -T
SERIAL=$(sed -n 's/^ *serial num *: *//p' "$OUT" | head -n 1)
assert_true "the token has a serial" test -n "$SERIAL"
TOKEN_URL="pkcs11:model=Craton;manufacturer=Craton;serial=$SERIAL;token=$LABEL"

check "p11tool --provider --list-tokens" pt --list-tokens
assert_contains "--list-tokens: Label" "Label: $LABEL"
assert_contains "--list-tokens: Manufacturer: Craton" "Manufacturer: Craton"
assert_contains "--list-tokens: Model: Craton" "Model: Craton"
assert_contains "--list-tokens: Serial" "Serial: $SERIAL"
assert_contains "--list-tokens: the token URL" "URL: $TOKEN_URL"

p11kit_module craton-gnutls "module: $CRATON_SO"
check "p11tool --list-tokens through p11-kit (no --provider)" with_p11kit p11tool --list-tokens
assert_contains "p11-kit: the Craton token" "URL: $TOKEN_URL"
assert_contains "p11-kit: Manufacturer: Craton" "Manufacturer: Craton"
check "p11tool --list-token-urls through p11-kit" with_p11kit p11tool --list-token-urls
assert_contains "p11-kit: token URL listed" "$TOKEN_URL"

echo "# p11tool --generate-privkey on the token"
check "generate ECDSA P-256 (--generate-privkey ecdsa --curve secp256r1)" pt --login \
	--generate-privkey ecdsa --curve secp256r1 --label gec --id 11 --outfile "$WORK/gec.pub.pem" "$TOKEN_URL"
assert_contains "... 'Generating an EC/ECDSA key'" "Generating an EC/ECDSA key"
check "generate RSA-2048 (--generate-privkey rsa --bits 2048)" pt --login \
	--generate-privkey rsa --bits 2048 --label grsa --id 12 --outfile "$WORK/grsa.pub.pem" "$TOKEN_URL"
assert_contains "... 'Generating an RSA key'" "Generating an RSA key"
check "openssl reads the EC public key p11tool printed" openssl pkey -pubin -in "$WORK/gec.pub.pem" -noout -text
assert_contains "... P-256" "NIST CURVE: P-256"
check "openssl reads the RSA public key p11tool printed" openssl pkey -pubin -in "$WORK/grsa.pub.pem" -noout -text
assert_contains "... 2048 bit" "Public-Key: (2048 bit)"
der_pub "$WORK/gec.pub.pem" pem-key "$WORK/gec.pub.der"
der_pub "$WORK/grsa.pub.pem" pem-key "$WORK/grsa.pub.der"
check "pkcs11-tool exports gec's public key" p11 --read-object --type pubkey --id 11 -o "$WORK/gec.tok.der"
assert_same "gec: p11tool's public key = the token's" "$WORK/gec.pub.der" "$WORK/gec.tok.der"
check "pkcs11-tool exports grsa's public key" p11 --read-object --type pubkey --id 12 -o "$WORK/grsa.tok.der"
assert_same "grsa: p11tool's public key = the token's" "$WORK/grsa.pub.der" "$WORK/grsa.tok.der"
check "pkcs11-tool -O --login: the keys as p11tool made them" p11 "${LOGIN[@]}" -O --type privkey
assert_contains "gec: private key listed" "label:      gec"
assert_contains "grsa: private key listed" "label:      grsa"
assert_line_count "both private keys sensitive, never extractable, local" \
	"Access:     sensitive, always sensitive, never extractable, local" 2

echo "# p11tool --list-privkeys"
check "--list-privkeys --login" pt --login --list-privkeys "$TOKEN_URL"
assert_contains "gec by URI" "URL: $TOKEN_URL;id=%11;object=gec;type=private"
assert_contains "grsa by URI" "URL: $TOKEN_URL;id=%12;object=grsa;type=private"
assert_contains "gec: EC P-256" "Type: Private key (EC/ECDSA-SECP256R1)"
assert_contains "grsa: RSA-2048" "Type: Private key (RSA-2048)"
assert_line_count "two private keys" "type=private" 2
assert_contains "flags: CKA_SENSITIVE, CKA_NEVER_EXTRACTABLE" "CKA_NEVER_EXTRACTABLE; CKA_SENSITIVE;"
expect_fail "--list-privkeys without login finds nothing" env -u GNUTLS_PIN timeout "$P11_TIMEOUT" \
	p11tool --provider "$CRATON_SO" --list-privkeys "$TOKEN_URL"
assert_contains "without login: 'No matching objects found'" "No matching objects found"
assert_line_count "without login: no private key visible" "type=private" 0
check "--list-privkeys --login through p11-kit" with_p11kit p11tool --login --list-privkeys "$TOKEN_URL"
assert_line_count "p11-kit: the same two keys" "type=private" 2
GEC="$TOKEN_URL;object=gec;type=private"
GRSA="$TOKEN_URL;object=grsa;type=private"
check "p11tool --test-sign gec" pt --login --test-sign "$GEC"
assert_contains "gec: signature verified" "Verifying against public key in the token... ok"
check "p11tool --test-sign grsa" pt --login --test-sign "$GRSA"
assert_contains "grsa: signature verified" "Verifying against public key in the token... ok"

echo "# certtool with the token keys"
cat >"$WORK/cert.tmpl" <<EOF
cn = "craton gnutls"
organization = "Craton test"
serial = 7
expiration_days = 30
ca
signing_key
cert_signing_key
EOF
# cert_case NAME KEY-URI TOKEN-PUB-DER SIGALG [certtool args...]
cert_case() {
	local name=$1 uri=$2 pub=$3 sigalg=$4
	shift 4
	check "$name: certtool --generate-self-signed" ct --generate-self-signed --load-privkey "$uri" \
		--template "$WORK/cert.tmpl" --outfile "$WORK/$name.crt" "$@"
	check "$name: openssl verifies the self-signature" openssl verify -CAfile "$WORK/$name.crt" "$WORK/$name.crt"
	assert_contains "$name: OK" "$WORK/$name.crt: OK"
	der_pub "$WORK/$name.crt" cert "$WORK/$name.crt.pub"
	assert_same "$name: certificate public key = token public key" "$pub" "$WORK/$name.crt.pub"
	check "$name: openssl x509 -text" openssl x509 -in "$WORK/$name.crt" -noout -subject -text
	assert_contains "$name: subject" "subject=O = Craton test, CN = craton gnutls"
	assert_contains "$name: signed with $sigalg" "Signature Algorithm: $sigalg"
}
cert_case gec "$GEC" "$WORK/gec.tok.der" ecdsa-with-SHA256
cert_case grsa "$GRSA" "$WORK/grsa.tok.der" sha256WithRSAEncryption
cert_case grsa-pss "$GRSA" "$WORK/grsa.tok.der" rsassaPss --sign-params RSA-PSS
check "gec: certtool --generate-request" ct --generate-request --load-privkey "$GEC" \
	--template "$WORK/cert.tmpl" --outfile "$WORK/gec.csr"
check "gec: openssl req -verify accepts the CSR" openssl req -in "$WORK/gec.csr" -verify -noout -subject
assert_contains "gec: CSR self-signature verify OK" "verify OK"
assert_contains "gec: CSR subject" "subject=O = Craton test, CN = craton gnutls"
der_pub "$WORK/gec.csr" csr "$WORK/gec.csr.pub"
assert_same "gec: CSR public key = token public key" "$WORK/gec.tok.der" "$WORK/gec.csr.pub"
check "grsa: certtool --generate-request" ct --generate-request --load-privkey "$GRSA" \
	--template "$WORK/cert.tmpl" --outfile "$WORK/grsa.csr"
check "grsa: openssl req -verify accepts the CSR" openssl req -in "$WORK/grsa.csr" -verify -noout
assert_contains "grsa: CSR self-signature verify OK" "verify OK"
der_pub "$WORK/grsa.csr" csr "$WORK/grsa.csr.pub"
assert_same "grsa: CSR public key = token public key" "$WORK/grsa.tok.der" "$WORK/grsa.csr.pub"
check "a CSR through p11-kit (certtool without --provider)" with_p11kit certtool --generate-request \
	--load-privkey "$GEC" --template "$WORK/cert.tmpl" --outfile "$WORK/gec-p11kit.csr"
check "... openssl req -verify accepts it" openssl req -in "$WORK/gec-p11kit.csr" -verify -noout
assert_contains "... verify OK" "verify OK"

echo "# gnutls-cli: TLS client authentication with a token key"
# The server is OpenSSL's, bound to 127.0.0.1, with a software key; it
# requires a client certificate issued by... the client's own self-signed
# certificate (-Verify 1 -CAfile), so the handshake succeeds only if the
# token's CertificateVerify signature is good. (gnutls-serv cannot be bound
# to loopback only.)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -days 2 \
	-keyout "$WORK/server.key" -out "$WORK/server.crt" 2>"$WORK/server-keygen.err"
# tls_case TAG KEY-URI CERT SIGTYPE [gnutls-cli args...]
tls_case() {
	local tag=$1 key=$2 cert=$3 sig=$4 port pid i msg started=0
	shift 4
	msg="craton gnutls $tag $RANDOM$RANDOM"
	local srv=$WORK/server-$tag.out fifo=$WORK/client-$tag.fifo
	for i in 1 2 3; do
		port=$(free_port)
		timeout 60 openssl s_server -key "$WORK/server.key" -cert "$WORK/server.crt" \
			-accept "127.0.0.1:$port" -naccept 1 -rev -Verify 1 -verify_return_error -CAfile "$cert" \
			</dev/null >"$srv" 2>&1 &
		pid=$!
		SERVER_PIDS+=("$pid")
		for _ in $(seq 1 100); do
			grep -q '^ACCEPT' "$srv" && { started=1; break; }
			own_child "$pid" || break
			sleep 0.1
		done
		[ "$started" = 1 ] && break
		stop_child "$pid"
	done
	if [ "$started" != 1 ]; then
		fail "$tag: s_server listens" "no ACCEPT"
		sed 's/^/    | /' "$srv" | head -n 20
		return
	fi
	# The client's stdin is a FIFO this shell holds open: it sends the line
	# and never sees end-of-file; it exits when the server closes after CLOSE.
	mkfifo "$fifo"
	exec 8<>"$fifo"
	printf '%s\nCLOSE\n' "$msg" >&8
	run timeout 30 gnutls-cli --provider "$CRATON_SO" --x509keyfile "$key" --x509certfile "$cert" \
		--x509cafile "$WORK/server.crt" --verify-hostname localhost -p "$port" "$@" 127.0.0.1 <"$fifo"
	exec 8>&-
	for _ in $(seq 1 100); do
		own_child "$pid" || break
		sleep 0.1
	done
	stop_child "$pid"
	if [ "$RC" -eq 0 ]; then pass "$tag: gnutls-cli exits 0"; else
		fail "$tag: gnutls-cli exits 0" "status $RC"
		_lib_show_output
		sed 's/^/    server| /' "$srv" | head -n 20
	fi
	assert_contains "$tag: handshake completed" "- Handshake was completed"
	assert_contains "$tag: gnutls-cli sent the token's certificate" "- Successfully sent 1 certificate(s) to server."
	assert_contains "$tag: the message came back reversed" "$(python3 -c 'import sys; print(sys.argv[1][::-1])' "$msg")"
	cp "$OUT" "$WORK/client-$tag.out"
	run cat "$srv"
	assert_contains "$tag: server verified the client certificate" "Verification: OK"
	assert_contains "$tag: ... the token's certificate" "Peer certificate: O = Craton test, CN = craton gnutls"
	assert_line "$tag: ... signed by the token with $sig" "Signature type: $sig"
}
tls_case gec-tls13 "$GEC" "$WORK/gec.crt" ECDSA
assert_contains "gec-tls13: TLS 1.3" "Protocol version: TLSv1.3"
tls_case grsa-tls13 "$GRSA" "$WORK/grsa.crt" RSA-PSS
assert_contains "grsa-tls13: TLS 1.3" "Protocol version: TLSv1.3"
tls_case grsa-tls12 "$GRSA" "$WORK/grsa.crt" RSA-PSS --priority "NORMAL:-VERS-ALL:+VERS-TLS1.2"
assert_contains "grsa-tls12: TLS 1.2" "Protocol version: TLSv1.2"
tls_case grsa-tls12-pkcs1 "$GRSA" "$WORK/grsa.crt" RSA \
	--priority "NORMAL:-VERS-ALL:+VERS-TLS1.2:-SIGN-RSA-PSS-RSAE-SHA256:-SIGN-RSA-PSS-RSAE-SHA384:-SIGN-RSA-PSS-RSAE-SHA512:-SIGN-RSA-PSS-SHA256:-SIGN-RSA-PSS-SHA384:-SIGN-RSA-PSS-SHA512"
tls_case gec-tls12 "$GEC" "$WORK/gec.crt" ECDSA --priority "NORMAL:-VERS-ALL:+VERS-TLS1.2"

echo "# identity URI: manufacturer=Craton;model=Craton;serial=...;token=... with two same-label tokens"
cat >>"$CRATON_CONF" <<EOF

[[slot]]
id = 0
description = "Craton slot 0"

[[slot]]
id = 1
description = "Craton slot 1"
EOF
check "slot 1: init token with the same label" p11 --slot 1 --init-token --label "$LABEL" --so-pin "$SO_PIN"
check "slot 1: init user PIN" p11 --slot 1 --init-pin --login --login-type so --so-pin "$SO_PIN" --new-pin "$USER_PIN"
check "p11tool --list-token-urls: two tokens" pt --list-token-urls
SERIAL1=$(grep -F "token=$LABEL" "$OUT" | grep -v -F "serial=$SERIAL;" | sed -n 's/.*serial=\([^;]*\);.*/\1/p' | head -n 1)
assert_true "slot 1's token has its own serial" test -n "$SERIAL1" -a "$SERIAL1" != "$SERIAL"
ID0="pkcs11:manufacturer=Craton;model=Craton;serial=$SERIAL;token=$LABEL"
ID1="pkcs11:manufacturer=Craton;model=Craton;serial=$SERIAL1;token=$LABEL"
check "identity URI of slot 1: generate gec there" pt --login --generate-privkey ecdsa --curve secp256r1 \
	--label gec --id 11 --outfile "$WORK/gec1.pub.pem" "$ID1"
check "slot 1: pkcs11-tool exports its gec" p11 --slot 1 --read-object --type pubkey --id 11 -o "$WORK/gec1.tok.der"
der_pub "$WORK/gec1.pub.pem" pem-key "$WORK/gec1.pub.der"
assert_same "the key went to slot 1" "$WORK/gec1.tok.der" "$WORK/gec1.pub.der"
check "slot 0's gec is unchanged" p11 --slot 0 --read-object --type pubkey --id 11 -o "$WORK/gec0.again.der"
assert_same "... same public key as before" "$WORK/gec.tok.der" "$WORK/gec0.again.der"
check "--list-privkeys with slot 1's identity URI" pt --login --list-privkeys "$ID1"
assert_line_count "only slot 1's key" "type=private" 1
assert_contains "... with slot 1's serial" "serial=$SERIAL1;token=$LABEL;id=%11;object=gec;type=private"
check "--list-privkeys with slot 0's identity URI" pt --login --list-privkeys "$ID0"
assert_line_count "only slot 0's two keys" "type=private" 2
assert_not_contains "... none of slot 1" "serial=$SERIAL1"
check "certtool: CSR with slot 1's identity URI" ct --generate-request --load-privkey "$ID1;object=gec;type=private" \
	--template "$WORK/cert.tmpl" --outfile "$WORK/gec1.csr"
der_pub "$WORK/gec1.csr" csr "$WORK/gec1.csr.pub"
assert_same "... carries slot 1's key" "$WORK/gec1.tok.der" "$WORK/gec1.csr.pub"
check "certtool: CSR with slot 0's identity URI" ct --generate-request --load-privkey "$ID0;object=gec;type=private" \
	--template "$WORK/cert.tmpl" --outfile "$WORK/gec0.csr"
der_pub "$WORK/gec0.csr" csr "$WORK/gec0.csr.pub"
assert_same "... carries slot 0's key" "$WORK/gec.tok.der" "$WORK/gec0.csr.pub"
expect_fail "an unknown serial selects no key" pt --login --list-privkeys \
	"pkcs11:manufacturer=Craton;model=Craton;serial=0000000000000000;token=$LABEL"
assert_line_count "... none listed" "type=private" 0
# What GnuTLS does with a URI that matches both tokens: it takes the first.
run ct --generate-request --load-privkey "pkcs11:token=$LABEL;object=gec;type=private" \
	--template "$WORK/cert.tmpl" --outfile "$WORK/gec-amb.csr"
if [ "$RC" -eq 0 ]; then
	der_pub "$WORK/gec-amb.csr" csr "$WORK/gec-amb.csr.pub"
	if cmp -s "$WORK/gec-amb.csr.pub" "$WORK/gec.tok.der"; then
		note "GnuTLS: pkcs11:token=$LABEL;object=gec (two tokens match) silently takes slot 0's key; use the serial"
	else
		note "GnuTLS: pkcs11:token=$LABEL;object=gec (two tokens match) took slot 1's key; use the serial"
	fi
else
	note "GnuTLS: pkcs11:token=$LABEL;object=gec (two tokens match) is refused (status $RC)"
fi

finish
