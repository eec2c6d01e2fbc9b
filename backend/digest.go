package backend

import (
	"hash"

	. "github.com/craton-hsm/craton/pkcs11/ck"
)

// NewDigest starts a digest with mech (CKM_SHA256/384/512, and CKM_SHA_1
// outside FIPS mode).
func (b *Backend) NewDigest(mech Mechanism) (hash.Hash, error) {
	if err := b.Check(mech.Type, opDigest, Unavailable); err != nil {
		return nil, err
	}
	if len(mech.Param) != 0 {
		return nil, paramErr("digests take no parameter")
	}
	_, f, err := b.hashFor(mech.Type)
	if err != nil {
		return nil, ErrMechanismInvalid
	}
	return f(), nil
}
