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
// without j.mu (assess is pure).
func (j *Journal) readFiles() (data []byte, a *assessment, rs raiseState, err error) {
	if data, err = readJournal(j.path); err != nil {
		return nil, nil, raiseState{}, err
	}
	if data != nil {
		if a, err = assess(j.path, data, j.sealer); err != nil {
			return nil, nil, raiseState{}, err
		}
	}
	rs, err = j.readRaise()
	return data, a, rs, err
}

// readJournal returns the journal's content, nil if the file does not exist.
func readJournal(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIO, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIO, err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: not a regular file", ErrCorrupt)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIO, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrCorrupt, maxFileSize)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
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
