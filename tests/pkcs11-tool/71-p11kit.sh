#!/usr/bin/env bash
# p11-kit and Craton: the shipped module file (contrib/p11-kit/craton.module),
# `p11-kit list-modules`, the p11-kit proxy (pkcs11-tool sees the same token,
# objects and signatures as with the module itself), fork() with and without
# p11-kit remoting (`remote: |p11-kit remote libcraton.so`), and
# `x-init-reserved:` handing a configuration path to C_Initialize.
#
# p11-kit is pointed at a scratch configuration directory by an LD_PRELOAD
# shim (tools/p11kit-scratch.c, through tools/p11kit.sh): nothing is written
# to /etc/pkcs11, and the machine's registered modules are not loaded.
#
#   CRATON_SO=/abs/path/libcraton.so bash tests/pkcs11-tool/71-p11kit.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/tools/p11kit.sh"

command -v openssl >/dev/null || { echo "71-p11kit: openssl not found" >&2; exit 2; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TEMPLATE=$REPO/contrib/p11-kit/craton.module
LOGIN=(--login --pin "$USER_PIN")
LABEL=p11kit-token
# A path to the module that only this run uses, so that its `p11-kit remote`
# processes can be told from any other.
SO=$WORK/lib/libcraton.so
mkdir -p "$WORK/lib"
ln -s "$CRATON_SO" "$SO"

# The one background process this script starts (the remote_count
# self-test) is stopped on any exit; lib.sh's handler then runs as usual.
SELFTEST_PID=
_p11kit_on_exit() {
	local rc=$?
	trap - ERR
	set +e
	if [ -n "$SELFTEST_PID" ]; then
		# Only while it is still this shell's child (a reaped PID may be reused).
		[ "$(ps -o ppid= -p "$SELFTEST_PID" 2>/dev/null | tr -d ' ')" = "$$" ] && kill "$SELFTEST_PID" 2>/dev/null
		wait "$SELFTEST_PID" 2>/dev/null
	fi
	(exit "$rc")
	_lib_on_exit
}
trap _p11kit_on_exit EXIT

proxy() {
	with_p11kit pkcs11-tool --module "$P11KIT_PROXY" "$@"
}
# active_lines FILE: the module file without comments and blank lines.
active_lines() {
	sed -e 's/^[[:space:]]*//' -e '/^#/d' -e '/^$/d' "$1"
}
# remote_count: `p11-kit remote` processes serving this run's module path.
remote_count() {
	local n
	n=$(pgrep -c -f "p11-kit remote $SO" || true)
	echo "${n:-0}"
}
# no_remote_left NAME: every `p11-kit remote` of this run has exited (bounded).
no_remote_left() {
	local i
	for i in $(seq 1 50); do
		[ "$(remote_count)" -eq 0 ] && break
		sleep 0.1
	done
	assert_true "$1" test "$(remote_count)" -eq 0
}
# without_using FILE: pkcs11-tool's output without its "Using slot" lines.
without_using() {
	grep -v -e '^Using slot' "$1" || true
}

echo "# token, keys and data (pkcs11-tool on the module itself)"
init_token "$LABEL"
check "RSA-2048 key pair rsa1" p11 "${LOGIN[@]}" --keypairgen --key-type rsa:2048 --label rsa1 --id 01
check "P-256 key pair ec1" p11 "${LOGIN[@]}" --keypairgen --key-type EC:prime256v1 --label ec1 --id 02
{ printf 'signed through p11-kit\n'; head -c 32 /dev/urandom; } >"$WORK/data.bin"
check "export rsa1's public key" p11 --read-object --type pubkey --id 01 -o "$WORK/rsa1.pub.der"
openssl pkey -pubin -inform DER -in "$WORK/rsa1.pub.der" -out "$WORK/rsa1.pub.pem"
check "export ec1's public key" p11 --read-object --type pubkey --id 02 -o "$WORK/ec1.pub.der"
openssl pkey -pubin -inform DER -in "$WORK/ec1.pub.der" -out "$WORK/ec1.pub.pem"
check "-T" p11 -T
SERIAL=$(sed -n 's/^ *serial num *: *//p' "$OUT" | head -n 1)
assert_true "the token has a serial" test -n "$SERIAL"
check "direct: -O --login" p11 "${LOGIN[@]}" -O
without_using "$OUT" >"$WORK/objects.direct"
check "direct: SHA256-RSA-PKCS signature" p11 "${LOGIN[@]}" --sign --mechanism SHA256-RSA-PKCS --id 01 \
	-i "$WORK/data.bin" -o "$WORK/direct.sig"

echo "# the shipped module file: contrib/p11-kit/craton.module"
assert_true "contrib/p11-kit/craton.module exists" test -f "$TEMPLATE"
assert_true "its one active line is 'module: /usr/local/lib/libcraton.so'" \
	test "$(active_lines "$TEMPLATE")" = "module: /usr/local/lib/libcraton.so"
assert_true "it documents remoting (commented remote: line)" \
	grep -q -x -E '# ?remote: \|p11-kit remote /usr/local/lib/libcraton.so' "$TEMPLATE"
assert_true "it documents x-init-reserved (commented)" grep -q -E '^# ?x-init-reserved: /' "$TEMPLATE"
# The scratch copy: the template with the real path.
sed "s#/usr/local/lib/libcraton.so#$SO#g" "$TEMPLATE" >"$P11KIT_DIR/modules/craton-test.module"
assert_true "scratch copy: 'module: $SO'" test "$(active_lines "$P11KIT_DIR/modules/craton-test.module")" = "module: $SO"

echo "# p11-kit list-modules"
run timeout "$P11_TIMEOUT" p11-kit list-modules
assert_not_contains "without the scratch configuration p11-kit does not know craton-test (hermetic)" "craton-test:"
check "p11-kit list-modules" with_p11kit p11-kit list-modules
assert_contains "lists the module file craton-test with its path" "craton-test: $SO"
assert_contains "library-manufacturer: Craton" "library-manufacturer: Craton"
assert_contains "library-description" "library-description: Craton"
assert_contains "token: $LABEL" "token: $LABEL"
assert_contains "token manufacturer: Craton" "        manufacturer: Craton"
assert_contains "token model: Craton" "        model: Craton"
assert_contains "token serial-number" "serial-number: $SERIAL"
assert_contains "token-initialized" "token-initialized"
assert_contains "user-pin-initialized" "user-pin-initialized"
assert_line_count "only the scratch module is loaded (one token)" "    token: " 1

echo "# p11-kit-proxy.so with pkcs11-tool"
check "proxy: -L" proxy -L
assert_contains "proxy: token label" "token label        : $LABEL"
assert_contains "proxy: token manufacturer Craton" "token manufacturer : Craton"
assert_contains "proxy: token model Craton" "token model        : Craton"
assert_contains "proxy: serial" "serial num         : $SERIAL"
assert_line_count "proxy: one slot" "Slot " 1
check "proxy: -O --login" proxy "${LOGIN[@]}" -O
assert_contains "proxy: rsa1 listed" "label:      rsa1"
assert_contains "proxy: ec1 listed" "label:      ec1"
without_using "$OUT" >"$WORK/objects.proxy"
assert_same "proxy: -O --login lists exactly what the module lists directly" "$WORK/objects.direct" "$WORK/objects.proxy"
check "proxy: SHA256-RSA-PKCS signature" proxy "${LOGIN[@]}" --sign --mechanism SHA256-RSA-PKCS --id 01 \
	-i "$WORK/data.bin" -o "$WORK/proxy.sig"
assert_same "proxy: the signature equals the direct one (PKCS#1 v1.5 is deterministic)" \
	"$WORK/direct.sig" "$WORK/proxy.sig"
check "proxy: OpenSSL verifies it" openssl dgst -sha256 -verify "$WORK/rsa1.pub.pem" \
	-signature "$WORK/proxy.sig" "$WORK/data.bin"
assert_contains "proxy: Verified OK" "Verified OK"
check "proxy: ECDSA-SHA256 signature" proxy "${LOGIN[@]}" --sign --mechanism ECDSA-SHA256 --id 02 \
	--signature-format openssl -i "$WORK/data.bin" -o "$WORK/proxy-ec.sig"
check "proxy: OpenSSL verifies the ECDSA signature" openssl dgst -sha256 -verify "$WORK/ec1.pub.pem" \
	-signature "$WORK/proxy-ec.sig" "$WORK/data.bin"
assert_contains "proxy: ECDSA Verified OK" "Verified OK"
expect_fail "proxy: a wrong PIN is refused" proxy --login --pin 00000000 -O
assert_rv "proxy: ... CKR_PIN_INCORRECT passes through" CKR_PIN_INCORRECT
check "proxy: a good login resets the count" proxy "${LOGIN[@]}" -O

echo "# fork() without remoting: Craton refuses in the child, cleanly"
FORK_SIGN=$WORK/bin/p11kit-fork-sign
check "build tools/p11kit-fork-sign.c" cc -O1 -Wall -Wextra -I "$REPO/cmd/libcraton" \
	-o "$FORK_SIGN" "$P11KIT_TOOLS/p11kit-fork-sign.c" -ldl
expect_fail "direct: pkcs11-tool --test-fork fails (no hang)" p11 --test-fork
assert_contains "direct: the child called C_Initialize" "*** Calling C_Initialize in forked child process ***"
assert_contains "direct: ... which failed" "C_Initialize in child"
assert_rv "direct: ... with CKR_GENERAL_ERROR" CKR_GENERAL_ERROR
assert_contains "direct: Craton's message points to p11-kit remoting" "remote: |p11-kit remote"
mkdir -p "$WORK/fork-direct"
run timeout 60 "$FORK_SIGN" "$SO" "$USER_PIN" rsa1 "$WORK/data.bin" "$WORK/fork-direct"
assert_true "direct fork-sign: exit 1 (only the child failed)" test "$RC" -eq 1
assert_contains "direct fork-sign: libcraton is in the process" "parent: libcraton mapped in this process: yes"
assert_contains "direct fork-sign: child's C_Initialize gets CKR_GENERAL_ERROR" "child: C_Initialize: CKR_GENERAL_ERROR"
assert_contains "direct fork-sign: the child exits (no hang)" "parent: child exited with status 3"
assert_true "direct fork-sign: no child signature" test ! -e "$WORK/fork-direct/child.sig"
assert_same "direct fork-sign: the parent still signs after the fork" \
	"$WORK/direct.sig" "$WORK/fork-direct/parent-after.sig"

# The proxy alone does not help: in the child it calls the module's
# C_Initialize again, Craton refuses, and p11-kit drops the module (the
# child sees no token). pkcs11-tool --test-fork only checks that C_Initialize
# returns CKR_OK, which the proxy does, so it "passes" here.
mkdir -p "$WORK/fork-proxy-local"
run with_p11kit "$FORK_SIGN" "$P11KIT_PROXY" "$USER_PIN" rsa1 "$WORK/data.bin" "$WORK/fork-proxy-local"
assert_true "proxy + module: fork-sign exits 1 (only the child failed)" test "$RC" -eq 1
assert_contains "proxy + module: the parent signs" "parent: signed 256 bytes"
assert_contains "proxy + module: the child loses the token" "child: no Craton token"
assert_contains "proxy + module: Craton refused in the child" "libcraton.so was inherited across fork()"
check "proxy + module: pkcs11-tool --test-fork exits 0 (it only checks C_Initialize)" proxy --test-fork
assert_contains "proxy + module: ... although Craton refused in the child" "libcraton.so was inherited across fork()"

echo "# fork() with remoting: remote: |p11-kit remote libcraton.so"
# Self-test of remote_count: a `p11-kit remote` of this run, idle on a FIFO
# (held open here so that opening it does not block), must be counted.
mkfifo "$WORK/remote.fifo"
exec 9<>"$WORK/remote.fifo"
timeout 15 p11-kit remote "$SO" <"$WORK/remote.fifo" >/dev/null 2>&1 &
SELFTEST_PID=$!
for _i in $(seq 1 50); do
	[ "$(remote_count)" -ge 1 ] && break
	sleep 0.1
done
assert_true "self-test: remote_count sees an idle 'p11-kit remote' of this run" test "$(remote_count)" -ge 1
if [ "$(ps -o ppid= -p "$SELFTEST_PID" 2>/dev/null | tr -d ' ')" = "$$" ]; then
	kill "$SELFTEST_PID" 2>/dev/null || true
fi
wait "$SELFTEST_PID" 2>/dev/null || true
SELFTEST_PID=
exec 9>&-
no_remote_left "self-test: ... and no longer once it is stopped"

p11kit_module craton-remote "remote: |p11-kit remote $SO"
check "remote: p11-kit list-modules" with_p11kit p11-kit list-modules
assert_contains "remote: lists craton-remote" "craton-remote:"
assert_contains "remote: token $LABEL" "token: $LABEL"
assert_contains "remote: serial-number" "serial-number: $SERIAL"
assert_contains "remote: manufacturer Craton" "        manufacturer: Craton"
check "remote: proxy -L" proxy -L
assert_contains "remote: proxy sees the token" "serial num         : $SERIAL"
check "remote: proxy -O --login" proxy "${LOGIN[@]}" -O
without_using "$OUT" >"$WORK/objects.remote"
assert_same "remote: the same objects as directly" "$WORK/objects.direct" "$WORK/objects.remote"
check "remote: proxy signature" proxy "${LOGIN[@]}" --sign --mechanism SHA256-RSA-PKCS --id 01 \
	-i "$WORK/data.bin" -o "$WORK/remote.sig"
assert_same "remote: the signature equals the direct one" "$WORK/direct.sig" "$WORK/remote.sig"
check "remote: pkcs11-tool --test-fork passes" proxy --test-fork
assert_contains "remote: the child called C_Initialize" "*** Calling C_Initialize in forked child process ***"
assert_not_contains "remote: ... and Craton was never inherited" "inherited across fork"
assert_not_contains "remote: no error" "error:"
mkdir -p "$WORK/fork-remote"
run with_p11kit "$FORK_SIGN" "$P11KIT_PROXY" "$USER_PIN" rsa1 "$WORK/data.bin" "$WORK/fork-remote"
assert_true "remote fork-sign: exit 0" test "$RC" -eq 0
assert_contains "remote fork-sign: libcraton is NOT in the client process" \
	"parent: libcraton mapped in this process: no"
assert_contains "remote fork-sign: the child initialises" "child: C_Initialize: CKR_OK"
assert_contains "remote fork-sign: the child signs" "child: signed 256 bytes"
assert_contains "remote fork-sign: the child exits 0" "parent: child exited with status 0"
assert_not_contains "remote fork-sign: Craton never sees a fork" "inherited across fork"
assert_same "remote fork-sign: child's signature = direct one" "$WORK/direct.sig" "$WORK/fork-remote/child.sig"
assert_same "remote fork-sign: parent's, before the fork" "$WORK/direct.sig" "$WORK/fork-remote/parent-before.sig"
assert_same "remote fork-sign: parent's, after the fork" "$WORK/direct.sig" "$WORK/fork-remote/parent-after.sig"
check "remote fork-sign: OpenSSL verifies the child's signature" openssl dgst -sha256 -verify "$WORK/rsa1.pub.pem" \
	-signature "$WORK/fork-remote/child.sig" "$WORK/data.bin"
no_remote_left "remote: every 'p11-kit remote' exited with its client"

echo "# x-init-reserved: the configuration path for C_Initialize"
RESERVED_CONF=$WORK/reserved.toml
cat >"$RESERVED_CONF" <<EOF
[store]
path = "$WORK/store-reserved"
[pin]
kdf_iterations = 1000
max_failures = 3
[log]
level = "warn"
file = "$LOGFILE"
[[slot]]
id = 7
description = "reserved slot"
label = "reserved-fresh"
EOF
# Without CRATON_CONF, and with HOME and XDG dirs in the scratch directory:
# if pReserved were ignored, the token would come from $WORK/home instead.
NOCONF=(env -u CRATON_CONF HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/home/.config" XDG_DATA_HOME="$WORK/home/.local/share")
mkdir -p "$WORK/home"
p11kit_module craton-reserved "module: $SO
x-init-reserved: $RESERVED_CONF"
check "x-init-reserved: p11-kit list-modules" with_p11kit "${NOCONF[@]}" p11-kit list-modules
assert_contains "x-init-reserved: the token of the reserved config (its slot label)" "token: reserved-fresh"
assert_not_contains "x-init-reserved: not the main token" "token: $LABEL"
assert_true "x-init-reserved: the store of the reserved config was created" test -f "$WORK/store-reserved/slot-7.db"
assert_true "x-init-reserved: the per-user default store was not used" test ! -e "$WORK/home/.local/share/craton"
check "x-init-reserved: proxy --init-token" with_p11kit "${NOCONF[@]}" pkcs11-tool --module "$P11KIT_PROXY" \
	--init-token --label reserved-token --so-pin "$SO_PIN"
check "x-init-reserved: the module, on CRATON_CONF=reserved.toml, sees that token" \
	env CRATON_CONF="$RESERVED_CONF" timeout "$P11_TIMEOUT" pkcs11-tool --module "$CRATON_SO" -L
assert_contains "x-init-reserved: ... labelled reserved-token" "token label        : reserved-token"
assert_contains "x-init-reserved: ... in slot 7" "Slot 0 (0x7): reserved slot"
check "x-init-reserved: \$CRATON_CONF still wins over it" with_p11kit p11-kit list-modules
assert_contains "x-init-reserved: with CRATON_CONF set: the main token" "token: $LABEL"
assert_not_contains "x-init-reserved: ... not the reserved one" "token: reserved-token"
p11kit_module craton-reserved-remote "remote: |p11-kit remote $SO
x-init-reserved: $RESERVED_CONF"
check "x-init-reserved + remote: p11-kit list-modules" with_p11kit "${NOCONF[@]}" p11-kit list-modules
assert_contains "x-init-reserved + remote: the reserved token" "token: reserved-token"
assert_not_contains "x-init-reserved + remote: not the main token" "token: $LABEL"
no_remote_left "x-init-reserved + remote: no 'p11-kit remote' left"

finish
