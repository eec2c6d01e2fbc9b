#!/usr/bin/env bash
# Craton through PyKCS11 (Debian's python3-pykcs11): runs
# tests/python/test_pykcs11.py with `python3 -m unittest -v` on a fresh token
# and counts each unittest test as one check here.
#
#   CRATON_SO=/abs/path/libcraton.so bash tests/pkcs11-tool/74-pykcs11.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/lib.sh"

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../python" && pwd)

# python3-pykcs11 installs for Debian's python3; a python3 earlier on PATH
# (pyenv, a venv) may not see it, so fall back to /usr/bin/python3.
PY=
for cand in "${PYTHON:-python3}" /usr/bin/python3; do
	if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import PyKCS11' >/dev/null 2>&1; then
		PY=$cand
		break
	fi
done
if [ -z "$PY" ]; then
	fail "PyKCS11 importable" "no python3 on PATH nor /usr/bin/python3 can 'import PyKCS11' (apt-get install python3-pykcs11)"
	finish
fi
note "python: $(command -v "$PY") ($("$PY" -c 'import sys; print(sys.version.split()[0])')), PyKCS11 from $("$PY" -c 'import PyKCS11, os; print(os.path.dirname(PyKCS11.__file__))')"

init_token t1

echo "# python3 -m unittest -v test_pykcs11"
run env CRATON_SO="$CRATON_SO" CRATON_CONF="$CRATON_CONF" CRATON_TOKEN_LABEL=t1 \
	CRATON_USER_PIN="$USER_PIN" PYTHONPATH="$TESTS_DIR" \
	timeout 120 "$PY" -m unittest -v test_pykcs11
cp "$OUT" "$WORK/unittest.out"

# One check per "test_x (module.Class.test_x) ... ok|FAIL|ERROR|skipped" line.
n_lines=0
while IFS= read -r line; do
	case "$line" in
	test_*" ... "*)
		n_lines=$((n_lines + 1))
		name=${line%% (*}
		cls=${line#* (}
		cls=${cls%%)*}
		cls=${cls#test_pykcs11.}
		cls=${cls%.*}
		verdict=${line##* ... }
		case "$verdict" in
		ok) pass "pykcs11 $cls.$name" ;;
		skipped*) skip "pykcs11 $cls.$name" "$verdict" ;;
		*) fail "pykcs11 $cls.$name" "$verdict" ;;
		esac
		;;
	esac
done <"$WORK/unittest.out"

RAN=$(sed -n 's/^Ran \([0-9]*\) tests\? in .*/\1/p' "$WORK/unittest.out")
assert_true "unittest ran tests (Ran ${RAN:-?})" test "${RAN:-0}" -gt 0
assert_true "every test has a result line ($n_lines of ${RAN:-?})" test "$n_lines" -eq "${RAN:-0}"
if [ "$RC" -eq 0 ] && grep -q '^OK' "$WORK/unittest.out"; then
	pass "unittest exits 0 with OK"
else
	fail "unittest exits 0 with OK" "status $RC"
	# Tracebacks of failures and errors.
	sed -n '/^=\{20,\}$/,$p' "$WORK/unittest.out" | head -n 120 | sed 's/^/    | /'
fi

finish
