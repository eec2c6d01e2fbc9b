package config

import "fmt"

// Limits on a document's shape, checked before the TOML decoder sees it. The
// decoder's cost grows much faster than linearly with the nesting of inline
// tables and the length of dotted keys (a 64 KiB file of nested inline
// tables takes it tens of seconds), and a bad file must not hang the host
// process. A valid Craton file nests two levels and dots at most once.
const (
	maxNesting = 16 // open [ and { at once
	maxDots    = 16 // dots in one key or header
)

// checkShape scans data for the bracket nesting and key dots that the limits
// above bound. It skips strings and comments, so it needs to understand only
// enough TOML to find them; a file it misreads is one TOML rejects anyway.
func checkShape(data []byte) (line int, err error) {
	line = 1
	depth, dots := 0, 0
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '\n':
			line++
			dots = 0
		case '#':
			for i+1 < len(data) && data[i+1] != '\n' {
				i++
			}
		case '"', '\'':
			var n int
			i, n = skipString(data, i)
			line += n
		case '[', '{':
			depth++
			dots = 0
			if depth > maxNesting {
				return line, fmt.Errorf("arrays and tables nested more than %d deep", maxNesting)
			}
		case ']', '}':
			depth = max(depth-1, 0)
			dots = 0
		case '=', ',':
			dots = 0
		case '.':
			dots++
			if dots > maxDots {
				return line, fmt.Errorf("key with more than %d dots", maxDots)
			}
		}
	}
	return line, nil
}

// skipString returns the index of the last byte of the string starting at
// data[i] (a quote, single or tripled), and the number of newlines inside it.
// Basic strings (double quotes) have backslash escapes; literal strings
// (single quotes) do not. Single-line strings end at a newline at the latest.
func skipString(data []byte, i int) (end, newlines int) {
	q := data[i]
	multi := i+2 < len(data) && data[i+1] == q && data[i+2] == q
	if multi {
		i += 2
	}
	for i++; i < len(data); i++ {
		switch c := data[i]; {
		case c == '\\' && q == '"':
			if i+1 < len(data) && data[i+1] == '\n' {
				newlines++
			}
			i++
		case c == '\n':
			if !multi {
				return i - 1, newlines // unterminated; let the decoder say so
			}
			newlines++
		case c == q && !multi:
			return i, newlines
		case c == q && i+2 < len(data) && data[i+1] == q && data[i+2] == q:
			// The delimiter is the last three of a run of up to five quotes.
			j := i + 3
			for j < len(data) && j < i+5 && data[j] == q {
				j++
			}
			return j - 1, newlines
		}
	}
	return len(data) - 1, newlines
}
