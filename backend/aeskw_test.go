package backend

import (
	"bytes"
	"crypto/aes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func unhexKW(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// RFC 3394 §4.1–§4.6. The KEK and key data in each section are prefixes of
// the same two byte strings.
func TestKWRFC3394Vectors(t *testing.T) {
	const (
		kek256  = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
		keyData = "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F"
	)
	vectors := []struct {
		section        string
		kekBits, kBits int
		ct             string
	}{
		{"4.1", 128, 128, "1FA68B0A8112B447 AEF34BD8FB5A7B82 9D3E862371D2CFE5"},
		{"4.2", 192, 128, "96778B25AE6CA435 F92B5B97C050AED2 468AB8A17AD84E5D"},
		{"4.3", 256, 128, "64E8C3F9CE0F5BA2 63E9777905818A2A 93C8191E7D6E8AE7"},
		{"4.4", 192, 192, "031D33264E15D332 68F24EC260743EDC E1C6C7DDEE725A93 6BA814915C6762D2"},
		{"4.5", 256, 192, "A8F9BC1612C68B3F F6E6F4FBE30E71E4 769C8B80A32CB895 8CD5D17D6B254DA1"},
		{"4.6", 256, 256, "28C9F404C4B810F4 CBCCB35CFB87F826 3F5786E2D80ED326 CBC7F0E71A99F43B FB988B9B7A02DD21"},
	}
	for _, v := range vectors {
		t.Run("RFC3394_"+v.section, func(t *testing.T) {
			kek := unhexKW(t, kek256)[:v.kekBits/8]
			pt := unhexKW(t, keyData)[:v.kBits/8]
			ct := unhexKW(t, v.ct)
			got, err := WrapKW(kek, pt)
			if err != nil {
				t.Fatalf("WrapKW: %v", err)
			}
			if !bytes.Equal(got, ct) {
				t.Fatalf("WrapKW = %X, want %X", got, ct)
			}
			back, err := UnwrapKW(kek, ct)
			if err != nil {
				t.Fatalf("UnwrapKW: %v", err)
			}
			if !bytes.Equal(back, pt) {
				t.Fatalf("UnwrapKW = %X, want %X", back, pt)
			}
		})
	}
}

// RFC 5649 §6: the two examples with the 192-bit KEK.
func TestKWPRFC5649Vectors(t *testing.T) {
	kek := unhexKW(t, "5840df6e29b02af1 ab493b705bf16ea1 ae8338f4dcc176a8")
	vectors := []struct {
		name   string
		pt, ct string
	}{
		{"20_octets", "c37b7e6492584340 bed1220780894115 5068f738",
			"138bdeaa9b8fa7fc 61f97742e72248ee 5ae6ae5360d1ae6a 5f54f373fa543b6a"},
		{"7_octets", "466f7250617369", "afbeb0f07dfbf541 9200f2ccb50bb24f"},
	}
	for _, v := range vectors {
		t.Run("RFC5649_"+v.name, func(t *testing.T) {
			pt, ct := unhexKW(t, v.pt), unhexKW(t, v.ct)
			got, err := WrapKWP(kek, pt)
			if err != nil {
				t.Fatalf("WrapKWP: %v", err)
			}
			if !bytes.Equal(got, ct) {
				t.Fatalf("WrapKWP = %x, want %x", got, ct)
			}
			back, err := UnwrapKWP(kek, ct)
			if err != nil {
				t.Fatalf("UnwrapKWP: %v", err)
			}
			if !bytes.Equal(back, pt) {
				t.Fatalf("UnwrapKWP = %x, want %x", back, pt)
			}
		})
	}
}

// The single-block case of RFC 5649 §4.1 is exactly one AES-ECB encryption
// of AIV || padded plaintext; check it against crypto/aes directly.
func TestKWPSingleBlockIsECB(t *testing.T) {
	kek := bytes.Repeat([]byte{0x42}, 32)
	block, err := aes.NewCipher(kek)
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 8; n++ {
		pt := bytes.Repeat([]byte{byte(n)}, n)
		want := make([]byte, 16)
		copy(want, []byte{0xA6, 0x59, 0x59, 0xA6, 0, 0, 0, byte(n)})
		copy(want[8:], pt)
		block.Encrypt(want, want)
		got, err := WrapKWP(kek, pt)
		if err != nil {
			t.Fatalf("len %d: %v", n, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("len %d: WrapKWP = %x, want %x", n, got, want)
		}
	}
}

func TestKWRejectsBadSizes(t *testing.T) {
	good := make([]byte, 16)
	for _, n := range []int{0, 1, 8, 15, 17, 20, 23, 31, 33, 64} {
		kek := make([]byte, n)
		if _, err := WrapKW(kek, make([]byte, 16)); err == nil {
			t.Errorf("WrapKW accepted a %d-byte KEK", n)
		}
		if _, err := UnwrapKW(kek, make([]byte, 24)); err == nil {
			t.Errorf("UnwrapKW accepted a %d-byte KEK", n)
		}
		if _, err := WrapKWP(kek, make([]byte, 5)); err == nil {
			t.Errorf("WrapKWP accepted a %d-byte KEK", n)
		}
		if _, err := UnwrapKWP(kek, make([]byte, 16)); err == nil {
			t.Errorf("UnwrapKWP accepted a %d-byte KEK", n)
		}
	}
	for _, n := range []int{0, 1, 7, 8, 9, 15, 17, 20, 23, 31} {
		if _, err := WrapKW(good, make([]byte, n)); err == nil {
			t.Errorf("WrapKW accepted a %d-byte plaintext", n)
		}
	}
	for _, n := range []int{0, 1, 8, 15, 16, 17, 23, 25, 31} {
		_, err := UnwrapKW(good, make([]byte, n))
		if err == nil {
			t.Errorf("UnwrapKW accepted a %d-byte ciphertext", n)
		} else if errors.Is(err, ErrUnwrap) {
			t.Errorf("UnwrapKW of a %d-byte ciphertext: size error reported as ErrUnwrap", n)
		}
	}
	if _, err := WrapKWP(good, nil); err == nil {
		t.Error("WrapKWP accepted an empty plaintext")
	}
	for _, n := range []int{0, 1, 7, 8, 9, 15, 17, 23, 25} {
		_, err := UnwrapKWP(good, make([]byte, n))
		if err == nil {
			t.Errorf("UnwrapKWP accepted a %d-byte ciphertext", n)
		} else if errors.Is(err, ErrUnwrap) {
			t.Errorf("UnwrapKWP of a %d-byte ciphertext: size error reported as ErrUnwrap", n)
		}
	}
}

// Every single-bit change of a wrapped key, and a wrong KEK, gives ErrUnwrap.
func TestKWTamperAndWrongKEK(t *testing.T) {
	kek := bytes.Repeat([]byte{7}, 16)
	other := bytes.Repeat([]byte{8}, 16)
	pt := bytes.Repeat([]byte{0x5a}, 32)
	type alg struct {
		name   string
		wrap   func(k, p []byte) ([]byte, error)
		unwrap func(k, c []byte) ([]byte, error)
		pt     []byte
	}
	for _, a := range []alg{
		{"KW", WrapKW, UnwrapKW, pt},
		{"KWP", WrapKWP, UnwrapKWP, pt[:29]},
		{"KWP_single", WrapKWP, UnwrapKWP, pt[:5]},
	} {
		ct, err := a.wrap(kek, a.pt)
		if err != nil {
			t.Fatalf("%s wrap: %v", a.name, err)
		}
		if _, err := a.unwrap(other, ct); !errors.Is(err, ErrUnwrap) {
			t.Errorf("%s: unwrap under the wrong KEK: err = %v, want ErrUnwrap", a.name, err)
		}
		for bit := 0; bit < len(ct)*8; bit++ {
			mod := bytes.Clone(ct)
			mod[bit/8] ^= 1 << (bit % 8)
			if got, err := a.unwrap(kek, mod); !errors.Is(err, ErrUnwrap) || got != nil {
				t.Fatalf("%s: bit %d flipped: got %x, err = %v, want ErrUnwrap", a.name, bit, got, err)
			}
		}
	}
}

// KW and KWP use different IVs, so neither unwraps the other's output.
func TestKWAndKWPAreDomainSeparated(t *testing.T) {
	kek := bytes.Repeat([]byte{1}, 24)
	pt := bytes.Repeat([]byte{2}, 24)
	kw, err := WrapKW(kek, pt)
	if err != nil {
		t.Fatal(err)
	}
	kwp, err := WrapKWP(kek, pt)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(kw, kwp) {
		t.Fatal("KW and KWP wrapped the same data identically")
	}
	if _, err := UnwrapKWP(kek, kw); !errors.Is(err, ErrUnwrap) {
		t.Errorf("UnwrapKWP(KW output): err = %v, want ErrUnwrap", err)
	}
	if _, err := UnwrapKW(kek, kwp); !errors.Is(err, ErrUnwrap) {
		t.Errorf("UnwrapKW(KWP output): err = %v, want ErrUnwrap", err)
	}
}

// Round-trip property over random KEKs and random lengths, including lengths
// large enough that the 64-bit counter t passes 256.
func TestKWRoundTripRandomLengths(t *testing.T) {
	rng := rand.New(rand.NewPCG(0x6b77, 0x3394))
	kekSizes := []int{16, 24, 32}
	randBytes := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	for iter := 0; iter < 400; iter++ {
		kek := randBytes(kekSizes[rng.IntN(3)])

		n := 8 * (2 + rng.IntN(80)) // 16..648 bytes
		pt := randBytes(n)
		ct, err := WrapKW(kek, pt)
		if err != nil {
			t.Fatalf("WrapKW(%d bytes): %v", n, err)
		}
		if len(ct) != n+8 {
			t.Fatalf("WrapKW(%d bytes) gave %d bytes", n, len(ct))
		}
		back, err := UnwrapKW(kek, ct)
		if err != nil || !bytes.Equal(back, pt) {
			t.Fatalf("KW round trip of %d bytes failed: %v", n, err)
		}

		m := 1 + rng.IntN(700)
		if iter < 64 {
			m = 1 + iter // every short length, both KWP code paths
		}
		pt = randBytes(m)
		ct, err = WrapKWP(kek, pt)
		if err != nil {
			t.Fatalf("WrapKWP(%d bytes): %v", m, err)
		}
		if want := (m+7)/8*8 + 8; len(ct) != want {
			t.Fatalf("WrapKWP(%d bytes) gave %d bytes, want %d", m, len(ct), want)
		}
		back, err = UnwrapKWP(kek, ct)
		if err != nil || !bytes.Equal(back, pt) {
			t.Fatalf("KWP round trip of %d bytes failed: %v", m, err)
		}
		if len(back) != cap(back) {
			t.Fatalf("UnwrapKWP result exposes %d padding bytes in its capacity", cap(back)-len(back))
		}
	}
}

// FuzzUnwrap feeds arbitrary ciphertexts (and KEKs of a fuzzed size) to both
// unwrap functions: they must never panic, and whatever unwraps must wrap
// back to the same ciphertext. The same bytes are also wrapped as plaintext
// so the fuzzer reaches the successful-unwrap paths.
func FuzzUnwrap(f *testing.F) {
	kek192 := unhexKW(f, "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8")
	f.Add(uint8(0), unhexKW(f, "000102030405060708090A0B0C0D0E0F"),
		unhexKW(f, "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"))
	f.Add(uint8(1), kek192, unhexKW(f, "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"))
	f.Add(uint8(1), kek192, unhexKW(f, "afbeb0f07dfbf5419200f2ccb50bb24f"))
	f.Add(uint8(2), []byte("k"), []byte{})
	f.Add(uint8(3), []byte("short"), make([]byte, 24))
	f.Add(uint8(2), []byte{}, make([]byte, 17))

	f.Fuzz(func(t *testing.T, sel uint8, keyMaterial, data []byte) {
		// sel picks the KEK size: 16, 24 or 32 bytes (derived from
		// keyMaterial), or keyMaterial as is, whatever its length.
		kek := keyMaterial
		if s := int(sel % 4); s < 3 {
			kek = make([]byte, 16+8*s)
			copy(kek, keyMaterial)
		}
		validKEK := len(kek) == 16 || len(kek) == 24 || len(kek) == 32

		if pt, err := UnwrapKW(kek, data); err == nil {
			ct, err := WrapKW(kek, pt)
			if err != nil || !bytes.Equal(ct, data) {
				t.Fatalf("UnwrapKW succeeded but WrapKW does not round-trip: %v", err)
			}
		} else if pt != nil {
			t.Fatal("UnwrapKW returned data with an error")
		}
		if pt, err := UnwrapKWP(kek, data); err == nil {
			ct, err := WrapKWP(kek, pt)
			if err != nil || !bytes.Equal(ct, data) {
				t.Fatalf("UnwrapKWP succeeded but WrapKWP does not round-trip: %v", err)
			}
		} else if pt != nil {
			t.Fatal("UnwrapKWP returned data with an error")
		}

		ct, err := WrapKW(kek, data)
		if wantOK := validKEK && len(data) >= 16 && len(data)%8 == 0; (err == nil) != wantOK {
			t.Fatalf("WrapKW(kek %d, data %d): err = %v", len(kek), len(data), err)
		}
		if err == nil {
			if back, err := UnwrapKW(kek, ct); err != nil || !bytes.Equal(back, data) {
				t.Fatalf("KW round trip failed: %v", err)
			}
		}
		ct, err = WrapKWP(kek, data)
		if wantOK := validKEK && len(data) > 0; (err == nil) != wantOK {
			t.Fatalf("WrapKWP(kek %d, data %d): err = %v", len(kek), len(data), err)
		}
		if err == nil {
			if back, err := UnwrapKWP(kek, ct); err != nil || !bytes.Equal(back, data) {
				t.Fatalf("KWP round trip failed: %v", err)
			}
		}
	})
}

// Wycheproof keywrap_test_schema_v1.json.
type kwWycheproofFile struct {
	Algorithm     string `json:"algorithm"`
	NumberOfTests int    `json:"numberOfTests"`
	TestGroups    []struct {
		KeySize int `json:"keySize"`
		Tests   []struct {
			TcID    int      `json:"tcId"`
			Comment string   `json:"comment"`
			Flags   []string `json:"flags"`
			Key     string   `json:"key"`
			Msg     string   `json:"msg"`
			Ct      string   `json:"ct"`
			Result  string   `json:"result"`
		} `json:"tests"`
	} `json:"testGroups"`
}

func TestKWWycheproof(t *testing.T) {
	runKWWycheproof(t, "aes_wrap_test.json", WrapKW, UnwrapKW,
		func(ptLen int) bool { return ptLen >= 16 && ptLen%8 == 0 },
		func(ctLen int) bool { return ctLen >= 24 && ctLen%8 == 0 })
}

func TestKWPWycheproof(t *testing.T) {
	runKWWycheproof(t, "aes_kwp_test.json", WrapKWP, UnwrapKWP,
		func(ptLen int) bool { return ptLen >= 1 },
		func(ctLen int) bool { return ctLen >= 16 && ctLen%8 == 0 })
}

// runKWWycheproof runs every case of one Wycheproof key-wrap file in both
// directions:
//   - valid: wrap(msg) == ct and unwrap(ct) == msg.
//   - invalid: unwrap(ct) fails — with ErrUnwrap when ct has a size the
//     algorithm accepts, with a size error otherwise. wrap(msg) fails when
//     msg has a size the algorithm rejects (empty; for KW also short or not
//     a multiple of 8), and otherwise succeeds with a different ciphertext
//     (the case is about ct only).
//   - acceptable: the only ones are the KW "ShortKey" cases, an 8-byte key
//     wrapped as the single block AES(IV || P), which RFC 3394 §2 allows but
//     NIST SP 800-38F and PKCS#11 CKM_AES_KEY_WRAP do not. Craton rejects
//     them: wrap of 8 bytes fails and a 16-byte KW ciphertext does not
//     unwrap. (KWP covers short keys.)
func runKWWycheproof(t *testing.T, file string,
	wrap func(kek, pt []byte) ([]byte, error),
	unwrap func(kek, ct []byte) ([]byte, error),
	ptSizeOK, ctSizeOK func(int) bool,
) {
	path := filepath.Join(wycheproofDir(t), file)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vf kwWycheproofFile
	if err := json.Unmarshal(raw, &vf); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	counts := map[string]int{}
	total := 0
	for _, g := range vf.TestGroups {
		for _, tc := range g.Tests {
			total++
			counts[tc.Result]++
			key, msg, ct := unhexKW(t, tc.Key), unhexKW(t, tc.Msg), unhexKW(t, tc.Ct)
			if len(key)*8 != g.KeySize {
				t.Errorf("%s tcId %d: key is %d bits, group says %d", file, tc.TcID, len(key)*8, g.KeySize)
			}
			desc := func() string {
				return fmt.Sprintf("%s tcId %d (%s, %q, %s)", file, tc.TcID, tc.Result, tc.Comment, strings.Join(tc.Flags, ","))
			}
			gotCT, wrapErr := wrap(key, msg)
			gotPT, unwrapErr := unwrap(key, ct)
			switch tc.Result {
			case "valid":
				if wrapErr != nil || !bytes.Equal(gotCT, ct) {
					t.Errorf("%s: wrap = %x, %v; want %x", desc(), gotCT, wrapErr, ct)
				}
				if unwrapErr != nil || !bytes.Equal(gotPT, msg) {
					t.Errorf("%s: unwrap = %x, %v; want %x", desc(), gotPT, unwrapErr, msg)
				}
			case "invalid":
				if unwrapErr == nil {
					t.Errorf("%s: unwrap succeeded with %x", desc(), gotPT)
				} else if ctSizeOK(len(ct)) && !errors.Is(unwrapErr, ErrUnwrap) {
					t.Errorf("%s: unwrap error %v, want ErrUnwrap", desc(), unwrapErr)
				}
				switch {
				case !ptSizeOK(len(msg)) && wrapErr == nil:
					t.Errorf("%s: wrap accepted a %d-byte msg", desc(), len(msg))
				case ptSizeOK(len(msg)) && wrapErr != nil:
					t.Errorf("%s: wrap of a %d-byte msg failed: %v", desc(), len(msg), wrapErr)
				case wrapErr == nil && bytes.Equal(gotCT, ct):
					t.Errorf("%s: wrap(msg) reproduced the invalid ciphertext", desc())
				}
			case "acceptable":
				if !strings.Contains(strings.Join(tc.Flags, ","), "ShortKey") {
					t.Errorf("%s: unexpected acceptable case; decide and document how to treat it", desc())
					continue
				}
				if wrapErr == nil {
					t.Errorf("%s: wrap of an 8-byte key succeeded; Craton rejects it", desc())
				}
				if unwrapErr == nil {
					t.Errorf("%s: unwrap of a single-block KW ciphertext succeeded; Craton rejects it", desc())
				}
			default:
				t.Errorf("%s: unknown result %q", desc(), tc.Result)
			}
		}
	}
	t.Logf("%s (%s): %d cases: %d valid, %d invalid, %d acceptable",
		file, vf.Algorithm, total, counts["valid"], counts["invalid"], counts["acceptable"])
	if total == 0 {
		t.Fatalf("%s: no test cases", file)
	}
	if total != vf.NumberOfTests {
		t.Errorf("%s: ran %d cases, file declares %d", file, total, vf.NumberOfTests)
	}
}
