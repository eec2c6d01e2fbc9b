package gcmjournal

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"
)

// The journal's text format; see the package documentation.
const (
	header       = "craton-gcm-journal 1"
	headerPrefix = "craton-gcm-journal "
	footerPrefix = "hmac-sha256 "
	macSize      = 32 // bytes of the footer's MAC (HMAC-SHA256)

	// MaxCap is the largest cap a journal accepts and the largest ceiling a
	// record may hold: 2^32 encryptions, the NIST SP 800-38D limit for
	// random 96-bit IVs.
	MaxCap = 1 << 32

	// maxWindowsPerRun bounds how many fingerprint candidates one run of hex
	// characters in a damaged line yields (see Parse).
	maxWindowsPerRun = 1024
)

// Fingerprint identifies an AES key: the SHA-256 of its value, computed by
// the caller. The journal never sees the key itself.
type Fingerprint [32]byte

// String returns the fingerprint in lowercase hex, as the journal writes it.
func (fp Fingerprint) String() string { return hex.EncodeToString(fp[:]) }

// short is the prefix of the fingerprint that log lines carry.
func (fp Fingerprint) short() string { return hex.EncodeToString(fp[:6]) }

// State is what the journal says about a key's right to encrypt.
type State uint8

const (
	// Live: the key may encrypt up to its ceiling.
	Live State = iota
	// Exhausted: the key reached the cap; it never encrypts again.
	Exhausted
	// Poisoned: the key was listed in a journal that failed its integrity
	// check; it never encrypts again.
	Poisoned
)

var stateWords = [...]string{Live: "live", Exhausted: "exhausted", Poisoned: "poisoned"}

func (s State) String() string {
	if int(s) < len(stateWords) {
		return stateWords[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Record is one line of the journal: a key, the number of encryptions
// reserved for it so far by all processes (its ceiling), and its state.
type Record struct {
	FP      Fingerprint
	Ceiling uint64
	State   State
}

// Damage is a line of a journal that is not a well-formed record.
type Damage struct {
	Line     int           // 1-based line number in the file
	FPs      []Fingerprint // every fingerprint the line may name (see Parse)
	Fragment bool          // the file's last line, cut before its newline
}

// File is a parsed journal. Parse does not check the footer's MAC: it has no
// key. The caller compares Footer with its own MAC of Sealed.
type File struct {
	Records   []Record // the well-formed records, in file order
	Damage    []Damage // the lines that are not well-formed records
	Truncated bool     // the data ends without a newline: its tail was cut
	HasFooter bool     // the last line is a footer line
	Footer    []byte   // the footer's MAC; nil if absent or not 64 hex digits
	Sealed    []byte   // the bytes before the footer line (what Footer covers); nil without a footer
}

// Parse reads a journal. It is a pure function of data, safe on any input.
//
// It fails (with an error matching [ErrCorrupt]) only when the first line is
// complete and is not this version's header: the data is not a Craton GCM
// journal, or a version this code does not know, and must not be rewritten.
// Empty data, or a header cut short, parse as a truncated empty journal.
//
// Every other defect is reported, not fatal, so that the caller can fail
// closed on exactly the keys involved: a line that is not a well-formed record
// becomes a Damage listing every fingerprint it may name, which is every
// 64-character window of every run of at least 64 lowercase hex digits in it
// (so that a damaged newline or separator, which can merge two records or a
// fingerprint with its neighbours, still names both keys; a window that names
// no key is harmless). A footer line is recognised only as the last line.
func Parse(data []byte) (*File, error) {
	f := new(File)
	nl := bytes.IndexByte(data, '\n')
	if nl < 0 {
		if bytes.HasPrefix([]byte(header+"\n"), data) {
			f.Truncated = true
			return f, nil
		}
		return nil, fmt.Errorf("%w: not a Craton GCM journal (first line %s)", ErrCorrupt, quote(data))
	}
	if first := data[:nl]; string(first) != header {
		if bytes.HasPrefix(first, []byte(headerPrefix)) {
			return nil, fmt.Errorf("%w: unsupported journal version (first line %s; this build reads %q)", ErrCorrupt, quote(first), header)
		}
		return nil, fmt.Errorf("%w: not a Craton GCM journal (first line %s)", ErrCorrupt, quote(first))
	}
	pos := nl + 1
	for lineNo := 2; pos < len(data); lineNo++ {
		i := bytes.IndexByte(data[pos:], '\n')
		if i < 0 {
			f.Truncated = true
			frag := data[pos:]
			if bytes.HasPrefix(frag, []byte(footerPrefix)) || bytes.HasPrefix([]byte(footerPrefix), frag) {
				break // the footer was cut: no record is lost
			}
			f.Damage = append(f.Damage, Damage{Line: lineNo, FPs: scanFingerprints(frag), Fragment: true})
			break
		}
		line := data[pos : pos+i]
		start := pos
		pos += i + 1
		if pos == len(data) && bytes.HasPrefix(line, []byte(footerPrefix)) {
			f.HasFooter = true
			f.Sealed = data[:start:start]
			if mac := line[len(footerPrefix):]; len(mac) == 2*macSize && isLowerHex(mac) {
				f.Footer = make([]byte, macSize)
				hex.Decode(f.Footer, mac)
			}
			break
		}
		if r, ok := parseRecord(line); ok {
			f.Records = append(f.Records, r)
			continue
		}
		f.Damage = append(f.Damage, Damage{Line: lineNo, FPs: scanFingerprints(line)})
	}
	return f, nil
}

// parseRecord reads "<64 lowercase hex> <decimal ceiling> <state>", in
// canonical form only (no leading zeros, single spaces), ceiling ≤ MaxCap.
func parseRecord(line []byte) (Record, bool) {
	var r Record
	if len(line) < 2*len(r.FP)+4 || line[2*len(r.FP)] != ' ' {
		return r, false
	}
	if !isLowerHex(line[:2*len(r.FP)]) {
		return r, false
	}
	hex.Decode(r.FP[:], line[:2*len(r.FP)])
	rest := line[2*len(r.FP)+1:]
	sp := bytes.IndexByte(rest, ' ')
	if sp < 1 || sp > 10 {
		return r, false
	}
	num := rest[:sp]
	if num[0] == '0' && len(num) > 1 {
		return r, false
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return r, false
		}
		r.Ceiling = r.Ceiling*10 + uint64(c-'0')
	}
	if r.Ceiling > MaxCap {
		return r, false
	}
	switch string(rest[sp+1:]) {
	case "live":
		r.State = Live
	case "exhausted":
		r.State = Exhausted
	case "poisoned":
		r.State = Poisoned
	default:
		return r, false
	}
	return r, true
}

// scanFingerprints returns every 64-character window of every run of at
// least 64 lowercase hex digits in b (at most maxWindowsPerRun per run).
func scanFingerprints(b []byte) []Fingerprint {
	var fps []Fingerprint
	const n = 2 * len(Fingerprint{})
	for i := 0; i < len(b); {
		if !isLowerHexByte(b[i]) {
			i++
			continue
		}
		j := i
		for j < len(b) && isLowerHexByte(b[j]) {
			j++
		}
		for k := 0; i+k+n <= j && k < maxWindowsPerRun; k++ {
			var fp Fingerprint
			hex.Decode(fp[:], b[i+k:i+k+n])
			fps = append(fps, fp)
		}
		i = j
	}
	return fps
}

func isLowerHexByte(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

func isLowerHex(b []byte) bool {
	for _, c := range b {
		if !isLowerHexByte(c) {
			return false
		}
	}
	return true
}

func quote(b []byte) string {
	if len(b) > 40 {
		return strconv.Quote(string(b[:40])) + "..."
	}
	return strconv.Quote(string(b))
}

// appendBody appends the header and one line per record, in the order given.
func appendBody(dst []byte, recs []Record) []byte {
	dst = append(dst, header...)
	dst = append(dst, '\n')
	for _, r := range recs {
		dst = hex.AppendEncode(dst, r.FP[:])
		dst = append(dst, ' ')
		dst = strconv.AppendUint(dst, r.Ceiling, 10)
		dst = append(dst, ' ')
		dst = append(dst, r.State.String()...)
		dst = append(dst, '\n')
	}
	return dst
}

// appendFooter appends the footer line carrying mac.
func appendFooter(dst, mac []byte) []byte {
	dst = append(dst, footerPrefix...)
	dst = hex.AppendEncode(dst, mac)
	return append(dst, '\n')
}
