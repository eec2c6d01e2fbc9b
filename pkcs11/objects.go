package pkcs11

import (
	"bytes"

	"github.com/craton-hsm/craton/backend"
	"github.com/craton-hsm/craton/pkcs11/ck"
	"github.com/craton-hsm/craton/session"
	"github.com/craton-hsm/craton/slots"
)

// errCorrupt answers every use of a stored object whose record does not
// decode (see slots.Object.Corrupt); the token has logged the details.
var errCorrupt = ck.Errorf(ck.CKR_DEVICE_ERROR, "object record does not decode")

// mayStore checks that session s may hold object o: a token object needs a
// read/write session, a private object a user login.
func mayStore(s *session.Session, login uint64, o *slots.Object) error {
	if o.IsToken() && !s.RW {
		return ck.CKR_SESSION_READ_ONLY
	}
	if o.IsPrivate() && login != ck.CKU_USER {
		return ck.CKR_USER_NOT_LOGGED_IN
	}
	return nil
}

// mayWrite checks that session s may change or destroy existing object o.
func mayWrite(s *session.Session, o *slots.Object) error {
	if o.IsToken() && !s.RW {
		return ck.CKR_SESSION_READ_ONLY
	}
	return nil
}

// CreateObject is C_CreateObject.
func (m *Module) CreateObject(sh uint64, tmpl ck.Template) (uint64, error) {
	st, s, t, done, err := m.inSession(sh)
	if err != nil {
		return 0, err
	}
	defer done()
	login := t.LoginState()
	o, err := slots.NewObject(tmpl, slots.Origin{}, login == ck.CKU_SO)
	if err == nil {
		err = backend.CheckKeyAttrs(o.Class(), o.KeyType(), o.Attrs.Get)
	}
	if err != nil {
		return 0, st.logged("C_CreateObject", err)
	}
	if err := mayStore(s, login, o); err != nil {
		return 0, err
	}
	h, err := st.addObject(t, s, o)
	return h, st.logged("C_CreateObject", err)
}

// CopyObject is C_CopyObject.
func (m *Module) CopyObject(sh, oh uint64, tmpl ck.Template) (uint64, error) {
	st, s, t, done, err := m.inSession(sh)
	if err != nil {
		return 0, err
	}
	defer done()
	o, err := t.Object(oh)
	if err != nil {
		return 0, st.logged("C_CopyObject", err)
	}
	defer o.Release()
	if o.Corrupt {
		return 0, st.logged("C_CopyObject", errCorrupt)
	}
	if !o.Bool(ck.CKA_COPYABLE) {
		return 0, ck.CKR_ACTION_PROHIBITED
	}
	if o.Locked {
		return 0, ck.Errorf(ck.CKR_USER_NOT_LOGGED_IN, "copying key material needs a login")
	}
	login := t.LoginState()
	n, err := o.Changed(tmpl, slots.ByCopy, login == ck.CKU_SO)
	if err != nil {
		return 0, st.logged("C_CopyObject", err)
	}
	if err := mayStore(s, login, n); err != nil {
		return 0, err
	}
	n.Handle, n.Version, n.Owner = 0, 0, 0
	h, err := st.addObject(t, s, n)
	return h, st.logged("C_CopyObject", err)
}

// DestroyObject is C_DestroyObject.
func (m *Module) DestroyObject(sh, oh uint64) error {
	st, s, t, done, err := m.inSession(sh)
	if err != nil {
		return err
	}
	defer done()
	o, err := t.Object(oh)
	if err != nil {
		return st.logged("C_DestroyObject", err)
	}
	defer o.Release()
	if err := mayWrite(s, o); err != nil {
		return err
	}
	// A record that no longer decodes can always be destroyed: it is the
	// only way to recover from it.
	if !o.Bool(ck.CKA_DESTROYABLE) && !o.Corrupt {
		return ck.CKR_ACTION_PROHIBITED
	}
	return st.logged("C_DestroyObject", t.DestroyObject(oh))
}

// GetObjectSize is C_GetObjectSize: the size of the object's encoded record.
func (m *Module) GetObjectSize(sh, oh uint64) (uint64, error) {
	st, _, t, done, err := m.inSession(sh)
	if err != nil {
		return 0, err
	}
	defer done()
	o, err := t.Object(oh)
	if err != nil {
		return 0, st.logged("C_GetObjectSize", err)
	}
	defer o.Release()
	if o.Corrupt {
		return 0, st.logged("C_GetObjectSize", errCorrupt)
	}
	return uint64(len(slots.EncodeAttrs(o.Attrs))), nil
}

// GetAttributeValue is C_GetAttributeValue. Every entry gets an answer; the
// returned error is the one the spec names for the worst problem met:
// CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID, CKR_BUFFER_TOO_SMALL.
func (m *Module) GetAttributeValue(sh, oh uint64, q []ck.AttrQuery) ([]ck.AttrAnswer, error) {
	st, _, t, done, err := m.inSession(sh)
	if err != nil {
		return nil, err
	}
	defer done()
	o, err := t.Object(oh)
	if err != nil {
		return nil, st.logged("C_GetAttributeValue", err)
	}
	defer o.Release()
	if o.Corrupt {
		return nil, st.logged("C_GetAttributeValue", errCorrupt)
	}
	answers := make([]ck.AttrAnswer, len(q))
	var sensitive, invalid, short bool
	for i, a := range q {
		v, ok := o.Attrs.Get(a.Type)
		if a.Type == ck.CKA_CRATON_GCM_REMAINING {
			v, ok = st.gcmRemaining(o)
		}
		switch {
		case o.IsSecret(a.Type) && (o.Sensitive() || o.Locked):
			answers[i].Len, sensitive = ck.Unavailable, true
		case !ok:
			answers[i].Len, invalid = ck.Unavailable, true
		case a.Cap < 0:
			answers[i].Len = uint64(len(v))
		case a.Cap < int64(len(v)):
			answers[i].Len, short = ck.Unavailable, true
		default:
			// A copy: the caller copies answers out after this call has
			// released the object, which may then be wiped.
			answers[i] = ck.AttrAnswer{Value: bytes.Clone(v), Len: uint64(len(v))}
		}
	}
	switch {
	case sensitive:
		return answers, ck.CKR_ATTRIBUTE_SENSITIVE
	case invalid:
		return answers, ck.CKR_ATTRIBUTE_TYPE_INVALID
	case short:
		return answers, ck.CKR_BUFFER_TOO_SMALL
	}
	return answers, nil
}

// SetAttributeValue is C_SetAttributeValue.
func (m *Module) SetAttributeValue(sh, oh uint64, tmpl ck.Template) error {
	st, s, t, done, err := m.inSession(sh)
	if err != nil {
		return err
	}
	defer done()
	o, err := t.Object(oh)
	if err != nil {
		return st.logged("C_SetAttributeValue", err)
	}
	defer o.Release()
	if o.Corrupt {
		return st.logged("C_SetAttributeValue", errCorrupt)
	}
	if err := mayWrite(s, o); err != nil {
		return err
	}
	if !o.Bool(ck.CKA_MODIFIABLE) {
		return ck.CKR_ACTION_PROHIBITED
	}
	if o.Locked {
		return ck.Errorf(ck.CKR_USER_NOT_LOGGED_IN, "changing an object with key material needs a login")
	}
	n, err := o.Changed(tmpl, slots.BySetAttribute, t.LoginState() == ck.CKU_SO)
	if err != nil {
		return st.logged("C_SetAttributeValue", err)
	}
	return st.logged("C_SetAttributeValue", t.ReplaceObject(o, n))
}

// FindObjectsInit is C_FindObjectsInit: the matching handles are fixed now.
func (m *Module) FindObjectsInit(sh uint64, tmpl ck.Template) error {
	st, s, t, done, err := m.inSession(sh)
	if err != nil {
		return err
	}
	defer done()
	s.Lock()
	defer s.Unlock()
	if s.FindActive() {
		return ck.CKR_OPERATION_ACTIVE
	}
	handles, err := t.Find(tmpl)
	if err != nil {
		return st.logged("C_FindObjectsInit", err)
	}
	return s.StartFind(handles)
}

// FindObjects is C_FindObjects.
func (m *Module) FindObjects(sh uint64, max uint64) ([]uint64, error) {
	_, s, _, done, err := m.inSession(sh)
	if err != nil {
		return nil, err
	}
	defer done()
	s.Lock()
	defer s.Unlock()
	return s.NextFound(max)
}

// FindObjectsFinal is C_FindObjectsFinal.
func (m *Module) FindObjectsFinal(sh uint64) error {
	_, s, _, done, err := m.inSession(sh)
	if err != nil {
		return err
	}
	defer done()
	s.Lock()
	defer s.Unlock()
	return s.EndFind()
}
