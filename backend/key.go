package backend

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"hash"
	"math/big"
	"sync"
	"sync/atomic"

	. "github.com/craton-hsm/craton/pkcs11/ck"
)

// Key is a key object as operations use it: its type and attributes, and
// the parsed forms built from them on first use and kept for as long as
// the Key lives. Its owner (slots.Object, one Key per object version) makes
// a new Key whenever the attributes change, which is what invalidates the
// parsed forms; the attributes must not change under a Key.
//
// Parsing is where a private-key operation spent half its time (RSA
// validation and CRT precomputation, the EC public point, the Ed25519
// expansion), and building an AES key schedule or an HMAC's inner and outer
// states is most of a small operation's cost. Safe for concurrent use.
type Key struct {
	Type  uint64
	Attrs Attrs

	rsaPriv  lazy[*rsa.PrivateKey]
	rsaPub   lazy[*rsa.PublicKey]
	ecPriv   lazy[*ecdsa.PrivateKey]
	ecPub    lazy[*ecdsa.PublicKey]
	edPriv   lazy[ed25519.PrivateKey]
	edPub    lazy[ed25519.PublicKey]
	aesBlock lazy[cipher.Block]
	gcm      lazy[cipher.AEAD] // 96-bit caller IV, 128-bit tag: the common GCM
	gcmRand  lazy[cipher.AEAD] // module-generated IV (FIPS mode)
	fp       lazy[[32]byte]    // Fingerprint of CKA_VALUE: the GCM journal's name for the key

	// hmacs pools keyed HMAC states per hash (sha1, sha256, sha384, sha512):
	// a returned state is Reset, which restores the keyed inner state
	// without recomputing it.
	hmacs [4]sync.Pool

	// gcmOps pools emptied AES-GCM operations (gcmCipher.Release): nothing
	// keyed, only the memory, so that an encryption allocates none.
	gcmOps sync.Pool

	// meter is the GCM budget's own state for this key (its handle on the
	// key's count in the journal), kept with the key so that counting an
	// encryption needs no lookup. Set by the Budget; see Meter.
	meter atomic.Value
}

// Meter returns what the GCM budget stored with the key by SetMeter, nil
// at first.
func (k *Key) Meter() any { return k.meter.Load() }

// SetMeter stores the GCM budget's state for the key: always a value of one
// type (atomic.Value's rule).
func (k *Key) SetMeter(v any) { k.meter.Store(v) }

// NewKey wraps a key's attributes for the operation constructors.
func NewKey(keyType uint64, a Attrs) *Key { return &Key{Type: keyType, Attrs: a} }

// lazy is a value built once, with the error of building it.
type lazy[T any] struct {
	once sync.Once
	v    T
	err  error
}

func (l *lazy[T]) get(build func() (T, error)) (T, error) {
	l.once.Do(func() { l.v, l.err = build() })
	return l.v, l.err
}

func (k *Key) RSAPrivate() (*rsa.PrivateKey, error) {
	return k.rsaPriv.get(func() (*rsa.PrivateKey, error) { return rsaPrivate(k.Attrs) })
}
func (k *Key) RSAPublic() (*rsa.PublicKey, error) {
	return k.rsaPub.get(func() (*rsa.PublicKey, error) { return rsaPublic(k.Attrs) })
}
func (k *Key) ecPrivate() (*ecdsa.PrivateKey, error) {
	return k.ecPriv.get(func() (*ecdsa.PrivateKey, error) { return ecPrivate(k.Attrs) })
}
func (k *Key) ecPublic() (*ecdsa.PublicKey, error) {
	return k.ecPub.get(func() (*ecdsa.PublicKey, error) { return ecPublic(k.Attrs) })
}
func (k *Key) edPrivate() (ed25519.PrivateKey, error) {
	return k.edPriv.get(func() (ed25519.PrivateKey, error) { return edPrivate(k.Attrs) })
}
func (k *Key) edPublic() (ed25519.PublicKey, error) {
	return k.edPub.get(func() (ed25519.PublicKey, error) { return edPublic(k.Attrs) })
}

// Fingerprint is the SHA-256 of the key's value, as the GCM journal names
// the key (see the package-level Fingerprint).
func (k *Key) Fingerprint() [32]byte {
	v, _ := k.fp.get(func() ([32]byte, error) { return Fingerprint(k.Attrs[CKA_VALUE]), nil })
	return v
}

func (k *Key) aes() (cipher.Block, error) {
	return k.aesBlock.get(func() (cipher.Block, error) {
		blk, err := aes.NewCipher(k.Attrs[CKA_VALUE])
		if err != nil {
			return nil, keyErr("AES key of a wrong length")
		}
		return blk, nil
	})
}

// standardGCM is the key's AES-GCM with a 12-byte caller IV and a 16-byte
// tag; random is FIPS mode's, whose IV the module draws.
func (k *Key) standardGCM(random bool) (cipher.AEAD, error) {
	l, build := &k.gcm, cipher.NewGCM
	if random {
		l, build = &k.gcmRand, randomNonceGCM
	}
	return l.get(func() (cipher.AEAD, error) {
		blk, err := k.aes()
		if err != nil {
			return nil, err
		}
		return build(blk)
	})
}

func hmacSlot(h crypto.Hash) int {
	switch h {
	case crypto.SHA1:
		return 0
	case crypto.SHA256:
		return 1
	case crypto.SHA384:
		return 2
	}
	return 3
}

// gcmOp takes an empty AES-GCM operation from the key's pool, or makes one.
func (k *Key) gcmOp() *gcmCipher {
	if c, ok := k.gcmOps.Get().(*gcmCipher); ok {
		return c
	}
	return new(gcmCipher)
}

// hmacOp takes an HMAC operation for hash h (made by hf) on a keyed state,
// from the key's pool: the state and the operation around it are made once
// and reused, so an HMAC costs no allocation. The operation gives itself
// back when it ends (hmacOp.release).
func (k *Key) hmacOp(h crypto.Hash, hf func() hash.Hash) *hmacOp {
	if op, ok := k.hmacs[hmacSlot(h)].Get().(*hmacOp); ok {
		return op
	}
	m := hmac.New(hf, k.Attrs[CKA_VALUE])
	return &hmacOp{key: k, hash: h, h: m, n: m.Size()}
}

func (k *Key) putHMAC(op *hmacOp) {
	op.h.Reset()
	k.hmacs[hmacSlot(op.hash)].Put(op)
}

// Wipe clears what Go lets it reach of the parsed private forms (big
// integers' words, the Ed25519 key) and drops the pooled HMAC states, so
// nothing keyed is handed out again. Best effort: the AES key schedule, the
// HMAC pads and the FIPS module's internal copies of RSA and EC keys are not
// reachable, and are left to the garbage collector. The attribute values
// are their owner's to wipe. Call it only when no operation uses the Key.
func (k *Key) Wipe() {
	if p := k.rsaPriv.v; p != nil {
		clearInts(p.D, p.Precomputed.Dp, p.Precomputed.Dq, p.Precomputed.Qinv)
		clearInts(p.Primes...)
	}
	if p := k.ecPriv.v; p != nil {
		clearInts(p.D)
	}
	clear(k.edPriv.v)
	for i := range k.hmacs {
		for k.hmacs[i].Get() != nil {
		}
	}
}

func clearInts(xs ...*big.Int) {
	for _, x := range xs {
		if x != nil {
			clear(x.Bits()) // the words themselves, not only the length
			x.SetInt64(0)
		}
	}
}
