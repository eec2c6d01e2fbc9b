// Package ck is Craton's PKCS#11 vocabulary: the CK_* constants, the RV error
// type, attributes, templates, mechanisms and the info structures in Go types.
// It is a leaf: it imports nothing of Craton's, and every other package may
// import it.
package ck

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Unavailable is CK_UNAVAILABLE_INFORMATION: ~0 as a CK_ULONG.
const Unavailable = ^uint64(0)

// RV is a CK_RV. It implements error; a nil error means CKR_OK. Packages that
// speak PKCS#11 return RVs, wrapped with context through %w.
type RV uint64

func (rv RV) Error() string { return rv.String() }

func (rv RV) String() string {
	if n, ok := rvNames[uint64(rv)]; ok {
		return fmt.Sprintf("%s (0x%x)", n, uint64(rv))
	}
	return fmt.Sprintf("CKR_0x%x", uint64(rv))
}

// RVOf maps an error chain to the CK_RV it carries. nil is CKR_OK; an error
// that carries no RV is CKR_GENERAL_ERROR, and the caller must log it.
func RVOf(err error) (RV, bool) {
	if err == nil {
		return CKR_OK, true
	}
	var rv RV
	if errors.As(err, &rv) {
		return rv, true
	}
	return CKR_GENERAL_ERROR, false
}

// Errorf wraps rv with context; RVOf finds rv again.
func Errorf(rv RV, format string, args ...any) error {
	return fmt.Errorf("%w: %s", rv, fmt.Sprintf(format, args...))
}

// AttrName, MechName, ClassName, KeyTypeName name constants for log lines.
func AttrName(t uint64) string    { return name(attrNames, "CKA", t) }
func MechName(t uint64) string    { return name(mechNames, "CKM", t) }
func ClassName(t uint64) string   { return name(classNames, "CKO", t) }
func KeyTypeName(t uint64) string { return name(keyTypeNames, "CKK", t) }
func name(m map[uint64]string, p string, t uint64) string {
	if n, ok := m[t]; ok {
		return n
	}
	return fmt.Sprintf("%s_0x%x", p, t)
}

// Attribute is one CK_ATTRIBUTE with its value copied into Go memory.
type Attribute struct {
	Type  uint64
	Value []byte
}

// Template is a list of attributes, as passed to C_CreateObject and friends.
type Template []Attribute

// Find returns the value of the first attribute of type t.
func (t Template) Find(typ uint64) ([]byte, bool) {
	for _, a := range t {
		if a.Type == typ {
			return a.Value, true
		}
	}
	return nil, false
}

// ULong encodes v as a CK_ULONG attribute value (host byte order, 8 bytes).
func ULong(v uint64) []byte {
	b := make([]byte, 8)
	binary.NativeEndian.PutUint64(b, v)
	return b
}

// Bool encodes v as a CK_BBOOL attribute value.
func Bool(v bool) []byte {
	if v {
		return []byte{1}
	}
	return []byte{0}
}

// DecodeULong reads a CK_ULONG attribute value; a wrong length is
// CKR_ATTRIBUTE_VALUE_INVALID.
func DecodeULong(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, CKR_ATTRIBUTE_VALUE_INVALID
	}
	return binary.NativeEndian.Uint64(b), nil
}

// DecodeBool reads a CK_BBOOL attribute value.
func DecodeBool(b []byte) (bool, error) {
	if len(b) != 1 {
		return false, CKR_ATTRIBUTE_VALUE_INVALID
	}
	return b[0] != 0, nil
}

// AttrQuery is one entry of a C_GetAttributeValue template: the type asked
// for and the caller's buffer capacity, or -1 when pValue is NULL.
type AttrQuery struct {
	Type uint64
	Cap  int64
}

// AttrAnswer is what C_GetAttributeValue writes back for one entry: Len goes
// to ulValueLen, and Value (when not nil) is copied into pValue.
type AttrAnswer struct {
	Value []byte
	Len   uint64
}

// Mechanism is a CK_MECHANISM. Param holds the bytes of pParameter as the C
// layer copied them. For parameter structs that hold pointers (see
// ParamLayouts), Bufs holds copies of the buffers they point to, in the order
// the layout lists them; the pointer fields inside Param are meaningless in
// Go. The Decode* functions in params.go turn these into typed values.
type Mechanism struct {
	Type  uint64
	Param []byte
	Bufs  [][]byte
}

// Version is a CK_VERSION.
type Version struct{ Major, Minor byte }

// Info is CK_INFO. Text fields are unpadded; the C layer blank-pads them.
type Info struct {
	CryptokiVersion    Version
	ManufacturerID     string
	Flags              uint64
	LibraryDescription string
	LibraryVersion     Version
}

// SlotInfo is CK_SLOT_INFO.
type SlotInfo struct {
	SlotDescription string
	ManufacturerID  string
	Flags           uint64
	HardwareVersion Version
	FirmwareVersion Version
}

// TokenInfo is CK_TOKEN_INFO.
type TokenInfo struct {
	Label              string
	ManufacturerID     string
	Model              string
	SerialNumber       string
	Flags              uint64
	MaxSessionCount    uint64
	SessionCount       uint64
	MaxRwSessionCount  uint64
	RwSessionCount     uint64
	MaxPinLen          uint64
	MinPinLen          uint64
	TotalPublicMemory  uint64
	FreePublicMemory   uint64
	TotalPrivateMemory uint64
	FreePrivateMemory  uint64
	HardwareVersion    Version
	FirmwareVersion    Version
	UTCTime            string
}

// SessionInfo is CK_SESSION_INFO.
type SessionInfo struct {
	SlotID      uint64
	State       uint64
	Flags       uint64
	DeviceError uint64
}

// MechanismInfo is CK_MECHANISM_INFO.
type MechanismInfo struct {
	MinKeySize uint64
	MaxKeySize uint64
	Flags      uint64
}

// InitArgs is what C_Initialize learned from CK_C_INITIALIZE_ARGS.
type InitArgs struct {
	// HasArgs: pInitArgs was not NULL.
	HasArgs bool
	// MutexCallbacks: how many of the four mutex callbacks were set (0 or 4 is legal).
	MutexCallbacks int
	OSLockingOK    bool
	// NoOSThreads: CKF_LIBRARY_CANT_CREATE_OS_THREADS.
	NoOSThreads bool
	// ReservedSet: pReserved was not NULL; Reserved is its text (p11-kit's
	// x-init-reserved string), read up to a NUL.
	ReservedSet bool
	Reserved    string
}
