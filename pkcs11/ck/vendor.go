package ck

// Craton's vendor-defined values.
const (
	// CKA_CRATON_GCM_REMAINING is a read-only CK_ULONG on AES keys: how many
	// more AES-GCM encryptions the key may make before it reaches
	// gcm.max_encryptions (the NIST SP 800-38D cap). Computed when read;
	// never stored; not searchable.
	CKA_CRATON_GCM_REMAINING = CKA_VENDOR_DEFINED | 0x43520001
)
