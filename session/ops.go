package session

import (
	. "github.com/craton-hsm/craton/pkcs11/ck"
)

// OpKind names one of a session's concurrent operation slots. PKCS#11 lets
// a session run one operation of each kind at a time.
type OpKind int

const (
	OpEncrypt OpKind = iota
	OpDecrypt
	OpDigest
	OpSign
	OpVerify
	numOps
)

// opFlags are the C_SessionCancel flags of each kind.
var opFlags = [numOps]uint64{CKF_ENCRYPT, CKF_DECRYPT, CKF_DIGEST, CKF_SIGN, CKF_VERIFY}

// Op is an active cryptographic operation.
type Op struct {
	Mech uint64
	// State is the backend's operation (a Cipher, Signer, Verifier or hash).
	State any
	// Multi: an Update has been called; the single-part call is then
	// CKR_OPERATION_ACTIVE.
	Multi bool
	// NeedAuth: the key has CKA_ALWAYS_AUTHENTICATE and the operation
	// waits for C_Login(CKU_CONTEXT_SPECIFIC); Authed once it came.
	NeedAuth, Authed bool
	// Key is what the operation holds (its key object), released when it
	// ends; nil for a digest.
	Key interface{ Release() }
}

// Op returns the active operation of a kind, or nil. Lock held.
func (s *Session) Op(k OpKind) *Op { return s.ops[k] }

// StartOp makes op the active operation of its kind. Lock held. The
// *Op that Op(k) returns is valid until EndOp(k): its slot is reused.
func (s *Session) StartOp(k OpKind, op Op) error {
	if s.ops[k] != nil {
		return CKR_OPERATION_ACTIVE
	}
	s.opSlots[k] = op
	s.ops[k] = &s.opSlots[k]
	return nil
}

// EndOp ends the operation of a kind, if any. Lock held.
func (s *Session) EndOp(k OpKind) {
	if op := s.ops[k]; op != nil {
		s.ops[k] = nil
		if op.Key != nil {
			op.Key.Release()
		}
		*op = Op{} // drops the backend state and the key for the collector
	}
}

// EndCrypto ends every cryptographic operation (not the search). Lock held.
func (s *Session) EndCrypto() {
	for k := range s.ops {
		s.EndOp(OpKind(k))
	}
}

// EndAll ends every operation, the search included. Lock held.
func (s *Session) EndAll() {
	s.EndCrypto()
	s.find = nil
}

// All returns a snapshot of the open sessions.
func (t *Table) All() []*Session {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []*Session
	t.each(func(s *Session) { out = append(out, s) })
	return out
}
