package backend

// Shared helpers of the known-answer tests (kat_*_test.go): hex, RV checks,
// mechanism parameter builders in the C layouts of pkcs11/ck/params.go,
// single- and multi-part drivers for the backend's operations, Wycheproof
// file loading with case accounting, and the FIPS-mode re-exec.
// Vector provenance: testdata/README.md.

import (
	"bytes"
	"crypto/fips140"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	. "github.com/craton-hsm/craton/pkcs11/ck"
)

// katHex decodes hex, ignoring spaces, tabs and newlines.
func katHex(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.NewReplacer(" ", "", "\n", "", "\t", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// katRV is the CK_RV an error carries (CKR_OK for nil).
func katRV(err error) RV {
	rv, _ := RVOf(err)
	return rv
}

// katWantRV fails unless err carries one of want.
func katWantRV(t testing.TB, what string, err error, want ...RV) {
	t.Helper()
	got := katRV(err)
	for _, w := range want {
		if got == w {
			return
		}
	}
	t.Errorf("%s: got %v (%v), want %v", what, got, err, want)
}

func katUlong(b []byte, off int, v uint64) { binary.NativeEndian.PutUint64(b[off:], v) }

// katGCM builds CK_GCM_PARAMS.
func katGCM(iv, aad []byte, tagBits uint64) Mechanism {
	raw := make([]byte, 48)
	katUlong(raw, 8, uint64(len(iv)))
	katUlong(raw, 16, uint64(len(iv))*8)
	katUlong(raw, 32, uint64(len(aad)))
	katUlong(raw, 40, tagBits)
	return Mechanism{Type: CKM_AES_GCM, Param: raw, Bufs: [][]byte{iv, aad}}
}

// katCTR builds CK_AES_CTR_PARAMS.
func katCTR(cb []byte, counterBits uint64) Mechanism {
	raw := make([]byte, 24)
	katUlong(raw, 0, counterBits)
	copy(raw[8:], cb)
	return Mechanism{Type: CKM_AES_CTR, Param: raw}
}

// katOAEP builds CK_RSA_PKCS_OAEP_PARAMS with CKZ_DATA_SPECIFIED.
func katOAEP(hash, mgf uint64, label []byte) Mechanism {
	raw := make([]byte, 40)
	katUlong(raw, 0, hash)
	katUlong(raw, 8, mgf)
	katUlong(raw, 16, CKZ_DATA_SPECIFIED)
	katUlong(raw, 32, uint64(len(label)))
	return Mechanism{Type: CKM_RSA_PKCS_OAEP, Param: raw, Bufs: [][]byte{label}}
}

// katPSS builds a PSS mechanism with CK_RSA_PKCS_PSS_PARAMS.
func katPSS(mech, hash, mgf, saltLen uint64) Mechanism {
	raw := make([]byte, 24)
	katUlong(raw, 0, hash)
	katUlong(raw, 8, mgf)
	katUlong(raw, 16, saltLen)
	return Mechanism{Type: mech, Param: raw}
}

// katECDH builds CK_ECDH1_DERIVE_PARAMS with CKD_NULL and no shared data.
func katECDH(public []byte) Mechanism {
	raw := make([]byte, 40)
	katUlong(raw, 0, CKD_NULL)
	katUlong(raw, 24, uint64(len(public)))
	return Mechanism{Type: CKM_ECDH1_DERIVE, Param: raw, Bufs: [][]byte{{}, public}}
}

// katHKDF builds CK_HKDF_PARAMS for CKM_HKDF_DERIVE or CKM_HKDF_DATA.
func katHKDF(mech uint64, extract, expand bool, prf, saltType uint64, salt, info []byte) Mechanism {
	raw := make([]byte, 64)
	if extract {
		raw[0] = 1
	}
	if expand {
		raw[1] = 1
	}
	katUlong(raw, 8, prf)
	katUlong(raw, 16, saltType)
	katUlong(raw, 32, uint64(len(salt)))
	katUlong(raw, 56, uint64(len(info)))
	return Mechanism{Type: mech, Param: raw, Bufs: [][]byte{salt, info}}
}

// Curve parameters as CKA_EC_PARAMS holds them, built here rather than
// borrowed from keys.go so a wrong OID there would show.
var (
	katP256    = []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07} // 1.2.840.10045.3.1.7
	katP384    = []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}                   // 1.3.132.0.34
	katP521    = []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23}                   // 1.3.132.0.35
	katEd25519 = []byte{0x06, 0x03, 0x2b, 0x65, 0x70}                               // 1.3.101.112
)

// katCrypt runs a cipher as a single-part operation: one Update with all
// of in, then Final. It checks the two-call length bounds on the way, and
// that OneShot (what C_Encrypt and C_Decrypt use) agrees: the same result
// or the same CK_RV, byte for byte where the mechanism is deterministic,
// and written into the caller's buffer for the AES modes that can.
func katCrypt(b *Backend, mech Mechanism, keyType uint64, key Attrs, purpose uint64, in []byte) ([]byte, error) {
	c, err := b.NewCipher(mech, keyType, key, purpose)
	if err != nil {
		return nil, err
	}
	out, err := katRunCipher(c, in, nil)
	one, err1 := b.NewCipher(mech, keyType, key, purpose)
	if err1 != nil {
		return nil, fmt.Errorf("a second NewCipher failed: %v", err1)
	}
	dst := make([]byte, 0, one.OneShotLen(len(in)))
	got, err1 := one.OneShot(dst, in)
	rv, _ := RVOf(err)
	rv1, _ := RVOf(err1)
	encrypt := purpose == ForEncrypt || purpose == ForWrap
	random := (encrypt && keyType == CKK_RSA) || (encrypt && mech.Type == CKM_AES_GCM && b.fips)
	switch {
	case rv != rv1:
		return nil, fmt.Errorf("OneShot gave %v, Update+Final %v", err1, err)
	case err != nil:
		return nil, err
	case len(got) != len(out) || (!random && !bytes.Equal(got, out)):
		return nil, fmt.Errorf("OneShot gave %x, Update+Final %x", got, out)
	case keyType == CKK_AES && mech.Type != CKM_AES_KEY_WRAP && mech.Type != CKM_AES_KEY_WRAP_KWP &&
		!(encrypt && mech.Type == CKM_AES_GCM && b.fips) && len(got) > 0 && &got[0] != &dst[:1][0]:
		return nil, fmt.Errorf("OneShot did not write into the caller's buffer")
	}
	return out, nil
}

// katRunCipher feeds in to c in the pieces splits marks (ascending offsets),
// then finishes. Every Update and the Final must stay within the length the
// matching *Len method announced before the call.
func katRunCipher(c Cipher, in []byte, splits []int) ([]byte, error) {
	bound := c.OneShotLen(len(in))
	var out []byte
	prev := 0
	for _, s := range append(append([]int{}, splits...), len(in)) {
		piece := in[prev:s]
		prev = s
		n := c.UpdateLen(len(piece))
		o, err := c.Update(piece)
		if err != nil {
			return nil, err
		}
		if len(o) > n {
			return nil, katLenErr("Update", len(o), n)
		}
		out = append(out, o...)
	}
	n := c.FinalLen()
	o, err := c.Final()
	if err != nil {
		return nil, err
	}
	if len(o) > n {
		return nil, katLenErr("Final", len(o), n)
	}
	out = append(out, o...)
	if len(out) > bound {
		return nil, katLenErr("one-shot", len(out), bound)
	}
	return out, nil
}

type katLenError struct {
	what      string
	got, want int
}

func (e katLenError) Error() string {
	return fmt.Sprintf("%s returned %d bytes, more than the %d it announced", e.what, e.got, e.want)
}

func katLenErr(what string, got, want int) error { return katLenError{what, got, want} }

// katSign signs msg in one part.
func katSign(b *Backend, mech Mechanism, keyType uint64, key Attrs, msg []byte) ([]byte, error) {
	s, err := b.NewSigner(mech, keyType, key)
	if err != nil {
		return nil, err
	}
	if err := s.Update(msg); err != nil {
		return nil, err
	}
	sig, err := s.Sign()
	if err == nil && len(sig) > s.Len() {
		return nil, katLenErr("Sign", len(sig), s.Len())
	}
	return sig, err
}

// katVerify verifies sig over msg in one part.
func katVerify(b *Backend, mech Mechanism, keyType uint64, key Attrs, msg, sig []byte) error {
	v, err := b.NewVerifier(mech, keyType, key)
	if err != nil {
		return err
	}
	if err := v.Update(msg); err != nil {
		return err
	}
	return v.Verify(sig)
}

// katBig strips the sign/leading zero bytes of a big-endian integer, as
// PKCS#11 big integers are written.
func katBig(b []byte) []byte { return new(big.Int).SetBytes(b).Bytes() }

// katFixed left-pads (or strips leading zeros of) a big-endian integer to n
// bytes.
func katFixed(b []byte, n int) []byte {
	return new(big.Int).SetBytes(b).FillBytes(make([]byte, n))
}

// ---- Wycheproof ----

// katWycheproofHeader is the part of every Wycheproof file the accounting
// needs.
type katWycheproofHeader struct {
	Algorithm     string `json:"algorithm"`
	Schema        string `json:"schema"`
	NumberOfTests int    `json:"numberOfTests"`
}

// katLoadWycheproof reads testvectors_v1/name into v (which should embed
// katWycheproofHeader) and returns the header.
func katLoadWycheproof(t *testing.T, name string, v any) katWycheproofHeader {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(wycheproofDir(t), name))
	if err != nil {
		t.Fatalf("Wycheproof file %s: %v", name, err)
	}
	var h katWycheproofHeader
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return h
}

// katTally counts what a Wycheproof run did with each case.
type katTally struct {
	valid, invalid, acceptable int
	skipped                    map[string]int
}

func (k *katTally) ran(result string) {
	switch result {
	case "valid":
		k.valid++
	case "invalid":
		k.invalid++
	default:
		k.acceptable++
	}
}

func (k *katTally) skip(reason string) {
	if k.skipped == nil {
		k.skipped = map[string]int{}
	}
	k.skipped[reason]++
}

func (k *katTally) skips() int {
	n := 0
	for _, c := range k.skipped {
		n += c
	}
	return n
}

// check logs the counts and asserts that every case of the file was either
// run or skipped for a documented reason, and that the skips are exactly
// the documented number (testdata/README.md).
func (k *katTally) check(t *testing.T, file string, h katWycheproofHeader, wantSkips int) {
	t.Helper()
	ran := k.valid + k.invalid + k.acceptable
	t.Logf("%s: %d of numberOfTests=%d run (%d valid, %d invalid, %d acceptable), %d skipped %v",
		file, ran, h.NumberOfTests, k.valid, k.invalid, k.acceptable, k.skips(), k.skipped)
	if ran == 0 && wantSkips != h.NumberOfTests {
		t.Errorf("%s: no case ran", file)
	}
	if ran+k.skips() != h.NumberOfTests {
		t.Errorf("%s: %d run + %d skipped != numberOfTests %d", file, ran, k.skips(), h.NumberOfTests)
	}
	if k.skips() != wantSkips {
		t.Errorf("%s: %d skipped, the documented number is %d", file, k.skips(), wantSkips)
	}
}

// ---- FIPS mode ----

const (
	katFIPSChildEnv    = "CRATON_KAT_FIPS_CHILD"
	katFIPSUnavailable = "CRATON-KAT: fips140 cannot be enabled in this process"
)

// katFIPSBackend returns the FIPS backend when Go's FIPS 140-3 module is on
// in this process. Otherwise it re-runs the calling top-level test in a
// child process of this test binary with GODEBUG=fips140=on, reports the
// child's result as this test's, and returns nil: the caller returns. The
// test is skipped only when the child shows that fips140 cannot be enabled.
func katFIPSBackend(t *testing.T, o Options) *Backend {
	t.Helper()
	if fips140.Enabled() {
		b, err := NewFIPS(o)
		if err != nil {
			t.Fatalf("NewFIPS with the module on: %v", err)
		}
		if !b.FIPS() {
			t.Fatal("NewFIPS returned a backend that is not FIPS")
		}
		return b
	}
	if os.Getenv(katFIPSChildEnv) != "" {
		// The child was started with fips140=on, and the module is still
		// off: this build or host cannot enable it.
		os.Stdout.WriteString(katFIPSUnavailable + "\n")
		t.Skip(katFIPSUnavailable)
	}
	if _, err := NewFIPS(o); err == nil {
		t.Fatal("NewFIPS succeeded with Go's FIPS module off")
	}
	if strings.Contains(t.Name(), "/") {
		t.Fatal("katFIPSBackend must be called from a top-level test")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("os.Executable: %v", err)
	}
	var env []string
	godebug := "fips140=on"
	for _, e := range os.Environ() {
		if v, ok := strings.CutPrefix(e, "GODEBUG="); ok {
			for _, s := range strings.Split(v, ",") {
				if s != "" && !strings.HasPrefix(s, "fips140=") {
					godebug += "," + s
				}
			}
			continue
		}
		env = append(env, e)
	}
	env = append(env, "GODEBUG="+godebug, katFIPSChildEnv+"=1")
	cmd := exec.Command(exe, "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.v", "-test.count=1", "-test.timeout=5m")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	switch {
	case bytes.Contains(out, []byte(katFIPSUnavailable)):
		t.Skipf("%s (child with GODEBUG=%s)", katFIPSUnavailable, godebug)
	case err != nil:
		t.Fatalf("FIPS-mode child (GODEBUG=%s) failed: %v\n%s", godebug, err, out)
	case !bytes.Contains(out, []byte("--- PASS: "+t.Name())):
		t.Fatalf("FIPS-mode child did not run %s:\n%s", t.Name(), out)
	}
	// Keep the log short: the child's results, not its "=== RUN" lines.
	var kept []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "=== ") {
			kept = append(kept, l)
		}
	}
	t.Logf("ran in a child process with GODEBUG=%s:\n%s", godebug, strings.Join(kept, "\n"))
	return nil
}
