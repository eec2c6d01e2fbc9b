// Package gcmjournal owns Craton's AES-GCM nonce budget (SPEC §5): it counts
// the encryptions made under each AES key and bars a key from encrypting once
// it reaches the cap (NIST SP 800-38D: 2^32 random-IV encryptions per key;
// configurable lower as gcm.max_encryptions), durably across processes and
// crashes. A barred key can still decrypt; that is the caller's business.
//
// Keys are named by a [Fingerprint], the SHA-256 of the key value, which the
// caller computes. The package imports only the standard library and nothing
// of crypto/* (only backend/ may): the footer's HMAC comes from a [Sealer]
// the caller supplies. Its errors are sentinels ([ErrExhausted],
// [ErrPoisoned], [ErrCorrupt], [ErrIO], [ErrClosed]) that the caller maps to
// CK_RVs. Log lines name a key by a 12-hex-digit prefix of its fingerprint.
//
// # File format
//
// A text file, one line per item, every line ending in "\n":
//
//	craton-gcm-journal 1
//	<fingerprint> <ceiling> <state>
//	...
//	hmac-sha256 <mac>
//
// The fingerprint is 64 lowercase hex digits; the ceiling a decimal number
// without leading zeros, at most 2^32; the state "live", "exhausted" (the key
// reached the cap) or "poisoned" (the key was listed in a journal that failed
// its integrity check). There is one record per key, sorted by fingerprint:
// the file is always rewritten whole, so it never holds more than one line
// per key and never needs separate compaction. The footer's mac is 64 hex
// digits: Sealer.Sum(path, every byte before the footer line), where path is
// the journal's canonical path (absolute, directory symlinks resolved; see
// [Journal.Path]). The Sealer backend/ supplies is
//
//	key := SHA-256("craton gcm journal\x00" || path)
//	mac := HMAC-SHA256(key, data)
//
// The footer catches truncation, bit rot and a journal copied from another
// path; it is not a defence against an attacker who can write the file (the
// key is derived from public data), so it is compared with bytes.Equal.
// [Parse] reads the format; it is a pure function, fuzzed by FuzzParse.
//
// # Trust policy
//
// Each time the file is read (at [Open], and before every reservation):
//
//   - Footer matches: every record is honoured. A malformed line or a
//     duplicate key under a matching footer is [ErrCorrupt], as is a first
//     line that is not this version's header: nothing is ever written over a
//     file this code does not understand.
//   - Footer present but wrong (a flipped byte, a file copied from another
//     path), or any line malformed: the file fails closed. Every fingerprint
//     it names is Poisoned for this process ([Journal.Reserve] returns
//     [ErrPoisoned]) and an error log line names the file. "Names" includes
//     fingerprints read out of malformed lines: every 64-digit window of every
//     hex run, so that a damaged newline or separator cannot hide a key. Keys
//     it does not name may encrypt: they start at zero (a fingerprint whose
//     own digits were changed is, unavoidably, one of them). The poisoned
//     records are written back, as "poisoned", with the next rewrite of the
//     file (the first reservation of any key): resealing them with their old
//     values would launder the damage, so the poisoning becomes permanent.
//   - No footer, every complete line well formed (the file was cut): a
//     warning names the file and the records are honoured. Keys named by a
//     cut last line are Poisoned (their ceiling may have lost digits); a cut
//     line that names no key is reported in the warning.
//
// # Reservation protocol
//
// The file records a ceiling per key, not a count: the number of encryptions
// reserved for the key so far by all processes together. A process owns a
// block of counts [next, end) per key and hands them out from memory
// ([Journal.Reserve]'s fast path: a mutex and an increment, no I/O). When its
// block is used up, the next Reserve takes a new one, under the flock:
//
//  1. read and assess the file; merge it into memory (ceilings only rise,
//     states only worsen), so every other process's reservations are seen;
//  2. if the key is exhausted or poisoned, refuse;
//  3. if its ceiling c has reached Max, mark it exhausted, rewrite the file
//     (poisoning is fsync'd when it happens) and refuse with ErrExhausted;
//  4. otherwise set the ceiling to min(c+ReserveStep, Max), rewrite the file,
//     and only once that is durable own the block [c, new ceiling) and hand
//     out its first count.
//
// So the first encryption of a key waits for its record to be fsync'd, and
// thereafter one fsync'd rewrite covers ReserveStep (at most 1,024)
// encryptions. A restarted process starts every key at the recorded ceiling:
// counts reserved but never used are treated as spent.
//
// Every rewrite is atomic: write path+".tmp", fsync it, rename it over the
// journal, fsync the directory. A reader therefore always sees a whole file,
// old or new, and needs no lock.
//
// # Why kill -9 cannot make a key count low
//
// A count is handed out only from a block whose end is already durable in
// the file (step 4 finishes, directory fsync included, before the block is
// used), and a ceiling in the file never decreases (rewrites merge with the
// maximum of what is on disk and in memory). At any instant, then, the
// durable ceiling of a key is at least the number of encryptions made under
// it, and a process killed at any point (mid-write, the temporary file is
// ignored; after the rename, the new ceiling covers nothing yet handed out)
// leaves a file from which a restart counts no lower than the truth and
// higher by at most the unused part of one block per process.
//
// # Why processes together never exceed the cap
//
// Every read-modify-write of the file happens under an exclusive flock on
// path+".lock" (which is never deleted), and re-reads the file first, so the
// blocks of all processes are disjoint slices [c, c') of one sequence of
// ceilings that stops at Max. Each process hands out only its own blocks, so
// the processes together hand out at most Max, and exactly Max if they keep
// going: the last block is the partial one, min(ReserveStep, Max-c).
// Exhaustion is recorded in the file, so once one process has found the key
// exhausted no process takes a new block for it, whatever its own Max: a key
// cannot be re-armed, not even by raising gcm.max_encryptions.
//
// # Locks
//
// Journal.mu guards a journal's memory and is taken first; the flock is taken
// inside it, only when a block is used up, and released before Journal.mu.
// The flock is per open file description, so two Journals on one path in one
// process exclude each other as two processes do. A reservation holds
// Journal.mu across its fsyncs: other keys of the same process wait for it
// too, once per ReserveStep encryptions per key.
//
// # Installation
//
// [Install] installs the process's journal once (the first C_Initialize that
// names it); a later call with another path, cap or step returns the installed
// journal and false, and the caller logs that a restart is needed to switch.
// An in-memory journal (Options.Path "") keeps counters for the process only.
package gcmjournal
