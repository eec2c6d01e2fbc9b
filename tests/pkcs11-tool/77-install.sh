#!/usr/bin/env bash
# `make install`: the library lands in $(LIBDIR) and the p11-kit module file
# in $(P11KITDIR) naming it, and p11-kit, reading only that directory, shows
# Craton's token.
#
#   CRATON_SO=/abs/path/libcraton.so bash tests/pkcs11-tool/77-install.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/tools/p11kit.sh"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PREFIX=$WORK/prefix
# make install must not rebuild: the library under test is the one installed.
check "make install" make -s -C "$REPO" install SO="$CRATON_SO" PREFIX="$PREFIX" P11KITDIR="$P11KIT_DIR/modules"
assert_true "library installed" cmp -s "$CRATON_SO" "$PREFIX/lib/libcraton.so"
assert_true "module file installed" test -f "$P11KIT_DIR/modules/craton.module"
run grep -v '^#' "$P11KIT_DIR/modules/craton.module"
assert_contains "module file names the installed library" "module: $PREFIX/lib/libcraton.so"
init_token installed
check "p11-kit list-modules sees the installed module" with_p11kit p11-kit list-modules
assert_contains "list-modules: the module path" "$PREFIX/lib/libcraton.so"
assert_contains "list-modules: the token" "manufacturer: Craton"
finish
