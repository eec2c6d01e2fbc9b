package backend

import "crypto/fips140"

// FIPSEnabled reports whether Go's FIPS 140-3 module is on in this process
// (GOFIPS140 build, or GODEBUG=fips140=on|only). A FIPS-mode token refuses to
// start without it.
func FIPSEnabled() bool { return fips140.Enabled() }
