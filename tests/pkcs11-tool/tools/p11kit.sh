# A hermetic p11-kit registration for the client scripts (71-p11kit.sh,
# 72-gnutls.sh). Sourced after lib/lib.sh; not a test by itself.
#
#   P11KIT_DIR              scratch p11-kit configuration: modules/ holds the
#                           module files, package-modules/ stays empty, so
#                           only what the test registers is loaded
#   P11KIT_PROXY            p11-kit-proxy.so
#   p11kit_module NAME TEXT writes TEXT into $P11KIT_DIR/modules/NAME.module
#                           (removing the other module files first)
#   with_p11kit CMD...      runs CMD (under timeout) with p11-kit reading
#                           $P11KIT_DIR instead of /etc/pkcs11 and
#                           /usr/share/p11-kit/modules
#
# How: tools/p11kit-scratch.c, an LD_PRELOAD shim calling p11-kit's exported
# p11_kit_override_system_files() (see its comment). It is compiled here
# with cc; without cc the script stops with status 2 (a missing tool, not a
# pass).

P11KIT_TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
P11KIT_DIR=$WORK/p11-kit
P11KIT_SHIM=$WORK/bin/p11kit-scratch.so

for _t in p11-kit cc; do
	if ! command -v "$_t" >/dev/null 2>&1; then
		echo "$TEST_NAME: required tool '$_t' not found" >&2
		exit 2
	fi
done
unset _t

P11KIT_PROXY=${P11KIT_PROXY:-}
if [ -z "$P11KIT_PROXY" ]; then
	for _f in /usr/lib/x86_64-linux-gnu/p11-kit-proxy.so /usr/lib64/p11-kit-proxy.so /usr/lib/p11-kit-proxy.so \
		"$(dirname "$(ldconfig -p 2>/dev/null | sed -n 's/.*libp11-kit\.so\.0 .*=> //p' | head -n 1)")/p11-kit-proxy.so"; do
		if [ -f "$_f" ]; then
			P11KIT_PROXY=$_f
			break
		fi
	done
	unset _f
fi
if [ -z "$P11KIT_PROXY" ] || [ ! -f "$P11KIT_PROXY" ]; then
	echo "$TEST_NAME: p11-kit-proxy.so not found (Debian: p11-kit-modules); set P11KIT_PROXY" >&2
	exit 2
fi

mkdir -p "$P11KIT_DIR/modules" "$P11KIT_DIR/package-modules" "$WORK/bin"
if ! cc -shared -fPIC -O1 -Wall -Wextra -o "$P11KIT_SHIM" "$P11KIT_TOOLS/p11kit-scratch.c" -ldl 2>"$WORK/p11kit-shim.err"; then
	echo "$TEST_NAME: cannot build tools/p11kit-scratch.c:" >&2
	cat "$WORK/p11kit-shim.err" >&2
	exit 2
fi

p11kit_module() {
	rm -f "$P11KIT_DIR"/modules/*.module
	printf '%s\n' "$2" >"$P11KIT_DIR/modules/$1.module"
}

with_p11kit() {
	timeout "$P11_TIMEOUT" env LD_PRELOAD="$P11KIT_SHIM${LD_PRELOAD:+:$LD_PRELOAD}" \
		CRATON_P11KIT_DIR="$P11KIT_DIR" "$@"
}
