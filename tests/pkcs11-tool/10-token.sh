#!/usr/bin/env bash
# Token life cycle through pkcs11-tool: slot listing, C_InitToken, C_InitPIN,
# C_GetInfo, C_SetPIN, PIN lockout (max_failures = 3, persistent across
# processes), SO unlock, re-initialisation.
#
#   CRATON_SO=/abs/path/libcraton.so bash tests/pkcs11-tool/10-token.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/lib.sh"

NEW_PIN=11223344
WRONG_PIN=00000000
WRONG_SO_PIN=99999999

echo "# fresh store: one uninitialised slot"
check "-L on a fresh store" p11 -L
assert_contains "-L names slot 0 'Craton slot 0'" "Slot 0 (0x0): Craton slot 0"
assert_contains "-L: token state uninitialized" "token state:   uninitialized"
assert_line_count "-L: exactly one slot" "Slot " 1

echo "# C_GetInfo"
check "-I" p11 -I
assert_contains "-I: manufacturer Craton" "Manufacturer     Craton"
assert_contains "-I: cryptoki version 3.0" "Cryptoki version 3.0"

echo "# C_InitToken"
check "--init-token --label t1" p11 --init-token --label t1 --so-pin "$SO_PIN"
assert_contains "--init-token reports success" "Token successfully initialized"
check "-L after init" p11 -L
assert_contains "-L: slot id still 0 after init" "Slot 0 (0x0): Craton slot 0"
assert_contains "-L: label t1" "token label        : t1"
assert_contains "-L: manufacturer Craton" "token manufacturer : Craton"
assert_contains "-L: token initialized" "token initialized"
assert_not_contains "-L: user PIN not initialised yet" "PIN initialized"
check "-T after init" p11 -T
assert_contains "-T: label t1" "token label        : t1"
assert_contains "-T: token initialized" "token initialized"
assert_contains "-T: login required" "login required"
SERIAL=$(sed -n 's/^ *serial num *: *//p' "$OUT")
assert_true "-T shows a serial number" test -n "$SERIAL"

echo "# C_InitPIN by the SO"
expect_fail "user login before C_InitPIN fails" p11 --login --pin "$USER_PIN" -O
assert_rv "... with CKR_USER_PIN_NOT_INITIALIZED" CKR_USER_PIN_NOT_INITIALIZED
check "--init-pin as SO" p11 --init-pin --login --login-type so --so-pin "$SO_PIN" --new-pin "$USER_PIN"
assert_contains "--init-pin reports success" "User PIN successfully initialized"
check "-T after init-pin" p11 -T
assert_contains "-T: PIN initialized" "PIN initialized"
check "user login with the new PIN" p11 --login --pin "$USER_PIN" -O

echo "# C_SetPIN"
expect_fail "--change-pin with a wrong old PIN fails" p11 --login --pin "$WRONG_PIN" --change-pin --new-pin "$NEW_PIN"
assert_rv "... with CKR_PIN_INCORRECT" CKR_PIN_INCORRECT
check "--change-pin" p11 --login --pin "$USER_PIN" --change-pin --new-pin "$NEW_PIN"
assert_contains "--change-pin reports success" "PIN successfully changed"
expect_fail "login with the old PIN fails" p11 --login --pin "$USER_PIN" -O
assert_rv "... with CKR_PIN_INCORRECT" CKR_PIN_INCORRECT
check "login with the new PIN works" p11 --login --pin "$NEW_PIN" -O
check "-T after a successful login" p11 -T
assert_not_contains "-T: a success resets the failure count" "user PIN count low"

echo "# PIN lockout (max_failures = 3), each attempt a new process"
expect_fail "wrong PIN #1" p11 --login --pin "$WRONG_PIN" -O
assert_rv "wrong PIN #1: CKR_PIN_INCORRECT" CKR_PIN_INCORRECT
check "-T after 1 failure" p11 -T
assert_contains "-T: user PIN count low after 1 failure" "user PIN count low"
assert_not_contains "-T: not locked after 1 failure" "user PIN locked"
expect_fail "wrong PIN #2" p11 --login --pin "$WRONG_PIN" -O
assert_rv "wrong PIN #2: CKR_PIN_INCORRECT" CKR_PIN_INCORRECT
check "-T after 2 failures" p11 -T
assert_contains "-T: final user PIN try after 2 failures" "final user PIN try"
expect_fail "wrong PIN #3" p11 --login --pin "$WRONG_PIN" -O
assert_rv "wrong PIN #3: CKR_PIN_INCORRECT" CKR_PIN_INCORRECT
check "-T after 3 failures" p11 -T
assert_contains "-T: user PIN locked" "user PIN locked"
expect_fail "4th login with the correct PIN fails" p11 --login --pin "$NEW_PIN" -O
assert_rv "... with CKR_PIN_LOCKED" CKR_PIN_LOCKED
check "-T in yet another process" p11 -T
assert_contains "-T: still locked in a new process" "user PIN locked"
expect_fail "correct PIN again in a new process" p11 --login --pin "$NEW_PIN" -O
assert_rv "... still CKR_PIN_LOCKED" CKR_PIN_LOCKED

echo "# SO unlocks with C_InitPIN"
check "--init-pin as SO on a locked PIN" p11 --init-pin --login --login-type so --so-pin "$SO_PIN" --new-pin "$USER_PIN"
check "-T after unlock" p11 -T
assert_not_contains "-T: no longer locked" "user PIN locked"
assert_not_contains "-T: failure count reset" "user PIN count low"
assert_contains "-T: PIN initialized" "PIN initialized"
expect_fail "the locked-out PIN no longer works" p11 --login --pin "$NEW_PIN" -O
assert_rv "... CKR_PIN_INCORRECT" CKR_PIN_INCORRECT
check "login with the PIN the SO set" p11 --login --pin "$USER_PIN" -O

echo "# re-initialisation"
printf 'public data of t1\n' >"$WORK/pub.bin"
printf 'private data of t1\n' >"$WORK/priv.bin"
check "write a public data object" p11 --login --pin "$USER_PIN" --write-object "$WORK/pub.bin" --type data --label keepme
check "write a private data object" p11 --login --pin "$USER_PIN" --write-object "$WORK/priv.bin" --type data --label secret --private
check "-O --login before re-init" p11 --login --pin "$USER_PIN" -O
assert_contains "-O lists 'keepme'" "label:          'keepme'"
assert_contains "-O lists 'secret'" "label:          'secret'"

expect_fail "--init-token with a wrong SO PIN fails" p11 --init-token --label t2 --so-pin "$WRONG_SO_PIN"
assert_rv "... with CKR_PIN_INCORRECT" CKR_PIN_INCORRECT
check "-T after the refused re-init" p11 -T
assert_contains "-T: label still t1" "token label        : t1"
assert_contains "-T: user PIN still initialised" "PIN initialized"
check "-O --login after the refused re-init" p11 --login --pin "$USER_PIN" -O
assert_contains "-O: 'keepme' survived" "label:          'keepme'"
assert_contains "-O: 'secret' survived" "label:          'secret'"

check "--init-token t2 with the right SO PIN" p11 --init-token --label t2 --so-pin "$SO_PIN"
assert_contains "re-init reports success" "Token successfully initialized"
check "-L after re-init" p11 -L
assert_contains "-L: slot id stable across re-init" "Slot 0 (0x0): Craton slot 0"
assert_contains "-L: label t2" "token label        : t2"
assert_not_contains "-L: user PIN reset by re-init" "PIN initialized"
check "-O after re-init" p11 -O
assert_not_contains "-O: 'keepme' wiped" "keepme"
assert_line_count "-O: no objects at all" "label:" 0
expect_fail "old user PIN no longer logs in" p11 --login --pin "$USER_PIN" -O
assert_rv "... CKR_USER_PIN_NOT_INITIALIZED" CKR_USER_PIN_NOT_INITIALIZED
check "--init-pin on the re-initialised token" p11 --init-pin --login --login-type so --so-pin "$SO_PIN" --new-pin "$USER_PIN"
check "-O --login after re-init" p11 --login --pin "$USER_PIN" -O
assert_not_contains "-O --login: private 'secret' wiped too" "secret"
assert_line_count "-O --login: no objects at all" "label:" 0

echo "# SO PIN lockout (SO logins need a R/W session: --session-rw)"
expect_fail "SO login in a read-only session fails" p11 --login --login-type so --so-pin "$SO_PIN" -O
assert_rv "... with CKR_SESSION_READ_ONLY_EXISTS" CKR_SESSION_READ_ONLY_EXISTS
expect_fail "wrong SO PIN #1" p11 --session-rw --login --login-type so --so-pin "$WRONG_SO_PIN" -O
assert_rv "wrong SO PIN #1: CKR_PIN_INCORRECT" CKR_PIN_INCORRECT
check "-T after 1 SO failure" p11 -T
assert_contains "-T: SO PIN count low" "SO PIN count low"
check "SO login with the right PIN" p11 --session-rw --login --login-type so --so-pin "$SO_PIN" -O
check "-T after the SO's success" p11 -T
assert_not_contains "-T: SO failure count reset" "SO PIN count low"
for i in 1 2 3; do
	expect_fail "wrong SO PIN, attempt $i of 3" p11 --session-rw --login --login-type so --so-pin "$WRONG_SO_PIN" -O
done
check "-T after 3 SO failures" p11 -T
assert_contains "-T: SO PIN locked" "SO PIN locked"
expect_fail "SO login with the right PIN once locked" p11 --session-rw --login --login-type so --so-pin "$SO_PIN" -O
assert_rv "... CKR_PIN_LOCKED" CKR_PIN_LOCKED
expect_fail "--init-token once the SO PIN is locked" p11 --init-token --label t3 --so-pin "$SO_PIN"
assert_rv "... CKR_PIN_LOCKED" CKR_PIN_LOCKED
check "the user can still log in" p11 --login --pin "$USER_PIN" -O

finish
