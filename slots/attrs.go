package slots

import (
	"slices"

	. "github.com/craton-hsm/craton/pkcs11/ck"
)

// The attribute rules of PKCS#11 3.0 (base spec §4), as data: which
// attributes each object class has, their value shape, which cannot be given
// at creation, which may change afterwards and how, and which hold secret key
// material.

type attrKind uint8

const (
	kindBytes attrKind = iota
	kindBool
	kindULong
	kindDate // CK_DATE: 8 ASCII digits, or empty
	kindULongArray
)

// changeRule says how an attribute may change after creation.
type changeRule uint8

const (
	fixed       changeRule = iota // never
	free                          // any value (C_SetAttributeValue, C_CopyObject)
	onlyToTrue                    // false → true only (CKA_SENSITIVE, CKA_WRAP_WITH_TRUSTED)
	onlyToFalse                   // true → false only (CKA_EXTRACTABLE, CKA_COPYABLE, CKA_DESTROYABLE)
	copyOnly                      // any value, but only in a C_CopyObject template (CKA_TOKEN, CKA_PRIVATE)
	copyToFalse                   // true → false, only in C_CopyObject (CKA_MODIFIABLE)
)

type attrSpec struct {
	kind     attrKind
	change   changeRule
	readOnly bool // set by the token, never in a creation template
	secret   bool // key material: sealed at rest, guarded by CKA_SENSITIVE/CKA_EXTRACTABLE
	soOnly   bool // may be set to true only by the SO (CKA_TRUSTED)
	required bool // must be in a C_CreateObject template
}

var commonAttrs = map[uint64]attrSpec{
	CKA_CLASS:       {kind: kindULong, required: true},
	CKA_TOKEN:       {kind: kindBool, change: copyOnly},
	CKA_PRIVATE:     {kind: kindBool, change: copyOnly},
	CKA_MODIFIABLE:  {kind: kindBool, change: copyToFalse},
	CKA_COPYABLE:    {kind: kindBool, change: onlyToFalse},
	CKA_DESTROYABLE: {kind: kindBool, change: onlyToFalse},
	CKA_LABEL:       {kind: kindBytes, change: free},
	CKA_UNIQUE_ID:   {kind: kindBytes, readOnly: true},
}

var dataAttrs = map[uint64]attrSpec{
	CKA_APPLICATION: {kind: kindBytes, change: free},
	CKA_OBJECT_ID:   {kind: kindBytes, change: free},
	CKA_VALUE:       {kind: kindBytes, change: free},
}

var certAttrs = map[uint64]attrSpec{
	CKA_CERTIFICATE_TYPE:           {kind: kindULong, required: true},
	CKA_TRUSTED:                    {kind: kindBool, change: free, soOnly: true},
	CKA_CERTIFICATE_CATEGORY:       {kind: kindULong, change: free},
	CKA_CHECK_VALUE:                {kind: kindBytes},
	CKA_START_DATE:                 {kind: kindDate, change: free},
	CKA_END_DATE:                   {kind: kindDate, change: free},
	CKA_PUBLIC_KEY_INFO:            {kind: kindBytes},
	CKA_SUBJECT:                    {kind: kindBytes},
	CKA_ID:                         {kind: kindBytes, change: free},
	CKA_ISSUER:                     {kind: kindBytes, change: free},
	CKA_SERIAL_NUMBER:              {kind: kindBytes, change: free},
	CKA_VALUE:                      {kind: kindBytes, required: true},
	CKA_URL:                        {kind: kindBytes},
	CKA_HASH_OF_SUBJECT_PUBLIC_KEY: {kind: kindBytes},
	CKA_HASH_OF_ISSUER_PUBLIC_KEY:  {kind: kindBytes},
	CKA_JAVA_MIDP_SECURITY_DOMAIN:  {kind: kindULong},
	CKA_NAME_HASH_ALGORITHM:        {kind: kindULong},
}

var keyAttrs = map[uint64]attrSpec{
	CKA_KEY_TYPE:           {kind: kindULong, required: true},
	CKA_ID:                 {kind: kindBytes, change: free},
	CKA_START_DATE:         {kind: kindDate, change: free},
	CKA_END_DATE:           {kind: kindDate, change: free},
	CKA_DERIVE:             {kind: kindBool, change: free},
	CKA_LOCAL:              {kind: kindBool, readOnly: true},
	CKA_KEY_GEN_MECHANISM:  {kind: kindULong, readOnly: true},
	CKA_ALLOWED_MECHANISMS: {kind: kindULongArray},
}

var publicKeyAttrs = map[uint64]attrSpec{
	CKA_SUBJECT:         {kind: kindBytes, change: free},
	CKA_ENCRYPT:         {kind: kindBool, change: free},
	CKA_VERIFY:          {kind: kindBool, change: free},
	CKA_VERIFY_RECOVER:  {kind: kindBool, change: free},
	CKA_WRAP:            {kind: kindBool, change: free},
	CKA_TRUSTED:         {kind: kindBool, change: free, soOnly: true},
	CKA_PUBLIC_KEY_INFO: {kind: kindBytes},
}

var privateKeyAttrs = map[uint64]attrSpec{
	CKA_SUBJECT:             {kind: kindBytes, change: free},
	CKA_SENSITIVE:           {kind: kindBool, change: onlyToTrue},
	CKA_DECRYPT:             {kind: kindBool, change: free},
	CKA_SIGN:                {kind: kindBool, change: free},
	CKA_SIGN_RECOVER:        {kind: kindBool, change: free},
	CKA_UNWRAP:              {kind: kindBool, change: free},
	CKA_EXTRACTABLE:         {kind: kindBool, change: onlyToFalse},
	CKA_ALWAYS_SENSITIVE:    {kind: kindBool, readOnly: true},
	CKA_NEVER_EXTRACTABLE:   {kind: kindBool, readOnly: true},
	CKA_WRAP_WITH_TRUSTED:   {kind: kindBool, change: onlyToTrue},
	CKA_ALWAYS_AUTHENTICATE: {kind: kindBool},
	CKA_PUBLIC_KEY_INFO:     {kind: kindBytes},
}

var secretKeyAttrs = map[uint64]attrSpec{
	CKA_SENSITIVE:         {kind: kindBool, change: onlyToTrue},
	CKA_ENCRYPT:           {kind: kindBool, change: free},
	CKA_DECRYPT:           {kind: kindBool, change: free},
	CKA_SIGN:              {kind: kindBool, change: free},
	CKA_VERIFY:            {kind: kindBool, change: free},
	CKA_WRAP:              {kind: kindBool, change: free},
	CKA_UNWRAP:            {kind: kindBool, change: free},
	CKA_EXTRACTABLE:       {kind: kindBool, change: onlyToFalse},
	CKA_ALWAYS_SENSITIVE:  {kind: kindBool, readOnly: true},
	CKA_NEVER_EXTRACTABLE: {kind: kindBool, readOnly: true},
	CKA_CHECK_VALUE:       {kind: kindBytes},
	CKA_WRAP_WITH_TRUSTED: {kind: kindBool, change: onlyToTrue},
	CKA_TRUSTED:           {kind: kindBool, change: free, soOnly: true},
	CKA_VALUE:             {kind: kindBytes, secret: true, required: true},
	CKA_VALUE_LEN:         {kind: kindULong},
}

// Key-type specific attributes.
var (
	rsaPublicAttrs = map[uint64]attrSpec{
		CKA_MODULUS:         {kind: kindBytes, required: true},
		CKA_MODULUS_BITS:    {kind: kindULong},
		CKA_PUBLIC_EXPONENT: {kind: kindBytes, required: true},
	}
	rsaPrivateAttrs = map[uint64]attrSpec{
		CKA_MODULUS:          {kind: kindBytes, required: true},
		CKA_PUBLIC_EXPONENT:  {kind: kindBytes},
		CKA_PRIVATE_EXPONENT: {kind: kindBytes, secret: true, required: true},
		CKA_PRIME_1:          {kind: kindBytes, secret: true},
		CKA_PRIME_2:          {kind: kindBytes, secret: true},
		CKA_EXPONENT_1:       {kind: kindBytes, secret: true},
		CKA_EXPONENT_2:       {kind: kindBytes, secret: true},
		CKA_COEFFICIENT:      {kind: kindBytes, secret: true},
	}
	ecPublicAttrs = map[uint64]attrSpec{
		CKA_EC_PARAMS: {kind: kindBytes, required: true},
		CKA_EC_POINT:  {kind: kindBytes, required: true},
	}
	ecPrivateAttrs = map[uint64]attrSpec{
		CKA_EC_PARAMS: {kind: kindBytes, required: true},
		CKA_VALUE:     {kind: kindBytes, secret: true, required: true},
		// Not in the spec's table for private keys, but OpenSC and NSS put
		// the public point there; keeping it lets clients find the pair.
		CKA_EC_POINT: {kind: kindBytes},
	}
)

// secretKeyTypes are the secret key types a template may name, with the
// value lengths each admits (nil: any length from 1 byte).
var secretKeyTypes = map[uint64][]int{
	CKK_AES:            {16, 24, 32},
	CKK_GENERIC_SECRET: nil,
	CKK_HKDF:           nil,
}

// specFor returns the spec of attribute t on an object of the given class
// and key type, and whether the attribute exists there at all.
func specFor(class, keyType, t uint64) (attrSpec, bool) {
	if s, ok := commonAttrs[t]; ok {
		return s, true
	}
	s, ok := tableFor(class, keyType).spec[t]
	return s, ok
}

// attrTable is what specFor and requiredFor answer for one
// class and key type, worked out once from the attribute sets: they run on
// every object creation, and merging the sets each time was 45 % of a
// session key's generation.
type attrTable struct {
	spec     map[uint64]attrSpec // every attribute of the class and key type but the common ones
	required []uint64            // sorted
	// size is how many attributes an object of the class and key type can
	// have (common ones included); maxBuildAttrs must cover the largest, so
	// that NewObject's pooled builder never grows (TestBuilderRoomCoversEveryClass).
	size int
	// secrets are the attributes that hold key material (Object.wipe).
	secrets []uint64
}

// tableKeys are the classes and key types whose attribute sets differ:
// every class Craton knows, each public and private key type that changes
// the sets (RSA, EC, any other), and one for every other class; anyOther
// stands for "any other". attrTables holds their tables, in this order.
const anyOther = ^uint64(0)

var tableKeys = [...][2]uint64{
	{CKO_DATA, anyOther}, {CKO_CERTIFICATE, anyOther}, {CKO_SECRET_KEY, anyOther},
	{CKO_PUBLIC_KEY, CKK_RSA}, {CKO_PUBLIC_KEY, CKK_EC}, {CKO_PUBLIC_KEY, anyOther},
	{CKO_PRIVATE_KEY, CKK_RSA}, {CKO_PRIVATE_KEY, CKK_EC}, {CKO_PRIVATE_KEY, anyOther},
	{anyOther, anyOther},
}

// attrTables are built once, when the package loads: a lookup is an index,
// where a sync.Map keyed by class and key type cost more than the rest of
// specFor.
var attrTables = func() (ts [len(tableKeys)]*attrTable) {
	for i, k := range tableKeys {
		ts[i] = buildTable(k[0], k[1])
	}
	return ts
}()

// tableIndex reduces a class and key type to the index of their table in
// tableKeys.
func tableIndex(class, keyType uint64) int {
	switch class {
	case CKO_DATA:
		return 0
	case CKO_CERTIFICATE:
		return 1
	case CKO_SECRET_KEY:
		return 2
	case CKO_PUBLIC_KEY, CKO_PRIVATE_KEY:
		i := 3
		if class == CKO_PRIVATE_KEY {
			i = 6
		}
		switch keyType {
		case CKK_RSA:
			return i
		case CKK_EC, CKK_EC_EDWARDS:
			return i + 1
		}
		return i + 2
	}
	return len(tableKeys) - 1
}

func tableFor(class, keyType uint64) *attrTable { return attrTables[tableIndex(class, keyType)] }

// buildTable works out the table of a class and key type from the sets.
func buildTable(class, keyType uint64) *attrTable {
	t := &attrTable{spec: map[uint64]attrSpec{}}
	for _, a := range slowAllTypesFor(class, keyType) {
		s, _ := slowSpecFor(class, keyType, a)
		if _, common := commonAttrs[a]; !common {
			t.spec[a] = s
		}
		if s.required {
			t.required = append(t.required, a)
		}
		if s.secret {
			t.secrets = append(t.secrets, a)
		}
	}
	slices.Sort(t.required)
	slices.Sort(t.secrets)
	t.size = len(t.spec) + len(commonAttrs)
	return t
}

// slowSpecFor is specFor from the attribute sets themselves.
func slowSpecFor(class, keyType, t uint64) (attrSpec, bool) {
	if s, ok := commonAttrs[t]; ok {
		return s, true
	}
	var sets []map[uint64]attrSpec
	switch class {
	case CKO_DATA:
		sets = append(sets, dataAttrs)
	case CKO_CERTIFICATE:
		sets = append(sets, certAttrs)
	case CKO_PUBLIC_KEY:
		sets = append(sets, keyAttrs, publicKeyAttrs)
		switch keyType {
		case CKK_RSA:
			sets = append(sets, rsaPublicAttrs)
		case CKK_EC, CKK_EC_EDWARDS:
			sets = append(sets, ecPublicAttrs)
		}
	case CKO_PRIVATE_KEY:
		sets = append(sets, keyAttrs, privateKeyAttrs)
		switch keyType {
		case CKK_RSA:
			sets = append(sets, rsaPrivateAttrs)
		case CKK_EC, CKK_EC_EDWARDS:
			sets = append(sets, ecPrivateAttrs)
		}
	case CKO_SECRET_KEY:
		sets = append(sets, keyAttrs, secretKeyAttrs)
	}
	// Later sets are more specific and win (CKA_VALUE of an EC private key).
	var spec attrSpec
	found := false
	for _, s := range sets {
		if v, ok := s[t]; ok {
			spec, found = v, true
		}
	}
	return spec, found
}

// requiredFor lists the attributes a creation template must hold. The
// caller must not change the slice.
func requiredFor(class, keyType uint64) []uint64 { return tableFor(class, keyType).required }

// slowAllTypesFor lists every attribute an object of the class and key type
// has, from the attribute sets themselves.
func slowAllTypesFor(class, keyType uint64) []uint64 {
	seen := map[uint64]bool{}
	var out []uint64
	add := func(m map[uint64]attrSpec) {
		for t := range m {
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	add(commonAttrs)
	for _, m := range []map[uint64]attrSpec{dataAttrs, certAttrs, keyAttrs, publicKeyAttrs, privateKeyAttrs, secretKeyAttrs, rsaPublicAttrs, rsaPrivateAttrs, ecPublicAttrs, ecPrivateAttrs} {
		for t := range m {
			if _, ok := slowSpecFor(class, keyType, t); ok && !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// checkValue validates the shape of one attribute value.
func checkValue(s attrSpec, v []byte) error {
	switch s.kind {
	case kindBool:
		if len(v) != 1 {
			return CKR_ATTRIBUTE_VALUE_INVALID
		}
	case kindULong:
		if len(v) != 8 {
			return CKR_ATTRIBUTE_VALUE_INVALID
		}
	case kindDate:
		if len(v) != 0 && len(v) != 8 {
			return CKR_ATTRIBUTE_VALUE_INVALID
		}
		for _, c := range v {
			if c < '0' || c > '9' {
				return CKR_ATTRIBUTE_VALUE_INVALID
			}
		}
	case kindULongArray:
		if len(v)%8 != 0 {
			return CKR_ATTRIBUTE_VALUE_INVALID
		}
	}
	return nil
}
