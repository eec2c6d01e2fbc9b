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

// What follows answers the functions Craton does not implement: signatures
// with recovery, the dual-function updates and saved operation state. The
// session is checked first, so a bad handle is still
// CKR_SESSION_HANDLE_INVALID. The rest of the cryptography is in crypto.go
// and keys.go.

func (m *Module) SignRecoverInit(sh uint64, mech ck.Mechanism, key uint64) error {
	return m.notSupported(sh)
}
func (m *Module) SignRecover(sh uint64, in []byte, outCap int64) ([]byte, uint64, error) {
	return nil, 0, m.notSupported(sh)
}
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
