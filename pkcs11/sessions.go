package pkcs11

import (
	"github.com/craton-hsm/craton/backend"
	"github.com/craton-hsm/craton/pkcs11/ck"
	"github.com/craton-hsm/craton/session"
	"github.com/craton-hsm/craton/slots"
)

// OpenSession is C_OpenSession. Notification callbacks are never called.
func (m *Module) OpenSession(slot, flags uint64) (uint64, error) {
	st, done, err := m.enter()
	if err != nil {
		return 0, err
	}
	defer done()
	t, err := st.token(slot)
	if err != nil {
		return 0, err
	}
	if flags&ck.CKF_SERIAL_SESSION == 0 {
		return 0, ck.CKR_SESSION_PARALLEL_NOT_SUPPORTED
	}
	rw := flags&ck.CKF_RW_SESSION != 0
	if !rw && t.LoginState() == ck.CKU_SO {
		return 0, ck.CKR_SESSION_READ_WRITE_SO_EXISTS
	}
	return st.sessions.Open(slot, rw).Handle, nil
}

// CloseSession is C_CloseSession. Its session objects die with it; when the
// slot's last session closes, the token logs out.
func (m *Module) CloseSession(sh uint64) error {
	st, done, err := m.enter()
	if err != nil {
		return err
	}
	defer done()
	s, err := st.sessions.Close(sh)
	if err != nil {
		return err
	}
	st.afterClose(s.SlotID, []*session.Session{s})
	return nil
}

// CloseAllSessions is C_CloseAllSessions.
func (m *Module) CloseAllSessions(slot uint64) error {
	st, done, err := m.enter()
	if err != nil {
		return err
	}
	defer done()
	if _, err := st.token(slot); err != nil {
		return err
	}
	st.afterClose(slot, st.sessions.CloseSlot(slot))
	return nil
}

func (st *state) afterClose(slot uint64, closed []*session.Session) {
	t := st.tokens[slot]
	endAll(closed)
	for _, s := range closed {
		t.DropSessionObjects(s.Handle)
	}
	if all, _ := st.sessions.Count(slot); all == 0 && t.LoginState() != slots.NotLoggedIn {
		_ = t.Logout()
	}
}

// GetSessionInfo is C_GetSessionInfo.
func (m *Module) GetSessionInfo(sh uint64) (ck.SessionInfo, error) {
	_, s, t, done, err := m.inSession(sh)
	if err != nil {
		return ck.SessionInfo{}, err
	}
	defer done()
	flags := uint64(ck.CKF_SERIAL_SESSION)
	if s.RW {
		flags |= ck.CKF_RW_SESSION
	}
	return ck.SessionInfo{SlotID: s.SlotID, State: s.State(t.LoginState()), Flags: flags}, nil
}

// SessionCancel is C_SessionCancel: it ends the operations named in flags.
func (m *Module) SessionCancel(sh, flags uint64) error {
	_, s, _, done, err := m.inSession(sh)
	if err != nil {
		return err
	}
	defer done()
	s.Lock()
	defer s.Unlock()
	s.Cancel(flags)
	return nil
}

// Login is C_Login.
func (m *Module) Login(sh, userType uint64, pin []byte) error {
	st, s, t, done, err := m.inSession(sh)
	if err != nil {
		return err
	}
	defer done()
	if pin == nil {
		// A NULL PIN asks for a protected authentication path, which a soft
		// token does not have; refuse without spending a PIN attempt.
		return ck.Errorf(ck.CKR_ARGUMENTS_BAD, "NULL PIN: no protected authentication path")
	}
	switch userType {
	case ck.CKU_SO, ck.CKU_USER:
	case ck.CKU_CONTEXT_SPECIFIC:
		if t.LoginState() != ck.CKU_USER {
			// C_Login has no CKR_USER_NOT_LOGGED_IN: without a user login
			// no operation can be waiting for this one.
			return ck.Errorf(ck.CKR_OPERATION_NOT_INITIALIZED, "a context-specific login needs a user login first")
		}
		// Context-specific login re-authenticates for a key with
		// CKA_ALWAYS_AUTHENTICATE within an active signing operation.
		s.Lock()
		defer s.Unlock()
		op := s.Op(session.OpSign)
		if op == nil || !op.NeedAuth {
			return ck.Errorf(ck.CKR_OPERATION_NOT_INITIALIZED, "no operation awaits a context-specific login")
		}
		if err := t.VerifyUserPIN(pin); err != nil {
			return st.logged("C_Login", err)
		}
		op.Authed = true
		return nil
	default:
		return ck.CKR_USER_TYPE_INVALID
	}
	switch login := t.LoginState(); {
	case login == userType:
		return ck.CKR_USER_ALREADY_LOGGED_IN
	case login != slots.NotLoggedIn:
		return ck.CKR_USER_ANOTHER_ALREADY_LOGGED_IN
	}
	if userType == ck.CKU_SO {
		if all, rw := st.sessions.Count(s.SlotID); all > rw {
			return ck.CKR_SESSION_READ_ONLY_EXISTS
		}
	}
	return st.logged("C_Login", t.Login(userType, pin))
}

// LoginUser is C_LoginUser. Craton has one user per token, so the user name
// is not consulted.
func (m *Module) LoginUser(sh, userType uint64, pin, username []byte) error {
	return m.Login(sh, userType, pin)
}

// Logout is C_Logout.
func (m *Module) Logout(sh uint64) error {
	st, s, t, done, err := m.inSession(sh)
	if err != nil {
		return err
	}
	defer done()
	if err := t.Logout(); err != nil {
		return err
	}
	// Cryptographic operations in progress may hold private keys: they end
	// with the login. Searches go on (they only lose private objects).
	for _, o := range st.sessions.All() {
		if o.SlotID == s.SlotID {
			o.Lock()
			o.EndCrypto()
			o.Unlock()
		}
	}
	return nil
}

// InitPIN is C_InitPIN: the SO sets the user PIN (and so unlocks it).
func (m *Module) InitPIN(sh uint64, pin []byte) error {
	st, s, t, done, err := m.inSession(sh)
	if err != nil {
		return err
	}
	defer done()
	if s.State(t.LoginState()) != ck.CKS_RW_SO_FUNCTIONS {
		return ck.CKR_USER_NOT_LOGGED_IN
	}
	return st.logged("C_InitPIN", t.InitPIN(pin))
}

// SetPIN is C_SetPIN: the SO's PIN in an SO session, else the user's.
func (m *Module) SetPIN(sh uint64, oldPIN, newPIN []byte) error {
	st, s, t, done, err := m.inSession(sh)
	if err != nil {
		return err
	}
	defer done()
	if !s.RW {
		return ck.CKR_SESSION_READ_ONLY
	}
	return st.logged("C_SetPIN", t.SetPIN(oldPIN, newPIN))
}

// maxRandom bounds one C_GenerateRandom call (64 MiB).
const maxRandom = 64 << 20

// GenerateRandom is C_GenerateRandom, from the FIPS module's DRBG.
func (m *Module) GenerateRandom(sh uint64, n uint64) ([]byte, error) {
	st, done, err := m.enter()
	if err != nil {
		return nil, err
	}
	defer done()
	if _, _, err := st.session(sh); err != nil {
		return nil, err
	}
	if n > maxRandom {
		return nil, ck.Errorf(ck.CKR_ARGUMENTS_BAD, "%d random bytes asked; at most %d per call", n, maxRandom)
	}
	return backend.Random(int(n)), nil
}

// SeedRandom is C_SeedRandom. The DRBG of Go's module seeds itself from the
// kernel and takes no caller entropy.
func (m *Module) SeedRandom(sh uint64, seed []byte) error {
	st, done, err := m.enter()
	if err != nil {
		return err
	}
	defer done()
	if _, _, err := st.session(sh); err != nil {
		return err
	}
	return ck.CKR_RANDOM_SEED_NOT_SUPPORTED
}
