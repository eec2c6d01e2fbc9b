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
// reserved for the key so far by all processes together. A process owns
// blocks of counts per key, slices [from, to) of that sequence already
// durable in the file, and hands them out from memory (no I/O, no waiting:
// [Journal.Reserve] takes a mutex and decrements; a [Counter], the handle a
// caller keeps per key, does one compare-and-swap and takes no lock). Only
// how many counts a process holds matters, not which. New blocks come
// from a write, which serves every key queued for it, under the flock:
//
//  1. read and assess the file and the raise file; merge them into memory (ceilings only rise,
//     states only worsen), so every other process's reservations are seen;
//  2. skip a key that is exhausted or poisoned;
//  3. if a key's ceiling c has reached Max, give it nothing; if the process
//     holds no unused count of it, mark it exhausted, rewrite the file
//     (poisoning is fsync'd when it happens) and refuse with ErrExhausted;
//  4. otherwise set its ceiling to min(c+n, Max): n is min(ReserveStep,
//     1,024) if the process holds no unused count of the key, ReserveStep/2
//     if it holds at most ReserveStep-ReserveStep/2 (it is fetching ahead);
//     a key that holds more gets nothing;
//  5. rewrite the file, or write the raise file (see "Raise file"), and
//     only once that is durable add each block [c, new ceiling) to what the
//     process owns.
//
// A write happens in one of two places:
//
//   - In the foreground, when Reserve finds no count left and no write in
//     flight: it does the write itself and waits for it. The first
//     encryption of a key always does (its record is fsync'd before it is
//     allowed), and so does every block with ReserveStep below 16 (tests, or
//     deployments that want the tightest crash bound), as before fetching
//     ahead existed.
//   - In the background, fetching ahead (a file journal with ReserveStep of
//     at least 16): when handing out a count leaves the process holding at
//     most ReserveStep - ReserveStep/2 unused counts of the key (half a
//     step), the key is queued and a background writer goroutine reserves
//     the next ReserveStep/2, while the counts in hand last. With ordinary
//     I/O latency the block is durable before they run out, so Reserve does
//     no I/O and never waits: per key, one fsync'd write per half step,
//     off the caller's path. A Reserve waits only when the process has used
//     up every count it holds before the block in flight is durable (a
//     write slower than half a step of encryptions), and then for that write
//     only.
//
// The default ReserveStep, 2,048, is two blocks of 1,024: the first
// encryption of a key reserves one block in the foreground, which at once
// queues the second; from then on a block of 1,024 is fetched each time the
// process is down to 1,024 in hand. A write thus has 1,024 encryptions'
// time to become durable (about 0.5 ms at the token's fastest, 64-byte
// messages through its Go face; a raise takes 0.15-0.4 ms on the machine
// the benchmarks ran on), and a key costs one write per 1,024 counts, the
// least SPEC §5 allows. With a step of 1,024 (blocks of 512 fetched with
// 512 in hand) writes came twice as often and the caller waited for about
// every second one: 48-61 % of the in-memory rate against 69-77 % in
// BenchmarkGCM64 (pkcs11/), whose flush floor measured 76-98 % alongside.
// A crash costs a key at most 2,048 of its 2^32 counts per process.
//
// The background writer is a goroutine, so it needs one of Go's GOMAXPROCS
// slots (Ps) to start. In a host whose threads call into the library as
// fast as they can, each keeps its P between calls, so with as many busy
// threads as Ps the writer waits until one of them blocks: then the
// threads that run out of counts write in the foreground (see
// bench/RESULTS.md). Nothing is lost by it, only speed.
//
// A restarted process starts every key at the recorded ceiling: counts
// reserved but never used are treated as spent.
//
// A background write that fails (I/O error, or a file that has become
// corrupt) takes nothing from the counts the process holds: they stay
// durable and are handed out. The failure is logged once (until a write
// succeeds again) and recorded against each key it was to serve; the first
// Reserve of such a key that has no count left gets it (ErrIO or ErrCorrupt:
// fail closed), and nothing is fetched ahead for the key until then. The
// Reserve after that tries again, in the foreground.
//
// Every rewrite is atomic: write path+".tmp", fsync it, rename it over the
// journal, fsync the directory. A reader therefore always sees a whole file,
// old or new.
//
// # Raise file
//
// Most writes only raise the ceilings of keys the journal already records
// as live. Those go to the raise file, path+".raise", instead of a rewrite:
// two fixed slots of 16 KiB, written in place alternately, each
//
//	"CRGCMR01" | seq (uint64 LE) | n (uint32 LE) | 0 (uint32)
//	n × (fingerprint [32] | ceiling (uint64 LE))
//	Sealer.Sum(path+".raise", everything above) | zero padding
//
// A write puts the keys whose ceiling is above the journal's (all of them:
// the slot replaces the raise content, it does not add to it) into the slot
// that does not hold the newest valid content, with the next sequence
// number, and fdatasyncs: one device flush of a file whose size never
// changes, about a fifth of a rewrite's cost (0.13 ms against 0.68 ms where
// it was measured). Readers take the valid slot with the highest sequence
// number and merge its ceilings over the journal's (only rising). A crash
// mid-write cuts only the slot being written, whose content was not yet
// used; the other slot holds the content before it. A write that records a
// new key, a new state (exhausted, poisoned), a journal that is not sealed,
// or more keys than a slot holds (raiseMaxRecs) rewrites the journal instead,
// with every ceiling folded in; the raise content then lies at or below the
// journal's and is dropped by the next raise. The first raise creates the
// file atomically (as a rewrite does), with its other slot empty, so from
// then on at least one slot always opens.
//
// A raise file of the wrong size, or with no slot that opens, fails closed:
// it may have held any key's ceiling, so every key the journal lists, this
// process knows, or the raise file names is poisoned, with an error line;
// the next write records them so in the journal and starts the raise file
// afresh. A deleted raise file loses what it raised, as a deleted journal
// loses everything: both are the operator's to keep.
//
// Because the raise file is written in place, readers (Open, [Inspect])
// take the flock too.
//
// # Invariants
//
// Per process and per key, at every instant:
//
//   - Every count handed out lies in a block whose end was durable in the
//     file before the block was added to the process (step 5).
//   - What the file reserves for the process and it has not handed out is at
//     most ReserveStep. A write decides from a snapshot of what the process
//     holds (step 4): min(ReserveStep, 1,024) only if it holds no unused
//     count, half a step only if it holds at most ReserveStep-ReserveStep/2. One write is
//     in flight at a time, and between its snapshot and the moment its
//     blocks are added the process's unused counts only fall.
//   - Each write raises a key's ceiling by at most 1,024 (min(ReserveStep,
//     1,024), or ReserveStep/2 with ReserveStep at most 2,048), and no
//     count is handed out above a durable ceiling: the file is fsync'd at
//     least once every 1,024 counts of a key, as SPEC §5 asks.
//
// # Why kill -9 cannot make a key count low
//
// A count is handed out only from a block whose end is already durable in
// the files (step 5 finishes, the directory fsync or the raise file's
// fdatasync included, before the block is used), and a key's ceiling in the
// files (the journal's, or the newest raise slot's when higher) never
// decreases: rewrites merge with the maximum of what is on disk and in
// memory, and a raise slot carries every ceiling above the journal's. At any instant, then, the
// durable ceiling of a key is at least the number of encryptions made under
// it, and a process killed at any point (mid-write, the temporary file is
// ignored; after the rename, the new ceiling covers nothing yet handed out)
// leaves a file from which a restart counts no lower than the truth, and
// higher by at most ReserveStep per process (the second invariant): the
// unused rest of its current block plus any block fetched ahead.
//
// # Why processes together never exceed the cap
//
// Every read-modify-write of the file happens under an exclusive flock on
// path+".lock" (which is never deleted), and re-reads the file first, so the
// blocks of all processes are disjoint slices [c, c') of one sequence of
// ceilings that stops at Max. Each process hands out only its own blocks, so
// the processes together hand out at most Max, and exactly Max if they keep
// going: the last block is the partial one, Max-c.
//
// No count is stranded in a process that stops because it was refused: a
// process refuses a key with ErrExhausted only when it holds no unused count
// of it and has no write in flight; once it has, nothing is fetched ahead
// for that key again. A block fetched ahead near the cap belongs to a
// process that is still encrypting (it was fetched because that process's
// counts were being used), and it is used before that process is refused.
// Likewise a process that holds counts of a key another process has since
// found exhausted keeps handing them out (they lie below the cap and belong
// to no one else); only poisoning refuses at once. As without fetching
// ahead, a process that simply stops encrypting leaves what it holds (at
// most ReserveStep) unused.
//
// Exhaustion is recorded in the file, so once one process has found the key
// exhausted no process takes a new block for it, whatever its own Max: a key
// cannot be re-armed, not even by raising gcm.max_encryptions.
//
// # Locks
//
// The lock order is: the write token, then the flock, then Journal.mu.
//
// Journal.mu guards a journal's memory. It is held only for short critical
// sections that do no I/O and never wait for the flock: Reserve,
// Remaining, and the parts of a write that merge what was read, snapshot the
// records to write and install the blocks (CPU only, proportional to the
// number of keys).
//
// Counter.Reserve does not take Journal.mu while its key holds counts: an
// entry's counts in hand (entry.avail) and its flags for the fast path
// (entry.queued, entry.barred) are atomics, taken from without the mutex
// and added to or set only under it. It takes Journal.mu once per block, to
// queue the block ahead, and falls back on Reserve when the counts run out.
// Through the C ABI the encrypting goroutine is bound to the host's thread,
// and parking it on a mutex the writer holds cost about 140 µs each time: a
// tenth of the throughput of 64-byte encryptions.
//
// The write token (Journal.writing, guarded by Journal.mu, waited for on
// Journal.cond) admits one write at a time per Journal, foreground or
// background. A write takes it and the queue of keys under Journal.mu, then
// releases Journal.mu; takes the flock; reads and assesses the file without
// Journal.mu; takes Journal.mu to merge and snapshot, and releases it; seals,
// writes and fsyncs the file and releases the flock, without Journal.mu; then
// takes Journal.mu again to install the blocks, give back the token and wake
// the waiters. A Reserve that needs a block while a write is in flight waits
// for the token (on Journal.cond, which releases Journal.mu); a Reserve that
// still holds counts never waits for it.
//
// The background writer waits for work on an eventfd (Journal.wakeFD, read
// in Go's network poller with Journal.bgAsleep set and Journal.mu released),
// not on Journal.cond: whoever queues a key, or ends a write, while it
// sleeps there writes to the eventfd. wakeDue marks it awake under
// Journal.mu; Counter.Reserve writes the eventfd just after releasing
// Journal.mu, so that the writer does not wake into a mutex its waker
// holds, and the slow paths write at once. Woken through Journal.cond, the
// writer was made runnable on the encrypting thread's P, and the runtime
// woke another thread to steal it from there; the eventfd costs the
// encrypting thread one write(2). Against the cond, in two alternating runs
// through the library (round medians): 64-byte encryptions 2 % and 11 %
// faster, 1 KiB 5 % and 11 %. It waits on Journal.cond only for a write in
// flight, which broadcasts when it ends.
//
// [Journal.Count] waits for the writes in flight or queued when it is
// called, so that what it reports is settled. [Journal.Close] marks the
// journal closed (Reserve then returns ErrClosed), waits for the write in
// flight and for the background goroutine to exit (no goroutine outlives
// it), then closes the lock file; an installed journal's Close only waits.
//
// The flock is per open file description, so two Journals on one path in one
// process exclude each other as two processes do.
//
// # Installation
//
// [Install] installs the process's journal once (the first C_Initialize that
// names it); a later call with another path, cap or step returns the installed
// journal and false, and the caller logs that a restart is needed to switch.
// An in-memory journal (Options.Path "") keeps counters for the process only.
package gcmjournal
