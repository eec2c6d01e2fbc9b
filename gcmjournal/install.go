package gcmjournal

import "sync"

var (
	installMu sync.Mutex
	installed *Journal
)

// Install installs the process's journal, once: the first successful call
// opens it with o; later calls return that journal, with ok reporting
// whether o asks for the same one (same canonical path, cap and step). When
// ok is false the caller keeps the installed journal and logs that switching
// needs a restart. If Open fails nothing is installed and the next call
// tries again. The installed journal lives as long as the process (its
// Close is a no-op), so that C_Finalize then C_Initialize reuse it.
func Install(o Options) (j *Journal, ok bool, err error) {
	installMu.Lock()
	defer installMu.Unlock()
	if installed != nil {
		return installed, installed.matches(o), nil
	}
	j, err = Open(o)
	if err != nil {
		return nil, false, err
	}
	j.mu.Lock()
	j.pinned = true
	j.mu.Unlock()
	installed = j
	return j, true, nil
}

// Default returns the journal Install installed, or nil.
func Default() *Journal {
	installMu.Lock()
	defer installMu.Unlock()
	return installed
}

// matches reports whether o names this journal: the same canonical path (or
// both in memory), cap and step.
func (j *Journal) matches(o Options) bool {
	path := ""
	if o.Path != "" {
		p, err := canonical(o.Path)
		if err != nil {
			return false
		}
		path = p
	}
	maxEnc, step := o.Max, o.ReserveStep
	if maxEnc == 0 {
		maxEnc = MaxCap
	}
	if step == 0 {
		step = DefaultReserveStep
	}
	return path == j.path && maxEnc == j.max && step == j.step
}
