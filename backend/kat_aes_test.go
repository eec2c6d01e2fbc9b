package backend

import (
	"bytes"
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"

	. "github.com/craton-hsm/craton/pkcs11/ck"
)

// NIST SP 800-38A (2001), Appendix F: the example vectors for ECB (F.1),
// CBC (F.2) and CTR (F.5). Every example uses the same four-block
// plaintext, one key per AES size, the CBC IV below and the CTR initial
// counter block below.
const (
	katSP80038APlain = "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51" +
		"30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710"
	katSP80038AKey128 = "2b7e151628aed2a6abf7158809cf4f3c"
	katSP80038AKey192 = "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b"
	katSP80038AKey256 = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"
	katSP80038AIV     = "000102030405060708090a0b0c0d0e0f"
	katSP80038ACtr    = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
)

var katSP80038A = []struct {
	enc, dec string // the sections of the encryption and decryption examples
	mode     uint64
	key      string
	ct       string
}{
	{"F.1.1", "F.1.2", CKM_AES_ECB, katSP80038AKey128,
		"3ad77bb40d7a3660a89ecaf32466ef97 f5d3d58503b9699de785895a96fdbaaf 43b1cd7f598ece23881b00e3ed030688 7b0c785e27e8ad3f8223207104725dd4"},
	{"F.1.3", "F.1.4", CKM_AES_ECB, katSP80038AKey192,
		"bd334f1d6e45f25ff712a214571fa5cc 974104846d0ad3ad7734ecb3ecee4eef ef7afd2270e2e60adce0ba2face6444e 9a4b41ba738d6c72fb16691603c18e0e"},
	{"F.1.5", "F.1.6", CKM_AES_ECB, katSP80038AKey256,
		"f3eed1bdb5d2a03c064b5a7e3db181f8 591ccb10d410ed26dc5ba74a31362870 b6ed21b99ca6f4f9f153e7b1beafed1d 23304b7a39f9f3ff067d8d8f9e24ecc7"},
	{"F.2.1", "F.2.2", CKM_AES_CBC, katSP80038AKey128,
		"7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2 73bed6b8e3c1743b7116e69e22229516 3ff1caa1681fac09120eca307586e1a7"},
	{"F.2.3", "F.2.4", CKM_AES_CBC, katSP80038AKey192,
		"4f021db243bc633d7178183a9fa071e8 b4d9ada9ad7dedf4e5e738763f69145a 571b242012fb7ae07fa9baac3df102e0 08b0e27988598881d920a9e64f5615cd"},
	{"F.2.5", "F.2.6", CKM_AES_CBC, katSP80038AKey256,
		"f58c4c04d6e5f1ba779eabfb5f7bfbd6 9cfc4e967edb808d679f777bc6702c7d 39f23369a9d9bacfa530e26304231461 b2eb05e2c39be9fcda6c19078c6a9d1b"},
	{"F.5.1", "F.5.2", CKM_AES_CTR, katSP80038AKey128,
		"874d6191b620e3261bef6864990db6ce 9806f66b7970fdff8617187bb9fffdff 5ae4df3edbd5d35e5b4f09020db03eab 1e031dda2fbe03d1792170a0f3009cee"},
	{"F.5.3", "F.5.4", CKM_AES_CTR, katSP80038AKey192,
		"1abc932417521ca24f2b0459fe7e6e0b 090339ec0aa6faefd5ccc2c6f4ce8e94 1e36b26bd1ebc670d1bd1d665620abf7 4f78a7f6d29809585a97daec58c6b050"},
	{"F.5.5", "F.5.6", CKM_AES_CTR, katSP80038AKey256,
		"601ec313775789a5b7a7f504bbf3d228 f443e3ca4d62b59aca84e990cacaf5c5 2b0930daa23de94ce87017ba2d84988d dfc9c58db67aada613c2dd08457941a6"},
}

func katAESKey(k []byte) Attrs { return Attrs{CKA_VALUE: k} }

func TestKATAESSP80038A(t *testing.T) {
	b := NewDefault(Options{})
	pt := katHex(t, katSP80038APlain)
	for _, v := range katSP80038A {
		key := katAESKey(katHex(t, v.key))
		ct := katHex(t, v.ct)
		var mechs []Mechanism
		switch v.mode {
		case CKM_AES_ECB:
			mechs = []Mechanism{{Type: CKM_AES_ECB}}
		case CKM_AES_CBC:
			mechs = []Mechanism{{Type: CKM_AES_CBC, Param: katHex(t, katSP80038AIV)}}
		case CKM_AES_CTR:
			// The example's counter is the whole block; its low 32 bits
			// (fcfdfeff..fcfdff02) do not wrap, so a 32-bit counter gives
			// the same stream.
			mechs = []Mechanism{katCTR(katHex(t, katSP80038ACtr), 128), katCTR(katHex(t, katSP80038ACtr), 32)}
		}
		for _, m := range mechs {
			name := fmt.Sprintf("SP800-38A_%s_%s_AES%d", v.enc, MechName(v.mode), len(key[CKA_VALUE])*8)
			t.Run(name, func(t *testing.T) {
				got, err := katCrypt(b, m, CKK_AES, key, ForEncrypt, pt)
				if err != nil || !bytes.Equal(got, ct) {
					t.Errorf("%s encrypt = %x, %v; want %x", v.enc, got, err, ct)
				}
				got, err = katCrypt(b, m, CKK_AES, key, ForDecrypt, ct)
				if err != nil || !bytes.Equal(got, pt) {
					t.Errorf("%s decrypt = %x, %v; want %x", v.dec, got, err, pt)
				}
				// Block by block, as four Update calls.
				for _, dir := range []struct {
					purpose uint64
					in, out []byte
				}{{ForEncrypt, pt, ct}, {ForDecrypt, ct, pt}} {
					c, err := b.NewCipher(m, CKK_AES, key, dir.purpose)
					if err != nil {
						t.Fatal(err)
					}
					got, err := katRunCipher(c, dir.in, []int{16, 32, 48})
					if err != nil || !bytes.Equal(got, dir.out) {
						t.Errorf("multi-part purpose %#x = %x, %v; want %x", dir.purpose, got, err, dir.out)
					}
				}
			})
		}
	}
}

// katPKCS7 pads in to whole AES blocks (RFC 5652 §6.3, the CBC-PAD rule).
func katPKCS7(in []byte) []byte {
	p := 16 - len(in)%16
	return append(append([]byte{}, in...), bytes.Repeat([]byte{byte(p)}, p)...)
}

// CBC-PAD at every length 0..48 and every key size: the ciphertext is the
// plain CBC encryption of the PKCS#7-padded input (checked through
// CKM_AES_CBC, whose F.2 answers are known), and it decrypts back.
func TestKATAESCBCPadRoundTrip(t *testing.T) {
	b := NewDefault(Options{})
	r := rand.New(rand.NewChaCha8([32]byte{'c', 'b', 'c'}))
	for _, size := range []int{16, 24, 32} {
		key := make([]byte, size)
		iv := make([]byte, 16)
		for n := 0; n <= 48; n++ {
			fillRand(r, key)
			fillRand(r, iv)
			msg := make([]byte, n)
			fillRand(r, msg)
			pad := Mechanism{Type: CKM_AES_CBC_PAD, Param: iv}
			ct, err := katCrypt(b, pad, CKK_AES, katAESKey(key), ForEncrypt, msg)
			if err != nil {
				t.Fatalf("AES-%d CBC-PAD encrypt %d bytes: %v", size*8, n, err)
			}
			if want := (n/16 + 1) * 16; len(ct) != want {
				t.Errorf("AES-%d CBC-PAD: %d bytes gave %d, want %d", size*8, n, len(ct), want)
			}
			plain, err := katCrypt(b, Mechanism{Type: CKM_AES_CBC, Param: iv}, CKK_AES, katAESKey(key), ForEncrypt, katPKCS7(msg))
			if err != nil || !bytes.Equal(ct, plain) {
				t.Errorf("AES-%d CBC-PAD(%d bytes) = %x, CBC(PKCS#7) = %x %v", size*8, n, ct, plain, err)
			}
			back, err := katCrypt(b, pad, CKK_AES, katAESKey(key), ForDecrypt, ct)
			if err != nil || !bytes.Equal(back, msg) {
				t.Errorf("AES-%d CBC-PAD decrypt %d bytes = %x, %v; want %x", size*8, n, back, err, msg)
			}
			// Wrap and unwrap are the same transformation.
			w, err := katCrypt(b, pad, CKK_AES, katAESKey(key), ForWrap, msg)
			if err != nil || !bytes.Equal(w, ct) {
				t.Errorf("AES-%d CBC-PAD wrap %d bytes = %x, %v; want %x", size*8, n, w, err, ct)
			}
			u, err := katCrypt(b, pad, CKK_AES, katAESKey(key), ForUnwrap, ct)
			if err != nil || !bytes.Equal(u, msg) {
				t.Errorf("AES-%d CBC-PAD unwrap %d bytes = %x, %v", size*8, n, u, err)
			}
		}
	}
}

func fillRand(r *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(r.Uint32())
	}
}

// Bad CBC-PAD padding is CKR_ENCRYPTED_DATA_INVALID; a ciphertext that is
// not whole blocks (or empty) is CKR_ENCRYPTED_DATA_LEN_RANGE.
func TestKATAESCBCPadErrors(t *testing.T) {
	b := NewDefault(Options{})
	key := katAESKey(katHex(t, katSP80038AKey128))
	iv := katHex(t, katSP80038AIV)
	pad := Mechanism{Type: CKM_AES_CBC_PAD, Param: iv}
	raw := Mechanism{Type: CKM_AES_CBC, Param: iv}
	// Each entry is a padded plaintext (whole blocks) whose padding is
	// wrong; it is encrypted with raw CBC, and CBC-PAD must refuse it.
	bad := map[string][]byte{
		"last byte 0x00":        append(bytes.Repeat([]byte{'a'}, 15), 0x00),
		"last byte 0x11":        append(bytes.Repeat([]byte{'a'}, 15), 0x11),
		"last byte 0xff":        append(bytes.Repeat([]byte{'a'}, 15), 0xff),
		"0x02 after 0x01":       append(bytes.Repeat([]byte{'a'}, 14), 0x01, 0x02),
		"0x10 block, one wrong": append(append(bytes.Repeat([]byte{0x10}, 7), 0x0f), bytes.Repeat([]byte{0x10}, 8)...),
		"0x05 x4 then 0x05":     append(append(bytes.Repeat([]byte{'a'}, 11), 0x05, 0x05, 0x05, 0x04), 0x05),
		"two blocks, 0x20":      append(bytes.Repeat([]byte{0x20}, 31), 0x20),
		"two blocks, 0x00 tail": append(bytes.Repeat([]byte{'b'}, 31), 0x00),
	}
	for name, p := range bad {
		ct, err := katCrypt(b, raw, CKK_AES, key, ForEncrypt, p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = katCrypt(b, pad, CKK_AES, key, ForDecrypt, ct)
		katWantRV(t, name, err, CKR_ENCRYPTED_DATA_INVALID)
		// Fed in one byte at a time, the same.
		c, _ := b.NewCipher(pad, CKK_AES, key, ForDecrypt)
		splits := make([]int, 0, len(ct))
		for i := 1; i < len(ct); i++ {
			splits = append(splits, i)
		}
		_, err = katRunCipher(c, ct, splits)
		katWantRV(t, name+" (byte by byte)", err, CKR_ENCRYPTED_DATA_INVALID)
	}
	// A whole block of 0x10 is the padding of the empty message.
	ct, _ := katCrypt(b, raw, CKK_AES, key, ForEncrypt, bytes.Repeat([]byte{0x10}, 16))
	if got, err := katCrypt(b, pad, CKK_AES, key, ForDecrypt, ct); err != nil || len(got) != 0 {
		t.Errorf("full padding block = %x, %v; want empty", got, err)
	}
	for _, n := range []int{0, 1, 15, 17, 31, 33} {
		_, err := katCrypt(b, pad, CKK_AES, key, ForDecrypt, make([]byte, n))
		katWantRV(t, fmt.Sprintf("CBC-PAD decrypt of %d bytes", n), err, CKR_ENCRYPTED_DATA_LEN_RANGE)
	}
	for _, n := range []int{1, 15, 17} {
		_, err := katCrypt(b, raw, CKK_AES, key, ForEncrypt, make([]byte, n))
		katWantRV(t, fmt.Sprintf("CBC encrypt of %d bytes", n), err, CKR_DATA_LEN_RANGE)
		_, err = katCrypt(b, raw, CKK_AES, key, ForDecrypt, make([]byte, n))
		katWantRV(t, fmt.Sprintf("CBC decrypt of %d bytes", n), err, CKR_ENCRYPTED_DATA_LEN_RANGE)
		_, err = katCrypt(b, Mechanism{Type: CKM_AES_ECB}, CKK_AES, key, ForEncrypt, make([]byte, n))
		katWantRV(t, fmt.Sprintf("ECB encrypt of %d bytes", n), err, CKR_DATA_LEN_RANGE)
	}
	for _, m := range []Mechanism{{Type: CKM_AES_CBC_PAD, Param: iv[:15]}, {Type: CKM_AES_CBC}, {Type: CKM_AES_ECB, Param: iv}, katCTR(iv, 0), katCTR(iv, 129)} {
		_, err := b.NewCipher(m, CKK_AES, key, ForEncrypt)
		katWantRV(t, MechName(m.Type)+" with a bad parameter", err, CKR_MECHANISM_PARAM_INVALID)
	}
}

// Multi-part equals single-part, for random inputs cut at random points,
// in both directions, for every AES mode with a multi-part form.
func TestKATAESMultiPartEqualsSinglePart(t *testing.T) {
	b := NewDefault(Options{})
	seed := [32]byte{'m', 'u', 'l', 't', 'i'}
	r := rand.New(rand.NewChaCha8(seed))
	t.Logf("seed %x", seed)
	for round := range 60 {
		key := make([]byte, []int{16, 24, 32}[round%3])
		fillRand(r, key)
		iv := make([]byte, 16)
		fillRand(r, iv)
		aad := make([]byte, r.IntN(40))
		fillRand(r, aad)
		for _, m := range []Mechanism{
			{Type: CKM_AES_ECB},
			{Type: CKM_AES_CBC, Param: iv},
			{Type: CKM_AES_CBC_PAD, Param: iv},
			katCTR(iv, 128),
			katGCM(iv[:12], aad, 128),
			katGCM(iv[:12], aad, 96),
			katGCM(iv, aad, 128),
		} {
			n := r.IntN(200)
			if m.Type == CKM_AES_ECB || m.Type == CKM_AES_CBC {
				n = n / 16 * 16
			}
			msg := make([]byte, n)
			fillRand(r, msg)
			ct, err := katCrypt(b, m, CKK_AES, katAESKey(key), ForEncrypt, msg)
			if err != nil {
				t.Fatalf("%s: %v", MechName(m.Type), err)
			}
			for _, dir := range []struct {
				purpose uint64
				in, out []byte
			}{{ForEncrypt, msg, ct}, {ForDecrypt, ct, msg}} {
				splits := katSplits(r, len(dir.in))
				c, err := b.NewCipher(m, CKK_AES, katAESKey(key), dir.purpose)
				if err != nil {
					t.Fatal(err)
				}
				if c.SinglePartOnly() {
					t.Errorf("%s claims to be single-part only", MechName(m.Type))
				}
				got, err := katRunCipher(c, dir.in, splits)
				if err != nil || !bytes.Equal(got, dir.out) {
					t.Errorf("%s purpose %#x, %d bytes split at %v: %x, %v; single-part gave %x",
						MechName(m.Type), dir.purpose, len(dir.in), splits, got, err, dir.out)
				}
			}
		}
	}
}

// katSplits picks up to five ascending cut points in [0, n], repeats and
// empty pieces allowed.
func katSplits(r *rand.Rand, n int) []int {
	k := r.IntN(6)
	s := make([]int, k)
	for i := range s {
		s[i] = r.IntN(n + 1)
	}
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// CK_AES_CTR_PARAMS.ulCounterBits names the low bits of the counter block
// that count; the rest is nonce. PKCS#11 (v3.0 §2.10.3): "The counter bits
// are the least significant bits of the counter block (cb)." When the
// counter has run through all its values the operation must stop (Craton:
// CKR_DATA_LEN_RANGE, "it refuses to run past its counter's width"); it must
// never carry into the nonce bits. Wrapping inside the counter bits would
// also keep the nonce intact, and is accepted here too.
func TestKATAESCTRCounterWidth(t *testing.T) {
	b := NewDefault(Options{})
	key := katAESKey(katHex(t, katSP80038AKey128))
	ecb := func(blocks ...[]byte) []byte {
		out, err := katCrypt(b, Mechanism{Type: CKM_AES_ECB}, CKK_AES, key, ForEncrypt, bytes.Join(blocks, nil))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	cb := func(hexs string) []byte { return katHex(t, hexs) }
	cases := []struct {
		name  string
		bits  uint64
		start []byte
		// blocks allowed before the counter is exhausted; then the counter
		// block the next block would use if it wrapped inside its width
		allowed int
		wrapped []byte
	}{
		{"8-bit counter from 0x00", 8, cb("00112233445566778899aabbccddee00"), 256, cb("00112233445566778899aabbccddee00")},
		{"8-bit counter from 0xfe", 8, cb("00112233445566778899aabbccddeefe"), 2, cb("00112233445566778899aabbccddee00")},
		{"16-bit counter from 0xffff", 16, cb("00112233445566778899aabbccddffff"), 1, cb("00112233445566778899aabbccdd0000")},
		{"32-bit counter from 0xfffffffe", 32, cb("00112233445566778899aabbfffffffe"), 2, cb("00112233445566778899aabb00000000")},
		{"64-bit counter from 2^64-1", 64, cb("0011223344556677ffffffffffffffff"), 1, cb("00112233445566770000000000000000")},
		{"100-bit counter from 2^100-1", 100, cb("0011223" + "fffffffffffffffffffffffff"), 1, cb("0011223" + "0000000000000000000000000")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := katCTR(c.start, c.bits)
			// Exactly the allowed blocks work, as one part and as two.
			msg := make([]byte, 16*c.allowed)
			if _, err := katCrypt(b, m, CKK_AES, key, ForEncrypt, msg); err != nil {
				t.Fatalf("%d blocks within the counter: %v", c.allowed, err)
			}
			// One block more: refused, or the keystream of the counter
			// wrapped inside its bits.
			msg = make([]byte, 16*(c.allowed+1))
			got, err := katCrypt(b, m, CKK_AES, key, ForEncrypt, msg)
			if err != nil {
				katWantRV(t, "past the counter", err, CKR_DATA_LEN_RANGE)
				return
			}
			last := got[len(got)-16:]
			if want := ecb(c.wrapped); !bytes.Equal(last, want) {
				// Say what happened: the whole 128-bit block counted on.
				carried := new(big.Int).Add(new(big.Int).SetBytes(c.start), big.NewInt(int64(c.allowed)))
				cblk := carried.FillBytes(make([]byte, 16))
				how := "an unexplained counter block"
				if bytes.Equal(last, ecb(cblk)) {
					how = fmt.Sprintf("AES(%x): the counter carried into the nonce bits", cblk)
				}
				t.Errorf("block %d of a %d-bit counter starting at %x: not refused (want CKR_DATA_LEN_RANGE), "+
					"and its keystream %x is not AES(%x) of the counter wrapped inside its bits but %s",
					c.allowed+1, c.bits, c.start, last, c.wrapped, how)
			}
		})
	}
}

// Wycheproof aes_cbc_pkcs5_test.json through CKM_AES_CBC_PAD.
func TestKATWycheproofAESCBCPad(t *testing.T) {
	const file = "aes_cbc_pkcs5_test.json"
	var f struct {
		katWycheproofHeader
		TestGroups []struct {
			KeySize int `json:"keySize"`
			IVSize  int `json:"ivSize"`
			Tests   []struct {
				TcID    int    `json:"tcId"`
				Comment string `json:"comment"`
				Key     string `json:"key"`
				IV      string `json:"iv"`
				Msg     string `json:"msg"`
				Ct      string `json:"ct"`
				Result  string `json:"result"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	h := katLoadWycheproof(t, file, &f)
	b := NewDefault(Options{})
	var k katTally
	for _, g := range f.TestGroups {
		for _, tc := range g.Tests {
			k.ran(tc.Result)
			key, iv, msg, ct := katHex(t, tc.Key), katHex(t, tc.IV), katHex(t, tc.Msg), katHex(t, tc.Ct)
			m := Mechanism{Type: CKM_AES_CBC_PAD, Param: iv}
			pt, err := katCrypt(b, m, CKK_AES, katAESKey(key), ForDecrypt, ct)
			switch tc.Result {
			case "valid":
				if err != nil || !bytes.Equal(pt, msg) {
					t.Errorf("tcId %d (%s): decrypt = %x, %v; want %x", tc.TcID, tc.Comment, pt, err, msg)
				}
				got, err := katCrypt(b, m, CKK_AES, katAESKey(key), ForEncrypt, msg)
				if err != nil || !bytes.Equal(got, ct) {
					t.Errorf("tcId %d (%s): encrypt = %x, %v; want %x", tc.TcID, tc.Comment, got, err, ct)
				}
			default:
				if err == nil {
					t.Errorf("tcId %d (%s): invalid ciphertext decrypted to %x", tc.TcID, tc.Comment, pt)
				} else {
					katWantRV(t, fmt.Sprintf("tcId %d (%s)", tc.TcID, tc.Comment), err,
						CKR_ENCRYPTED_DATA_INVALID, CKR_ENCRYPTED_DATA_LEN_RANGE)
				}
			}
		}
	}
	k.check(t, file, h, 0)
}
