package pkcs11

// This file is the contract between the Go core and cmd/libcraton: one
// method per C_* function, in Go types. cmd/libcraton copies arguments in,
// calls exactly one of these, copies results out and maps the error with
// ck.RVOf. Every PKCS#11 rule (argument validation beyond NULL checks,
// session states, the two-call length convention) lives behind these methods.
//
// Output convention for functions that write a byte buffer (C_Encrypt,
// C_Sign, C_WrapKey, …): the caller passes outCap = -1 when the output
// pointer is NULL (a length query), else the capacity of its buffer. The
// method returns (out, need, err):
//   - length query: out == nil, need = required length, err == nil, and
//     nothing is consumed;
//   - buffer too short: out == nil, need = required length,
//     err = CKR_BUFFER_TOO_SMALL, the operation stays active;
//   - success: out holds the result (len(out) == need), err == nil.
// The C layer writes need to *pulLen in every case where err is nil or
// CKR_BUFFER_TOO_SMALL, and copies out when it is not nil.

import "github.com/craton-hsm/craton/pkcs11/ck"

// Crypto operations not yet built return CKR_FUNCTION_NOT_SUPPORTED after
// checking the session, as the spec allows for an unimplemented function.
// Each is replaced by the mechanisms work.

func (m *Module) EncryptInit(sh uint64, mech ck.Mechanism, key uint64) error {
	return m.notSupported(sh)
}
func (m *Module) Encrypt(sh uint64, in []byte, outCap int64) ([]byte, uint64, error) {
	return nil, 0, m.notSupported(sh)
}
func (m *Module) EncryptUpdate(sh uint64, in []byte, outCap int64) ([]byte, uint64, error) {
	return nil, 0, m.notSupported(sh)
}
func (m *Module) EncryptFinal(sh uint64, outCap int64) ([]byte, uint64, error) {
	return nil, 0, m.notSupported(sh)
}
func (m *Module) DecryptInit(sh uint64, mech ck.Mechanism, key uint64) error {
	return m.notSupported(sh)
}
func (m *Module) Decrypt(sh uint64, in []byte, outCap int64) ([]byte, uint64, error) {
	return nil, 0, m.notSupported(sh)
}
func (m *Module) DecryptUpdate(sh uint64, in []byte, outCap int64) ([]byte, uint64, error) {
	return nil, 0, m.notSupported(sh)
}
func (m *Module) DecryptFinal(sh uint64, outCap int64) ([]byte, uint64, error) {
	return nil, 0, m.notSupported(sh)
}
func (m *Module) DigestInit(sh uint64, mech ck.Mechanism) error { return m.notSupported(sh) }
func (m *Module) Digest(sh uint64, in []byte, outCap int64) ([]byte, uint64, error) {
	return nil, 0, m.notSupported(sh)
}
func (m *Module) DigestUpdate(sh uint64, in []byte) error { return m.notSupported(sh) }
func (m *Module) DigestKey(sh uint64, key uint64) error   { return m.notSupported(sh) }
func (m *Module) DigestFinal(sh uint64, outCap int64) ([]byte, uint64, error) {
	return nil, 0, m.notSupported(sh)
}
func (m *Module) SignInit(sh uint64, mech ck.Mechanism, key uint64) error {
	return m.notSupported(sh)
}
func (m *Module) Sign(sh uint64, in []byte, outCap int64) ([]byte, uint64, error) {
	return nil, 0, m.notSupported(sh)
}
func (m *Module) SignUpdate(sh uint64, in []byte) error { return m.notSupported(sh) }
func (m *Module) SignFinal(sh uint64, outCap int64) ([]byte, uint64, error) {
	return nil, 0, m.notSupported(sh)
}
func (m *Module) SignRecoverInit(sh uint64, mech ck.Mechanism, key uint64) error {
	return m.notSupported(sh)
}
func (m *Module) SignRecover(sh uint64, in []byte, outCap int64) ([]byte, uint64, error) {
	return nil, 0, m.notSupported(sh)
}
func (m *Module) VerifyInit(sh uint64, mech ck.Mechanism, key uint64) error {
	return m.notSupported(sh)
}
func (m *Module) Verify(sh uint64, in, sig []byte) error  { return m.notSupported(sh) }
func (m *Module) VerifyUpdate(sh uint64, in []byte) error { return m.notSupported(sh) }
func (m *Module) VerifyFinal(sh uint64, sig []byte) error { return m.notSupported(sh) }
func (m *Module) VerifyRecoverInit(sh uint64, mech ck.Mechanism, key uint64) error {
	return m.notSupported(sh)
}
func (m *Module) VerifyRecover(sh uint64, sig []byte, outCap int64) ([]byte, uint64, error) {
	return nil, 0, m.notSupported(sh)
}
func (m *Module) DigestEncryptUpdate(sh uint64, in []byte, outCap int64) ([]byte, uint64, error) {
	return nil, 0, m.notSupported(sh)
}
func (m *Module) DecryptDigestUpdate(sh uint64, in []byte, outCap int64) ([]byte, uint64, error) {
	return nil, 0, m.notSupported(sh)
}
func (m *Module) SignEncryptUpdate(sh uint64, in []byte, outCap int64) ([]byte, uint64, error) {
	return nil, 0, m.notSupported(sh)
}
func (m *Module) DecryptVerifyUpdate(sh uint64, in []byte, outCap int64) ([]byte, uint64, error) {
	return nil, 0, m.notSupported(sh)
}
func (m *Module) GenerateKey(sh uint64, mech ck.Mechanism, tmpl ck.Template) (uint64, error) {
	return 0, m.notSupported(sh)
}
func (m *Module) GenerateKeyPair(sh uint64, mech ck.Mechanism, pub, priv ck.Template) (uint64, uint64, error) {
	return 0, 0, m.notSupported(sh)
}
func (m *Module) WrapKey(sh uint64, mech ck.Mechanism, wrapping, key uint64, outCap int64) ([]byte, uint64, error) {
	return nil, 0, m.notSupported(sh)
}
func (m *Module) UnwrapKey(sh uint64, mech ck.Mechanism, unwrapping uint64, wrapped []byte, tmpl ck.Template) (uint64, error) {
	return 0, m.notSupported(sh)
}
func (m *Module) DeriveKey(sh uint64, mech ck.Mechanism, base uint64, tmpl ck.Template) (uint64, error) {
	return 0, m.notSupported(sh)
}
func (m *Module) GetOperationState(sh uint64, outCap int64) ([]byte, uint64, error) {
	return nil, 0, m.notSupported(sh)
}
func (m *Module) SetOperationState(sh uint64, state []byte, encKey, authKey uint64) error {
	return m.notSupported(sh)
}

// NotSupported answers a function Craton does not implement (the 3.0
// message functions): the session is checked first, so a bad handle still
// gets CKR_SESSION_HANDLE_INVALID.
func (m *Module) NotSupported(sh uint64) error { return m.notSupported(sh) }

// GetFunctionStatus and CancelFunction are the legacy parallel-function
// calls; PKCS#11 says they simply return CKR_FUNCTION_NOT_PARALLEL.
func (m *Module) GetFunctionStatus(sh uint64) error { return m.notParallel(sh) }
func (m *Module) CancelFunction(sh uint64) error    { return m.notParallel(sh) }

func (m *Module) notParallel(sh uint64) error {
	if _, err := m.session(sh); err != nil {
		return err
	}
	return ck.CKR_FUNCTION_NOT_PARALLEL
}

func (m *Module) notSupported(sh uint64) error {
	if _, err := m.session(sh); err != nil {
		return err
	}
	return ck.CKR_FUNCTION_NOT_SUPPORTED
}
