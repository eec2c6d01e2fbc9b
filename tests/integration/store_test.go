//go:build integration

package integration

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"
)

// secretForms are the byte strings whose presence in a file would reveal
// secret: the raw bytes, hex in both cases and base64 (standard and URL
// alphabets) at each of the three alignments the secret can have inside a
// longer encoded string.
func secretForms(secret []byte) map[string][]byte {
	forms := map[string][]byte{
		"raw":       secret,
		"hex":       []byte(hex.EncodeToString(secret)),
		"HEX":       []byte(strings.ToUpper(hex.EncodeToString(secret))),
		"raw-first": secret[:len(secret)/2], // a half would be enough to hurt
		"raw-last":  secret[len(secret)/2:],
	}
	for shift := 0; shift < 3; shift++ {
		part := secret[shift:]
		part = part[:len(part)/3*3] // whole groups only: no padding, no partial char
		for name, enc := range map[string]*base64.Encoding{"base64": base64.StdEncoding, "base64url": base64.URLEncoding} {
			forms[name+"@"+string(rune('0'+shift))] = []byte(enc.EncodeToString(part))
		}
	}
	return forms
}

// scanStore reads every regular file under dir and returns, per file, the
// names of the secrets (and forms) found in it, plus how many files and
// bytes it read.
func scanStore(t *testing.T, dir string, secrets map[string][]byte) (hits []string, files int, size int64, names []string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		size += int64(len(b))
		rel, _ := filepath.Rel(dir, path)
		names = append(names, rel)
		for sname, s := range secrets {
			for fname, form := range secretForms(s) {
				if bytes.Contains(b, form) {
					hits = append(hits, rel+": "+sname+" ("+fname+")")
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", dir, err)
	}
	return hits, files, size, names
}

// TestStoreNeverHoldsKeyBytes: the bytes of secret keys (public or private
// objects) and of private data objects never reach the store's files in any
// common encoding, neither while the database is live (WAL) nor after
// C_Finalize.
func TestStoreNeverHoldsKeyBytes(t *testing.T) {
	e := newPreparedToken(t)
	p := e.open(t)
	slot := firstSlot(t, p)
	sh := openRW(t, p, slot)
	loginUser(t, p, sh)

	secrets := map[string][]byte{
		"AES-256 key, CKA_PRIVATE false":              randBytes(t, 32),
		"AES-256 key, CKA_PRIVATE true":               randBytes(t, 32),
		"AES-256 key, extractable, CKA_PRIVATE false": randBytes(t, 32),
		"private data object value":                   randBytes(t, 48),
	}
	public := randBytes(t, 48) // a public data object: a control, may be in clear
	create(t, p, sh, aesTemplate("store-aes-public", secrets["AES-256 key, CKA_PRIVATE false"], true,
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false)), "public token AES key")
	create(t, p, sh, aesTemplate("store-aes-private", secrets["AES-256 key, CKA_PRIVATE true"], true,
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true)), "private token AES key")
	create(t, p, sh, aesTemplate("store-aes-extractable", secrets["AES-256 key, extractable, CKA_PRIVATE false"], true,
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true)), "extractable public token AES key")
	create(t, p, sh, dataTemplate("store-private-data", secrets["private data object value"], true, true), "private token data object")
	create(t, p, sh, dataTemplate("store-public-data", public, true, false), "public token data object")

	// The objects really hold those values (else the scan proves nothing).
	if got := mustAttr(t, p, sh, findLabel(t, p, sh, "store-private-data")[0], pkcs11.CKA_VALUE, "private data"); !bytes.Equal(got, secrets["private data object value"]) {
		t.Fatalf("private data object value read back differs")
	}
	if got := mustAttr(t, p, sh, findLabel(t, p, sh, "store-aes-extractable")[0], pkcs11.CKA_VALUE, "extractable key"); !bytes.Equal(got, secrets["AES-256 key, extractable, CKA_PRIVATE false"]) {
		t.Fatalf("extractable key value read back differs")
	}

	controls := map[string][]byte{"public data object value": public}
	check := func(when string) {
		hits, files, size, names := scanStore(t, e.store, secrets)
		for _, h := range hits {
			t.Errorf("%s: secret found in the store: %s", when, h)
		}
		if files == 0 || size == 0 {
			t.Fatalf("%s: scanned %d files, %d bytes under %s: nothing to check", when, files, size, e.store)
		}
		ctl, _, _, _ := scanStore(t, e.store, controls)
		t.Logf("%s: scanned %d files (%s), %d bytes, %d secrets × %d forms: %d hits; control (public data value) found in clear: %v",
			when, files, strings.Join(names, ", "), size, len(secrets), len(secretForms(public)), len(hits), len(ctl) > 0)
		// The module log must not hold them either.
		if b, err := os.ReadFile(e.log); err == nil {
			for sname, s := range secrets {
				for fname, form := range secretForms(s) {
					if bytes.Contains(b, form) {
						t.Errorf("%s: secret in the module log: %s (%s)", when, sname, fname)
					}
				}
			}
		}
	}

	// Live: the WAL holds the recent pages.
	check("live, before C_Finalize")
	if _, err := os.Stat(filepath.Join(e.store, "slot-0.db-wal")); err != nil {
		t.Logf("note: no slot-0.db-wal while live (%v)", err)
	}
	if err := p.Finalize(); err != nil {
		t.Fatalf("C_Finalize: %v", err)
	}
	check("after C_Finalize")
}
