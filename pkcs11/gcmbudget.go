package pkcs11

import (
	"errors"

	"github.com/craton-hsm/craton/backend"
	"github.com/craton-hsm/craton/config"
	"github.com/craton-hsm/craton/gcmjournal"
	"github.com/craton-hsm/craton/pkcs11/ck"
	"github.com/craton-hsm/craton/slots"
	"go.uber.org/zap"
)

// The AES-GCM budget (SPEC §5): every CKM_AES_GCM encryption of a key is
// counted in the process's gcmjournal, the key named by the SHA-256 of its
// value. A key that reaches gcm.max_encryptions can still decrypt, never
// encrypt again.

// benchJournalInMemory is set to "yes" only at link time, by `make
// bench-journal` (-X), for a library whose GCM journal is in memory: the
// "without the journal" side of issue 4's comparison, measured through
// the C ABI beside the real library. Counts are then neither durable nor
// shared between processes, so no shipped build sets it; such a library
// says so in a warning at every C_Initialize.
var benchJournalInMemory string

// journalPath is the journal file the configuration names, or "" (in
// memory) in a library linked for bench-journal.
func journalPath(cfg *config.Config) string {
	if benchJournalInMemory == "yes" {
		return ""
	}
	return cfg.JournalPath()
}

// openJournal installs the process's journal (the first C_Initialize that
// names one wins; another path is ignored with a log line), or returns the
// one a test supplied.
func openJournal(cfg *config.Config, given *gcmjournal.Journal, log *zap.Logger) (*gcmjournal.Journal, error) {
	if given != nil {
		return given, nil
	}
	path := journalPath(cfg)
	if path == "" {
		log.Warn("benchmark build: the GCM journal is in memory; AES-GCM counts are not durable and not shared between processes")
	}
	sugar := log.Sugar()
	j, ok, err := gcmjournal.Install(gcmjournal.Options{
		Path:   path,
		Max:    cfg.GCM.MaxEncryptions,
		Sealer: backend.JournalSealer{},
		Log: func(level, msg string, kv ...any) {
			switch level {
			case "error":
				sugar.Errorw(msg, kv...)
			case "warn":
				sugar.Warnw(msg, kv...)
			default:
				sugar.Infow(msg, kv...)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		log.Warn("a GCM journal is already installed in this process; keeping it (restart the process to switch)",
			zap.String("installed", j.Path()), zap.String("configured", path))
	}
	return j, nil
}

// gcmJournal returns the process's journal, opening it if an earlier try
// failed (a journal directory that was missing or unwritable at
// C_Initialize can be fixed without a restart).
func (st *state) gcmJournal() (*gcmjournal.Journal, error) {
	if j := st.journal.Load(); j != nil {
		return j, nil // every encryption passes here: no lock once it is open
	}
	st.journalMu.Lock()
	defer st.journalMu.Unlock()
	if j := st.journal.Load(); j != nil {
		return j, nil
	}
	j, err := openJournal(st.cfg, st.givenJournal, st.log)
	if err != nil {
		return nil, err
	}
	st.journal.Store(j)
	return j, nil
}

// Spend is the token's GCM budget (backend.Budget): it reserves one
// encryption of key k in the journal. The state itself is the budget, so
// starting an encryption makes nothing; k names itself in a log line
// (label or unique ID, from the attributes it was made from) only when the
// encryption is refused.
func (st *state) Spend(k *backend.Key) error {
	j, err := st.gcmJournal()
	if err != nil {
		st.log.Error("AES-GCM encryption refused: the GCM journal cannot be opened", zap.String("key", keyName(k.Attrs)), zap.Error(err))
		return ck.Errorf(ck.CKR_DEVICE_ERROR, "GCM journal: %v", err)
	}
	// The key keeps its counter: counting is then one compare-and-swap,
	// with no lock and no lookup. A counter from another journal (one that
	// failed to open before) is replaced.
	c, _ := k.Meter().(*gcmjournal.Counter)
	if c == nil || c.Journal() != j {
		c = j.Counter(gcmjournal.Fingerprint(k.Fingerprint()))
		k.SetMeter(c)
	}
	err = c.Reserve()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gcmjournal.ErrExhausted):
		st.log.Error("AES-GCM key reached its encryption limit; it can still decrypt, never encrypt again",
			zap.String("key", keyName(k.Attrs)), zap.Uint64("max_encryptions", j.Max()))
		return ck.Errorf(ck.CKR_KEY_FUNCTION_NOT_PERMITTED, "GCM encryption limit reached")
	case errors.Is(err, gcmjournal.ErrPoisoned):
		st.log.Error("AES-GCM key refused: the GCM journal that counts it was found damaged",
			zap.String("key", keyName(k.Attrs)), zap.String("journal", j.Path()))
		return ck.Errorf(ck.CKR_KEY_FUNCTION_NOT_PERMITTED, "GCM journal damaged")
	}
	return ck.Errorf(ck.CKR_DEVICE_ERROR, "GCM journal: %v", err)
}

// gcmRemaining answers CKA_CRATON_GCM_REMAINING for an AES key.
func (st *state) gcmRemaining(o *slots.Object) ([]byte, bool) {
	if o.Class() != ck.CKO_SECRET_KEY || o.KeyType() != ck.CKK_AES || o.Locked {
		return nil, false
	}
	j, err := st.gcmJournal()
	if err != nil {
		return nil, false
	}
	n, err := j.Remaining(gcmjournal.Fingerprint(o.Key().Fingerprint()))
	if err != nil {
		n = 0
	}
	return ck.ULong(n), true
}

// keyName names a key in log lines: its label, else its unique ID. Never
// its value.
func keyName(attrs map[uint64][]byte) string {
	if l := attrs[ck.CKA_LABEL]; len(l) > 0 {
		return string(l)
	}
	return "unique-id:" + string(attrs[ck.CKA_UNIQUE_ID])
}
