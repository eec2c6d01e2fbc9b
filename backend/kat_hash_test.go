package backend

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	. "github.com/craton-hsm/craton/pkcs11/ck"
)

// ---- SHA-1/SHA-2: FIPS 180-4 examples ----

// The messages of the FIPS 180 examples: "abc" (one block), the 448-bit
// message (two blocks for SHA-1/SHA-256), the 896-bit message (two blocks
// for SHA-384/SHA-512), and one million 'a'. The digests of the 896-bit
// message under SHA-256 and the 448-bit one under SHA-384/512 are not in
// NIST's examples; they come from Python's hashlib and OpenSSL, which
// agree (testdata/README.md).
const (
	katMsg448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
	katMsg896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
	katMillA  = "<one million 'a'>"
)

var katSHA = []struct {
	mech   uint64
	msg    string
	digest string
}{
	{CKM_SHA_1, "abc", "a9993e36 4706816a ba3e2571 7850c26c 9cd0d89d"},
	{CKM_SHA_1, katMsg448, "84983e44 1c3bd26e baae4aa1 f95129e5 e54670f1"},
	{CKM_SHA_1, katMillA, "34aa973c d4c4daa4 f61eeb2b dbad2731 6534016f"},

	{CKM_SHA256, "abc", "ba7816bf 8f01cfea 414140de 5dae2223 b00361a3 96177a9c b410ff61 f20015ad"},
	{CKM_SHA256, katMsg448, "248d6a61 d20638b8 e5c02693 0c3e6039 a33ce459 64ff2167 f6ecedd4 19db06c1"},
	{CKM_SHA256, katMsg896, "cf5b16a7 78af8380 036ce59e 7b049237 0b249b11 e8f07a51 afac4503 7afee9d1"},
	{CKM_SHA256, katMillA, "cdc76e5c 9914fb92 81a1c7e2 84d73e67 f1809a48 a497200e 046d39cc c7112cd0"},

	{CKM_SHA384, "abc", "cb00753f45a35e8b b5a03d699ac65007 272c32ab0eded163 1a8b605a43ff5bed 8086072ba1e7cc23 58baeca134c825a7"},
	{CKM_SHA384, katMsg448, "3391fdddfc8dc739 3707a65b1b470939 7cf8b1d162af05ab fe8f450de5f36bc6 b0455a8520bc4e6f 5fe95b1fe3c8452b"},
	{CKM_SHA384, katMsg896, "09330c33f71147e8 3d192fc782cd1b47 53111b173b3b05d2 2fa08086e3b0f712 fcc7c71a557e2db9 66c3e9fa91746039"},
	{CKM_SHA384, katMillA, "9d0e1809716474cb 086e834e310a4a1c ed149e9c00f24852 7972cec5704c2a5b 07b8b3dc38ecc4eb ae97ddd87f3d8985"},

	{CKM_SHA512, "abc", "ddaf35a193617aba cc417349ae204131 12e6fa4e89a97ea2 0a9eeee64b55d39a 2192992a274fc1a8 36ba3c23a3feebbd 454d4423643ce80e 2a9ac94fa54ca49f"},
	{CKM_SHA512, katMsg448, "204a8fc6dda82f0a 0ced7beb8e08a416 57c16ef468b228a8 279be331a703c335 96fd15c13b1b07f9 aa1d3bea57789ca0 31ad85c7a71dd703 54ec631238ca3445"},
	{CKM_SHA512, katMsg896, "8e959b75dae313da 8cf4f72814fc143f 8f7779c6eb9f7fa1 7299aeadb6889018 501d289e4900f7e4 331b99dec4b5433a c7d329eeb6dd2654 5e96e55b874be909"},
	{CKM_SHA512, katMillA, "e718483d0ce76964 4e2e42c7bc15b463 8e1f98b13b204428 5632a803afa973eb de0ff244877ea60a 4cb0432ce577c31b eb009c5c2c49aa2e 4eadb217ad8cc09b"},
}

func katRunSHA(t *testing.T, b *Backend) {
	for _, v := range katSHA {
		if b.FIPS() && v.mech == CKM_SHA_1 {
			_, err := b.NewDigest(Mechanism{Type: v.mech})
			katWantRV(t, "FIPS mode: CKM_SHA_1", err, CKR_MECHANISM_INVALID)
			continue
		}
		name := v.msg
		if len(name) > 8 {
			name = fmt.Sprintf("%d-bit", len(name)*8)
		}
		t.Run(fmt.Sprintf("%s/%s", MechName(v.mech), name), func(t *testing.T) {
			want := katHex(t, v.digest)
			h, err := b.NewDigest(Mechanism{Type: v.mech})
			if err != nil {
				t.Fatal(err)
			}
			if v.msg == katMillA {
				// 1000 Updates of 1000 'a'.
				chunk := []byte(strings.Repeat("a", 1000))
				for range 1000 {
					h.Write(chunk)
				}
			} else {
				h.Write([]byte(v.msg))
			}
			if got := h.Sum(nil); !bytes.Equal(got, want) {
				t.Errorf("digest = %x, want %x", got, want)
			}
			if h.Size() != len(want) {
				t.Errorf("Size() = %d, want %d", h.Size(), len(want))
			}
			if v.msg == katMillA {
				return
			}
			// Byte by byte.
			h.Reset()
			for i := range len(v.msg) {
				h.Write([]byte{v.msg[i]})
			}
			if got := h.Sum(nil); !bytes.Equal(got, want) {
				t.Errorf("byte-by-byte digest = %x, want %x", got, want)
			}
		})
	}
	_, err := b.NewDigest(Mechanism{Type: CKM_SHA256, Param: []byte{0}})
	katWantRV(t, "digest with a parameter", err, CKR_MECHANISM_PARAM_INVALID)
}

func TestKATSHA(t *testing.T) { katRunSHA(t, NewDefault(Options{})) }

// ---- HMAC: RFC 4231 ----

// RFC 4231 §4.2–§4.8, test cases 1–7, for HMAC-SHA-256/384/512. Case 5's
// values are the 128-bit truncations the RFC gives.
var katRFC4231 = []struct {
	tc                     int
	key, data              string // hex
	sha256, sha384, sha512 string
}{
	{1, strings.Repeat("0b", 20), "4869205468657265", // "Hi There"
		"b0344c61d8db38535ca8afceaf0bf12b 881dc200c9833da726e9376c2e32cff7",
		"afd03944d84895626b0825f4ab46907f 15f9dadbe4101ec682aa034c7cebc59c faea9ea9076ede7f4af152e8b2fa9cb6",
		"87aa7cdea5ef619d4ff0b4241a1d6cb0 2379f4e2ce4ec2787ad0b30545e17cde daa833b7d6b8a702038b274eaea3f4e4 be9d914eeb61f1702e696c203a126854"},
	{2, "4a656665", // "Jefe"
		"7768617420646f2079612077616e7420 666f72206e6f7468696e673f", // "what do ya want for nothing?"
		"5bdcc146bf60754e6a042426089575c7 5a003f089d2739839dec58b964ec3843",
		"af45d2e376484031617f78d2b58a6b1b 9c7ef464f5a01b47e42ec3736322445e 8e2240ca5e69e2c78b3239ecfab21649",
		"164b7a7bfcf819e2e395fbe73b56e0a3 87bd64222e831fd610270cd7ea250554 9758bf75c05a994a6d034f65f8f0e6fd caeab1a34d4a6b4b636e070a38bce737"},
	{3, strings.Repeat("aa", 20), strings.Repeat("dd", 50),
		"773ea91e36800e46854db8ebd09181a7 2959098b3ef8c122d9635514ced565fe",
		"88062608d3e6ad8a0aa2ace014c8a86f 0aa635d947ac9febe83ef4e55966144b 2a5ab39dc13814b94e3ab6e101a34f27",
		"fa73b0089d56a284efb0f0756c890be9 b1b5dbdd8ee81a3655f83e33b2279d39 bf3e848279a722c806b485a47e67c807 b946a337bee8942674278859e13292fb"},
	{4, "0102030405060708090a0b0c0d0e0f10111213141516171819", strings.Repeat("cd", 50),
		"82558a389a443c0ea4cc819899f2083a 85f0faa3e578f8077a2e3ff46729665b",
		"3e8a69b7783c25851933ab6290af6ca7 7a9981480850009cc5577c6e1f573b4e 6801dd23c4a7d679ccf8a386c674cffb",
		"b0ba465637458c6990e5a8c5f61d4af7 e576d97ff94b872de76f8050361ee3db a91ca5c11aa25eb4d679275cc5788063 a5f19741120c4f2de2adebeb10a298dd"},
	{5, strings.Repeat("0c", 20), "546573742057697468205472756e636174696f6e", // "Test With Truncation"
		"a3b6167473100ee06e0c796c2955552b",
		"3abf34c3503b2a23a46efc619baef897",
		"415fad6271580a531d4179bc891d87a6"},
	{6, strings.Repeat("aa", 131),
		"54657374205573696e67204c61726765 72205468616e20426c6f636b2d53697a 65204b6579202d2048617368204b6579 204669727374",
		"60e431591ee0b67f0d8a26aacbf5b77f 8e0bc6213728c5140546040f0ee37f54",
		"4ece084485813e9088d2c63a041bc5b4 4f9ef1012a2b588f3cd11f05033ac4c6 0c2ef6ab4030fe8296248df163f44952",
		"80b24263c7c1a3ebb71493c1dd7be8b4 9b46d1f41b4aeec1121b013783f8f352 6b56d037e05f2598bd0fd2215d6a1e52 95e64f73f63f0aec8b915a985d786598"},
	{7, strings.Repeat("aa", 131),
		"54686973206973206120746573742075 73696e672061206c6172676572207468 616e20626c6f636b2d73697a65206b65 7920616e642061206c61726765722074 68616e20626c6f636b2d73697a652064 6174612e20546865206b6579206e6565 647320746f2062652068617368656420 6265666f7265206265696e6720757365 642062792074686520484d414320616c 676f726974686d2e",
		"9b09ffa71b942fcb27635fbcd5b0e944 bfdc63644f0713938a7f51535c3a35e2",
		"6617178e941f020d351e2f254e8fd32c 602420feb0b8fb9adccebb82461e99c5 a678cc31e799176d3860e6110c46523e",
		"e37b6a775dc87dbaa4dfa9f96e5e3ffd debd71f8867289865df5a32d20cdc944 b6022cac3c4982b10d5eeb55c3e4de15 134676fb6de0446065c97440fa8c6a58"},
}

// katRunRFC4231 runs the RFC 4231 cases on b. In FIPS mode the 4-byte key
// of case 2 must be refused (Go's module wants HMAC keys of 112 bits or
// more) and the rest run.
func katRunRFC4231(t *testing.T, b *Backend) {
	for _, v := range katRFC4231 {
		for _, hm := range []struct {
			mech uint64
			want string
			size int
		}{{CKM_SHA256_HMAC, v.sha256, 32}, {CKM_SHA384_HMAC, v.sha384, 48}, {CKM_SHA512_HMAC, v.sha512, 64}} {
			t.Run(fmt.Sprintf("TestCase%d/%s", v.tc, MechName(hm.mech)), func(t *testing.T) {
				key := katHex(t, v.key)
				data := katHex(t, v.data)
				want := katHex(t, hm.want)
				m := Mechanism{Type: hm.mech}
				kt := uint64(CKK_GENERIC_SECRET)
				if b.FIPS() && len(key) < 14 {
					_, err := b.NewSigner(m, kt, Attrs{CKA_VALUE: key})
					katWantRV(t, "FIPS mode: HMAC sign with a short key", err, CKR_KEY_SIZE_RANGE)
					_, err = b.NewVerifier(m, kt, Attrs{CKA_VALUE: key})
					katWantRV(t, "FIPS mode: HMAC verify with a short key", err, CKR_KEY_SIZE_RANGE)
					return
				}
				s, err := b.NewSigner(m, kt, Attrs{CKA_VALUE: key})
				if err != nil {
					t.Fatal(err)
				}
				if s.Len() != hm.size {
					t.Errorf("Len() = %d, want %d", s.Len(), hm.size)
				}
				// Two Updates, split in the middle.
				if err := s.Update(data[:len(data)/2]); err != nil {
					t.Fatal(err)
				}
				if err := s.Update(data[len(data)/2:]); err != nil {
					t.Fatal(err)
				}
				mac, err := s.Sign()
				if err != nil {
					t.Fatal(err)
				}
				if len(mac) != hm.size {
					t.Fatalf("MAC of %d bytes, want %d", len(mac), hm.size)
				}
				if v.tc == 5 {
					// CKM_SHA*_HMAC always makes the full-length MAC;
					// RFC 4231's truncation to 128 bits is
					// CKM_SHA*_HMAC_GENERAL, which Craton does not
					// implement. The full MAC starts with the truncated
					// one, and the truncated one does not verify.
					if !bytes.Equal(mac[:16], want) {
						t.Errorf("MAC = %x, want a prefix %x", mac, want)
					}
					katWantRV(t, "truncated MAC", katVerify(b, m, kt, Attrs{CKA_VALUE: key}, data, want), CKR_SIGNATURE_LEN_RANGE)
					if err := katVerify(b, m, kt, Attrs{CKA_VALUE: key}, data, mac); err != nil {
						t.Errorf("verify of its own full MAC: %v", err)
					}
					return
				}
				if !bytes.Equal(mac, want) {
					t.Errorf("MAC = %x, want %x", mac, want)
				}
				if err := katVerify(b, m, kt, Attrs{CKA_VALUE: key}, data, want); err != nil {
					t.Errorf("verify: %v", err)
				}
				bad := bytes.Clone(want)
				bad[len(bad)-1] ^= 1
				katWantRV(t, "verify of a wrong MAC", katVerify(b, m, kt, Attrs{CKA_VALUE: key}, data, bad), CKR_SIGNATURE_INVALID)
				katWantRV(t, "verify of a short MAC", katVerify(b, m, kt, Attrs{CKA_VALUE: key}, data, want[:len(want)-1]), CKR_SIGNATURE_LEN_RANGE)
				katWantRV(t, "verify with other data", katVerify(b, m, kt, Attrs{CKA_VALUE: key}, append(data, 0), want), CKR_SIGNATURE_INVALID)
			})
		}
	}
}

func TestKATHMACRFC4231(t *testing.T) {
	b := NewDefault(Options{})
	katRunRFC4231(t, b)
	// HMAC also takes AES and HKDF keys (a CKK_GENERIC_SECRET mechanism),
	// and refuses a parameter.
	key := katHex(t, strings.Repeat("0b", 20))
	want := katHex(t, katRFC4231[0].sha256)
	for _, kt := range []uint64{CKK_AES, CKK_HKDF} {
		mac, err := katSign(b, Mechanism{Type: CKM_SHA256_HMAC}, kt, Attrs{CKA_VALUE: key}, []byte("Hi There"))
		if err != nil || !bytes.Equal(mac, want) {
			t.Errorf("HMAC with a %s key: %x, %v", KeyTypeName(kt), mac, err)
		}
	}
	_, err := b.NewSigner(Mechanism{Type: CKM_SHA256_HMAC}, CKK_RSA, Attrs{CKA_VALUE: key})
	katWantRV(t, "HMAC with an RSA key", err, CKR_KEY_TYPE_INCONSISTENT)
	_, err = b.NewSigner(Mechanism{Type: CKM_SHA256_HMAC, Param: []byte{1}}, CKK_GENERIC_SECRET, Attrs{CKA_VALUE: key})
	katWantRV(t, "HMAC with a parameter", err, CKR_MECHANISM_PARAM_INVALID)
}

// Wycheproof hmac_sha{256,384,512}_test.json. The 128-bit-tag groups are
// truncated MACs: CKM_SHA*_HMAC makes the full MAC, so those cases compare
// the full MAC's leading bytes (valid: equal; invalid: different); the
// full-tag cases go through Verify as well.
func TestKATWycheproofHMAC(t *testing.T) {
	b := NewDefault(Options{})
	for _, c := range []struct {
		file string
		mech uint64
	}{{"hmac_sha256_test.json", CKM_SHA256_HMAC}, {"hmac_sha384_test.json", CKM_SHA384_HMAC}, {"hmac_sha512_test.json", CKM_SHA512_HMAC}} {
		t.Run(c.file, func(t *testing.T) {
			var f struct {
				katWycheproofHeader
				TestGroups []struct {
					KeySize int `json:"keySize"`
					TagSize int `json:"tagSize"`
					Tests   []struct {
						TcID    int    `json:"tcId"`
						Comment string `json:"comment"`
						Key     string `json:"key"`
						Msg     string `json:"msg"`
						Tag     string `json:"tag"`
						Result  string `json:"result"`
					} `json:"tests"`
				} `json:"testGroups"`
			}
			h := katLoadWycheproof(t, c.file, &f)
			var k katTally
			m := Mechanism{Type: c.mech}
			for _, g := range f.TestGroups {
				for _, tc := range g.Tests {
					k.ran(tc.Result)
					name := fmt.Sprintf("tcId %d (%s)", tc.TcID, tc.Comment)
					key, msg, tag := Attrs{CKA_VALUE: katHex(t, tc.Key)}, katHex(t, tc.Msg), katHex(t, tc.Tag)
					mac, err := katSign(b, m, CKK_GENERIC_SECRET, key, msg)
					if err != nil {
						t.Errorf("%s: sign: %v", name, err)
						continue
					}
					if same := bytes.Equal(mac[:len(tag)], tag); same != (tc.Result == "valid") {
						t.Errorf("%s (%s): MAC %x, tag %x", name, tc.Result, mac, tag)
					}
					if len(tag) != len(mac) {
						continue
					}
					err = katVerify(b, m, CKK_GENERIC_SECRET, key, msg, tag)
					if tc.Result == "valid" && err != nil {
						t.Errorf("%s: verify: %v", name, err)
					} else if tc.Result != "valid" {
						katWantRV(t, name, err, CKR_SIGNATURE_INVALID)
					}
				}
			}
			k.check(t, c.file, h, 0)
		})
	}
}

// ---- HKDF: RFC 5869 ----

// RFC 5869 Appendix A.1–A.3 (HKDF with SHA-256).
var katRFC5869 = []struct {
	tc                        string
	ikm, salt, info, prk, okm string
	l                         int
}{
	{"A.1", strings.Repeat("0b", 22), "000102030405060708090a0b0c", "f0f1f2f3f4f5f6f7f8f9",
		"077709362c2e32df0ddc3f0dc47bba63 90b6c73bb50f9c3122ec844ad7c2b3e5",
		"3cb25f25faacd57a90434f64d0362f2a 2d2d0a90cf1a5a4c5db02d56ecc4c5bf 34007208d5b887185865", 42},
	{"A.2",
		"000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f 202122232425262728292a2b2c2d2e2f 303132333435363738393a3b3c3d3e3f 404142434445464748494a4b4c4d4e4f",
		"606162636465666768696a6b6c6d6e6f 707172737475767778797a7b7c7d7e7f 808182838485868788898a8b8c8d8e8f 909192939495969798999a9b9c9d9e9f a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
		"b0b1b2b3b4b5b6b7b8b9babbbcbdbebf c0c1c2c3c4c5c6c7c8c9cacbcccdcecf d0d1d2d3d4d5d6d7d8d9dadbdcdddedf e0e1e2e3e4e5e6e7e8e9eaebecedeeef f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
		"06a6b88c5853361a06104c9ceb35b45c ef760014904671014a193f40c15fc244",
		"b11e398dc80327a1c8e7f78c596a4934 4f012eda2d4efad8a050cc4c19afa97c 59045a99cac7827271cb41c65e590e09 da3275600c2f09b8367793a9aca3db71 cc30c58179ec3e87c14c01d5c1f3434f 1d87", 82},
	{"A.3", strings.Repeat("0b", 22), "", "",
		"19ef24a32c717b167f33a91d6f648bdf 96596776afdb6377ac434c1c293ccb04",
		"8da4e775a563c18f715f802a063c5a31 b8a11f5c5ee1879ec3454e5f3c738d2d 9d201395faa4b61a96c8", 42},
}

func katRunRFC5869(t *testing.T, b *Backend) {
	for _, v := range katRFC5869 {
		t.Run("RFC5869_"+v.tc, func(t *testing.T) {
			ikm, salt, info := katHex(t, v.ikm), katHex(t, v.salt), katHex(t, v.info)
			prk, okm := katHex(t, v.prk), katHex(t, v.okm)
			saltType := uint64(CKF_HKDF_SALT_DATA)
			if len(salt) == 0 {
				// A.3: "salt = not provided (i.e. zero-length)".
				saltType = CKF_HKDF_SALT_NULL
			}
			derive := func(m Mechanism, base []byte, saltKey []byte, n int) ([]byte, error) {
				return b.Derive(DeriveInput{Mech: m, BaseType: CKK_GENERIC_SECRET, Base: Attrs{CKA_VALUE: base}, SaltKey: saltKey, Len: n})
			}
			for _, mech := range []uint64{CKM_HKDF_DERIVE, CKM_HKDF_DATA} {
				name := MechName(mech)
				// Extract and expand.
				got, err := derive(katHKDF(mech, true, true, CKM_SHA256, saltType, salt, info), ikm, nil, v.l)
				if err != nil || !bytes.Equal(got, okm) {
					t.Errorf("%s extract+expand = %x, %v; want %x", name, got, err, okm)
				}
				// The salt as a key (CKF_HKDF_SALT_KEY).
				if len(salt) > 0 {
					got, err = derive(katHKDF(mech, true, true, CKM_SHA256, CKF_HKDF_SALT_KEY, nil, info), ikm, salt, v.l)
					if err != nil || !bytes.Equal(got, okm) {
						t.Errorf("%s with the salt as a key = %x, %v; want %x", name, got, err, okm)
					}
				}
				// Extract only: the PRK, with no length or its own length.
				for _, n := range []int{0, 32} {
					got, err = derive(katHKDF(mech, true, false, CKM_SHA256, saltType, salt, nil), ikm, nil, n)
					if err != nil || !bytes.Equal(got, prk) {
						t.Errorf("%s extract-only (len %d) = %x, %v; want %x", name, n, got, err, prk)
					}
				}
				got, err = derive(katHKDF(mech, true, false, CKM_SHA256, saltType, salt, nil), ikm, nil, 16)
				katWantRV(t, name+" extract-only with another length", err, CKR_TEMPLATE_INCONSISTENT)
				// Expand only, from the PRK; any shorter length is a prefix.
				got, err = derive(katHKDF(mech, false, true, CKM_SHA256, CKF_HKDF_SALT_NULL, nil, info), prk, nil, v.l)
				if err != nil || !bytes.Equal(got, okm) {
					t.Errorf("%s expand-only = %x, %v; want %x", name, got, err, okm)
				}
				got, err = derive(katHKDF(mech, false, true, CKM_SHA256, CKF_HKDF_SALT_NULL, nil, info), prk, nil, 16)
				if err != nil || !bytes.Equal(got, okm[:16]) {
					t.Errorf("%s expand-only, 16 bytes = %x, %v; want %x", name, got, err, okm[:16])
				}
			}
			// An HKDF key works as the base as well as a generic secret.
			got, err := b.Derive(DeriveInput{Mech: katHKDF(CKM_HKDF_DERIVE, true, true, CKM_SHA256, saltType, salt, info),
				BaseType: CKK_HKDF, Base: Attrs{CKA_VALUE: ikm}, Len: v.l})
			if err != nil || !bytes.Equal(got, okm) {
				t.Errorf("CKK_HKDF base key = %x, %v; want %x", got, err, okm)
			}
		})
	}
	// Errors.
	base := Attrs{CKA_VALUE: make([]byte, 32)}
	d := func(m Mechanism, n int) error {
		_, err := b.Derive(DeriveInput{Mech: m, BaseType: CKK_GENERIC_SECRET, Base: base, Len: n})
		return err
	}
	katWantRV(t, "HKDF expand without a length", d(katHKDF(CKM_HKDF_DERIVE, true, true, CKM_SHA256, CKF_HKDF_SALT_NULL, nil, nil), 0), CKR_TEMPLATE_INCOMPLETE)
	katWantRV(t, "HKDF longer than 255 blocks", d(katHKDF(CKM_HKDF_DERIVE, true, true, CKM_SHA256, CKF_HKDF_SALT_NULL, nil, nil), 255*32+1), CKR_TEMPLATE_INCONSISTENT)
	if err := d(katHKDF(CKM_HKDF_DERIVE, true, true, CKM_SHA256, CKF_HKDF_SALT_NULL, nil, nil), 255*32); err != nil {
		t.Errorf("HKDF of exactly 255 blocks: %v", err)
	}
	katWantRV(t, "HKDF neither extract nor expand", d(katHKDF(CKM_HKDF_DERIVE, false, false, CKM_SHA256, CKF_HKDF_SALT_NULL, nil, nil), 32), CKR_MECHANISM_PARAM_INVALID)
	katWantRV(t, "HKDF bad salt type", d(katHKDF(CKM_HKDF_DERIVE, true, true, CKM_SHA256, 8, nil, nil), 32), CKR_MECHANISM_PARAM_INVALID)
	katWantRV(t, "HKDF with an unknown PRF", d(katHKDF(CKM_HKDF_DERIVE, true, true, CKM_AES_ECB, CKF_HKDF_SALT_NULL, nil, nil), 32), CKR_MECHANISM_PARAM_INVALID)
	_, err := b.Derive(DeriveInput{Mech: katHKDF(CKM_HKDF_DERIVE, true, true, CKM_SHA256, CKF_HKDF_SALT_NULL, nil, nil), BaseType: CKK_AES, Base: base, Len: 32})
	katWantRV(t, "HKDF from an AES key", err, CKR_KEY_TYPE_INCONSISTENT)
}

func TestKATHKDFRFC5869(t *testing.T) { katRunRFC5869(t, NewDefault(Options{})) }

// Wycheproof hkdf_sha{256,384,512}_test.json through CKM_HKDF_DERIVE
// (extract and expand; an empty salt is CKF_HKDF_SALT_NULL). "invalid" is
// an output longer than 255 hash blocks: CKR_TEMPLATE_INCONSISTENT.
func TestKATWycheproofHKDF(t *testing.T) {
	b := NewDefault(Options{})
	for _, c := range []struct {
		file string
		prf  uint64
	}{{"hkdf_sha256_test.json", CKM_SHA256}, {"hkdf_sha384_test.json", CKM_SHA384}, {"hkdf_sha512_test.json", CKM_SHA512}} {
		t.Run(c.file, func(t *testing.T) {
			var f struct {
				katWycheproofHeader
				TestGroups []struct {
					Tests []struct {
						TcID    int    `json:"tcId"`
						Comment string `json:"comment"`
						IKM     string `json:"ikm"`
						Salt    string `json:"salt"`
						Info    string `json:"info"`
						Size    int    `json:"size"`
						OKM     string `json:"okm"`
						Result  string `json:"result"`
					} `json:"tests"`
				} `json:"testGroups"`
			}
			h := katLoadWycheproof(t, c.file, &f)
			var k katTally
			for _, g := range f.TestGroups {
				for _, tc := range g.Tests {
					k.ran(tc.Result)
					name := fmt.Sprintf("tcId %d (%s)", tc.TcID, tc.Comment)
					salt := katHex(t, tc.Salt)
					st := uint64(CKF_HKDF_SALT_DATA)
					if len(salt) == 0 {
						st = CKF_HKDF_SALT_NULL
					}
					got, err := b.Derive(DeriveInput{Mech: katHKDF(CKM_HKDF_DERIVE, true, true, c.prf, st, salt, katHex(t, tc.Info)),
						BaseType: CKK_GENERIC_SECRET, Base: Attrs{CKA_VALUE: katHex(t, tc.IKM)}, Len: tc.Size})
					if tc.Result == "valid" {
						if want := katHex(t, tc.OKM); err != nil || !bytes.Equal(got, want) {
							t.Errorf("%s: %x, %v; want %x", name, got, err, want)
						}
					} else {
						katWantRV(t, name, err, CKR_TEMPLATE_INCONSISTENT)
					}
				}
			}
			k.check(t, c.file, h, 0)
		})
	}
}

// FIPS mode: SHA-2 digests, HMAC and HKDF give the same answers; SHA-1 is
// refused everywhere; keys under 112 bits are refused for HMAC and HKDF
// (RFC 4231 case 2's 4-byte "Jefe").
func TestKATFIPSHashHMACHKDF(t *testing.T) {
	t.Parallel()
	fb := katFIPSBackend(t, Options{})
	if fb == nil {
		return
	}
	t.Run("SHA", func(t *testing.T) { katRunSHA(t, fb) })
	t.Run("RFC4231", func(t *testing.T) { katRunRFC4231(t, fb) })
	t.Run("RFC5869", func(t *testing.T) { katRunRFC5869(t, fb) })

	for _, n := range []int{1, 4, 13} {
		for _, m := range []uint64{CKM_SHA256_HMAC, CKM_SHA384_HMAC, CKM_SHA512_HMAC} {
			_, err := fb.NewSigner(Mechanism{Type: m}, CKK_GENERIC_SECRET, Attrs{CKA_VALUE: make([]byte, n)})
			katWantRV(t, fmt.Sprintf("FIPS %s with a %d-byte key", MechName(m), n), err, CKR_KEY_SIZE_RANGE)
		}
		_, err := fb.Derive(DeriveInput{Mech: katHKDF(CKM_HKDF_DERIVE, true, true, CKM_SHA256, CKF_HKDF_SALT_NULL, nil, nil),
			BaseType: CKK_GENERIC_SECRET, Base: Attrs{CKA_VALUE: make([]byte, n)}, Len: 32})
		katWantRV(t, fmt.Sprintf("FIPS HKDF from a %d-byte key", n), err, CKR_KEY_SIZE_RANGE)
		_, err = fb.GenerateKey(CKM_GENERIC_SECRET_KEY_GEN, uint64(n))
		katWantRV(t, fmt.Sprintf("FIPS generic secret of %d bytes", n), err, CKR_KEY_SIZE_RANGE)
	}
	if _, err := fb.NewSigner(Mechanism{Type: CKM_SHA256_HMAC}, CKK_GENERIC_SECRET, Attrs{CKA_VALUE: make([]byte, 14)}); err != nil {
		t.Errorf("FIPS HMAC with a 14-byte key: %v", err)
	}
	for _, m := range []uint64{CKM_SHA256_HMAC, CKM_GENERIC_SECRET_KEY_GEN, CKM_HKDF_DERIVE, CKM_HKDF_DATA, CKM_HKDF_KEY_GEN} {
		if info, err := fb.Info(m); err != nil || info.MinKeySize != 14 {
			t.Errorf("FIPS Info(%s) = %+v, %v; want MinKeySize 14", MechName(m), info, err)
		}
	}
	_, err := fb.NewSigner(Mechanism{Type: CKM_SHA_1_HMAC}, CKK_GENERIC_SECRET, Attrs{CKA_VALUE: make([]byte, 32)})
	katWantRV(t, "FIPS CKM_SHA_1_HMAC", err, CKR_MECHANISM_INVALID)
	_, err = fb.Derive(DeriveInput{Mech: katHKDF(CKM_HKDF_DERIVE, true, true, CKM_SHA_1, CKF_HKDF_SALT_NULL, nil, nil),
		BaseType: CKK_GENERIC_SECRET, Base: Attrs{CKA_VALUE: make([]byte, 32)}, Len: 32})
	// SPEC §4 names CKR_MECHANISM_INVALID for what FIPS mode refuses; a
	// hash named inside the parameter is reported as a bad parameter.
	katWantRV(t, "FIPS HKDF with SHA-1", err, CKR_MECHANISM_PARAM_INVALID, CKR_MECHANISM_INVALID)
}
