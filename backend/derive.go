package backend

import (
	"crypto/hkdf"
	"crypto/sha1"

	. "github.com/craton-hsm/craton/pkcs11/ck"
)

// DeriveInput is what a derivation works from.
type DeriveInput struct {
	Mech     Mechanism
	BaseType uint64 // key type of the base key
	Base     Attrs  // its attributes
	// SaltKey is the value of CK_HKDF_PARAMS.hSaltKey's key, which the
	// caller resolved (CKF_HKDF_SALT_KEY).
	SaltKey []byte
	// Len is the output length asked for (CKA_VALUE_LEN), 0 for "natural".
	Len int
}

// Derive computes a derived key's (or, for CKM_HKDF_DATA, a data object's)
// value.
func (b *Backend) Derive(in DeriveInput) ([]byte, error) {
	if err := b.Check(in.Mech.Type, opDerive, in.BaseType); err != nil {
		return nil, err
	}
	switch in.Mech.Type {
	case CKM_ECDH1_DERIVE:
		return b.ecdh(in)
	case CKM_HKDF_DERIVE, CKM_HKDF_DATA:
		return b.hkdf(in)
	}
	return nil, ErrMechanismInvalid
}

func (b *Backend) ecdh(in DeriveInput) ([]byte, error) {
	p, err := DecodeECDH1(in.Mech)
	if err != nil {
		return nil, err
	}
	if p.KDF != CKD_NULL || len(p.SharedData) != 0 {
		return nil, paramErr("ECDH1: only CKD_NULL, without shared data")
	}
	priv, err := ecPrivate(in.Base)
	if err != nil {
		return nil, err
	}
	local, err := priv.ECDH()
	if err != nil {
		return nil, keyErr("EC key not usable for ECDH")
	}
	curve := local.Curve()
	raw := ecPointRaw(p.PublicData, pointLen(priv.Curve))
	if raw == nil {
		return nil, paramErr("ECDH1: public data is not an uncompressed point of the key's curve")
	}
	remote, err := curve.NewPublicKey(raw)
	if err != nil {
		return nil, paramErr("ECDH1: public point not on the curve")
	}
	z, err := local.ECDH(remote)
	if err != nil {
		return nil, paramErr("ECDH1: " + err.Error())
	}
	if in.Len > 0 {
		if in.Len > len(z) {
			return nil, Errorf(CKR_TEMPLATE_INCONSISTENT, "asked %d bytes of a %d-byte shared secret", in.Len, len(z))
		}
		// PKCS#11: a shorter key takes the leading bytes of Z.
		z = z[:in.Len]
	}
	return z, nil
}

func (b *Backend) hkdf(in DeriveInput) ([]byte, error) {
	p, err := DecodeHKDF(in.Mech)
	if err != nil {
		return nil, err
	}
	if !p.Extract && !p.Expand {
		return nil, paramErr("HKDF: neither extract nor expand")
	}
	_, hf, err := b.hashFor(p.PRFHash)
	if err != nil {
		return nil, err
	}
	if hf().Size() == sha1.Size && b.fips {
		return nil, paramErr("FIPS mode: no SHA-1 HKDF")
	}
	secret := in.Base[CKA_VALUE]
	if b.fips && len(secret) < 14 {
		return nil, Errorf(CKR_KEY_SIZE_RANGE, "FIPS mode: HKDF secret of at least 112 bits")
	}
	prk := secret
	if p.Extract {
		var salt []byte
		switch p.SaltType {
		case CKF_HKDF_SALT_NULL:
		case CKF_HKDF_SALT_DATA:
			salt = p.Salt
		case CKF_HKDF_SALT_KEY:
			salt = in.SaltKey
		default:
			return nil, paramErr("HKDF: bad ulSaltType")
		}
		if prk, err = hkdf.Extract(hf, secret, salt); err != nil {
			return nil, paramErr("HKDF extract: " + err.Error())
		}
	}
	if !p.Expand {
		if in.Len > 0 && in.Len != len(prk) {
			return nil, Errorf(CKR_TEMPLATE_INCONSISTENT, "extract-only HKDF makes %d bytes", len(prk))
		}
		return prk, nil
	}
	n := in.Len
	if n <= 0 {
		return nil, Errorf(CKR_TEMPLATE_INCOMPLETE, "HKDF expand needs CKA_VALUE_LEN")
	}
	if n > 255*hf().Size() {
		return nil, Errorf(CKR_TEMPLATE_INCONSISTENT, "HKDF cannot make %d bytes", n)
	}
	out, err := hkdf.Expand(hf, prk, string(p.Info), n)
	if err != nil {
		return nil, paramErr("HKDF expand: " + err.Error())
	}
	return out, nil
}
