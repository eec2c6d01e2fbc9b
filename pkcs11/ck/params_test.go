package ck

import (
	"encoding/binary"
	"errors"
	"testing"
)

func put(b []byte, off int, v uint64) { binary.NativeEndian.PutUint64(b[off:], v) }

func TestDecodeGCM(t *testing.T) {
	raw := make([]byte, 48)
	put(raw, 8, 12)
	put(raw, 16, 96)
	put(raw, 32, 3)
	put(raw, 40, 128)
	p, err := DecodeGCM(Mechanism{Type: CKM_AES_GCM, Param: raw, Bufs: [][]byte{make([]byte, 12), []byte("aad")}})
	if err != nil || len(p.IV) != 12 || string(p.AAD) != "aad" || p.TagBits != 128 || p.IVBits != 96 {
		t.Fatalf("%+v %v", p, err)
	}
	// A length field that disagrees with its buffer.
	_, err = DecodeGCM(Mechanism{Type: CKM_AES_GCM, Param: raw, Bufs: [][]byte{make([]byte, 11), []byte("aad")}})
	if !errors.Is(err, CKR_MECHANISM_PARAM_INVALID) {
		t.Fatal(err)
	}
	_, err = DecodeGCM(Mechanism{Type: CKM_AES_GCM, Param: raw[:40]})
	if !errors.Is(err, CKR_MECHANISM_PARAM_INVALID) {
		t.Fatal(err)
	}
}

func TestDecodeHKDFAndOthers(t *testing.T) {
	raw := make([]byte, 64)
	raw[0], raw[1] = 1, 1
	put(raw, 8, CKM_SHA256)
	put(raw, 16, CKF_HKDF_SALT_DATA)
	put(raw, 32, 4)
	put(raw, 40, 0)
	put(raw, 56, 2)
	p, err := DecodeHKDF(Mechanism{Type: CKM_HKDF_DERIVE, Param: raw, Bufs: [][]byte{[]byte("salt"), []byte("in")}})
	if err != nil || !p.Extract || !p.Expand || p.PRFHash != CKM_SHA256 || string(p.Salt) != "salt" || string(p.Info) != "in" {
		t.Fatalf("%+v %v", p, err)
	}
	pss := make([]byte, 24)
	put(pss, 0, CKM_SHA256)
	put(pss, 8, CKG_MGF1_SHA256)
	put(pss, 16, 32)
	if p, err := DecodePSS(Mechanism{Type: CKM_RSA_PKCS_PSS, Param: pss}); err != nil || p.SaltLen != 32 {
		t.Fatalf("%+v %v", p, err)
	}
	if p, err := DecodeEdDSA(Mechanism{Type: CKM_EDDSA}); err != nil || p.PH || p.Context != nil {
		t.Fatalf("%+v %v", p, err)
	}
	ctr := make([]byte, 24)
	put(ctr, 0, 128)
	ctr[23] = 7
	if p, err := DecodeCTR(Mechanism{Type: CKM_AES_CTR, Param: ctr}); err != nil || p.CounterBits != 128 || p.CB[15] != 7 {
		t.Fatalf("%+v %v", p, err)
	}
}

// FuzzDecodeParams feeds arbitrary parameter bytes and buffers to every
// decoder: none panics, and whatever decodes agrees with its length fields.
func FuzzDecodeParams(f *testing.F) {
	f.Add(uint8(0), make([]byte, 48), []byte("0123456789ab"), []byte("aad"))
	f.Add(uint8(1), make([]byte, 40), []byte("label"), []byte{})
	f.Add(uint8(3), make([]byte, 64), []byte("salt"), []byte("info"))
	f.Fuzz(func(t *testing.T, which uint8, param, b1, b2 []byte) {
		types := []uint64{CKM_AES_GCM, CKM_RSA_PKCS_OAEP, CKM_ECDH1_DERIVE, CKM_HKDF_DERIVE, CKM_EDDSA, CKM_RSA_PKCS_PSS, CKM_AES_CTR}
		m := Mechanism{Type: types[int(which)%len(types)], Param: param}
		if l, ok := ParamLayouts[m.Type]; ok {
			m.Bufs = [][]byte{b1, b2}[:min(len(l.Fields), 2)]
			// Let the length fields agree half of the time, so decoding succeeds.
			if len(param) == l.Size && which&0x80 != 0 {
				for i, fl := range l.Fields {
					put(param, fl.Len, uint64(len(m.Bufs[i])))
				}
			}
		}
		switch m.Type {
		case CKM_AES_GCM:
			if p, err := DecodeGCM(m); err == nil && uint64(len(p.IV)) != binary.NativeEndian.Uint64(param[8:]) {
				t.Fatal("IV length disagrees")
			}
		case CKM_RSA_PKCS_OAEP:
			DecodeOAEP(m)
		case CKM_ECDH1_DERIVE:
			if p, err := DecodeECDH1(m); err == nil && uint64(len(p.PublicData)) != binary.NativeEndian.Uint64(param[24:]) {
				t.Fatal("public data length disagrees")
			}
		case CKM_HKDF_DERIVE:
			DecodeHKDF(m)
		case CKM_EDDSA:
			DecodeEdDSA(m)
		case CKM_RSA_PKCS_PSS:
			DecodePSS(m)
		case CKM_AES_CTR:
			DecodeCTR(m)
		}
	})
}
