package backend

import (
	"errors"
	"slices"

	. "github.com/craton-hsm/craton/pkcs11/ck"
)

// ErrMechanismInvalid is what every refused mechanism returns: not
// implemented, or not allowed in this backend's mode. It is
// CKR_MECHANISM_INVALID.
var ErrMechanismInvalid error = CKR_MECHANISM_INVALID

// Options tune a backend.
type Options struct {
	// AllowPrehashedSign admits CKM_ECDSA, CKM_RSA_PKCS and CKM_RSA_PKCS_PSS
	// over a caller's digest in FIPS mode, through the module's approved
	// digest-signing path (fips.allow_prehashed_sign).
	AllowPrehashedSign bool
}

// Backend is Craton's CryptoBackend: every mechanism, and the policy that
// says which are allowed. Two constructors: NewFIPS and NewDefault.
type Backend struct {
	fips bool
	opts Options
}

// NewFIPS returns the FIPS backend: fail-closed, approved services of Go's
// FIPS 140-3 module only. It refuses to exist when the module is off.
func NewFIPS(o Options) (*Backend, error) {
	if !FIPSEnabled() {
		return nil, errors.New("backend: FIPS mode requested but Go's FIPS 140-3 module is off (GODEBUG=fips140=off or a build without GOFIPS140)")
	}
	return &Backend{fips: true, opts: o}, nil
}

// NewDefault returns the non-FIPS backend: every mechanism Craton has.
func NewDefault(o Options) *Backend { return &Backend{opts: o} }

// FIPS reports whether this is the FIPS backend.
func (b *Backend) FIPS() bool { return b.fips }

// fipsRule is a mechanism's standing in FIPS mode.
type fipsRule uint8

const (
	approved    fipsRule = iota
	notApproved          // outside the module, or not an approved service
	prehashed            // approved only with Options.AllowPrehashedSign
)

// Operation flags a mechanism serves, as CK_MECHANISM_INFO reports them.
const (
	opEncrypt  = CKF_ENCRYPT
	opDecrypt  = CKF_DECRYPT
	opDigest   = CKF_DIGEST
	opSign     = CKF_SIGN
	opVerify   = CKF_VERIFY
	opGenerate = CKF_GENERATE
	opGenPair  = CKF_GENERATE_KEY_PAIR
	opWrap     = CKF_WRAP
	opUnwrap   = CKF_UNWRAP
	opDerive   = CKF_DERIVE
)

// mechSpec is one row of the mechanism table: what it does, on which key
// type, for which key sizes (bytes for symmetric keys, bits for RSA and EC,
// as PKCS#11 reports them), and its FIPS standing. fipsOps, when set,
// narrows the operations allowed in FIPS mode (RSA PKCS#1 v1.5: signatures
// only, never encryption).
type mechSpec struct {
	ops      uint64
	keyType  uint64
	min, max uint64
	fips     fipsRule
	fipsOps  uint64
	ecFlags  uint64
}

const ecCaps = CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS

// mechanisms is the registry: the single source of what Craton implements.
// A test checks that every row is reachable and that every row has a FIPS
// entry (the fips field has no "unknown" value by construction).
var mechanisms = map[uint64]mechSpec{
	CKM_AES_KEY_GEN:      {ops: opGenerate, keyType: CKK_AES, min: 16, max: 32},
	CKM_AES_ECB:          {ops: opEncrypt | opDecrypt | opWrap | opUnwrap, keyType: CKK_AES, min: 16, max: 32},
	CKM_AES_CBC:          {ops: opEncrypt | opDecrypt | opWrap | opUnwrap, keyType: CKK_AES, min: 16, max: 32},
	CKM_AES_CBC_PAD:      {ops: opEncrypt | opDecrypt | opWrap | opUnwrap, keyType: CKK_AES, min: 16, max: 32},
	CKM_AES_CTR:          {ops: opEncrypt | opDecrypt, keyType: CKK_AES, min: 16, max: 32},
	CKM_AES_GCM:          {ops: opEncrypt | opDecrypt | opWrap | opUnwrap, keyType: CKK_AES, min: 16, max: 32},
	CKM_AES_KEY_WRAP:     {ops: opWrap | opUnwrap | opEncrypt | opDecrypt, keyType: CKK_AES, min: 16, max: 32, fips: notApproved},
	CKM_AES_KEY_WRAP_KWP: {ops: opWrap | opUnwrap | opEncrypt | opDecrypt, keyType: CKK_AES, min: 16, max: 32, fips: notApproved},

	CKM_RSA_PKCS_KEY_PAIR_GEN: {ops: opGenPair, keyType: CKK_RSA, min: 2048, max: 4096},
	CKM_RSA_PKCS:              {ops: opEncrypt | opDecrypt | opSign | opVerify | opWrap | opUnwrap, keyType: CKK_RSA, min: 2048, max: 4096, fips: prehashed, fipsOps: opSign | opVerify},
	CKM_RSA_PKCS_PSS:          {ops: opSign | opVerify, keyType: CKK_RSA, min: 2048, max: 4096, fips: prehashed},
	CKM_RSA_PKCS_OAEP:         {ops: opEncrypt | opDecrypt | opWrap | opUnwrap, keyType: CKK_RSA, min: 2048, max: 4096},
	CKM_SHA1_RSA_PKCS:         {ops: opSign | opVerify, keyType: CKK_RSA, min: 2048, max: 4096, fips: notApproved},
	CKM_SHA256_RSA_PKCS:       {ops: opSign | opVerify, keyType: CKK_RSA, min: 2048, max: 4096},
	CKM_SHA384_RSA_PKCS:       {ops: opSign | opVerify, keyType: CKK_RSA, min: 2048, max: 4096},
	CKM_SHA512_RSA_PKCS:       {ops: opSign | opVerify, keyType: CKK_RSA, min: 2048, max: 4096},
	CKM_SHA256_RSA_PKCS_PSS:   {ops: opSign | opVerify, keyType: CKK_RSA, min: 2048, max: 4096},
	CKM_SHA384_RSA_PKCS_PSS:   {ops: opSign | opVerify, keyType: CKK_RSA, min: 2048, max: 4096},
	CKM_SHA512_RSA_PKCS_PSS:   {ops: opSign | opVerify, keyType: CKK_RSA, min: 2048, max: 4096},

	CKM_EC_KEY_PAIR_GEN: {ops: opGenPair, keyType: CKK_EC, min: 256, max: 521, ecFlags: ecCaps},
	CKM_ECDSA:           {ops: opSign | opVerify, keyType: CKK_EC, min: 256, max: 521, fips: prehashed, ecFlags: ecCaps},
	CKM_ECDSA_SHA1:      {ops: opSign | opVerify, keyType: CKK_EC, min: 256, max: 521, fips: notApproved, ecFlags: ecCaps},
	CKM_ECDSA_SHA256:    {ops: opSign | opVerify, keyType: CKK_EC, min: 256, max: 521, ecFlags: ecCaps},
	CKM_ECDSA_SHA384:    {ops: opSign | opVerify, keyType: CKK_EC, min: 256, max: 521, ecFlags: ecCaps},
	CKM_ECDSA_SHA512:    {ops: opSign | opVerify, keyType: CKK_EC, min: 256, max: 521, ecFlags: ecCaps},
	CKM_ECDH1_DERIVE:    {ops: opDerive, keyType: CKK_EC, min: 256, max: 521, ecFlags: ecCaps},

	CKM_EC_EDWARDS_KEY_PAIR_GEN: {ops: opGenPair, keyType: CKK_EC_EDWARDS, min: 255, max: 255},
	CKM_EDDSA:                   {ops: opSign | opVerify, keyType: CKK_EC_EDWARDS, min: 255, max: 255},

	CKM_SHA_1:  {ops: opDigest, keyType: Unavailable, fips: notApproved},
	CKM_SHA256: {ops: opDigest, keyType: Unavailable},
	CKM_SHA384: {ops: opDigest, keyType: Unavailable},
	CKM_SHA512: {ops: opDigest, keyType: Unavailable},

	CKM_SHA_1_HMAC:             {ops: opSign | opVerify, keyType: CKK_GENERIC_SECRET, min: 1, max: 4096, fips: notApproved},
	CKM_SHA256_HMAC:            {ops: opSign | opVerify, keyType: CKK_GENERIC_SECRET, min: 1, max: 4096},
	CKM_SHA384_HMAC:            {ops: opSign | opVerify, keyType: CKK_GENERIC_SECRET, min: 1, max: 4096},
	CKM_SHA512_HMAC:            {ops: opSign | opVerify, keyType: CKK_GENERIC_SECRET, min: 1, max: 4096},
	CKM_GENERIC_SECRET_KEY_GEN: {ops: opGenerate, keyType: CKK_GENERIC_SECRET, min: 1, max: 4096},

	CKM_HKDF_KEY_GEN: {ops: opGenerate, keyType: CKK_HKDF, min: 1, max: 4096},
	CKM_HKDF_DERIVE:  {ops: opDerive, keyType: CKK_HKDF, min: 1, max: 4096},
	CKM_HKDF_DATA:    {ops: opDerive, keyType: CKK_HKDF, min: 1, max: 4096},
}

// fipsMin raises minimum key sizes in FIPS mode: HMAC and HKDF keys of at
// least 112 bits (Go's module panics or errors below that).
var fipsMin = map[uint64]uint64{
	CKM_SHA256_HMAC: 14, CKM_SHA384_HMAC: 14, CKM_SHA512_HMAC: 14,
	CKM_GENERIC_SECRET_KEY_GEN: 14, CKM_HKDF_KEY_GEN: 14, CKM_HKDF_DERIVE: 14, CKM_HKDF_DATA: 14,
}

// allowedOps returns the operations mech may do in this backend; 0 means
// the mechanism is refused.
func (b *Backend) allowedOps(mech uint64) uint64 {
	s, ok := mechanisms[mech]
	if !ok {
		return 0
	}
	if !b.fips {
		return s.ops
	}
	switch s.fips {
	case notApproved:
		return 0
	case prehashed:
		if !b.opts.AllowPrehashedSign {
			// Raw RSA PKCS#1 v1.5 and PSS over a digest, ECDSA over a digest.
			return 0
		}
	}
	if s.fipsOps != 0 {
		return s.ops & s.fipsOps
	}
	return s.ops
}

// Mechanisms lists what this backend implements and allows, sorted.
func (b *Backend) Mechanisms() []uint64 {
	var out []uint64
	for m := range mechanisms {
		if b.allowedOps(m) != 0 {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return out
}

// Info is CK_MECHANISM_INFO for mech in this backend.
func (b *Backend) Info(mech uint64) (MechanismInfo, error) {
	ops := b.allowedOps(mech)
	if ops == 0 {
		return MechanismInfo{}, ErrMechanismInvalid
	}
	s := mechanisms[mech]
	min := s.min
	if b.fips && fipsMin[mech] > min {
		min = fipsMin[mech]
	}
	return MechanismInfo{MinKeySize: min, MaxKeySize: s.max, Flags: ops | s.ecFlags}, nil
}

// Check says whether mech may perform op (one CKF_* operation flag) on a
// key of type keyType (Unavailable for digests): CKR_MECHANISM_INVALID when
// the mechanism is unknown, refused in this mode or does not do op;
// CKR_KEY_TYPE_INCONSISTENT when the key is of the wrong type.
func (b *Backend) Check(mech, op, keyType uint64) error {
	if b.allowedOps(mech)&op == 0 {
		return Errorf(CKR_MECHANISM_INVALID, "%s cannot %s here", MechName(mech), opName(op))
	}
	want := mechanisms[mech].keyType
	if want != Unavailable && want != keyType {
		// Generic secret keys also serve HMAC; HKDF keys take generic ones.
		if !(want == CKK_GENERIC_SECRET && (keyType == CKK_AES || keyType == CKK_HKDF)) &&
			!(want == CKK_HKDF && keyType == CKK_GENERIC_SECRET) {
			return Errorf(CKR_KEY_TYPE_INCONSISTENT, "%s with a %s key", MechName(mech), KeyTypeName(keyType))
		}
	}
	return nil
}

func opName(op uint64) string {
	switch op {
	case opEncrypt:
		return "encrypt"
	case opDecrypt:
		return "decrypt"
	case opDigest:
		return "digest"
	case opSign:
		return "sign"
	case opVerify:
		return "verify"
	case opGenerate:
		return "generate keys"
	case opGenPair:
		return "generate key pairs"
	case opWrap:
		return "wrap"
	case opUnwrap:
		return "unwrap"
	case opDerive:
		return "derive"
	}
	return "do that"
}
