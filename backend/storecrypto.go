// Package backend owns every call into crypto/*: it is the only Craton
// package that imports the standard library's cryptography. This file holds
// the primitives the token store needs (PIN key derivation, sealing records
// at rest, blind index tags, randomness); the mechanisms live beside it.
//
// Everything here is an approved service of Go's FIPS 140-3 module when it
// runs with fips140=on or only: PBKDF2-HMAC-SHA256 with a 128-bit salt,
// HMAC-SHA256 with 256-bit keys, AES-256-GCM with module-generated nonces
// (cipher.NewGCMWithRandomNonce), and the module's DRBG.
package backend

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"hash"
	"sync"
)

// KeyLen is the length of the token key and of the keys derived from PINs.
const KeyLen = 32

// SaltLen is the PBKDF2 salt length: 128 bits, the FIPS minimum.
const SaltLen = 16

// ErrOpen is returned when a sealed record fails authentication: the wrong
// key, or bytes changed on disk.
var ErrOpen = errors.New("backend: sealed record failed authentication")

// Random returns n bytes from the module's DRBG.
func Random(n int) []byte {
	b := make([]byte, n)
	RandomFill(b)
	return b
}

// RandomFill fills b with random bytes, for a caller that keeps them in a
// buffer of its own.
func RandomFill(b []byte) {
	rand.Read(b) // crypto/rand.Read never fails (it panics the program on a broken kernel RNG)
}

// PINKeys are what one PIN yields: a verifier stored on disk, and a key
// encryption key that wraps the token key and is never stored.
type PINKeys struct {
	Verifier [KeyLen]byte
	KEK      [KeyLen]byte
}

// Wipe zeroes both keys.
func (k *PINKeys) Wipe() {
	clear(k.Verifier[:])
	clear(k.KEK[:])
}

// DerivePIN runs PBKDF2-HMAC-SHA256 once over the PIN and splits the result
// with HMAC into independent verifier and KEK, so a login costs one PBKDF2.
func DerivePIN(pin, salt []byte, iterations int) (PINKeys, error) {
	var k PINKeys
	master, err := pbkdf2.Key(sha256.New, string(pin), salt, iterations, KeyLen)
	if err != nil {
		return k, err
	}
	defer clear(master)
	copy(k.Verifier[:], mac(master, []byte("craton pin verifier v1")))
	copy(k.KEK[:], mac(master, []byte("craton pin kek v1")))
	return k, nil
}

// Equal compares in constant time.
func Equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

func mac(key, data []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(data)
	return h.Sum(nil)
}

// IndexKey derives, from the token key, the key of the blind index that lets
// private objects be searched without decrypting them.
func IndexKey(tokenKey []byte) []byte { return mac(tokenKey, []byte("craton index v1")) }

// Tagger makes the 16-byte search tags of one scope. With a key (private
// objects) a tag is HMAC-SHA256(key, attribute type (8 bytes, little-endian)
// || value): equal values are findable only by whoever has the token key.
// Without (public objects, whose values are stored in clear anyway) it is
// SHA-256("craton tag v1" || type || value). Either is cut to 16 bytes.
//
// The hash states come from a pool (keyed HMACs, or SHA-256), each with a
// scratch buffer, so a tag costs two SHA-256 blocks and allocates nothing:
// a search makes a tag per attribute and scope, every time, and bytes
// handed to a hash.Hash through its interface escape to the heap. Tags may
// be made from several goroutines at once, but not while Wipe runs.
type Tagger struct {
	key  []byte
	pool sync.Pool // of *tagState
}

// tagState is a pooled hash state and the scratch its input and sum pass
// through.
type tagState struct {
	h       hash.Hash
	scratch [sha256.Size]byte
}

var publicTagPrefix = []byte("craton tag v1")

// NewTagger returns the Tagger for key (nil: public tags). It keeps key,
// and Wipe clears it.
func NewTagger(key []byte) *Tagger { return &Tagger{key: key} }

// TagSize is the length of a search tag.
const TagSize = 16

// Tag returns the tag of one attribute.
func (tg *Tagger) Tag(attrType uint64, value []byte) []byte {
	return tg.AppendTag(make([]byte, 0, TagSize), attrType, value)
}

// AppendTag appends the tag of one attribute to dst.
func (tg *Tagger) AppendTag(dst []byte, attrType uint64, value []byte) []byte {
	st, ok := tg.pool.Get().(*tagState)
	if !ok {
		st = new(tagState)
		if tg.key == nil {
			st.h = sha256.New()
		} else {
			st.h = hmac.New(sha256.New, tg.key)
		}
	}
	h := st.h
	if tg.key == nil {
		h.Write(publicTagPrefix)
	}
	h.Write(binary.LittleEndian.AppendUint64(st.scratch[:0], attrType))
	h.Write(value)
	dst = append(dst, h.Sum(st.scratch[:0])[:TagSize]...)
	h.Reset()
	tg.pool.Put(st)
	return dst
}

// Wipe clears the key and drops the pooled keyed states, so that nothing
// derived from it is handed out again (best effort, as Key.Wipe: the pads
// are left to the garbage collector). The Tagger is not used after it.
func (tg *Tagger) Wipe() {
	clear(tg.key)
	for tg.pool.Get() != nil {
	}
}

// Seal encrypts plaintext under key (AES-256-GCM, random 96-bit nonce
// prepended by the module) bound to aad.
func Seal(key, plaintext, aad []byte) ([]byte, error) {
	g, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return g.Seal(nil, nil, plaintext, aad), nil
}

// Open reverses Seal. Any mismatch is ErrOpen.
func Open(key, sealed, aad []byte) ([]byte, error) {
	g, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	pt, err := g.Open(nil, nil, sealed, aad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return randomNonceGCM(b)
}

// randomNonceGCM is cipher.NewGCMWithRandomNonce: AES-GCM whose 96-bit
// nonce the module draws and puts in front of the ciphertext. A build with
// GOEXPERIMENT=boringcrypto has an AES block that is not the Go module's,
// which NewGCMWithRandomNonce refuses; it gets the same format by hand.
func randomNonceGCM(b cipher.Block) (cipher.AEAD, error) {
	if g, err := cipher.NewGCMWithRandomNonce(b); err == nil {
		return g, nil
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	return prefixedNonceGCM{g}, nil
}

type prefixedNonceGCM struct{ gcm cipher.AEAD }

func (g prefixedNonceGCM) NonceSize() int { return 0 }
func (g prefixedNonceGCM) Overhead() int  { return g.gcm.NonceSize() + g.gcm.Overhead() }
func (g prefixedNonceGCM) Seal(dst, _, plaintext, aad []byte) []byte {
	nonce := Random(g.gcm.NonceSize())
	return g.gcm.Seal(append(dst, nonce...), nonce, plaintext, aad)
}
func (g prefixedNonceGCM) Open(dst, _, sealed, aad []byte) ([]byte, error) {
	n := g.gcm.NonceSize()
	if len(sealed) < n {
		return nil, ErrOpen
	}
	return g.gcm.Open(dst, sealed[:n], sealed[n:], aad)
}

// Fingerprint names a key for the GCM budget: SHA-256 of its value, so the
// same key material imported twice shares one budget.
func Fingerprint(value []byte) [32]byte { return sha256.Sum256(value) }

// JournalSealer computes gcmjournal's footer: HMAC-SHA256 under a key
// derived from the journal's path. It catches truncation and a journal
// copied to another path; it is not a defence against an attacker who can
// write the file.
type JournalSealer struct{}

func (JournalSealer) Sum(path string, data []byte) []byte {
	k := sha256.Sum256([]byte("craton gcm journal\x00" + path))
	return mac(k[:], data)
}
