// Command aesgcm is the "other side" of the AES-GCM interop checks in
// tests/pkcs11-tool/52-encrypt.sh: OpenSSL 3.0's `enc` refuses AEAD ciphers
// and python3-cryptography is not a CI dependency, so this stands in for
// OpenSSL with Go's crypto/cipher (standard library, no token code involved).
//
//	aesgcm seal|open -key HEX -iv HEX [-aad HEX] [-tag BYTES] -in FILE -out FILE
//
// seal writes ciphertext||tag; open reads ciphertext||tag and writes the
// plaintext, or exits 1 when authentication fails.
package main

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
)

func main() {
	keyHex := flag.String("key", "", "AES key, hex (16, 24 or 32 bytes)")
	ivHex := flag.String("iv", "", "IV, hex")
	aadHex := flag.String("aad", "", "additional authenticated data, hex")
	tagLen := flag.Int("tag", 16, "tag length in bytes (12..16; 16 with a non-12-byte IV)")
	inFile := flag.String("in", "", "input file")
	outFile := flag.String("out", "", "output file (not written when open fails)")
	if len(os.Args) < 2 || (os.Args[1] != "seal" && os.Args[1] != "open") {
		fail("usage: aesgcm seal|open -key HEX -iv HEX [-aad HEX] [-tag BYTES] -in FILE -out FILE")
	}
	op := os.Args[1]
	if err := flag.CommandLine.Parse(os.Args[2:]); err != nil || flag.NArg() != 0 || *inFile == "" || *outFile == "" {
		fail("usage: aesgcm seal|open -key HEX -iv HEX [-aad HEX] [-tag BYTES] -in FILE -out FILE")
	}
	key, iv, aad := unhex("key", *keyHex), unhex("iv", *ivHex), unhex("aad", *aadHex)
	block, err := aes.NewCipher(key)
	if err != nil {
		fail(err.Error())
	}
	var aead cipher.AEAD
	switch {
	case len(iv) == 12:
		aead, err = cipher.NewGCMWithTagSize(block, *tagLen)
	case *tagLen == 16:
		aead, err = cipher.NewGCMWithNonceSize(block, len(iv))
	default:
		err = fmt.Errorf("a %d-byte IV needs a 16-byte tag here", len(iv))
	}
	if err != nil {
		fail(err.Error())
	}
	in, err := os.ReadFile(*inFile)
	if err != nil {
		fail(err.Error())
	}
	var out []byte
	if op == "seal" {
		out = aead.Seal(nil, iv, in, aad)
	} else if out, err = aead.Open(nil, iv, in, aad); err != nil {
		fail("open: " + err.Error())
	}
	if err := os.WriteFile(*outFile, out, 0o600); err != nil {
		fail(err.Error())
	}
}

func unhex(name, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		fail(fmt.Sprintf("-%s: %v", name, err))
	}
	return b
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "aesgcm:", msg)
	os.Exit(1)
}
