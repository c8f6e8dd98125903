// Package run manages the directory of a long job (pretraining,
// fine-tuning, distillation): the copy of its configuration, its metrics as
// JSON lines, its checkpoints written atomically, and resumption.
//
// Layout of a run directory:
//
//	config.yaml        the configuration the run was started with
//	metrics.jsonl      one JSON object per line: progress and evaluations
//	checkpoints/NAME/  complete checkpoints (model, optimiser, state)
//	latest             the name of the newest complete checkpoint
//
// A checkpoint is written into a temporary directory, synced, and renamed
// into place; only then does "latest" (itself written atomically) point at
// it. A crash at any moment leaves the previous checkpoint usable.
package run

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hiertune/hiertune/internal/atomicfile"
)

// Dir is an open run directory.
type Dir struct {
	Path    string
	mu      sync.Mutex
	metrics *os.File
}

// ErrExists is returned by Create for a directory that already holds a run.
var ErrExists = errors.New("run directory already holds a run (resume it with --resume, or choose another output)")

// Create starts a new run in path, which must not exist or be empty, and
// saves config there as config.yaml.
func Create(path string, config []byte) (*Dir, error) {
	if ents, err := os.ReadDir(path); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("%s: %w", path, ErrExists)
	}
	if err := os.MkdirAll(filepath.Join(path, "checkpoints"), 0o755); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(filepath.Join(path, "config.yaml"), config); err != nil {
		return nil, err
	}
	return open(path)
}

// Resume opens the run in path to continue it. When config is not nil it
// must equal the saved configuration: a run continues only with the
// settings it was started with.
func Resume(path string, config []byte) (*Dir, error) {
	saved, err := os.ReadFile(filepath.Join(path, "config.yaml"))
	if err != nil {
		return nil, fmt.Errorf("%s: not a run directory: %w", path, err)
	}
	if config != nil && !bytes.Equal(bytes.TrimSpace(saved), bytes.TrimSpace(config)) {
		return nil, fmt.Errorf("%s: the configuration differs from the one the run started with (config.yaml there); resume with that one", path)
	}
	return open(path)
}

// Start creates the run in path, or resumes it when resume is set.
func Start(path string, config []byte, resume bool) (*Dir, error) {
	if resume {
		return Resume(path, config)
	}
	return Create(path, config)
}

func open(path string) (*Dir, error) {
	f, err := os.OpenFile(filepath.Join(path, "metrics.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	return &Dir{Path: path, metrics: f}, nil
}

// Config returns the configuration saved in the run.
func (d *Dir) Config() ([]byte, error) {
	return os.ReadFile(filepath.Join(d.Path, "config.yaml"))
}

// Close closes the metrics file.
func (d *Dir) Close() error { return d.metrics.Close() }

// Log appends one record to metrics.jsonl, with the wall-clock time added
// as "time".
func (d *Dir) Log(record map[string]any) error {
	rec := make(map[string]any, len(record)+1)
	for k, v := range record {
		rec[k] = v
	}
	rec["time"] = time.Now().UTC().Format(time.RFC3339)
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	_, err = d.metrics.Write(append(b, '\n'))
	return err
}

// SaveCheckpoint writes files (name → contents; names may contain no path
// separator) as the checkpoint called name, makes it the latest, and keeps
// only the keep newest checkpoints (counting this one) besides those in
// protect.
func (d *Dir) SaveCheckpoint(name string, files map[string][]byte, keep int, protect ...string) error {
	if strings.ContainsAny(name, `/\`) || name == "" || strings.HasPrefix(name, ".") {
		return fmt.Errorf("invalid checkpoint name %q", name)
	}
	root := filepath.Join(d.Path, "checkpoints")
	tmp, err := os.MkdirTemp(root, ".tmp-"+name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)                      // gone once renamed
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes it 0700
		return err
	}
	for fname, data := range files {
		if strings.ContainsAny(fname, `/\`) {
			return fmt.Errorf("invalid checkpoint file name %q", fname)
		}
		if err := writeSynced(filepath.Join(tmp, fname), data); err != nil {
			return err
		}
	}
	final := filepath.Join(root, name)
	if err := os.RemoveAll(final); err != nil { // a checkpoint of that name from before a crash
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	if err := syncDir(root); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(d.Path, "latest"), []byte(name+"\n")); err != nil {
		return err
	}
	return d.prune(keep, append(protect, name))
}

// prune removes all but the keep newest checkpoints, sparing protected
// ones. Names sort in the order checkpoints are made (step-0000100, ...).
func (d *Dir) prune(keep int, protect []string) error {
	root := filepath.Join(d.Path, "checkpoints")
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
	sort.Strings(names)
	keep = max(0, keep-1) // the checkpoint just saved is protected and counts
	for _, name := range names[:max(0, len(names)-keep)] {
		if err := os.RemoveAll(filepath.Join(root, name)); err != nil {
			return err
		}
	}
	return nil
}

// Latest returns the directory of the newest complete checkpoint, or an
// error wrapping os.ErrNotExist when the run has none yet.
func (d *Dir) Latest() (string, error) {
	b, err := os.ReadFile(filepath.Join(d.Path, "latest"))
	if err != nil {
		return "", fmt.Errorf("%s: no checkpoint yet: %w", d.Path, err)
	}
	name := strings.TrimSpace(string(b))
	dir := filepath.Join(d.Path, "checkpoints", name)
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("%s: latest names %q, which is missing: %w", d.Path, name, err)
	}
	return dir, nil
}

// Checkpoint returns the directory of the named checkpoint.
func (d *Dir) Checkpoint(name string) string { return filepath.Join(d.Path, "checkpoints", name) }

func writeSynced(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
