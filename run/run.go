// Package run manages the directory of a long job (pretraining,
// fine-tuning, distillation): the copy of its configuration, its metrics as
// JSON lines, its checkpoints, resumption, and the lock that keeps two
// processes from writing it at once.
//
// Layout of a run directory:
//
//	.lock              the write lock; holds the PID of its holder (or last holder)
//	config.yaml        the configuration the run was started with
//	metrics.jsonl      one JSON object per line: progress and evaluations
//	checkpoints/NAME/  complete checkpoints (model, optimiser, state)
//	latest             the name of the newest complete checkpoint
//
// Writers and readers. Create, Resume, Restart and Start open a run to
// write it: they take an exclusive, advisory lock on .lock (flock on Unix,
// LockFileEx on Windows) before writing anything, and Dir.Close, or the
// system when the process ends however it ends, releases it. A second
// writer is refused with an error naming the holder's PID (ErrInUse), so
// two Creates of the same new directory at once make exactly one run. Open
// opens a run to read it (eval, predict, export) without the lock and
// without writing.
//
// Crash safety. A checkpoint is written into checkpoints/.tmp-NAME-*, every
// file and the directory synced. If a checkpoint NAME already exists it is
// renamed aside to checkpoints/.old-NAME-*; then the new one is renamed to
// NAME, the directory synced, latest rewritten atomically (temporary file,
// sync, rename, directory sync), and only then is the old one deleted.
// Checkpoints pruned are renamed to .tmp-* before being deleted. Hence, if
// the process dies at any point:
//   - Latest finds a complete checkpoint, the latest before the save or
//     the new one, never a missing or partial one;
//   - a checkpoint NAME is complete, absent (never saved, or pruned), or,
//     between the two renames of a save, found as .old-NAME-*: readers
//     (Latest, CheckpointDir) use that one, and the next writer puts it back
//     as NAME;
//   - the next writer to open the run (Create, Resume, Restart) deletes the
//     leftover .tmp-* directories, the .old-* ones whose NAME exists, and the
//     temporaries of atomic writes, and terminates a metrics line cut short.
//
// Metrics logged before a checkpoint are synced to disk with it; those
// logged after the checkpoint a run resumes from are dropped by the
// resumed run (DropMetrics), which logs them again. A run killed before
// its first checkpoint has no latest: Create refuses it and Latest reports
// it (both with ErrNoCheckpoint, saying to start over with --restart), and
// Restart clears it and starts it anew.
//
// Not guaranteed: durability against power loss rests on the file system
// honouring fsync; a checkpoint saved for the first time but not yet named
// by latest when the process died is not resumed from (the run counts as
// having no checkpoint, so Restart clears it); and on Windows the holder's
// PID cannot be read while it holds the lock, so the error does not name
// it.
package run

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hiertune/hiertune/internal/atomicfile"
	"github.com/hiertune/hiertune/internal/flock"
)

const (
	lockName    = ".lock"
	configName  = "config.yaml"
	metricsName = "metrics.jsonl"
	latestName  = "latest"
	ckptDir     = "checkpoints"
	tmpPrefix   = ".tmp-" // a save's or prune's directory, deleted at the next start
	oldPrefix   = ".old-" // a checkpoint set aside while its successor is renamed in
)

// Dir is an open run directory: opened to write it (Create, Resume,
// Restart, Start), holding its lock, or to read it (Open).
type Dir struct {
	Path string // the run directory

	mu      sync.Mutex
	metrics *os.File // nil when read-only or closed
	lock    *os.File // nil when read-only or closed
	// follower is set on the Dir of a data-parallel job's other ranks:
	// it reads the run as rank 0 writes it, and its writes do nothing.
	follower bool

	// onStep, when set (by tests), is called after each step of
	// SaveCheckpoint that changes what is on disk: what a crash there
	// would leave.
	onStep func(step string)
}

// ErrExists is matched (errors.Is) by the error of Create for a directory
// that already holds a run or other files, and of Restart for one that
// holds a run with checkpoints (unless discarding) or files but no run.
var ErrExists = errors.New("already holds a run (resume it with --resume, or choose another output)")

// ErrInUse is matched by the error of Create, Resume and Restart when
// another process, or another Dir of this one, holds the run's lock.
var ErrInUse = errors.New("in use by another process")

// ErrNoCheckpoint is matched by the error of Latest for a run that has no
// complete checkpoint yet, and of Create for a directory holding such a
// run. It also matches os.ErrNotExist.
var ErrNoCheckpoint error = noCheckpoint{}

type noCheckpoint struct{}

func (noCheckpoint) Error() string { return "has no checkpoint yet: start over with --restart" }

func (noCheckpoint) Is(target error) bool { return target == fs.ErrNotExist }

// pathError is an error "path: msg" that matches each of is.
type pathError struct {
	path, msg string
	is        []error
}

func (e *pathError) Error() string   { return e.path + ": " + e.msg }
func (e *pathError) Unwrap() []error { return e.is }

// contents is what a directory holds, as Create and Restart see it.
type contents int

const (
	vacant               contents = iota // nothing, or what a Create cut short before config.yaml leaves
	runWithCheckpoint                    // a run whose latest names a checkpoint (or is unreadable)
	runWithoutCheckpoint                 // a run killed before its first checkpoint
	foreign                              // files without a config.yaml: not a run
)

// Create starts a new run in path, which must not exist or be empty, and
// saves config there as config.yaml. It fails with ErrInUse while another
// writer holds path, and with ErrExists when path holds a run or other
// files; for a run without checkpoints the error also matches
// ErrNoCheckpoint and says to start over with --restart.
func Create(path string, config []byte) (*Dir, error) {
	d, _, err := claim(path, func(c contents) error {
		switch c {
		case runWithCheckpoint:
			return fmt.Errorf("%s: %w", path, ErrExists)
		case runWithoutCheckpoint:
			return &pathError{path, ErrNoCheckpoint.Error(), []error{ErrNoCheckpoint, ErrExists}}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := d.begin(config); err != nil {
		return nil, d.abandonOn(err)
	}
	return d, nil
}

// Restart starts the run in path over with config: holding the lock, it
// clears a run that has no latest checkpoint (one killed before its
// first), or, when discard is set, any run (everything in the directory),
// and creates it anew as Create does. A directory that does not exist or
// is empty is simply created. Restart refuses (ErrExists) a run with a
// latest checkpoint unless discard is set, and a non-empty directory that
// holds no run (no config.yaml); and, like Create, one in use (ErrInUse).
func Restart(path string, config []byte, discard bool) (*Dir, error) {
	d, c, err := claim(path, func(c contents) error {
		if c == runWithCheckpoint && !discard {
			return fmt.Errorf("%s: %w", path, ErrExists)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if c != vacant {
		err = d.clear()
	}
	if err == nil {
		err = d.begin(config)
	}
	if err != nil {
		return nil, d.abandonOn(err)
	}
	return d, nil
}

// Resume opens the run in path to continue it. When config is not nil it
// must equal the saved configuration: a run continues only with the
// settings it was started with. Resume does not require a checkpoint (a job
// may keep its progress elsewhere); callers resuming from one ask Latest,
// whose error says what to do when there is none.
func Resume(path string, config []byte) (*Dir, error) {
	if _, err := os.Stat(filepath.Join(path, configName)); err != nil {
		return nil, fmt.Errorf("%s: not a run directory: %w", path, err)
	}
	d, err := lockDir(path)
	if err != nil {
		return nil, err
	}
	saved, err := d.Config() // again, now that no one else can change it
	if err != nil {
		return nil, d.abandonOn(fmt.Errorf("%s: not a run directory: %w", path, err))
	}
	if config != nil && !bytes.Equal(bytes.TrimSpace(saved), bytes.TrimSpace(config)) {
		return nil, d.abandonOn(fmt.Errorf("%s: the configuration differs from the one the run started with (config.yaml there); resume with that one", path))
	}
	if err := d.ready(); err != nil {
		return nil, d.abandonOn(err)
	}
	return d, nil
}

// Mode is how a job takes its run directory.
type Mode int

const (
	// New starts a new run (Create).
	New Mode = iota
	// Continue resumes the run there (Resume).
	Continue
	// Over starts the run there over, discarding what it holds (Restart
	// with discard).
	Over
)

// Start creates, resumes or restarts the run in path, as mode says.
func Start(path string, config []byte, mode Mode) (*Dir, error) {
	switch mode {
	case Continue:
		return Resume(path, config)
	case Over:
		return Restart(path, config, true)
	}
	return Create(path, config)
}

// ResumeFrom returns the checkpoint a job taking its run directory d in
// mode continues from: with Continue, the latest, or "" (step 0, said on
// log) for a run killed before its first checkpoint; otherwise "".
func ResumeFrom(d *Dir, mode Mode, log io.Writer) (string, error) {
	if mode != Continue {
		return "", nil
	}
	latest, err := d.Latest()
	switch {
	case errors.Is(err, ErrNoCheckpoint):
		fmt.Fprintf(log, "%s: no checkpoint yet: starting from step 0\n", d.Path)
		return "", nil
	case err != nil:
		return "", err
	}
	fmt.Fprintf(log, "resuming from %s\n", latest)
	return latest, nil
}

// Open opens the run in path to read it: its configuration and
// checkpoints. It takes no lock and writes nothing, so it works while the
// run is being written; Log and SaveCheckpoint fail on the Dir it returns.
func Open(path string) (*Dir, error) {
	if _, err := os.Stat(filepath.Join(path, configName)); err != nil {
		return nil, fmt.Errorf("%s: not a run directory: %w", path, err)
	}
	return &Dir{Path: path}, nil
}

// Follow opens the run in path for a data-parallel job's ranks other than
// rank 0, once rank 0 has started it: it reads the run's checkpoints, and
// Log, DropMetrics and SaveCheckpoint do nothing (rank 0 writes them).
func Follow(path string) (*Dir, error) {
	d, err := Open(path)
	if err != nil {
		return nil, err
	}
	d.follower = true
	return d, nil
}

// claim makes the directory path if needed, takes its lock, and returns it
// with what it holds, unless it holds files but no run, or refuse, given
// what it holds, returns an error.
func claim(path string, refuse func(contents) error) (*Dir, contents, error) {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, 0, err
	}
	// Refuse a directory of someone else's files before making a lock file
	// in it. (Any other refusal waits for the lock: without it, a run that
	// another process is creating could be mistaken for an abandoned one.)
	if _, err := os.Lstat(filepath.Join(path, lockName)); errors.Is(err, fs.ErrNotExist) {
		if c, err := classify(path); err != nil {
			return nil, 0, err
		} else if c == foreign {
			return nil, 0, notRun(path)
		}
	}
	d, err := lockDir(path)
	if err != nil {
		return nil, 0, err
	}
	c, err := classify(path)
	if err == nil && c == foreign {
		err = notRun(path)
	} else if err == nil {
		err = refuse(c)
	}
	if err != nil {
		return nil, 0, d.abandonOn(err)
	}
	return d, c, nil
}

func notRun(path string) error {
	return &pathError{path, "is not empty and holds no run (no config.yaml): choose another output", []error{ErrExists}}
}

// classify returns what the directory path holds.
func classify(path string) (contents, error) {
	ents, err := os.ReadDir(path)
	if err != nil {
		return 0, err
	}
	c := vacant
	for _, e := range ents {
		switch name := e.Name(); {
		case name == configName:
			if _, err := (&Dir{Path: path}).Latest(); errors.Is(err, ErrNoCheckpoint) {
				return runWithoutCheckpoint, nil
			}
			return runWithCheckpoint, nil
		case name != lockName && !isAtomicTemp(name):
			c = foreign
		}
	}
	return c, nil
}

// isAtomicTemp reports whether name is the temporary file of an atomic
// write of config.yaml or latest.
func isAtomicTemp(name string) bool {
	return strings.HasPrefix(name, "."+configName+".tmp-") || strings.HasPrefix(name, "."+latestName+".tmp-")
}

// lockDir takes the lock of the run directory path and writes this
// process's PID into the lock file.
func lockDir(path string) (*Dir, error) {
	name := filepath.Join(path, lockName)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	ok, err := flock.TryLock(f)
	if err == nil && !ok {
		err = inUse(path)
	} else if err != nil {
		err = &os.PathError{Op: "lock", Path: name, Err: err}
	}
	if err == nil {
		err = f.Truncate(0)
	}
	if err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		f.Close() // the error above is the one to report
		return nil, err
	}
	return &Dir{Path: path, lock: f}, nil
}

// inUse returns the error for a run whose lock another holds, naming the
// holder's PID when the lock file shows it.
func inUse(path string) error {
	msg := "in use by another process (another hiertune writes this run)"
	// The holder writes its PID just after taking the lock: allow it a moment.
	// (On Windows the locked byte cannot be read, and the PID is not shown.)
	for range 20 {
		b, err := os.ReadFile(filepath.Join(path, lockName))
		if pid, perr := strconv.Atoi(string(bytes.TrimSpace(b))); err == nil && perr == nil && pid > 0 {
			msg = fmt.Sprintf("in use by process %d (another hiertune writes this run)", pid)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return &pathError{path, msg, []error{ErrInUse}}
}

// abandonOn releases the lock when err is not nil, and returns err.
func (d *Dir) abandonOn(err error) error {
	if err != nil {
		d.Close() // err is the one to report; a failed close leaves nothing behind
	}
	return err
}

// clear removes everything in the run directory but its lock. latest goes
// first, so that a clear cut short never leaves a run that seems to have a
// checkpoint, and config.yaml last, so that one still reads as a run.
func (d *Dir) clear() error {
	if err := os.Remove(d.join(latestName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	ents, err := os.ReadDir(d.Path)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if name := e.Name(); name != lockName && name != configName {
			if err := os.RemoveAll(d.join(name)); err != nil {
				return err
			}
		}
	}
	if err := os.Remove(d.join(configName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncDir(d.Path)
}

// begin writes config.yaml of a new run and readies it.
func (d *Dir) begin(config []byte) error {
	if err := atomicfile.Write(d.join(configName), config); err != nil {
		return err
	}
	return d.ready()
}

// ready tidies what an interrupted process left in the run and opens
// metrics.jsonl for appending.
func (d *Dir) ready() error {
	if err := d.tidy(); err != nil {
		return err
	}
	if err := os.MkdirAll(d.join(ckptDir), 0o755); err != nil {
		return err
	}
	if err := syncDir(d.Path); err != nil {
		return err
	}
	f, err := os.OpenFile(d.join(metricsName), os.O_CREATE|os.O_APPEND|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	if err := endLine(f); err != nil {
		f.Close() // err is the one to report
		return err
	}
	d.metrics = f
	return nil
}

// endLine appends a newline to f unless it is empty or ends with one: a
// line cut short by a crash then stands alone instead of swallowing the
// next record.
func endLine(f *os.File) error {
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return err
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, fi.Size()-1); err != nil && err != io.EOF {
		return err
	}
	if last[0] == '\n' {
		return nil
	}
	_, err = f.Write([]byte{'\n'})
	return err
}

// tidy deletes what saves cut short left: the temporaries of atomic writes
// and the .tmp-* directories, and the .old-* checkpoints whose successor is
// in place. An .old-NAME-* whose NAME is missing (the save died between
// its two renames) is renamed back to NAME.
func (d *Dir) tidy() error {
	ents, err := os.ReadDir(d.Path)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if isAtomicTemp(e.Name()) {
			if err := os.Remove(d.join(e.Name())); err != nil {
				return err
			}
		}
	}
	root := d.join(ckptDir)
	if ents, err = os.ReadDir(root); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	for _, e := range ents {
		p := filepath.Join(root, e.Name())
		name, isOld := setAsideName(e.Name())
		switch {
		case isOld:
			_, err := os.Lstat(filepath.Join(root, name))
			switch {
			case errors.Is(err, fs.ErrNotExist):
				err = os.Rename(p, filepath.Join(root, name))
			case err == nil:
				err = os.RemoveAll(p)
			}
			if err != nil {
				return err
			}
		case strings.HasPrefix(e.Name(), tmpPrefix), strings.HasPrefix(e.Name(), oldPrefix):
			if err := os.RemoveAll(p); err != nil {
				return err
			}
		}
	}
	return syncDir(root)
}

// setAsideName returns NAME when entry is .old-NAME-DIGITS.
func setAsideName(entry string) (string, bool) {
	rest, ok := strings.CutPrefix(entry, oldPrefix)
	i := strings.LastIndexByte(rest, '-')
	if !ok || i < 0 || !validName(rest[:i]) || !isDigits(rest[i+1:]) {
		return "", false
	}
	return rest[:i], true
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// setAside renames root/name to a new name made of prefix, name and a
// random number, and returns that.
func setAside(root, name, prefix string) (string, error) {
	for {
		p := filepath.Join(root, prefix+name+"-"+strconv.FormatUint(uint64(rand.Uint32()), 10))
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			return p, os.Rename(filepath.Join(root, name), p)
		} else if err != nil {
			return "", err
		}
	}
}

func (d *Dir) join(name string) string { return filepath.Join(d.Path, name) }

func (d *Dir) reached(step string) {
	if d.onStep != nil {
		d.onStep(step)
	}
}

// Config returns the configuration saved in the run.
func (d *Dir) Config() ([]byte, error) {
	return os.ReadFile(d.join(configName))
}

// Close closes the metrics file and releases the lock. It does nothing on
// a read-only or closed Dir.
func (d *Dir) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var err error
	if d.metrics != nil {
		err = d.metrics.Close()
	}
	if d.lock != nil {
		if cerr := d.lock.Close(); err == nil {
			err = cerr
		}
	}
	d.metrics, d.lock = nil, nil
	return err
}

// Log appends one record to metrics.jsonl, with the wall-clock time added
// as "time". It fails on a read-only or closed Dir.
func (d *Dir) Log(record map[string]any) error {
	rec := maps.Clone(record)
	if rec == nil {
		rec = map[string]any{}
	}
	if d.follower {
		return nil
	}
	rec["time"] = time.Now().UTC().Format(time.RFC3339)
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("%s: record not written: %w", d.join(metricsName), err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.metrics == nil {
		return d.notWritable()
	}
	_, err = d.metrics.Write(append(b, '\n'))
	return err
}

// DropMetrics removes the records drop selects from metrics.jsonl — those
// a resumed run logged after the checkpoint it continues from, and will log
// again — and returns how many it removed. The file is replaced
// atomically; lines that are not JSON objects are kept.
func (d *Dir) DropMetrics(drop func(record map[string]any) bool) (int, error) {
	if d.follower {
		return 0, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.metrics == nil {
		return 0, d.notWritable()
	}
	path := d.join(metricsName)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var kept bytes.Buffer
	dropped := 0
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		var rec map[string]any
		if len(line) > 0 && json.Unmarshal(line, &rec) == nil && rec != nil && drop(rec) {
			dropped++
			continue
		}
		kept.Write(line)
	}
	if dropped == 0 {
		return 0, nil
	}
	if err := atomicfile.Write(path, kept.Bytes()); err != nil {
		return 0, err
	}
	// The open file is the one replaced: append to the new one.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_RDWR, 0o644)
	if err != nil {
		return 0, err
	}
	old := d.metrics
	d.metrics = f
	old.Close() // its contents are in the new file
	return dropped, nil
}

func (d *Dir) notWritable() error {
	return fmt.Errorf("%s: not open for writing (opened read-only, or closed)", d.Path)
}

// SaveCheckpoint writes files (name → contents; names may contain no path
// separator) as the checkpoint called name, makes it the latest, and keeps
// only the keep newest checkpoints (counting this one) besides those in
// protect. Metrics logged so far are synced first. The package comment
// says what a crash at any point leaves.
func (d *Dir) SaveCheckpoint(name string, files map[string][]byte, keep int, protect ...string) (err error) {
	if !validName(name) || name == latestName {
		return fmt.Errorf("%s: invalid checkpoint name %q", d.Path, name)
	}
	if d.follower {
		return nil
	}
	d.mu.Lock()
	if d.metrics == nil {
		err = d.notWritable()
	} else {
		err = d.metrics.Sync()
	}
	d.mu.Unlock()
	if err != nil {
		return err
	}
	root := d.join(ckptDir)
	tmp, err := os.MkdirTemp(root, tmpPrefix+name+"-")
	if err != nil {
		return err
	}
	d.reached("temporary made")
	defer func() {
		if err != nil {
			os.RemoveAll(tmp) // no-op once renamed; a leftover is tidied at the next start
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes it 0700
		return err
	}
	for _, fname := range slices.Sorted(maps.Keys(files)) {
		if strings.ContainsAny(fname, `/\`) || !filepath.IsLocal(fname) {
			return fmt.Errorf("%s: invalid checkpoint file name %q", d.Path, fname)
		}
		if err := writeSynced(filepath.Join(tmp, fname), files[fname]); err != nil {
			return err
		}
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	d.reached("written")
	final := filepath.Join(root, name)
	var old string
	if _, err := os.Lstat(final); err == nil {
		if old, err = setAside(root, name, oldPrefix); err != nil {
			return err
		}
		d.reached("old set aside")
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		if old != "" {
			os.Rename(old, final) // best effort: else the next start puts it back
		}
		return err
	}
	d.reached("renamed in")
	if err := syncDir(root); err != nil {
		return err
	}
	if err := atomicfile.Write(d.join(latestName), []byte(name+"\n")); err != nil {
		return err
	}
	if err := syncDir(d.Path); err != nil {
		return err
	}
	d.reached("latest written")
	if old != "" {
		if err := os.RemoveAll(old); err != nil {
			return err
		}
		d.reached("old deleted")
	}
	return d.prune(keep, append([]string{name}, protect...))
}

// prune removes all but the keep newest checkpoints, sparing protected
// ones. Names sort in the order checkpoints are made (step-0000100, ...).
// Each is renamed to a .tmp-* name first, so that none is ever seen half
// deleted.
func (d *Dir) prune(keep int, protect []string) error {
	root := d.join(ckptDir)
	ents, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") && !slices.Contains(protect, e.Name()) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	keep = max(0, keep-1) // the checkpoint just saved is protected and counts
	for _, name := range names[:max(0, len(names)-keep)] {
		gone, err := setAside(root, name, tmpPrefix+"pruned-")
		if err != nil {
			return err
		}
		d.reached("pruned set aside")
		if err := os.RemoveAll(gone); err != nil {
			return err
		}
	}
	return nil
}

// validName reports whether name can name a checkpoint: one path element,
// not hidden (hidden names are a save's temporaries).
func validName(name string) bool {
	return filepath.IsLocal(name) && !strings.ContainsAny(name, `/\`) && !strings.HasPrefix(name, ".")
}

// Latest returns the directory of the newest complete checkpoint. When the
// run has none yet the error matches ErrNoCheckpoint (and os.ErrNotExist).
// A latest file that names anything but a checkpoint directory of this run
// is refused.
func (d *Dir) Latest() (string, error) {
	b, err := os.ReadFile(d.join(latestName))
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s: %w", d.Path, ErrNoCheckpoint)
	} else if err != nil {
		return "", err
	}
	name := string(bytes.TrimSpace(b))
	if !validName(name) {
		return "", fmt.Errorf("%s: latest names %q, which is not a checkpoint of this run", d.Path, name)
	}
	dir, err := d.find(name)
	if err != nil {
		return "", fmt.Errorf("%s: latest names %q, which is missing: %w", d.Path, name, err)
	}
	return dir, nil
}

// CheckpointDir returns the directory of the checkpoint a user names:
// "latest" for the newest, or the name of one under checkpoints/, such as
// best or step-0000100. Any other name (../x, /x, a/b, .x) is refused, as
// is a checkpoint that does not exist.
func (d *Dir) CheckpointDir(name string) (string, error) {
	if name == latestName {
		return d.Latest()
	}
	if !validName(name) {
		return "", fmt.Errorf("%s: %q is not a checkpoint of this run", d.Path, name)
	}
	dir, err := d.find(name)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s: no checkpoint %q (it has %s): %w", d.Path, name, d.checkpointNames(), err)
	}
	return dir, err
}

// checkpointNames lists the checkpoints of the run for an error message.
func (d *Dir) checkpointNames() string {
	ents, err := os.ReadDir(d.join(ckptDir))
	var names []string
	for _, e := range ents {
		if e.IsDir() && validName(e.Name()) {
			names = append(names, e.Name())
		}
	}
	if err != nil || len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// find returns the directory of the checkpoint name: checkpoints/name or,
// if a save of name died between setting the old one aside and renaming
// the new one in, the old one, until the next writer puts it back.
func (d *Dir) find(name string) (string, error) {
	root := d.join(ckptDir)
	dir := filepath.Join(root, name)
	fi, err := os.Stat(dir)
	switch {
	case err == nil && fi.IsDir():
		return dir, nil
	case err == nil:
		return "", fmt.Errorf("%s is not a directory", dir)
	case !errors.Is(err, fs.ErrNotExist):
		return "", err
	}
	ents, rerr := os.ReadDir(root)
	for _, e := range ents {
		if n, ok := setAsideName(e.Name()); ok && n == name && e.IsDir() {
			return filepath.Join(root, e.Name()), nil
		}
	}
	if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		return "", rerr
	}
	return "", err
}

// Checkpoint returns the directory of the named checkpoint, without
// checking the name: for names a program chose. Names from users go
// through CheckpointDir.
func (d *Dir) Checkpoint(name string) string { return filepath.Join(d.Path, ckptDir, name) }

func writeSynced(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close() // the write error is the one to report
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close() // the sync error is the one to report
		return err
	}
	return f.Close()
}

// syncDir makes the entries of the directory path durable.
func syncDir(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close() // the sync error is the one to report
		return err
	}
	return f.Close()
}
