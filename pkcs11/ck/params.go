package ck

import "encoding/binary"

// Mechanism parameters. The C layer copies a parameter struct's bytes into
// Mechanism.Param and, for the structs listed in ParamLayouts, the buffers its
// pointer fields point to into Mechanism.Bufs. The decoders below read the
// scalar fields at their offsets in the C layout (LP64: CK_ULONG and pointers
// are 8 bytes, CK_BBOOL is 1, no packing) and check every length field against
// the buffer copied for it. Every decoder is fuzzed.

// PtrField locates one pointer/length pair inside a parameter struct.
type PtrField struct{ Ptr, Len int }

// ParamLayout is the size of a parameter struct and its pointer fields.
type ParamLayout struct {
	Size   int
	Fields []PtrField
}

// ParamLayouts lists the mechanisms whose parameters hold pointers.
var ParamLayouts = map[uint64]ParamLayout{
	// CK_GCM_PARAMS {pIv; ulIvLen; ulIvBits; pAAD; ulAADLen; ulTagBits}
	CKM_AES_GCM: {Size: 48, Fields: []PtrField{{0, 8}, {24, 32}}},
	// CK_RSA_PKCS_OAEP_PARAMS {hashAlg; mgf; source; pSourceData; ulSourceDataLen}
	CKM_RSA_PKCS_OAEP: {Size: 40, Fields: []PtrField{{24, 32}}},
	// CK_ECDH1_DERIVE_PARAMS {kdf; ulSharedDataLen; pSharedData; ulPublicDataLen; pPublicData}
	CKM_ECDH1_DERIVE:          {Size: 40, Fields: []PtrField{{16, 8}, {32, 24}}},
	CKM_ECDH1_COFACTOR_DERIVE: {Size: 40, Fields: []PtrField{{16, 8}, {32, 24}}},
	// CK_HKDF_PARAMS {bExtract; bExpand; prfHashMechanism; ulSaltType; pSalt;
	// ulSaltLen; hSaltKey; pInfo; ulInfoLen}
	CKM_HKDF_DERIVE: {Size: 64, Fields: []PtrField{{24, 32}, {48, 56}}},
	CKM_HKDF_DATA:   {Size: 64, Fields: []PtrField{{24, 32}, {48, 56}}},
	// CK_EDDSA_PARAMS {phFlag; ulContextDataLen; pContextData}
	CKM_EDDSA: {Size: 24, Fields: []PtrField{{16, 8}}},
}

// HKDF salt types (PKCS#11 3.0 §2.44).
const (
	CKF_HKDF_SALT_NULL = 0x1
	CKF_HKDF_SALT_DATA = 0x2
	CKF_HKDF_SALT_KEY  = 0x4
)

func paramInvalid(what string) error { return Errorf(CKR_MECHANISM_PARAM_INVALID, "%s", what) }

// structOf checks m's parameter against layout and returns a reader.
func structOf(m Mechanism, name string) (paramReader, error) {
	l, ok := ParamLayouts[m.Type]
	if !ok {
		return paramReader{}, paramInvalid(name + ": no layout")
	}
	if len(m.Param) != l.Size || len(m.Bufs) != len(l.Fields) {
		return paramReader{}, paramInvalid(name + ": wrong parameter size")
	}
	r := paramReader{b: m.Param}
	for i, f := range l.Fields {
		if r.ulong(f.Len) != uint64(len(m.Bufs[i])) {
			return paramReader{}, paramInvalid(name + ": length field disagrees with its buffer")
		}
	}
	return r, nil
}

type paramReader struct{ b []byte }

func (r paramReader) ulong(off int) uint64 { return binary.NativeEndian.Uint64(r.b[off:]) }
func (r paramReader) bool(off int) bool    { return r.b[off] != 0 }

// GCMParams is CK_GCM_PARAMS.
type GCMParams struct {
	IV      []byte
	IVBits  uint64
	AAD     []byte
	TagBits uint64
}

// DecodeGCM decodes CKM_AES_GCM's parameter.
func DecodeGCM(m Mechanism) (GCMParams, error) {
	r, err := structOf(m, "CK_GCM_PARAMS")
	if err != nil {
		return GCMParams{}, err
	}
	return GCMParams{IV: m.Bufs[0], IVBits: r.ulong(16), AAD: m.Bufs[1], TagBits: r.ulong(40)}, nil
}

// OAEPParams is CK_RSA_PKCS_OAEP_PARAMS.
type OAEPParams struct {
	Hash, MGF, Source uint64
	SourceData        []byte
}

// DecodeOAEP decodes CKM_RSA_PKCS_OAEP's parameter.
func DecodeOAEP(m Mechanism) (OAEPParams, error) {
	r, err := structOf(m, "CK_RSA_PKCS_OAEP_PARAMS")
	if err != nil {
		return OAEPParams{}, err
	}
	return OAEPParams{Hash: r.ulong(0), MGF: r.ulong(8), Source: r.ulong(16), SourceData: m.Bufs[0]}, nil
}

// PSSParams is CK_RSA_PKCS_PSS_PARAMS (no pointers: 24 bytes).
type PSSParams struct{ Hash, MGF, SaltLen uint64 }

// DecodePSS decodes the parameter of CKM_RSA_PKCS_PSS and CKM_SHA*_RSA_PKCS_PSS.
func DecodePSS(m Mechanism) (PSSParams, error) {
	if len(m.Param) != 24 || len(m.Bufs) != 0 {
		return PSSParams{}, paramInvalid("CK_RSA_PKCS_PSS_PARAMS: wrong size")
	}
	r := paramReader{b: m.Param}
	return PSSParams{Hash: r.ulong(0), MGF: r.ulong(8), SaltLen: r.ulong(16)}, nil
}

// ECDH1DeriveParams is CK_ECDH1_DERIVE_PARAMS.
type ECDH1DeriveParams struct {
	KDF        uint64
	SharedData []byte
	PublicData []byte
}

// DecodeECDH1 decodes CKM_ECDH1_DERIVE's parameter.
func DecodeECDH1(m Mechanism) (ECDH1DeriveParams, error) {
	r, err := structOf(m, "CK_ECDH1_DERIVE_PARAMS")
	if err != nil {
		return ECDH1DeriveParams{}, err
	}
	return ECDH1DeriveParams{KDF: r.ulong(0), SharedData: m.Bufs[0], PublicData: m.Bufs[1]}, nil
}

// HKDFParams is CK_HKDF_PARAMS.
type HKDFParams struct {
	Extract, Expand bool
	PRFHash         uint64
	SaltType        uint64
	Salt            []byte
	SaltKey         uint64
	Info            []byte
}

// DecodeHKDF decodes the parameter of CKM_HKDF_DERIVE and CKM_HKDF_DATA.
func DecodeHKDF(m Mechanism) (HKDFParams, error) {
	r, err := structOf(m, "CK_HKDF_PARAMS")
	if err != nil {
		return HKDFParams{}, err
	}
	return HKDFParams{Extract: r.bool(0), Expand: r.bool(1), PRFHash: r.ulong(8), SaltType: r.ulong(16),
		Salt: m.Bufs[0], SaltKey: r.ulong(40), Info: m.Bufs[1]}, nil
}

// CTRParams is CK_AES_CTR_PARAMS (no pointers: 24 bytes).
type CTRParams struct {
	CounterBits uint64
	CB          [16]byte
}

// DecodeCTR decodes CKM_AES_CTR's parameter.
func DecodeCTR(m Mechanism) (CTRParams, error) {
	if len(m.Param) != 24 || len(m.Bufs) != 0 {
		return CTRParams{}, paramInvalid("CK_AES_CTR_PARAMS: wrong size")
	}
	p := CTRParams{CounterBits: paramReader{b: m.Param}.ulong(0)}
	copy(p.CB[:], m.Param[8:])
	return p, nil
}

// EdDSAParams is CK_EDDSA_PARAMS; a NULL parameter means plain Ed25519.
type EdDSAParams struct {
	PH      bool
	Context []byte
}

// DecodeEdDSA decodes CKM_EDDSA's parameter (absent is plain Ed25519).
func DecodeEdDSA(m Mechanism) (EdDSAParams, error) {
	if len(m.Param) == 0 && len(m.Bufs) == 0 {
		return EdDSAParams{}, nil
	}
	r, err := structOf(m, "CK_EDDSA_PARAMS")
	if err != nil {
		return EdDSAParams{}, err
	}
	return EdDSAParams{PH: r.bool(0), Context: m.Bufs[0]}, nil
}
