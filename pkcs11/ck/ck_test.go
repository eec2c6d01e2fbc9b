package ck

import (
	"errors"
	"fmt"
	"testing"
)

// TestThreeZeroValues pins the PKCS#11 3.0 constants that are not in the
// 2.40 list the rest is generated from, against the OASIS 3.0 pkcs11t.h.
func TestThreeZeroValues(t *testing.T) {
	for name, c := range map[string][2]uint64{
		"CKA_UNIQUE_ID":               {CKA_UNIQUE_ID, 0x4},
		"CKA_VERIFY":                  {CKA_VERIFY, 0x10a},
		"CKR_ACTION_PROHIBITED":       {uint64(CKR_ACTION_PROHIBITED), 0x1b},
		"CKR_OPERATION_CANCEL_FAILED": {uint64(CKR_OPERATION_CANCEL_FAILED), 0x202},
		"CKM_EC_EDWARDS_KEY_PAIR_GEN": {CKM_EC_EDWARDS_KEY_PAIR_GEN, 0x1055},
		"CKM_EDDSA":                   {CKM_EDDSA, 0x1057},
		"CKM_HKDF_DERIVE":             {CKM_HKDF_DERIVE, 0x402a},
		"CKM_HKDF_DATA":               {CKM_HKDF_DATA, 0x402b},
		"CKM_HKDF_KEY_GEN":            {CKM_HKDF_KEY_GEN, 0x402c},
		"CKM_AES_KEY_WRAP_KWP":        {CKM_AES_KEY_WRAP_KWP, 0x210b},
		"CKK_EC_EDWARDS":              {CKK_EC_EDWARDS, 0x40},
		"CKK_HKDF":                    {CKK_HKDF, 0x42},
		"CKF_FIND_OBJECTS":            {CKF_FIND_OBJECTS, 0x40},
		"CKF_INTERFACE_FORK_SAFE":     {CKF_INTERFACE_FORK_SAFE, 0x1},
	} {
		if c[0] != c[1] {
			t.Errorf("%s = %#x, want %#x", name, c[0], c[1])
		}
	}
}

func TestRVError(t *testing.T) {
	err := fmt.Errorf("context: %w", Errorf(CKR_PIN_INCORRECT, "detail"))
	rv, ok := RVOf(err)
	if !ok || rv != CKR_PIN_INCORRECT || !errors.Is(err, CKR_PIN_INCORRECT) {
		t.Fatalf("RVOf = %v %v", rv, ok)
	}
	if rv, ok := RVOf(errors.New("plain")); ok || rv != CKR_GENERAL_ERROR {
		t.Fatalf("plain error mapped to %v %v", rv, ok)
	}
	if rv, ok := RVOf(nil); !ok || rv != CKR_OK {
		t.Fatal("nil")
	}
	if s := CKR_PIN_INCORRECT.String(); s != "CKR_PIN_INCORRECT (0xa0)" {
		t.Fatalf("String() = %q", s)
	}
}
