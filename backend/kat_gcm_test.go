package backend

import (
	"bytes"
	"fmt"
	"testing"

	. "github.com/craton-hsm/craton/pkcs11/ck"
)

// The test cases of McGrew and Viega, "The Galois/Counter Mode of Operation
// (GCM)", revised 2005, Appendix B: the GCM specification NIST published
// with SP 800-38D. Cases 1–6 use AES-128, 7–12 AES-192, 13–18 AES-256;
// cases 5, 11 and 17 have an 8-byte IV and 6, 12 and 18 a 60-byte IV.
var katGCMSpec = []struct {
	tc                   int
	key, pt, aad, iv, ct string
	tag                  string
}{
	{1, "00000000000000000000000000000000", "", "", "000000000000000000000000", "", "58e2fccefa7e3061367f1d57a4e7455a"},
	{2, "00000000000000000000000000000000", "00000000000000000000000000000000", "", "000000000000000000000000",
		"0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf"},
	{3, "feffe9928665731c6d6a8f9467308308",
		"d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72 1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b391aafd255",
		"", "cafebabefacedbaddecaf888",
		"42831ec2217774244b7221b784d0d49c e3aa212f2c02a4e035c17e2329aca12e 21d514b25466931c7d8f6a5aac84aa05 1ba30b396a0aac973d58e091473f5985",
		"4d5c2af327cd64a62cf35abd2ba6fab4"},
	{4, "feffe9928665731c6d6a8f9467308308",
		"d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72 1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b39",
		"feedfacedeadbeeffeedfacedeadbeef abaddad2", "cafebabefacedbaddecaf888",
		"42831ec2217774244b7221b784d0d49c e3aa212f2c02a4e035c17e2329aca12e 21d514b25466931c7d8f6a5aac84aa05 1ba30b396a0aac973d58e091",
		"5bc94fbc3221a5db94fae95ae7121a47"},
	{5, "feffe9928665731c6d6a8f9467308308",
		"d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72 1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b39",
		"feedfacedeadbeeffeedfacedeadbeef abaddad2", "cafebabefacedbad",
		"61353b4c2806934a777ff51fa22a4755 699b2a714fcdc6f83766e5f97b6c7423 73806900e49f24b22b097544d4896b42 4989b5e1ebac0f07c23f4598",
		"3612d2e79e3b0785561be14aaca2fccb"},
	{6, "feffe9928665731c6d6a8f9467308308",
		"d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72 1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b39",
		"feedfacedeadbeeffeedfacedeadbeef abaddad2",
		"9313225df88406e555909c5aff5269aa 6a7a9538534f7da1e4c303d2a318a728 c3c0c95156809539fcf0e2429a6b5254 16aedbf5a0de6a57a637b39b",
		"8ce24998625615b603a033aca13fb894 be9112a5c3a211a8ba262a3cca7e2ca7 01e4a9a4fba43c90ccdcb281d48c7c6f d62875d2aca417034c34aee5",
		"619cc5aefffe0bfa462af43c1699d050"},
	{7, "00000000000000000000000000000000 0000000000000000", "", "", "000000000000000000000000", "", "cd33b28ac773f74ba00ed1f312572435"},
	{8, "00000000000000000000000000000000 0000000000000000", "00000000000000000000000000000000", "", "000000000000000000000000",
		"98e7247c07f0fe411c267e4384b0f600", "2ff58d80033927ab8ef4d4587514f0fb"},
	{9, "feffe9928665731c6d6a8f9467308308 feffe9928665731c",
		"d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72 1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b391aafd255",
		"", "cafebabefacedbaddecaf888",
		"3980ca0b3c00e841eb06fac4872a2757 859e1ceaa6efd984628593b40ca1e19c 7d773d00c144c525ac619d18c84a3f47 18e2448b2fe324d9ccda2710acade256",
		"9924a7c8587336bfb118024db8674a14"},
	{10, "feffe9928665731c6d6a8f9467308308 feffe9928665731c",
		"d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72 1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b39",
		"feedfacedeadbeeffeedfacedeadbeef abaddad2", "cafebabefacedbaddecaf888",
		"3980ca0b3c00e841eb06fac4872a2757 859e1ceaa6efd984628593b40ca1e19c 7d773d00c144c525ac619d18c84a3f47 18e2448b2fe324d9ccda2710",
		"2519498e80f1478f37ba55bd6d27618c"},
	{11, "feffe9928665731c6d6a8f9467308308 feffe9928665731c",
		"d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72 1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b39",
		"feedfacedeadbeeffeedfacedeadbeef abaddad2", "cafebabefacedbad",
		"0f10f599ae14a154ed24b36e25324db8 c566632ef2bbb34f8347280fc4507057 fddc29df9a471f75c66541d4d4dad1c9 e93a19a58e8b473fa0f062f7",
		"65dcc57fcf623a24094fcca40d3533f8"},
	{12, "feffe9928665731c6d6a8f9467308308 feffe9928665731c",
		"d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72 1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b39",
		"feedfacedeadbeeffeedfacedeadbeef abaddad2",
		"9313225df88406e555909c5aff5269aa 6a7a9538534f7da1e4c303d2a318a728 c3c0c95156809539fcf0e2429a6b5254 16aedbf5a0de6a57a637b39b",
		"d27e88681ce3243c4830165a8fdcf9ff 1de9a1d8e6b447ef6ef7b79828666e45 81e79012af34ddd9e2f037589b292db3 e67c036745fa22e7e9b7373b",
		"dcf566ff291c25bbb8568fc3d376a6d9"},
	{13, "00000000000000000000000000000000 00000000000000000000000000000000", "", "", "000000000000000000000000", "",
		"530f8afbc74536b9a963b4f1c4cb738b"},
	{14, "00000000000000000000000000000000 00000000000000000000000000000000", "00000000000000000000000000000000", "",
		"000000000000000000000000", "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
	{15, "feffe9928665731c6d6a8f9467308308 feffe9928665731c6d6a8f9467308308",
		"d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72 1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b391aafd255",
		"", "cafebabefacedbaddecaf888",
		"522dc1f099567d07f47f37a32a84427d 643a8cdcbfe5c0c97598a2bd2555d1aa 8cb08e48590dbb3da7b08b1056828838 c5f61e6393ba7a0abcc9f662898015ad",
		"b094dac5d93471bdec1a502270e3cc6c"},
	{16, "feffe9928665731c6d6a8f9467308308 feffe9928665731c6d6a8f9467308308",
		"d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72 1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b39",
		"feedfacedeadbeeffeedfacedeadbeef abaddad2", "cafebabefacedbaddecaf888",
		"522dc1f099567d07f47f37a32a84427d 643a8cdcbfe5c0c97598a2bd2555d1aa 8cb08e48590dbb3da7b08b1056828838 c5f61e6393ba7a0abcc9f662",
		"76fc6ece0f4e1768cddf8853bb2d551b"},
	{17, "feffe9928665731c6d6a8f9467308308 feffe9928665731c6d6a8f9467308308",
		"d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72 1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b39",
		"feedfacedeadbeeffeedfacedeadbeef abaddad2", "cafebabefacedbad",
		"c3762df1ca787d32ae47c13bf19844cb af1ae14d0b976afac52ff7d79bba9de0 feb582d33934a4f0954cc2363bc73f78 62ac430e64abe499f47c9b1f",
		"3a337dbf46a792c45e454913fe2ea8f2"},
	{18, "feffe9928665731c6d6a8f9467308308 feffe9928665731c6d6a8f9467308308",
		"d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72 1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b39",
		"feedfacedeadbeeffeedfacedeadbeef abaddad2",
		"9313225df88406e555909c5aff5269aa 6a7a9538534f7da1e4c303d2a318a728 c3c0c95156809539fcf0e2429a6b5254 16aedbf5a0de6a57a637b39b",
		"5a8def2f0c9e53f1f75d7853659e2a20 eeb2b22aafde6419a058ab4f6f746bf4 0fc0c3b780f244452da3ebf1c5d82cde a2418997200ef82e44ae7e3f",
		"a44a8266ee1c8eb0c8b5d4cf5ae9f19a"},
}

// Non-FIPS backend: the caller's IV. Every case at the full tag; the
// 12-byte-IV cases also at every truncated tag Craton allows (96..120
// bits, the leading bytes of the full tag), which the other IV sizes
// refuse.
func TestKATGCMSpec(t *testing.T) {
	b := NewDefault(Options{})
	for _, v := range katGCMSpec {
		t.Run(fmt.Sprintf("TestCase%d", v.tc), func(t *testing.T) {
			key := katAESKey(katHex(t, v.key))
			pt, aad, iv := katHex(t, v.pt), katHex(t, v.aad), katHex(t, v.iv)
			full := append(katHex(t, v.ct), katHex(t, v.tag)...)
			for tagBits := uint64(96); tagBits <= 128; tagBits += 8 {
				m := katGCM(iv, aad, tagBits)
				want := full[:len(pt)+int(tagBits/8)]
				got, err := katCrypt(b, m, CKK_AES, key, ForEncrypt, pt)
				if len(iv) != 12 && tagBits != 128 {
					katWantRV(t, fmt.Sprintf("%d-byte IV with a %d-bit tag", len(iv), tagBits), err, CKR_MECHANISM_PARAM_INVALID)
					continue
				}
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("%d-bit tag: encrypt = %x, %v; want %x", tagBits, got, err, want)
				}
				back, err := katCrypt(b, m, CKK_AES, key, ForDecrypt, want)
				if err != nil || !bytes.Equal(back, pt) {
					t.Errorf("%d-bit tag: decrypt = %x, %v; want %x", tagBits, back, err, pt)
				}
				// Any flipped bit, in the tag, the ciphertext or the AAD,
				// is CKR_ENCRYPTED_DATA_INVALID.
				for _, i := range []int{0, len(pt) / 2, len(want) - 1} {
					bad := bytes.Clone(want)
					bad[i] ^= 0x80
					_, err := katCrypt(b, m, CKK_AES, key, ForDecrypt, bad)
					katWantRV(t, fmt.Sprintf("%d-bit tag, byte %d flipped", tagBits, i), err, CKR_ENCRYPTED_DATA_INVALID)
				}
				badAAD := append(bytes.Clone(aad), 0)
				_, err = katCrypt(b, katGCM(iv, badAAD, tagBits), CKK_AES, key, ForDecrypt, want)
				katWantRV(t, "longer AAD", err, CKR_ENCRYPTED_DATA_INVALID)
			}
			// Wrap and unwrap are the same transformation.
			m := katGCM(iv, aad, 128)
			if got, err := katCrypt(b, m, CKK_AES, key, ForWrap, pt); err != nil || !bytes.Equal(got, full) {
				t.Errorf("wrap = %x, %v; want %x", got, err, full)
			}
			if got, err := katCrypt(b, m, CKK_AES, key, ForUnwrap, full); err != nil || !bytes.Equal(got, pt) {
				t.Errorf("unwrap = %x, %v; want %x", got, err, pt)
			}
		})
	}
}

func TestKATGCMParameterErrors(t *testing.T) {
	b := NewDefault(Options{})
	key := katAESKey(make([]byte, 16))
	iv := make([]byte, 12)
	for _, tag := range []uint64{0, 32, 64, 88, 100, 129, 136, 256} {
		_, err := b.NewCipher(katGCM(iv, nil, tag), CKK_AES, key, ForEncrypt)
		katWantRV(t, fmt.Sprintf("%d-bit tag", tag), err, CKR_MECHANISM_PARAM_INVALID)
	}
	for _, n := range []int{0, 257} {
		_, err := b.NewCipher(katGCM(make([]byte, n), nil, 128), CKK_AES, key, ForEncrypt)
		katWantRV(t, fmt.Sprintf("%d-byte IV", n), err, CKR_MECHANISM_PARAM_INVALID)
	}
	m := katGCM(iv, nil, 128)
	m.Bufs[0] = make([]byte, 13) // ulIvLen disagrees with the buffer
	_, err := b.NewCipher(m, CKK_AES, key, ForEncrypt)
	katWantRV(t, "ulIvLen/buffer mismatch", err, CKR_MECHANISM_PARAM_INVALID)
	for _, n := range []int{0, 1, 15} {
		_, err := katCrypt(b, katGCM(iv, nil, 128), CKK_AES, key, ForDecrypt, make([]byte, n))
		katWantRV(t, fmt.Sprintf("decrypt of %d bytes", n), err, CKR_ENCRYPTED_DATA_LEN_RANGE, CKR_ENCRYPTED_DATA_INVALID)
	}
	for _, n := range []int{0, 15, 33} {
		_, err := b.NewCipher(katGCM(iv, nil, 128), CKK_AES, katAESKey(make([]byte, n)), ForEncrypt)
		if err == nil {
			t.Errorf("GCM with a %d-byte AES key", n)
		}
	}
}

type katWycheproofGCM struct {
	katWycheproofHeader
	TestGroups []struct {
		IVSize  int `json:"ivSize"`
		KeySize int `json:"keySize"`
		TagSize int `json:"tagSize"`
		Tests   []struct {
			TcID    int      `json:"tcId"`
			Comment string   `json:"comment"`
			Flags   []string `json:"flags"`
			Key     string   `json:"key"`
			IV      string   `json:"iv"`
			AAD     string   `json:"aad"`
			Msg     string   `json:"msg"`
			Ct      string   `json:"ct"`
			Tag     string   `json:"tag"`
			Result  string   `json:"result"`
		} `json:"tests"`
	} `json:"testGroups"`
}

// Wycheproof aes_gcm_test.json, non-FIPS backend. Craton takes a 12-byte
// IV with 96..128-bit tags and any other IV of 1..256 bytes (the range
// PKCS#11 2.40 gives ulIvLen) with a 128-bit tag. Skipped: the 257-byte
// (2056-bit) IV cases, which Craton refuses with
// CKR_MECHANISM_PARAM_INVALID (asserted).
func TestKATWycheproofGCM(t *testing.T) {
	const file = "aes_gcm_test.json"
	var f katWycheproofGCM
	h := katLoadWycheproof(t, file, &f)
	b := NewDefault(Options{})
	var k katTally
	for _, g := range f.TestGroups {
		for _, tc := range g.Tests {
			name := fmt.Sprintf("tcId %d (%s %v)", tc.TcID, tc.Comment, tc.Flags)
			key, iv, aad, msg := katHex(t, tc.Key), katHex(t, tc.IV), katHex(t, tc.AAD), katHex(t, tc.Msg)
			ctTag := append(katHex(t, tc.Ct), katHex(t, tc.Tag)...)
			m := katGCM(iv, aad, uint64(g.TagSize))
			supported := len(iv) >= 1 && len(iv) <= 256 && (g.TagSize == 128 || (len(iv) == 12 && g.TagSize >= 96 && g.TagSize%8 == 0))
			if !supported && tc.Result != "invalid" {
				_, err := b.NewCipher(m, CKK_AES, katAESKey(key), ForDecrypt)
				katWantRV(t, name+": unsupported IV/tag size", err, CKR_MECHANISM_PARAM_INVALID)
				k.skip(fmt.Sprintf("%d-byte IV, %d-bit tag", len(iv), g.TagSize))
				continue
			}
			k.ran(tc.Result)
			pt, err := katCrypt(b, m, CKK_AES, katAESKey(key), ForDecrypt, ctTag)
			if tc.Result == "valid" {
				if err != nil || !bytes.Equal(pt, msg) {
					t.Errorf("%s: decrypt = %x, %v; want %x", name, pt, err, msg)
				}
				got, err := katCrypt(b, m, CKK_AES, katAESKey(key), ForEncrypt, msg)
				if err != nil || !bytes.Equal(got, ctTag) {
					t.Errorf("%s: encrypt = %x, %v; want %x", name, got, err, ctTag)
				}
				continue
			}
			if err == nil {
				t.Errorf("%s: invalid case decrypted to %x", name, pt)
			} else {
				katWantRV(t, name, err, CKR_ENCRYPTED_DATA_INVALID, CKR_ENCRYPTED_DATA_LEN_RANGE, CKR_MECHANISM_PARAM_INVALID)
			}
		}
	}
	k.check(t, file, h, 3)
}

// FIPS backend: encryption ignores the caller's IV; the module draws it
// (cipher.NewGCMWithRandomNonce) and the cipher exposes it through
// IVSource after Final. Decryption takes the caller's IV, so the spec's
// 12-byte-IV cases and Wycheproof's decrypt as usual; the generated IV
// round-trips, through both backends (it is plain GCM).
func TestKATFIPSGCM(t *testing.T) {
	t.Parallel()
	fb := katFIPSBackend(t, Options{})
	if fb == nil {
		return
	}
	db := NewDefault(Options{})
	ran := 0
	for _, v := range katGCMSpec {
		key := katAESKey(katHex(t, v.key))
		pt, aad, iv := katHex(t, v.pt), katHex(t, v.aad), katHex(t, v.iv)
		full := append(katHex(t, v.ct), katHex(t, v.tag)...)
		if len(iv) != 12 {
			// FIPS mode takes a 12-byte IV buffer only.
			for _, p := range []uint64{ForEncrypt, ForDecrypt} {
				_, err := fb.NewCipher(katGCM(iv, aad, 128), CKK_AES, key, p)
				katWantRV(t, fmt.Sprintf("TC%d: %d-byte IV in FIPS mode", v.tc, len(iv)), err, CKR_MECHANISM_PARAM_INVALID)
			}
			continue
		}
		ran++
		got, err := katCrypt(fb, katGCM(iv, aad, 128), CKK_AES, key, ForDecrypt, full)
		if err != nil || !bytes.Equal(got, pt) {
			t.Errorf("TC%d: FIPS decrypt = %x, %v; want %x", v.tc, got, err, pt)
		}
		var ivs [][]byte
		for _, purpose := range []uint64{ForEncrypt, ForEncrypt, ForWrap} {
			c, err := fb.NewCipher(katGCM(iv, aad, 128), CKK_AES, key, purpose)
			if err != nil {
				t.Fatalf("TC%d: FIPS NewCipher: %v", v.tc, err)
			}
			src, ok := c.(IVSource)
			if !ok {
				t.Fatalf("TC%d: FIPS GCM cipher %T is not an IVSource", v.tc, c)
			}
			ct, err := katRunCipher(c, pt, []int{len(pt) / 3})
			if err != nil {
				t.Fatalf("TC%d: FIPS encrypt: %v", v.tc, err)
			}
			gen := src.GeneratedIV()
			if len(gen) != 12 {
				t.Fatalf("TC%d: generated IV %x, want 12 bytes", v.tc, gen)
			}
			if bytes.Equal(gen, iv) {
				t.Errorf("TC%d: the generated IV is the caller's %x", v.tc, iv)
			}
			if len(ct) != len(pt)+16 {
				t.Errorf("TC%d: FIPS ciphertext of %d bytes for %d", v.tc, len(ct), len(pt))
			}
			if bytes.Equal(ct, full) {
				t.Errorf("TC%d: FIPS encryption used the caller's IV", v.tc)
			}
			for _, b := range []*Backend{fb, db} {
				back, err := katCrypt(b, katGCM(gen, aad, 128), CKK_AES, key, ForDecrypt, ct)
				if err != nil || !bytes.Equal(back, pt) {
					t.Errorf("TC%d: decrypt with the generated IV (FIPS=%v) = %x, %v", v.tc, b.FIPS(), back, err)
				}
			}
			// Same bytes as the non-FIPS backend given that IV.
			if want, err := katCrypt(db, katGCM(gen, aad, 128), CKK_AES, key, ForEncrypt, pt); err != nil || !bytes.Equal(want, ct) {
				t.Errorf("TC%d: FIPS ciphertext %x, non-FIPS with the generated IV %x %v", v.tc, ct, want, err)
			}
			ivs = append(ivs, gen)
		}
		if bytes.Equal(ivs[0], ivs[1]) || bytes.Equal(ivs[1], ivs[2]) {
			t.Errorf("TC%d: two encryptions drew the same IV %x", v.tc, ivs[0])
		}
		// Only 128-bit tags are made or checked in FIPS mode.
		for _, tag := range []uint64{96, 104, 112, 120} {
			for _, p := range []uint64{ForEncrypt, ForDecrypt} {
				_, err := fb.NewCipher(katGCM(iv, aad, tag), CKK_AES, key, p)
				katWantRV(t, fmt.Sprintf("TC%d: %d-bit tag in FIPS mode", v.tc, tag), err, CKR_MECHANISM_PARAM_INVALID)
			}
		}
	}
	if ran != 12 {
		t.Errorf("%d 12-byte-IV spec cases ran in FIPS mode, want 12", ran)
	}

	// Wycheproof, decryption only: the 12-byte-IV cases run; the others
	// must be refused.
	const file = "aes_gcm_test.json"
	var f katWycheproofGCM
	h := katLoadWycheproof(t, file, &f)
	var k katTally
	for _, g := range f.TestGroups {
		for _, tc := range g.Tests {
			name := fmt.Sprintf("tcId %d (%s %v)", tc.TcID, tc.Comment, tc.Flags)
			key, iv, aad, msg := katHex(t, tc.Key), katHex(t, tc.IV), katHex(t, tc.AAD), katHex(t, tc.Msg)
			ctTag := append(katHex(t, tc.Ct), katHex(t, tc.Tag)...)
			m := katGCM(iv, aad, uint64(g.TagSize))
			if len(iv) != 12 || g.TagSize != 128 {
				_, err := fb.NewCipher(m, CKK_AES, katAESKey(key), ForDecrypt)
				katWantRV(t, name+": FIPS mode, not a 12-byte IV", err, CKR_MECHANISM_PARAM_INVALID)
				k.skip("FIPS: not a 12-byte IV with a 128-bit tag")
				continue
			}
			k.ran(tc.Result)
			pt, err := katCrypt(fb, m, CKK_AES, katAESKey(key), ForDecrypt, ctTag)
			if tc.Result == "valid" {
				if err != nil || !bytes.Equal(pt, msg) {
					t.Errorf("%s: FIPS decrypt = %x, %v; want %x", name, pt, err, msg)
				}
			} else if err == nil {
				t.Errorf("%s: FIPS mode decrypted an invalid case to %x", name, pt)
			}
		}
	}
	k.check(t, file+" (FIPS decrypt)", h, 119)
}
