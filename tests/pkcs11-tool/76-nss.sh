#!/usr/bin/env bash
# NSS against Craton: a scratch NSS database, `modutil -add` of the module,
# `modutil -list` showing module and token; certificates written with
# pkcs11-tool under the CKA_ID and label of token key pairs are listed by
# `certutil -L` with the token's nickname prefix and their keys by
# `certutil -K` (PIN from a file); NSS signs certificate requests with the
# token keys (`certutil -R`, checked by openssl) and writes a certificate of
# its own (`certutil -S`).
#
# How NSS starts the module: C_Initialize gets CK_C_INITIALIZE_ARGS with
# flags CKF_OS_LOCKING_OK | CKF_LIBRARY_CANT_CREATE_OS_THREADS and pReserved =
# NULL, unless the module was added with `modutil -add ... -string STR` (the
# `parameters=` of pkcs11.txt): then pReserved = STR, which Craton reads as
# the path of its configuration file (when CRATON_CONF is unset). Both cases
# are checked: a path works, an NSS-style "key=value" string makes
# C_Initialize fail with CKR_FUNCTION_FAILED and a log line naming it.
#
#   CRATON_SO=/abs/path/libcraton.so bash tests/pkcs11-tool/76-nss.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/lib.sh"

MISSING=()
for tool in certutil modutil openssl; do
	command -v "$tool" >/dev/null 2>&1 || MISSING+=("$tool")
done
if [ "${#MISSING[@]}" -ne 0 ]; then
	fail "NSS tools present" "missing: ${MISSING[*]} (apt-get install libnss3-tools openssl)"
	finish
fi

LOGIN=(--login --pin "$USER_PIN")
T=(timeout "$P11_TIMEOUT")
TOKEN=craton-nss
DB=$WORK/nssdb
PWFILE=$WORK/pin.txt
printf '%s' "$USER_PIN" >"$PWFILE"
printf '%s' 00000000 >"$WORK/wrong-pin.txt"

# NSS tools prompt on the terminal when they lack a password; never let them.
cu() { "${T[@]}" certutil "$@" </dev/null; }
mu() { "${T[@]}" modutil "$@" </dev/null; }

init_token "$TOKEN"

echo "# key pairs and certificates (pkcs11-tool, openssl + libp11 engine)"
# Self-signed by the token key when the libp11 engine is there; else by a
# throwaway key (only the certificate's public key must match the token's).
HAVE_ENGINE=0
if PKCS11_MODULE_PATH=$CRATON_SO "${T[@]}" openssl engine -t pkcs11 2>/dev/null | grep -q -F '[ available ]'; then
	HAVE_ENGINE=1
fi
KEYS=("nss-rsa 01 rsa:2048" "nss-ec 02 EC:prime256v1")
for k in "${KEYS[@]}"; do
	read -r name id kt <<<"$k"
	check "$name: generate $kt (id $id)" p11 "${LOGIN[@]}" --keypairgen --key-type "$kt" --id "$id" --label "$name"
	check "$name: read the token's public key" p11 --read-object --type pubkey --id "$id" -o "$WORK/$name.pub.der"
	if [ "$HAVE_ENGINE" = 1 ]; then
		check "$name: self-signed certificate (openssl, token key via the pkcs11 engine)" \
			env PKCS11_MODULE_PATH="$CRATON_SO" "${T[@]}" openssl req -x509 -new -engine pkcs11 -keyform engine \
			-key "pkcs11:token=$TOKEN;object=$name;type=private;pin-value=$USER_PIN" \
			-subj "/CN=$name/O=Craton test" -days 30 -sha256 -outform DER -out "$WORK/$name.der"
	else
		# x509 -force_pubkey puts the token's public key in a certificate
		# signed by a throwaway CA key.
		note "no libp11 engine: $name's certificate is signed by a throwaway key"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=throwaway CA" -days 30 \
			-keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
		openssl pkey -pubin -inform DER -in "$WORK/$name.pub.der" -out "$WORK/$name.pub.pem"
		check "$name: certificate for the token's public key (openssl x509 -force_pubkey)" \
			openssl x509 -new -subj "/CN=$name/O=Craton test" -force_pubkey "$WORK/$name.pub.pem" \
			-CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -days 30 -outform DER -out "$WORK/$name.der"
	fi
	check "$name: write the certificate (same id and label)" \
		p11 "${LOGIN[@]}" --write-object "$WORK/$name.der" --type cert --id "$id" --label "$name"
done

echo "# NSS database and module"
mkdir "$DB"
check "certutil -N (empty password)" cu -N -d "sql:$DB" --empty-password
check "modutil -add Craton" mu -dbdir "sql:$DB" -add Craton -libfile "$CRATON_SO" -force
assert_contains "modutil -add: 'Module \"Craton\" added'" 'Module "Craton" added to database.'
check "modutil -list" mu -dbdir "sql:$DB" -list
assert_contains "-list: the Craton module" "2. Craton"
assert_contains "-list: its library" "library name: $CRATON_SO"
assert_contains "-list: library URI" "uri: pkcs11:library-manufacturer=Craton;"
assert_contains "-list: loaded" "status: loaded"
assert_contains "-list: slot 'Craton slot 0'" "slot: Craton slot 0"
assert_contains "-list: token $TOKEN" "token: $TOKEN"
assert_contains "-list: token URI" "uri: pkcs11:token=$TOKEN;manufacturer=Craton;"
check "modutil -list Craton" mu -dbdir "sql:$DB" -list Craton
assert_contains "-list Craton: PKCS #11 Version 3.0" "PKCS #11 Version 3.0"
assert_contains "-list Craton: Manufacturer Craton" "Manufacturer: Craton"
assert_contains "-list Craton: token name" "Token Name: $TOKEN"
assert_contains "-list Craton: login required" "Login Type: Login required"
assert_contains "-list Craton: user PIN initialised" "User Pin: Initialized"

echo "# certutil -L / -K"
check "certutil -L -h all" cu -L -d "sql:$DB" -h all -f "$PWFILE"
assert_line_count "-L: $TOKEN:nss-rsa" "$TOKEN:nss-rsa " 1
assert_line_count "-L: $TOKEN:nss-ec" "$TOKEN:nss-ec " 1
# -h TOKEN makes certutil log in to the token first: it needs the PIN.
check "certutil -L -h $TOKEN -f pinfile" cu -L -d "sql:$DB" -h "$TOKEN" -f "$PWFILE"
assert_contains "-L -h: $TOKEN:nss-rsa" "$TOKEN:nss-rsa"
assert_contains "-L -h: $TOKEN:nss-ec" "$TOKEN:nss-ec"
# (certutil passes the PIN file only for the token named by -h.)
check "certutil -L -n $TOKEN:nss-rsa -h $TOKEN -r (DER)" cu -L -d "sql:$DB" -n "$TOKEN:nss-rsa" -h "$TOKEN" -r -f "$PWFILE" -o "$WORK/nss-rsa.fromnss.der"
assert_same "... byte-identical to the certificate written" "$WORK/nss-rsa.der" "$WORK/nss-rsa.fromnss.der"
check "certutil -K -h $TOKEN -f pinfile" cu -K -d "sql:$DB" -h "$TOKEN" -f "$PWFILE"
assert_contains "-K: checks token $TOKEN" "Checking token \"$TOKEN\" in slot \"Craton slot 0\""
assert_true "-K: the RSA key, id 01, nickname nss-rsa" grep -q -E '^< *[0-9]+> rsa +01 +nss-rsa$' "$OUT"
assert_true "-K: the EC key, id 02, nickname nss-ec" grep -q -E '^< *[0-9]+> ec +02 +nss-ec$' "$OUT"
assert_line_count "-K: two keys" "> " 2
run cu -K -d "sql:$DB" -h "$TOKEN" -f "$WORK/wrong-pin.txt"
assert_true "-K with a wrong PIN fails (status $RC)" test "$RC" -ne 0 -a "$RC" -ne 124
assert_contains "... SEC_ERROR_BAD_PASSWORD" "SEC_ERROR_BAD_PASSWORD"

echo "# a module added with -mechanisms FRIENDLY: certificates without the PIN"
# NSS logs in to a token before it reads certificates unless the slot is
# "friendly" (slotFlags=PublicCerts); Craton's certificates are public objects.
mkdir "$WORK/db-friendly"
check "certutil -N (friendly)" cu -N -d "sql:$WORK/db-friendly" --empty-password
check "modutil -add Craton -mechanisms FRIENDLY" mu -dbdir "sql:$WORK/db-friendly" -add Craton -libfile "$CRATON_SO" -mechanisms FRIENDLY -force
assert_true "pkcs11.txt: slotFlags=PublicCerts" grep -q -F "slotFlags=PublicCerts" "$WORK/db-friendly/pkcs11.txt"
check "certutil -L -h $TOKEN without a PIN" cu -L -d "sql:$WORK/db-friendly" -h "$TOKEN"
assert_contains "-L: $TOKEN:nss-rsa" "$TOKEN:nss-rsa"
assert_contains "-L: $TOKEN:nss-ec" "$TOKEN:nss-ec"
assert_not_contains "-L: no password prompt" "Error opening input terminal"
check "certutil -L -n $TOKEN:nss-ec -r without a PIN" cu -L -d "sql:$WORK/db-friendly" -n "$TOKEN:nss-ec" -r -o "$WORK/nss-ec.fromnss.der"
assert_same "... byte-identical to the certificate written" "$WORK/nss-ec.der" "$WORK/nss-ec.fromnss.der"

echo "# NSS signs with the token keys"
for k in "${KEYS[@]}"; do
	read -r name id kt <<<"$k"
	check "$name: certutil -R (request signed by the token key, ckaid $id)" \
		cu -R -d "sql:$DB" -h "$TOKEN" -k "$id" -s "CN=$name request" -f "$PWFILE" -o "$WORK/$name.csr"
	check "$name: openssl verifies the request's signature" openssl req -inform DER -in "$WORK/$name.csr" -verify -noout
	assert_contains "... 'verify OK'" "verify OK"
	openssl req -inform DER -in "$WORK/$name.csr" -noout -pubkey | openssl pkey -pubin -outform DER -out "$WORK/$name.csrpub.der"
	assert_same "$name: the request holds the token's public key" "$WORK/$name.pub.der" "$WORK/$name.csrpub.der"
done
check "third key pair (id 03, label nss-made)" p11 "${LOGIN[@]}" --keypairgen --key-type rsa:2048 --id 03 --label nss-made
head -c 64 /dev/urandom >"$WORK/noise"
check "certutil -S: NSS writes a self-signed certificate for key 03 to the token" \
	cu -S -d "sql:$DB" -h "$TOKEN" -k 03 -n nss-made -s "CN=made by NSS" -x -t ",," -v 12 -z "$WORK/noise" -f "$PWFILE"
check "certutil -L -h $TOKEN" cu -L -d "sql:$DB" -h "$TOKEN" -f "$PWFILE"
assert_contains "-L: $TOKEN:nss-made" "$TOKEN:nss-made"
check "pkcs11-tool sees NSS's certificate" p11 --read-object --type cert --label nss-made -o "$WORK/nss-made.der"
assert_true "... subject CN=made by NSS" sh -c "openssl x509 -inform DER -in '$WORK/nss-made.der' -noout -subject | grep -q 'CN *= *made by NSS'"
# NSS gives the certificate CKA_ID = SHA-1 of the public key, not the
# key's own CKA_ID (03); pkcs11-tool shows both.
p11 -O --type cert >"$WORK/certs.txt" 2>&1 || true
note "NSS's certificate CKA_ID: $(grep -A4 'label:      nss-made' "$WORK/certs.txt" | sed -n 's/^ *ID: *//p')"

echo "# pReserved: what NSS passes to C_Initialize"
# CRATON_CONF unset for these; a per-user config under a scratch
# XDG_CONFIG_HOME names the same store with another log file.
XDG=$WORK/xdg
mkdir -p "$XDG/craton" "$WORK/home"
# level info: the log then says which file C_Initialize read.
sed -e "s#^file = .*#file = \"$WORK/xdg.log\"#" -e 's#^level = .*#level = "info"#' "$CRATON_CONF" >"$XDG/craton/craton.toml"
sed -e "s#^file = .*#file = \"$WORK/param.log\"#" -e 's#^level = .*#level = "info"#' "$CRATON_CONF" >"$WORK/param.toml"
noconf() (
	unset CRATON_CONF
	export HOME="$WORK/home" XDG_CONFIG_HOME="$XDG" XDG_DATA_HOME="$WORK/xdg-data"
	"$@"
)
# (a) no -string: pReserved is NULL, so Craton falls back to the per-user file.
mkdir "$WORK/db-a"
check "(a) certutil -N" cu -N -d "sql:$WORK/db-a" --empty-password
check "(a) modutil -add without -string, CRATON_CONF unset" noconf mu -dbdir "sql:$WORK/db-a" -add Craton -libfile "$CRATON_SO" -force
check "(a) modutil -list" noconf mu -dbdir "sql:$WORK/db-a" -list
assert_contains "(a) the token is there" "token: $TOKEN"
assert_true "(a) Craton read \$XDG_CONFIG_HOME/craton/craton.toml (pReserved was NULL)" \
	grep -q -F "\"config\": \"$XDG/craton/craton.toml\"" "$WORK/xdg.log"
# (b) -string PATH: NSS passes PATH as pReserved and Craton reads it.
mkdir "$WORK/db-b"
check "(b) certutil -N" cu -N -d "sql:$WORK/db-b" --empty-password
check "(b) modutil -add -string $WORK/param.toml" noconf mu -dbdir "sql:$WORK/db-b" -add Craton -libfile "$CRATON_SO" -string "$WORK/param.toml" -force
assert_true "(b) pkcs11.txt has parameters=<path>" grep -q -x -F "parameters=$WORK/param.toml" "$WORK/db-b/pkcs11.txt"
check "(b) certutil -L -h $TOKEN" noconf cu -L -d "sql:$WORK/db-b" -h "$TOKEN" -f "$PWFILE"
assert_contains "(b) the token's certificates" "$TOKEN:nss-rsa"
assert_true "(b) Craton read the file NSS passed in pReserved" \
	grep -q -F "\"config\": \"$WORK/param.toml\"" "$WORK/param.log"
# (c) -string with an NSS-style parameter string: Craton takes it for a path.
mkdir "$WORK/db-c"
check "(c) certutil -N" cu -N -d "sql:$WORK/db-c" --empty-password
run noconf mu -dbdir "sql:$WORK/db-c" -add Craton -libfile "$CRATON_SO" -string "configdir=$WORK/none flags=readOnly" -force
assert_true "(c) modutil -add with a non-path -string fails (status $RC)" test "$RC" -ne 0 -a "$RC" -ne 124
assert_contains "(c) ... C_Initialize refused: the string is not a file" \
	"config configdir=$WORK/none flags=readOnly: file named by the C_Initialize reserved string does not exist"
assert_contains "(c) ... NSS: failed to add" 'ERROR: Failed to add module "Craton"'
# With CRATON_CONF set, pReserved is not read at all.
check "(c) with CRATON_CONF set the same string is ignored" \
	mu -dbdir "sql:$WORK/db-c" -add Craton -libfile "$CRATON_SO" -string "configdir=$WORK/none flags=readOnly" -force

finish
