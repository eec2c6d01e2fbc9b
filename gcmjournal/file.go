package gcmjournal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// faultHook, when set by a test, is called at each named point of a write;
// an error it returns stops the write there, as a crash would (except that
// the temporary file is removed).
var faultHook func(point string) error

func fault(point string) error {
	if faultHook != nil {
		return faultHook(point)
	}
	return nil
}

// readFiles reads the journal and judges it (a is nil when there is no
// file), then reads the raise file: what Open and every write merge.
// Called with the flock held (the raise file is written in place) and
// without j.mu (assess is pure), by Open or the one write in flight.
func (j *Journal) readFiles() (data []byte, a *assessment, rs raiseState, err error) {
	if data, a, err = j.readJournal(); err != nil {
		return nil, nil, raiseState{}, err
	}
	rs, err = j.readRaise()
	return data, a, rs, err
}

// journalView is the journal file as this process last read it: the file
// held open, its fstat from before the read, the content and its
// assessment. Holding the file open keeps its inode from being freed, so
// while the journal's path still names that inode, with the same size,
// mtime and ctime, the content is the one read: every Craton writer
// replaces the journal by a rename (a new inode), never in place.
type journalView struct {
	f    *os.File
	fi   os.FileInfo
	data []byte
	a    *assessment
}

// unchanged reports whether fi, a fresh stat of the journal's path, still
// describes the file v was read from. An edit in place by something other
// than Craton changes mtime and ctime, so it is read at the next write too
// (unless it lands within the timestamp granularity of the read, on a
// filesystem that gives coarse timestamps; such an edit is seen when the
// file is next replaced, or by the next process to open it).
func (v *journalView) unchanged(fi os.FileInfo) bool {
	if v == nil || !os.SameFile(v.fi, fi) || v.fi.Size() != fi.Size() || !v.fi.ModTime().Equal(fi.ModTime()) {
		return false
	}
	old, ok1 := v.fi.Sys().(*syscall.Stat_t)
	cur, ok2 := fi.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && old.Ctim == cur.Ctim
}

// readJournal returns the journal's content and assessment, both nil if
// the file does not exist. A write re-reads the file only when its path
// names another file than the one read last, or that file changed: one
// stat instead of reading, checking and parsing a journal that grows by a
// line per key ever used (about 0.9 MB for 10,000 keys), whichever key the
// write raises. Called with the flock held, by Open or the one write in
// flight.
func (j *Journal) readJournal() ([]byte, *assessment, error) {
	fi, err := os.Stat(j.path)
	if errors.Is(err, fs.ErrNotExist) {
		j.dropView()
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrIO, err)
	}
	if j.view.unchanged(fi) {
		return j.view.data, j.view.a, nil
	}
	j.dropView()
	j.fullReads++
	f, err := os.Open(j.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrIO, err)
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
		}
	}()
	if fi, err = f.Stat(); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrIO, err)
	} else if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%w: not a regular file", ErrCorrupt)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrIO, err)
	}
	if len(data) > maxFileSize {
		return nil, nil, fmt.Errorf("%w: larger than %d bytes", ErrCorrupt, maxFileSize)
	}
	a, err := assess(j.path, data, j.sealer)
	if err != nil {
		return nil, nil, err
	}
	j.view, keep = &journalView{f: f, fi: fi, data: data, a: a}, true
	return data, a, nil
}

// dropView forgets the journal as last read and closes its file.
func (j *Journal) dropView() {
	if j.view != nil {
		j.view.f.Close()
		j.view = nil
	}
}

// writeAtomic replaces path with data: write path+".tmp", fsync it, rename
// it over path, fsync the directory. When it returns nil, data is durable;
// when it fails, path holds either the old content or data, whole. The
// caller holds the flock, so the fixed temporary name is never shared.
func writeAtomic(path string, data []byte) (err error) {
	tmp := path + ".tmp"
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w: %w", ErrIO, err)
		}
	}()
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	renamed := false
	defer func() {
		if !renamed {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := fault("write"); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := fault("fsync"); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := fault("rename"); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	renamed = true
	if err := fault("dirsync"); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// flock takes the exclusive lock on the lock file, waiting for other
// processes (and other Journals of this process) to release it.
func (j *Journal) flock() error {
	for {
		err := syscall.Flock(int(j.lock.Fd()), syscall.LOCK_EX)
		if err == nil {
			return nil
		}
		if err != syscall.EINTR {
			return fmt.Errorf("gcm journal %s: %w: flock: %w", j.path, ErrIO, err)
		}
	}
}

func (j *Journal) funlock() {
	syscall.Flock(int(j.lock.Fd()), syscall.LOCK_UN)
}

// fdatasync flushes f's data (and the metadata needed to read it back): the
// raise file never changes size, so this is one device flush.
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
