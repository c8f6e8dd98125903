package run

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCreateResumeAndCheckpoints(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run")
	d, err := Create(path, []byte("a: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Latest(); err == nil {
		t.Fatal("a new run has a latest checkpoint")
	}
	for i, name := range []string{"step-1", "step-2", "best", "step-3", "step-4"} {
		files := map[string][]byte{"model.bin": []byte(name), "state.json": []byte(`{"i":` + string(rune('0'+i)) + `}`)}
		if err := d.SaveCheckpoint(name, files, 2, "best"); err != nil {
			t.Fatal(err)
		}
	}
	latest, err := d.Latest()
	if err != nil || filepath.Base(latest) != "step-4" {
		t.Fatalf("latest %q, %v", latest, err)
	}
	if b, _ := os.ReadFile(filepath.Join(latest, "model.bin")); string(b) != "step-4" {
		t.Fatalf("latest holds %q", b)
	}
	ents, _ := os.ReadDir(filepath.Join(path, "checkpoints"))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, ","); got != "best,step-3,step-4" {
		t.Errorf("kept %s, want the 2 newest and best", got)
	}
	if err := d.Log(map[string]any{"step": 1, "loss": 2.5}); err != nil {
		t.Fatal(err)
	}
	d.Close()

	if _, err := Create(path, []byte("a: 1\n")); !errors.Is(err, ErrExists) {
		t.Fatalf("creating over a run: %v", err)
	}
	if _, err := Resume(path, []byte("a: 2\n")); err == nil {
		t.Fatal("resumed with another configuration")
	}
	d, err = Resume(path, []byte("a: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Log(map[string]any{"step": 2}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	f, _ := os.ReadFile(filepath.Join(path, "metrics.jsonl"))
	sc := bufio.NewScanner(bytes.NewReader(f))
	lines := 0
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil || rec["time"] == nil {
			t.Fatalf("bad metrics line %q: %v", sc.Text(), err)
		}
		lines++
	}
	if lines != 2 {
		t.Errorf("%d metrics lines, want 2", lines)
	}
	if err := d.SaveCheckpoint("../escape", nil, 1); err == nil {
		t.Error("a checkpoint name with a path was accepted")
	}
}

func TestProgressPrintsStepsRateAndETA(t *testing.T) {
	var b bytes.Buffer
	p := Progress{W: &b, Total: 4, Every: 1}
	p.Start(0)
	for s := 1; s <= 4; s++ {
		p.Step(s, 100, map[string]float64{"loss": 1.5})
	}
	out := b.String()
	for _, want := range []string{"step 4/4 (100.0%)", "loss 1.5", "tok/s", "eta 0s"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress %q lacks %q", out, want)
		}
	}
}

// TestKilledBeforeFirstCheckpointCanRestart guards the way out of a run
// killed before its first checkpoint: Create says to start over with
// --restart, so does Latest after Resume, and Restart clears the run and
// creates it anew.
func TestKilledBeforeFirstCheckpointCanRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run")
	d, err := Create(path, []byte("a: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Log(map[string]any{"step": 1}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	want := path + ": has no checkpoint yet: start over with --restart"
	if _, err := Create(path, []byte("a: 1\n")); !errors.Is(err, ErrNoCheckpoint) || !errors.Is(err, ErrExists) || err.Error() != want {
		t.Errorf("Create over a run without checkpoints: %v, want %q", err, want)
	}
	d, err = Resume(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Latest(); !errors.Is(err, ErrNoCheckpoint) || !errors.Is(err, os.ErrNotExist) || err.Error() != want {
		t.Errorf("Latest of a run without checkpoints: %v, want %q", err, want)
	}
	d.Close()
	d, err = Restart(path, []byte("a: 2\n"), false)
	if err != nil {
		t.Fatalf("restarting a run without checkpoints: %v", err)
	}
	defer d.Close()
	if b, _ := d.Config(); string(b) != "a: 2\n" {
		t.Errorf("config after Restart: %q", b)
	}
	if b, err := os.ReadFile(filepath.Join(path, "metrics.jsonl")); err != nil || len(b) != 0 {
		t.Errorf("metrics after Restart: %q, %v", b, err)
	}
}

// TestRestartKeepsCheckpointsUnlessDiscarding guards checkpoints against
// Restart: without discard it refuses a run that has one; with discard it
// clears everything (a job's other files too) and starts over.
func TestRestartKeepsCheckpointsUnlessDiscarding(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run")
	d, err := Create(path, []byte("a: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SaveCheckpoint("step-1", generation("v1"), 2); err != nil {
		t.Fatal(err)
	}
	d.Close()
	writeCheckpoint(t, filepath.Join(path, "student-init"), "init")
	if _, err := Restart(path, []byte("a: 1\n"), false); !errors.Is(err, ErrExists) {
		t.Fatalf("Restart without discard of a run with a checkpoint: %v", err)
	}
	if _, err := os.Stat(filepath.Join(path, "checkpoints", "step-1", "model.bin")); err != nil {
		t.Fatalf("a refused Restart touched the checkpoint: %v", err)
	}
	d, err = Restart(path, []byte("a: 1\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Latest(); !errors.Is(err, ErrNoCheckpoint) {
		t.Errorf("Latest after Restart: %v", err)
	}
	ents, _ := os.ReadDir(path)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != ".lock checkpoints config.yaml metrics.jsonl" {
		t.Errorf("after Restart the run holds %s", got)
	}
}

// TestCreateAndRestartRefuseADirectoryHoldingNoRun guards other files: a
// non-empty directory without config.yaml is neither made a run nor
// cleared, and gets no lock file; a new directory is simply created.
func TestCreateAndRestartRefuseADirectoryHoldingNoRun(t *testing.T) {
	path := t.TempDir()
	mine := filepath.Join(path, "notes.txt")
	if err := os.WriteFile(mine, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := path + ": is not empty and holds no run (no config.yaml): choose another output"
	if _, err := Create(path, []byte("a: 1\n")); !errors.Is(err, ErrExists) || err.Error() != want {
		t.Errorf("Create: %v, want %q", err, want)
	}
	if _, err := Restart(path, []byte("a: 1\n"), true); !errors.Is(err, ErrExists) || err.Error() != want {
		t.Errorf("Restart: %v, want %q", err, want)
	}
	if ents, _ := os.ReadDir(path); len(ents) != 1 {
		t.Errorf("the directory holds %d entries, want only the user's file", len(ents))
	}
	d, err := Restart(filepath.Join(path, "new"), []byte("a: 1\n"), false)
	if err != nil {
		t.Fatalf("Restart of a new directory: %v", err)
	}
	d.Close()
}

// TestLogAndSaveReturnWriteErrors guards against dropped errors: Log and
// SaveCheckpoint fail, naming the file or run, when metrics.jsonl cannot
// be written, the record cannot be encoded, or the Dir is read-only or
// closed.
func TestLogAndSaveReturnWriteErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run")
	d, err := Create(path, []byte("a: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	metrics := filepath.Join(path, "metrics.jsonl")
	if err := d.Log(map[string]any{"loss": math.NaN()}); err == nil || !strings.Contains(err.Error(), metrics) {
		t.Errorf("logging NaN: %v, want an error naming %s", err, metrics)
	}
	good := d.metrics
	if d.metrics, err = os.Open(metrics); err != nil { // read-only: writes fail
		t.Fatal(err)
	}
	if err := d.Log(map[string]any{"step": 1}); err == nil || !strings.Contains(err.Error(), metrics) {
		t.Errorf("logging to an unwritable file: %v, want an error naming %s", err, metrics)
	}
	d.metrics.Close()
	d.metrics = good
	d.Close()
	if err := d.Log(map[string]any{"step": 1}); err == nil {
		t.Error("Log after Close succeeded")
	}
	if err := d.SaveCheckpoint("step-1", generation("v1"), 1); err == nil {
		t.Error("SaveCheckpoint after Close succeeded")
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Log(map[string]any{"step": 1}); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("Log on a read-only Dir: %v", err)
	}
	if err := r.SaveCheckpoint("step-1", generation("v1"), 1); err == nil {
		t.Error("SaveCheckpoint on a read-only Dir succeeded")
	}
	if ents, _ := os.ReadDir(filepath.Join(path, "checkpoints")); len(ents) != 0 {
		t.Errorf("failed saves left %d entries in checkpoints/", len(ents))
	}
}

// TestProgressReportsWriteErrors guards against Progress dropping the
// error of its writer.
func TestProgressReportsWriteErrors(t *testing.T) {
	p := Progress{W: failingWriter{}, Total: 1}
	p.Start(0)
	p.Step(1, 10, nil)
	if p.Err() == nil {
		t.Error("Err is nil after a failed write")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// badNames are checkpoint names that leave checkpoints/ or name a save's
// temporaries.
var badNames = []string{"../../etc", "/etc", "a/b", `a\b`, `..\x`, "..", ".", "", ".tmp-best-1", ".old-best-1"}

// TestLatestRefusesNamesOutsideCheckpoints guards Latest against a latest
// file naming anything but a checkpoint of the run.
func TestLatestRefusesNamesOutsideCheckpoints(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run")
	d, err := Create(path, []byte("a: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.SaveCheckpoint("best", generation("v1"), 1); err != nil {
		t.Fatal(err)
	}
	writeCheckpoint(t, filepath.Join(path, "checkpoints", ".tmp-best-1"), "partial")
	for _, name := range badNames {
		if err := os.WriteFile(filepath.Join(path, "latest"), []byte(name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("%s: latest names %q, which is not a checkpoint of this run", path, name)
		if dir, err := d.Latest(); err == nil || err.Error() != want {
			t.Errorf("latest %q: %q, %v, want %q", name, dir, err, want)
		}
	}
	os.WriteFile(filepath.Join(path, "latest"), []byte("step-7\n"), 0o644)
	if _, err := d.Latest(); !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrNoCheckpoint) || !strings.Contains(err.Error(), `latest names "step-7", which is missing`) {
		t.Errorf("latest naming a missing checkpoint: %v", err)
	}
}

// TestCheckpointDirRefusesNamesOutsideCheckpoints guards the checkpoint a
// user names (--checkpoint): only latest or a checkpoint under
// checkpoints/ is accepted, and a missing one is reported with those there.
func TestCheckpointDirRefusesNamesOutsideCheckpoints(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run")
	d, err := Create(path, []byte("a: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"best", "step-1"} {
		if err := d.SaveCheckpoint(name, generation(name), 5); err != nil {
			t.Fatal(err)
		}
	}
	d.Close()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range badNames {
		want := fmt.Sprintf("%s: %q is not a checkpoint of this run", path, name)
		if dir, err := r.CheckpointDir(name); err == nil || err.Error() != want {
			t.Errorf("checkpoint %q: %q, %v, want %q", name, dir, err, want)
		}
	}
	for name, gen := range map[string]string{"latest": "step-1", "best": "best", "step-1": "step-1"} {
		dir, err := r.CheckpointDir(name)
		if err != nil {
			t.Fatalf("checkpoint %q: %v", name, err)
		}
		if got := complete(t, dir); got != gen {
			t.Errorf("checkpoint %q holds %s, want %s", name, got, gen)
		}
	}
	if _, err := r.CheckpointDir("step-2"); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), `no checkpoint "step-2" (it has best, step-1)`) {
		t.Errorf("a missing checkpoint: %v", err)
	}
}

// TestOpenReadsWithoutLockingOrWriting guards readers (eval, predict,
// export): Open works while a writer holds the run, and writes nothing.
func TestOpenReadsWithoutLockingOrWriting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run")
	w, err := Create(path, []byte("a: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SaveCheckpoint("best", generation("v1"), 1); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatalf("Open while a writer holds the run: %v", err)
	}
	if _, err := r.Latest(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Log(map[string]any{"step": 1}); err != nil {
		t.Errorf("the writer after a reader closed: %v", err)
	}
	w.Close()
	os.Remove(filepath.Join(path, "metrics.jsonl"))
	if _, err := Open(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(path, "metrics.jsonl")); err == nil {
		t.Error("Open created metrics.jsonl")
	}
	if _, err := Open(filepath.Join(path, "checkpoints")); err == nil || !strings.Contains(err.Error(), "not a run directory") {
		t.Errorf("Open of a directory holding no run: %v", err)
	}
}

// TestDropMetrics checks that DropMetrics removes the records it selects,
// keeps lines that are not records, and leaves the file open for the
// records logged next; and that it fails on a run opened to read.
func TestDropMetrics(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run")
	d, err := Create(path, []byte("a: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for step := 1; step <= 4; step++ {
		d.Log(map[string]any{"step": step})
	}
	metrics := filepath.Join(path, "metrics.jsonl")
	f, _ := os.OpenFile(metrics, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("not json\n")
	f.Close()
	n, err := d.DropMetrics(func(r map[string]any) bool { return r["step"].(float64) > 2 })
	if err != nil || n != 2 {
		t.Fatalf("dropped %d: %v", n, err)
	}
	if err := d.Log(map[string]any{"step": 3}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(metrics)
	var steps []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		step, _, _ := strings.Cut(strings.TrimPrefix(line, `{"step":`), ",")
		steps = append(steps, step)
	}
	if got := strings.Join(steps, " "); got != "1 2 not json 3" {
		t.Errorf("metrics.jsonl after dropping steps 3 and 4 and logging 3: %s", got)
	}
	r, _ := Open(path)
	if _, err := r.DropMetrics(func(map[string]any) bool { return true }); err == nil {
		t.Error("DropMetrics on a run opened to read")
	}
}

// generation returns the files of a checkpoint, all holding gen.
func generation(gen string) map[string][]byte {
	return map[string][]byte{"model.bin": []byte(gen), "state.json": []byte(gen), "tokenizer.json": []byte(gen)}
}

// complete returns the generation of the checkpoint in dir, failing unless
// all its files are there and of the same one.
func complete(t *testing.T, dir string) string {
	t.Helper()
	var gens []string
	for name := range generation("") {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("incomplete checkpoint: %v", err)
		}
		gens = append(gens, string(b))
	}
	slices.Sort(gens)
	if gens = slices.Compact(gens); len(gens) != 1 {
		t.Fatalf("%s mixes %q", dir, gens)
	}
	return gens[0]
}

func writeCheckpoint(t *testing.T, dir, gen string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range generation(gen) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
