package backend

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"hash"
	"math/big"

	. "github.com/craton-hsm/craton/pkcs11/ck"
)

// Cipher is one encryption or decryption operation. The *Len methods
// answer the two-call convention's length query without changing state.
type Cipher interface {
	// Update consumes in and returns what output it can produce now.
	Update(in []byte) ([]byte, error)
	// Final ends the operation and returns the rest of the output.
	Final() ([]byte, error)
	// UpdateLen bounds what Update would return for n more input bytes.
	UpdateLen(n int) int
	// FinalLen bounds what Final would return now.
	FinalLen() int
	// OneShotLen bounds what a single-part call on n bytes would return.
	OneShotLen(n int) int
	// SinglePartOnly: the mechanism has no multi-part form (RSA, key wrap).
	SinglePartOnly() bool
	// OneShot is the single-part call: it transforms in and ends the
	// cipher. dst is empty; the output goes into its memory when its
	// capacity allows (the caller's buffer: no copy for bulk data) and may
	// come back elsewhere otherwise. in is not retained, and must not
	// overlap dst's memory.
	OneShot(dst, in []byte) ([]byte, error)
}

// Cipher purposes: the CKF_* flag the mechanism must serve.
const (
	ForEncrypt = opEncrypt
	ForDecrypt = opDecrypt
	ForWrap    = opWrap
	ForUnwrap  = opUnwrap
)

// NewCipher starts an encryption or decryption with mech on a key of the
// given type and attributes, for purpose (ForEncrypt, ForDecrypt, ForWrap,
// ForUnwrap): KeyCipher for a key used once.
func (b *Backend) NewCipher(mech Mechanism, keyType uint64, key Attrs, purpose uint64) (Cipher, error) {
	return b.KeyCipher(mech, NewKey(keyType, key), purpose, nil)
}

// Budget is asked, just before each AES-GCM encryption runs, whether key k
// may encrypt once more (the NIST SP 800-38D cap, kept by gcmjournal). An
// error refuses the encryption; nil lets it proceed and counts it. The
// token passes one Budget for every key, so an operation makes nothing for
// it.
type Budget interface {
	Spend(k *Key) error
}

// KeyCipher starts an encryption or decryption with mech on key k, for
// purpose, with a GCM encryption budget (nil: none). A length query never
// reaches the budget: it is consulted only when an encryption really runs.
// The caller has checked the key's usage flags.
func (b *Backend) KeyCipher(mech Mechanism, k *Key, purpose uint64, budget Budget) (Cipher, error) {
	encrypt := purpose == ForEncrypt || purpose == ForWrap
	if err := b.Check(mech.Type, purpose, k.Type); err != nil {
		return nil, err
	}
	switch mech.Type {
	case CKM_AES_ECB, CKM_AES_CBC, CKM_AES_CBC_PAD, CKM_AES_CTR, CKM_AES_GCM, CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_KWP:
		blk, err := k.aes()
		if err != nil {
			return nil, err
		}
		return b.newAESCipher(mech, k, blk, encrypt, budget)
	case CKM_RSA_PKCS, CKM_RSA_PKCS_OAEP:
		return b.newRSACipher(mech, k, encrypt)
	}
	return nil, ErrMechanismInvalid
}

func (b *Backend) newAESCipher(mech Mechanism, k *Key, blk cipher.Block, encrypt bool, budget Budget) (Cipher, error) {
	switch mech.Type {
	case CKM_AES_ECB:
		if len(mech.Param) != 0 {
			return nil, paramErr("CKM_AES_ECB takes no parameter")
		}
		return &blockCipher{mode: ecbMode{blk, encrypt}, encrypt: encrypt}, nil
	case CKM_AES_CBC, CKM_AES_CBC_PAD:
		if len(mech.Param) != aes.BlockSize {
			return nil, paramErr("AES-CBC needs a 16-byte IV")
		}
		var m cipher.BlockMode
		if encrypt {
			m = cipher.NewCBCEncrypter(blk, mech.Param)
		} else {
			m = cipher.NewCBCDecrypter(blk, mech.Param)
		}
		return &blockCipher{mode: m, encrypt: encrypt, pad: mech.Type == CKM_AES_CBC_PAD}, nil
	case CKM_AES_CTR:
		p, err := DecodeCTR(mech)
		if err != nil {
			return nil, err
		}
		if p.CounterBits == 0 || p.CounterBits > 128 {
			return nil, paramErr("CK_AES_CTR_PARAMS.ulCounterBits must be 1..128")
		}
		return newCTR(blk, p), nil
	case CKM_AES_GCM:
		return b.newGCM(mech, k, blk, encrypt, budget)
	case CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_KWP:
		if len(mech.Param) != 0 {
			// The default IVs of RFC 3394 / 5649 only.
			return nil, paramErr("AES key wrap takes no IV here")
		}
		kek := k.Attrs[CKA_VALUE]
		return &wholeCipher{f: func(_, in []byte) ([]byte, error) {
			var out []byte
			var err error
			switch {
			case mech.Type == CKM_AES_KEY_WRAP && encrypt:
				out, err = WrapKW(kek, in)
			case mech.Type == CKM_AES_KEY_WRAP:
				out, err = UnwrapKW(kek, in)
			case encrypt:
				out, err = WrapKWP(kek, in)
			default:
				out, err = UnwrapKWP(kek, in)
			}
			switch {
			case err == nil:
				return out, nil
			case errors.Is(err, ErrUnwrap):
				return nil, Errorf(CKR_ENCRYPTED_DATA_INVALID, "key wrap integrity check failed")
			case encrypt:
				return nil, Errorf(CKR_DATA_LEN_RANGE, "%v", err)
			}
			return nil, Errorf(CKR_ENCRYPTED_DATA_LEN_RANGE, "%v", err)
		}, size: func(n int) int {
			if encrypt {
				return (n+7)/8*8 + 8
			}
			return n
		}}, nil
	}
	return nil, ErrMechanismInvalid
}

func paramErr(what string) error { return Errorf(CKR_MECHANISM_PARAM_INVALID, "%s", what) }

// ecbMode is ECB as a cipher.BlockMode.
type ecbMode struct {
	b       cipher.Block
	encrypt bool
}

func (e ecbMode) BlockSize() int { return e.b.BlockSize() }
func (e ecbMode) CryptBlocks(dst, src []byte) {
	for i := 0; i < len(src); i += aes.BlockSize {
		if e.encrypt {
			e.b.Encrypt(dst[i:], src[i:i+aes.BlockSize])
		} else {
			e.b.Decrypt(dst[i:], src[i:i+aes.BlockSize])
		}
	}
}

// blockCipher runs ECB and CBC, with PKCS#7 padding for CBC-PAD, over
// input that arrives in pieces.
type blockCipher struct {
	mode    cipher.BlockMode
	encrypt bool
	pad     bool
	buf     []byte
}

func (c *blockCipher) SinglePartOnly() bool { return false }

// keep is how many buffered bytes Update must hold back: a decrypting
// CBC-PAD keeps the last full block, which may hold the padding.
func (c *blockCipher) ready(n int) int {
	total := len(c.buf) + n
	full := total / aes.BlockSize * aes.BlockSize
	if c.pad && !c.encrypt && full == total && full > 0 {
		full -= aes.BlockSize
	}
	return full
}

func (c *blockCipher) UpdateLen(n int) int { return c.ready(n) }
func (c *blockCipher) FinalLen() int {
	if c.pad && c.encrypt {
		return aes.BlockSize
	}
	return len(c.buf)
}
func (c *blockCipher) OneShotLen(n int) int {
	if c.pad && c.encrypt {
		return (n/aes.BlockSize + 1) * aes.BlockSize
	}
	return n
}

func (c *blockCipher) Update(in []byte) ([]byte, error) {
	n := c.ready(len(in))
	c.buf = append(c.buf, in...)
	out := make([]byte, n)
	c.mode.CryptBlocks(out, c.buf[:n])
	c.buf = append(c.buf[:0], c.buf[n:]...)
	return out, nil
}

// OneShot runs the whole input through the mode into dst's memory, the
// CBC-PAD padding block built aside: no buffering.
func (c *blockCipher) OneShot(dst, in []byte) ([]byte, error) {
	defer clear(c.buf)
	full := len(in) / aes.BlockSize * aes.BlockSize
	if !c.pad || !c.encrypt {
		if full != len(in) {
			if c.encrypt {
				return nil, Errorf(CKR_DATA_LEN_RANGE, "input is not a whole number of AES blocks")
			}
			return nil, Errorf(CKR_ENCRYPTED_DATA_LEN_RANGE, "ciphertext is not a whole number of AES blocks")
		}
	}
	out := grow(dst, c.OneShotLen(len(in)))
	c.mode.CryptBlocks(out[:full], in[:full])
	if c.pad && c.encrypt {
		var last [aes.BlockSize]byte
		p := aes.BlockSize - (len(in) - full)
		copy(last[:], in[full:])
		for i := aes.BlockSize - p; i < aes.BlockSize; i++ {
			last[i] = byte(p)
		}
		c.mode.CryptBlocks(out[full:], last[:])
		clear(last[:])
		return out, nil
	}
	if c.pad {
		return unpad(out)
	}
	return out, nil
}

// grow returns n bytes of dst's memory when it has the room, else new ones.
func grow(dst []byte, n int) []byte {
	if cap(dst) >= n {
		return dst[:n]
	}
	return make([]byte, n)
}

// unpad strips and checks CBC-PAD's PKCS#7 padding.
func unpad(out []byte) ([]byte, error) {
	if len(out) == 0 {
		return nil, Errorf(CKR_ENCRYPTED_DATA_LEN_RANGE, "CBC-PAD ciphertext is empty")
	}
	p := int(out[len(out)-1])
	if p == 0 || p > aes.BlockSize {
		return nil, Errorf(CKR_ENCRYPTED_DATA_INVALID, "bad CBC-PAD padding")
	}
	for _, x := range out[len(out)-p:] {
		if int(x) != p {
			return nil, Errorf(CKR_ENCRYPTED_DATA_INVALID, "bad CBC-PAD padding")
		}
	}
	return out[:len(out)-p], nil
}

func (c *blockCipher) Final() ([]byte, error) {
	defer clear(c.buf)
	if c.pad && c.encrypt {
		p := aes.BlockSize - len(c.buf)
		for range p {
			c.buf = append(c.buf, byte(p))
		}
	}
	if len(c.buf)%aes.BlockSize != 0 {
		if c.encrypt {
			return nil, Errorf(CKR_DATA_LEN_RANGE, "input is not a whole number of AES blocks")
		}
		return nil, Errorf(CKR_ENCRYPTED_DATA_LEN_RANGE, "ciphertext is not a whole number of AES blocks")
	}
	out := make([]byte, len(c.buf))
	c.mode.CryptBlocks(out, c.buf)
	if c.pad && !c.encrypt {
		return unpad(out)
	}
	return out, nil
}

// ctrCipher is AES-CTR. PKCS#11 names how many low bits of the counter
// block count (ulCounterBits); crypto/cipher's CTR increments all 128, so
// the token refuses data that would carry out of the counter field into
// the nonce (CKR_DATA_LEN_RANGE) instead of silently using other blocks.
type ctrCipher struct {
	s     cipher.Stream
	limit uint64 // blocks available before the counter field wraps; 0 = no practical limit
	bytes uint64
}

func newCTR(blk cipher.Block, p CTRParams) *ctrCipher {
	c := &ctrCipher{s: cipher.NewCTR(blk, p.CB[:])}
	if p.CounterBits < 128 {
		// Blocks left = 2^bits - (the counter field's current value).
		field := new(big.Int).Lsh(big.NewInt(1), uint(p.CounterBits))
		start := new(big.Int).Mod(new(big.Int).SetBytes(p.CB[:]), field)
		left := field.Sub(field, start)
		if left.IsUint64() {
			c.limit = left.Uint64()
		}
	}
	// A 128-bit counter wraps within its bits, as crypto/cipher's does.
	return c
}

func (c *ctrCipher) SinglePartOnly() bool             { return false }
func (c *ctrCipher) UpdateLen(n int) int              { return n }
func (c *ctrCipher) FinalLen() int                    { return 0 }
func (c *ctrCipher) OneShotLen(n int) int             { return n }
func (c *ctrCipher) Update(in []byte) ([]byte, error) { return c.OneShot(nil, in) }
func (c *ctrCipher) OneShot(dst, in []byte) ([]byte, error) {
	total := c.bytes + uint64(len(in))
	if c.limit != 0 && (total+15)/16 > c.limit {
		return nil, Errorf(CKR_DATA_LEN_RANGE, "AES-CTR: the counter field would wrap into the nonce")
	}
	c.bytes = total
	out := grow(dst, len(in))
	c.s.XORKeyStream(out, in)
	return out, nil
}
func (c *ctrCipher) Final() ([]byte, error) { return nil, nil }

// wholeCipher transforms all its input at once: GCM, key wrap, RSA. A
// multi-part call buffers the input until Final; a single-part call needs
// no buffer. f appends its output to dst when it can (see OneShot).
type wholeCipher struct {
	buffered
	f      func(dst, in []byte) ([]byte, error)
	size   func(int) int
	single bool
}

func (c *wholeCipher) SinglePartOnly() bool                   { return c.single }
func (c *wholeCipher) FinalLen() int                          { return c.size(len(c.buf)) }
func (c *wholeCipher) OneShotLen(n int) int                   { return c.size(n) }
func (c *wholeCipher) Final() ([]byte, error)                 { return c.final(c.f) }
func (c *wholeCipher) OneShot(dst, in []byte) ([]byte, error) { return c.f(dst, in) }

// buffered is the multi-part side of a cipher that transforms its whole
// input at once: Update collects (and returns nothing yet), final runs the
// single-part transform over what was collected and wipes it.
type buffered struct{ buf []byte }

func (b *buffered) UpdateLen(int) int { return 0 }
func (b *buffered) Update(in []byte) ([]byte, error) {
	b.buf = append(b.buf, in...)
	return nil, nil
}
func (b *buffered) final(oneShot func(dst, in []byte) ([]byte, error)) ([]byte, error) {
	defer clear(b.buf)
	return oneShot(nil, b.buf)
}

// newGCM starts AES-GCM. In FIPS mode the module generates the IV
// (cipher.NewGCMWithRandomNonce): a caller's IV is not approved, so the
// caller passes a 12-byte IV buffer that the token fills (GeneratedIV), and
// only 128-bit tags are made. Decryption takes the caller's IV either way.
// The AEAD of the common shape (12-byte IV, 16-byte tag) is the key's,
// built once.
func (b *Backend) newGCM(mech Mechanism, k *Key, blk cipher.Block, encrypt bool, budget Budget) (Cipher, error) {
	p, err := DecodeGCM(mech)
	if err != nil {
		return nil, err
	}
	if p.TagBits%8 != 0 || p.TagBits < 96 || p.TagBits > 128 {
		return nil, paramErr("GCM tag must be 96 to 128 bits, in bytes")
	}
	c := k.gcmOp()
	c.key, c.tag, c.encrypt, c.budget, c.random = k, int(p.TagBits/8), encrypt, budget, b.fips
	switch {
	case b.fips && (len(p.IV) != 12 || c.tag != 16):
		return nil, paramErr("FIPS mode: GCM takes a 12-byte IV buffer and a 128-bit tag")
	case b.fips:
		c.g, err = k.standardGCM(true)
	case len(p.IV) == 0 || len(p.IV) > 256:
		return nil, paramErr("GCM IV must be 1 to 256 bytes")
	case len(p.IV) == 12 && c.tag == 16:
		c.g, err = k.standardGCM(false)
	case len(p.IV) == 12:
		c.g, err = cipher.NewGCMWithTagSize(blk, c.tag)
	case c.tag == 16:
		c.g, err = cipher.NewGCMWithNonceSize(blk, len(p.IV))
	default:
		return nil, paramErr("GCM: a non-96-bit IV needs a 128-bit tag")
	}
	if err != nil {
		return nil, paramErr(err.Error())
	}
	c.iv = append(c.ivBuf[:0], p.IV...)
	if len(p.AAD) > 0 {
		c.aad = append([]byte(nil), p.AAD...)
	}
	return c, nil
}

// gcmCipher is one AES-GCM operation: single-part straight from the
// caller's buffers, or multi-part buffered until Final.
type gcmCipher struct {
	key     *Key // what the budget counts
	g       cipher.AEAD
	iv      []byte // the caller's IV (in ivBuf when it fits)
	ivBuf   [16]byte
	aad     []byte
	tag     int
	encrypt bool
	budget  Budget
	// random: FIPS mode, the module draws the IV; after an encryption,
	// drawn holds it for the caller.
	random bool
	drawn  []byte
	buffered
}

// Release gives the operation back to its key's pool, emptied: the caller
// calls it once a single-part operation has ended and it uses neither the
// operation nor its GeneratedIV (a slice of its own) any more.
func (c *gcmCipher) Release() {
	k := c.key
	*c = gcmCipher{}
	k.gcmOps.Put(c)
}

func (c *gcmCipher) SinglePartOnly() bool { return false }
func (c *gcmCipher) FinalLen() int        { return c.OneShotLen(len(c.buf)) }
func (c *gcmCipher) OneShotLen(n int) int {
	if c.encrypt {
		return n + c.tag
	}
	return max(n-c.tag, 0)
}
func (c *gcmCipher) Final() ([]byte, error) { return c.final(c.OneShot) }

func (c *gcmCipher) OneShot(dst, in []byte) ([]byte, error) {
	if c.encrypt {
		if c.budget != nil {
			if err := c.budget.Spend(c.key); err != nil {
				return nil, err
			}
		}
		if !c.random {
			return c.g.Seal(dst, c.iv, in, c.aad), nil
		}
		// The module puts its IV first; the caller gets it apart.
		out := c.g.Seal(nil, nil, in, c.aad)
		c.drawn = out[:12:12]
		return append(dst, out[12:]...), nil
	}
	if len(in) < c.tag {
		return nil, Errorf(CKR_ENCRYPTED_DATA_LEN_RANGE, "GCM ciphertext shorter than its tag")
	}
	var pt []byte
	var err error
	if c.random {
		// This AEAD reads its IV in front of the ciphertext: one copy.
		pt, err = c.g.Open(dst, nil, append(append(make([]byte, 0, len(c.iv)+len(in)), c.iv...), in...), c.aad)
	} else {
		pt, err = c.g.Open(dst, c.iv, in, c.aad)
	}
	if err != nil {
		return nil, Errorf(CKR_ENCRYPTED_DATA_INVALID, "GCM tag mismatch")
	}
	return pt, nil
}

// Releaser is implemented by operations that go back to a pool when they
// end (AES-GCM): a caller that is done with one calls Release, and never
// touches it again. One never released is left to the garbage collector.
type Releaser interface {
	Release()
}

// IVSource is implemented by ciphers whose IV the token may generate.
type IVSource interface {
	// GeneratedIV is the IV drawn for the last encryption; nil if none.
	GeneratedIV() []byte
}

func (c *gcmCipher) GeneratedIV() []byte { return c.drawn }

func hashOf(mech uint64) (crypto.Hash, func() hash.Hash, bool) {
	switch mech {
	case CKM_SHA_1, CKG_MGF1_SHA1:
		return crypto.SHA1, sha1.New, true
	case CKM_SHA256, CKG_MGF1_SHA256:
		return crypto.SHA256, sha256.New, true
	case CKM_SHA384, CKG_MGF1_SHA384:
		return crypto.SHA384, sha512.New384, true
	case CKM_SHA512, CKG_MGF1_SHA512:
		return crypto.SHA512, sha512.New, true
	}
	return 0, nil, false
}

// hashFor resolves a hash named in a mechanism parameter, refusing SHA-1
// in FIPS mode.
func (b *Backend) hashFor(mech uint64) (crypto.Hash, func() hash.Hash, error) {
	h, f, ok := hashOf(mech)
	if !ok || (b.fips && h == crypto.SHA1) {
		return 0, nil, paramErr("unsupported hash " + MechName(mech))
	}
	return h, f, nil
}

func (b *Backend) newRSACipher(mech Mechanism, key *Key, encrypt bool) (Cipher, error) {
	var pub *rsa.PublicKey
	var priv *rsa.PrivateKey
	var err error
	if encrypt {
		pub, err = key.RSAPublic()
	} else {
		priv, err = key.RSAPrivate()
		if priv != nil {
			pub = &priv.PublicKey
		}
	}
	if err != nil {
		return nil, err
	}
	k := pub.Size()
	size := func(int) int { return k }
	switch mech.Type {
	case CKM_RSA_PKCS:
		if len(mech.Param) != 0 {
			return nil, paramErr("CKM_RSA_PKCS takes no parameter")
		}
		if encrypt {
			return &wholeCipher{single: true, size: size, f: func(_, in []byte) ([]byte, error) {
				if len(in) > k-11 {
					return nil, Errorf(CKR_DATA_LEN_RANGE, "%d bytes; at most %d", len(in), k-11)
				}
				return rsa.EncryptPKCS1v15(rand.Reader, pub, in)
			}}, nil
		}
		return &wholeCipher{single: true, size: size, f: func(_, in []byte) ([]byte, error) {
			if len(in) != k {
				return nil, Errorf(CKR_ENCRYPTED_DATA_LEN_RANGE, "RSA ciphertext of %d bytes", len(in))
			}
			pt, err := rsa.DecryptPKCS1v15(rand.Reader, priv, in)
			if err != nil {
				return nil, Errorf(CKR_ENCRYPTED_DATA_INVALID, "PKCS#1 v1.5 padding")
			}
			return pt, nil
		}}, nil
	case CKM_RSA_PKCS_OAEP:
		p, err := DecodeOAEP(mech)
		if err != nil {
			return nil, err
		}
		h, hf, err := b.hashFor(p.Hash)
		if err != nil {
			return nil, err
		}
		mgf, _, err := b.hashFor(p.MGF)
		if err != nil {
			return nil, err
		}
		if p.Source != 0 && p.Source != CKZ_DATA_SPECIFIED {
			return nil, paramErr("OAEP source must be CKZ_DATA_SPECIFIED")
		}
		label := append([]byte{}, p.SourceData...)
		opts := &rsa.OAEPOptions{Hash: h, MGFHash: mgf, Label: label}
		if encrypt {
			return &wholeCipher{single: true, size: size, f: func(_, in []byte) ([]byte, error) {
				if len(in) > k-2*hf().Size()-2 {
					return nil, Errorf(CKR_DATA_LEN_RANGE, "%d bytes too long for OAEP", len(in))
				}
				return rsa.EncryptOAEPWithOptions(rand.Reader, pub, in, opts)
			}}, nil
		}
		return &wholeCipher{single: true, size: size, f: func(_, in []byte) ([]byte, error) {
			if len(in) != k {
				return nil, Errorf(CKR_ENCRYPTED_DATA_LEN_RANGE, "RSA ciphertext of %d bytes", len(in))
			}
			pt, err := priv.Decrypt(rand.Reader, in, opts)
			if err != nil {
				return nil, Errorf(CKR_ENCRYPTED_DATA_INVALID, "OAEP decoding failed")
			}
			return pt, nil
		}}, nil
	}
	return nil, ErrMechanismInvalid
}
