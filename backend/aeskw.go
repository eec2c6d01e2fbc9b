package backend

// AES key wrap (RFC 3394, CKM_AES_KEY_WRAP) and AES key wrap with padding
// (RFC 5649, CKM_AES_KEY_WRAP_KWP), built on the crypto/aes block cipher.
//
// Go's standard library (and its FIPS 140-3 module) has the AES block cipher
// but not the wrap construction, so this code is outside the validated
// module: a FIPS-mode token must not reach it (SPEC §4 — there keys are
// wrapped with CKM_AES_GCM or CKM_RSA_PKCS_OAEP instead).
//
// Both functions follow the "index based" formulation of RFC 3394 §2.2.1 and
// §2.2.2 (six rounds over n 64-bit semiblocks, counter t = n*j + i XORed into
// the integrity register A). Integrity checks are constant time in the
// unwrapped data; buffers that held key material are wiped with clear() on
// every path that does not hand them to the caller.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrUnwrap is returned by UnwrapKW and UnwrapKWP when the integrity check
// (IV, length indicator or padding) fails: the wrong KEK, a modified
// ciphertext, or a ciphertext from another algorithm. The cases are not
// distinguished.
var ErrUnwrap = errors.New("backend: key unwrap integrity check failed")

// kwIV is the RFC 3394 §2.2.3.1 default initial value.
var kwIV = [8]byte{0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6}

// kwpAIVPrefix is the constant half of the RFC 5649 §3 alternative initial
// value; the other half is the 32-bit big-endian message length indicator.
var kwpAIVPrefix = [4]byte{0xA6, 0x59, 0x59, 0xA6}

const (
	semiblock = 8
	// kwpMaxLen is the largest plaintext RFC 5649 can wrap: the length
	// indicator is 32 bits.
	kwpMaxLen = 1<<32 - 1
)

func newKEK(kek []byte) (cipher.Block, error) {
	switch len(kek) {
	case 16, 24, 32:
	default:
		return nil, fmt.Errorf("backend: AES key wrap: KEK must be 16, 24 or 32 bytes, got %d", len(kek))
	}
	return aes.NewCipher(kek)
}

// wrapCore is W of RFC 3394 §2.2.1: it wraps the n >= 2 semiblocks in r
// (in place) under initial value a, and returns the final integrity
// register. b is a 16-byte scratch block.
func wrapCore(block cipher.Block, a [8]byte, r []byte, b *[16]byte) [8]byte {
	n := uint64(len(r) / semiblock)
	for j := uint64(0); j <= 5; j++ {
		for i := uint64(1); i <= n; i++ {
			ri := r[(i-1)*semiblock : i*semiblock]
			copy(b[:8], a[:])
			copy(b[8:], ri)
			block.Encrypt(b[:], b[:])
			t := n*j + i
			binary.BigEndian.PutUint64(a[:], binary.BigEndian.Uint64(b[:8])^t)
			copy(ri, b[8:])
		}
	}
	return a
}

// unwrapCore is W^-1 of RFC 3394 §2.2.2: it unwraps the n >= 2 semiblocks
// in r (in place) starting from integrity register a (the first ciphertext
// semiblock), and returns the recovered initial value, which the caller must
// check.
func unwrapCore(block cipher.Block, a [8]byte, r []byte, b *[16]byte) [8]byte {
	n := uint64(len(r) / semiblock)
	for j := uint64(6); j > 0; j-- {
		for i := n; i > 0; i-- {
			ri := r[(i-1)*semiblock : i*semiblock]
			t := n*(j-1) + i
			binary.BigEndian.PutUint64(b[:8], binary.BigEndian.Uint64(a[:])^t)
			copy(b[8:], ri)
			block.Decrypt(b[:], b[:])
			copy(a[:], b[:8])
			copy(ri, b[8:])
		}
	}
	return a
}

// WrapKW implements RFC 3394 (CKM_AES_KEY_WRAP): plaintext must be a multiple
// of 8 bytes, at least 16. The result is len(plaintext)+8 bytes. The
// single-semiblock (8-byte) form is rejected, as NIST SP 800-38F and PKCS#11
// do; use WrapKWP for short or odd-length data.
func WrapKW(kek, plaintext []byte) ([]byte, error) {
	if len(plaintext) < 2*semiblock || len(plaintext)%semiblock != 0 {
		return nil, fmt.Errorf("backend: AES key wrap: plaintext must be a multiple of 8 bytes and at least 16, got %d", len(plaintext))
	}
	block, err := newKEK(kek)
	if err != nil {
		return nil, err
	}
	out := make([]byte, semiblock+len(plaintext))
	copy(out[semiblock:], plaintext)
	var b [16]byte
	a := wrapCore(block, kwIV, out[semiblock:], &b)
	copy(out[:semiblock], a[:])
	clear(b[:])
	return out, nil
}

// UnwrapKW reverses WrapKW. A ciphertext whose length is not a multiple of 8
// or is shorter than 24 bytes is a plain error; a failed integrity check
// (wrong KEK or modified ciphertext) is ErrUnwrap.
func UnwrapKW(kek, ciphertext []byte) ([]byte, error) {
	if len(ciphertext) < 3*semiblock || len(ciphertext)%semiblock != 0 {
		return nil, fmt.Errorf("backend: AES key unwrap: ciphertext must be a multiple of 8 bytes and at least 24, got %d", len(ciphertext))
	}
	block, err := newKEK(kek)
	if err != nil {
		return nil, err
	}
	var a [8]byte
	copy(a[:], ciphertext[:semiblock])
	out := make([]byte, len(ciphertext)-semiblock)
	copy(out, ciphertext[semiblock:])
	var b [16]byte
	a = unwrapCore(block, a, out, &b)
	clear(b[:])
	if subtle.ConstantTimeCompare(a[:], kwIV[:]) != 1 {
		clear(out)
		return nil, ErrUnwrap
	}
	return out, nil
}

// WrapKWP implements RFC 5649 (CKM_AES_KEY_WRAP_KWP): any plaintext length
// 1..2^32-1. The plaintext is zero-padded to a multiple of 8 bytes; the
// result is that padded length plus 8. Plaintext of at most 8 bytes is
// wrapped as a single AES-ECB block AIV||P (RFC 5649 §4.1).
func WrapKWP(kek, plaintext []byte) ([]byte, error) {
	if len(plaintext) == 0 || uint64(len(plaintext)) > kwpMaxLen {
		return nil, fmt.Errorf("backend: AES key wrap with padding: plaintext must be 1..2^32-1 bytes, got %d", len(plaintext))
	}
	block, err := newKEK(kek)
	if err != nil {
		return nil, err
	}
	var aiv [8]byte
	copy(aiv[:4], kwpAIVPrefix[:])
	binary.BigEndian.PutUint32(aiv[4:], uint32(len(plaintext)))

	padded := (len(plaintext) + semiblock - 1) / semiblock * semiblock
	out := make([]byte, semiblock+padded) // padding bytes are already zero
	copy(out[semiblock:], plaintext)
	if padded == semiblock {
		copy(out[:semiblock], aiv[:])
		block.Encrypt(out, out)
		return out, nil
	}
	var b [16]byte
	a := wrapCore(block, aiv, out[semiblock:], &b)
	copy(out[:semiblock], a[:])
	clear(b[:])
	return out, nil
}

// UnwrapKWP reverses WrapKWP. A ciphertext whose length is not a multiple of
// 8 or is shorter than 16 bytes is a plain error; a failed integrity check
// (AIV constant, length indicator out of range, or non-zero padding) is
// ErrUnwrap.
func UnwrapKWP(kek, ciphertext []byte) ([]byte, error) {
	if len(ciphertext) < 2*semiblock || len(ciphertext)%semiblock != 0 {
		return nil, fmt.Errorf("backend: AES key unwrap with padding: ciphertext must be a multiple of 8 bytes and at least 16, got %d", len(ciphertext))
	}
	block, err := newKEK(kek)
	if err != nil {
		return nil, err
	}
	var a [8]byte
	var out []byte
	if len(ciphertext) == 2*semiblock {
		var b [16]byte
		block.Decrypt(b[:], ciphertext)
		copy(a[:], b[:8])
		out = make([]byte, semiblock)
		copy(out, b[8:])
		clear(b[:])
	} else {
		copy(a[:], ciphertext[:semiblock])
		out = make([]byte, len(ciphertext)-semiblock)
		copy(out, ciphertext[semiblock:])
		var b [16]byte
		a = unwrapCore(block, a, out, &b)
		clear(b[:])
	}

	// RFC 5649 §3: the AIV constant must match, 8*(n-1) < MLI <= 8*n, and
	// the 8*n - MLI padding octets must be zero. Evaluated without branching
	// on the recovered values.
	plen := uint64(len(out))
	mli := uint64(binary.BigEndian.Uint32(a[4:]))
	ok := subtle.ConstantTimeCompare(a[:4], kwpAIVPrefix[:])
	ok &= ctLessOrEq(plen-semiblock+1, mli)
	ok &= ctLessOrEq(mli, plen)
	var pad byte
	for k := uint64(0); k < semiblock; k++ {
		idx := plen - semiblock + k
		inPad := byte(ctLessOrEq(mli, idx)) // 1 when idx >= mli
		pad |= out[idx] & -inPad
	}
	ok &= subtle.ConstantTimeByteEq(pad, 0)
	if ok != 1 {
		clear(out)
		return nil, ErrUnwrap
	}
	return out[:mli:mli], nil
}

// ctLessOrEq returns 1 if x <= y and 0 otherwise, in constant time. Both
// arguments must be below 2^63 (here they are at most about 2^35).
func ctLessOrEq(x, y uint64) int {
	return int(((y - x) >> 63) ^ 1)
}
