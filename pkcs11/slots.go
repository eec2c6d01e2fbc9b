package pkcs11

import (
	"github.com/craton-hsm/craton/pkcs11/ck"
	"github.com/craton-hsm/craton/slots"
	"go.uber.org/zap"
)

// Library identity reported by C_GetInfo.
const (
	manufacturer       = "Craton"
	libraryDescription = "Craton PKCS#11 soft token"
)

var libraryVersion = ck.Version{Major: 0, Minor: 1}

// GetInfo is C_GetInfo.
func (m *Module) GetInfo() (ck.Info, error) {
	_, done, err := m.enter()
	if err != nil {
		return ck.Info{}, err
	}
	defer done()
	return ck.Info{
		CryptokiVersion:    ck.Version{Major: 3, Minor: 0},
		ManufacturerID:     manufacturer,
		LibraryDescription: libraryDescription,
		LibraryVersion:     libraryVersion,
	}, nil
}

// GetSlotList is C_GetSlotList. Every slot always holds its token.
func (m *Module) GetSlotList(tokenPresent bool) ([]uint64, error) {
	st, done, err := m.enter()
	if err != nil {
		return nil, err
	}
	defer done()
	return append([]uint64{}, st.slotIDs...), nil
}

// GetSlotInfo is C_GetSlotInfo.
func (m *Module) GetSlotInfo(slot uint64) (ck.SlotInfo, error) {
	st, done, err := m.enter()
	if err != nil {
		return ck.SlotInfo{}, err
	}
	defer done()
	t, err := st.token(slot)
	if err != nil {
		return ck.SlotInfo{}, err
	}
	return ck.SlotInfo{
		SlotDescription: t.Description,
		ManufacturerID:  manufacturer,
		Flags:           ck.CKF_TOKEN_PRESENT,
		HardwareVersion: libraryVersion,
		FirmwareVersion: libraryVersion,
	}, nil
}

// GetTokenInfo is C_GetTokenInfo.
func (m *Module) GetTokenInfo(slot uint64) (ck.TokenInfo, error) {
	st, done, err := m.enter()
	if err != nil {
		return ck.TokenInfo{}, err
	}
	defer done()
	t, err := st.token(slot)
	if err != nil {
		return ck.TokenInfo{}, err
	}
	info, err := t.Info()
	if err != nil {
		return info, st.logged("C_GetTokenInfo", err)
	}
	all, rw := st.sessions.Count(slot)
	info.SessionCount, info.RwSessionCount = uint64(all), uint64(rw)
	info.MaxSessionCount, info.MaxRwSessionCount = ck.CK_EFFECTIVELY_INFINITE, ck.CK_EFFECTIVELY_INFINITE
	info.TotalPublicMemory, info.FreePublicMemory = ck.Unavailable, ck.Unavailable
	info.TotalPrivateMemory, info.FreePrivateMemory = ck.Unavailable, ck.Unavailable
	return info, nil
}

// GetMechanismList is C_GetMechanismList: only mechanisms the backend
// implements and allows in the current mode are listed.
func (m *Module) GetMechanismList(slot uint64) ([]uint64, error) {
	st, done, err := m.enter()
	if err != nil {
		return nil, err
	}
	defer done()
	if _, err := st.token(slot); err != nil {
		return nil, err
	}
	return st.backend.Mechanisms(), nil
}

// GetMechanismInfo is C_GetMechanismInfo.
func (m *Module) GetMechanismInfo(slot, mech uint64) (ck.MechanismInfo, error) {
	st, done, err := m.enter()
	if err != nil {
		return ck.MechanismInfo{}, err
	}
	defer done()
	if _, err := st.token(slot); err != nil {
		return ck.MechanismInfo{}, err
	}
	return st.backend.Info(mech)
}

// WaitForSlotEvent is C_WaitForSlotEvent. Slots never change (a soft token's
// tokens are always present): a non-blocking call gets CKR_NO_EVENT, and a
// blocking one CKR_FUNCTION_NOT_SUPPORTED rather than a wait without end.
func (m *Module) WaitForSlotEvent(flags uint64) (uint64, error) {
	_, done, err := m.enter()
	if err != nil {
		return 0, err
	}
	defer done()
	if flags&ck.CKF_DONT_BLOCK != 0 {
		return 0, ck.CKR_NO_EVENT
	}
	// Blocking would wait forever.
	return 0, ck.CKR_FUNCTION_NOT_SUPPORTED
}

// InitToken is C_InitToken. label is the 32-byte blank-padded field.
func (m *Module) InitToken(slot uint64, soPIN []byte, label []byte) error {
	st, done, err := m.enter()
	if err != nil {
		return err
	}
	defer done()
	t, err := st.token(slot)
	if err != nil {
		return err
	}
	if all, _ := st.sessions.Count(slot); all > 0 {
		return ck.CKR_SESSION_EXISTS
	}
	if len(soPIN) < slots.MinPINLen || len(soPIN) > slots.MaxPINLen {
		// C_InitToken has no CKR_PIN_LEN_RANGE: a PIN that cannot be the
		// SO PIN is an incorrect one.
		return ck.Errorf(ck.CKR_PIN_INCORRECT, "SO PIN length %d", len(soPIN))
	}
	return st.logged("C_InitToken", t.InitToken(soPIN, string(label)))
}

// logged logs errors that are device failures or carry no RV, then returns
// err unchanged. Expected refusals (a wrong PIN, a bad handle) are not logged
// here; the layer that refuses logs what is worth an operator's attention.
func (st *state) logged(fn string, err error) error {
	if err == nil {
		return nil
	}
	rv, ok := ck.RVOf(err)
	switch {
	case !ok:
		st.log.Error("unexpected error", zap.String("fn", fn), zap.Error(err))
	case rv == ck.CKR_DEVICE_ERROR || rv == ck.CKR_GENERAL_ERROR || rv == ck.CKR_FUNCTION_FAILED:
		st.log.Error("call failed", zap.String("fn", fn), zap.Error(err))
	default:
		st.log.Debug("refused", zap.String("fn", fn), zap.Stringer("rv", rv))
	}
	return err
}
