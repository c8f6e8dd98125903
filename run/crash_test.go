package run

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCheckpointsSurviveACrashAtEveryStepOfASave guards the replacement of
// a checkpoint (here best, saved again): a copy of the run taken after
// each step of SaveCheckpoint is what a crash there would leave. Read
// (Open), then resumed (Resume tidies it), each copy must have a complete
// latest and best, the old or the new one (the new latest from the moment
// latest names it), the same before and after the resume, and after it no
// temporary.
func TestCheckpointsSurviveACrashAtEveryStepOfASave(t *testing.T) {
	for _, before := range [][]string{{"step-1", "best"}, {"best", "step-1"}} {
		t.Run("latest "+before[1], func(t *testing.T) {
			base := t.TempDir()
			d, err := Create(filepath.Join(base, "run"), []byte("a: 1\n"))
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range before {
				if err := d.SaveCheckpoint(name, generation("v1-"+name), 5); err != nil {
					t.Fatal(err)
				}
			}
			var steps, snaps []string
			d.onStep = func(step string) {
				snap := filepath.Join(base, fmt.Sprintf("crash-%d", len(snaps)))
				copyTree(t, d.Path, snap)
				steps, snaps = append(steps, step), append(snaps, snap)
			}
			// keep 1: step-1 is pruned too.
			if err := d.SaveCheckpoint("best", generation("v2-best"), 1); err != nil {
				t.Fatal(err)
			}
			d.Close()
			want := []string{"temporary made", "written", "old set aside", "renamed in", "latest written", "old deleted", "pruned set aside"}
			if !slices.Equal(steps, want) {
				t.Fatalf("steps %q, want %q", steps, want)
			}
			// The new best is the latest once latest names it: from its
			// rename if latest named best already.
			commit := "latest written"
			if before[1] == "best" {
				commit = "renamed in"
			}
			committed := false
			for i, snap := range snaps {
				committed = committed || steps[i] == commit
				wantLatest := "v1-" + before[1]
				if committed {
					wantLatest = "v2-best"
				}
				r, err := Open(snap)
				if err != nil {
					t.Fatal(err)
				}
				best := checkCrashed(t, r, steps[i], wantLatest, "")
				w, err := Resume(snap, []byte("a: 1\n"))
				if err != nil {
					t.Fatalf("after a crash at %q: %v", steps[i], err)
				}
				checkCrashed(t, w, steps[i]+", resumed", wantLatest, best)
				ents, _ := os.ReadDir(filepath.Join(snap, "checkpoints"))
				for _, e := range ents {
					if strings.HasPrefix(e.Name(), ".") {
						t.Errorf("after a crash at %q and a resume: %s left", steps[i], e.Name())
					}
				}
				if err := w.SaveCheckpoint("step-9", generation("v3-step-9"), 5); err != nil {
					t.Errorf("saving after a crash at %q and a resume: %v", steps[i], err)
				}
				w.Close()
			}
		})
	}
}

// checkCrashed checks that the run d has a complete latest of generation
// wantLatest and a complete best (of generation wantBest unless that is
// empty), and returns best's generation.
func checkCrashed(t *testing.T, d *Dir, when, wantLatest, wantBest string) string {
	t.Helper()
	latest, err := d.Latest()
	if err != nil {
		t.Fatalf("after a crash at %q: %v", when, err)
	}
	if got := complete(t, latest); got != wantLatest {
		t.Errorf("after a crash at %q: latest is %s, want %s", when, got, wantLatest)
	}
	best, err := d.CheckpointDir("best")
	if err != nil {
		t.Fatalf("after a crash at %q: %v", when, err)
	}
	got := complete(t, best)
	if (wantBest != "" && got != wantBest) || (got != "v1-best" && got != "v2-best") {
		t.Errorf("after a crash at %q: best is %s", when, got)
	}
	return got
}

// TestStartTidiesWhatKilledSavesLeft guards against the leftovers of
// killed saves: the next Resume deletes .tmp-* directories, an .old-NAME-*
// whose NAME exists, and atomic writes' temporaries, restores an
// .old-NAME-* whose NAME is missing, and ends a metrics line cut short.
func TestStartTidiesWhatKilledSavesLeft(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run")
	d, err := Create(path, []byte("a: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"step-1", "best"} {
		if err := d.SaveCheckpoint(name, generation("v1-"+name), 5); err != nil {
			t.Fatal(err)
		}
	}
	d.Close()
	ck := filepath.Join(path, "checkpoints")
	for name, gen := range map[string]string{
		".tmp-step-2-123":        "partial",
		".tmp-pruned-step-0-456": "pruned",
		".old-best-789":          "v0-best",   // best is there: delete
		".old-step-0000001-12":   "v0-step-1", // step-0000001 is missing: restore
	} {
		writeCheckpoint(t, filepath.Join(ck, name), gen)
	}
	for _, name := range []string{".latest.tmp-1", ".config.yaml.tmp-2"} {
		if err := os.WriteFile(filepath.Join(path, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	metrics := filepath.Join(path, "metrics.jsonl")
	if err := os.WriteFile(metrics, []byte(`{"step":1}`+"\n"+`{"step":2,"lo`), 0o644); err != nil {
		t.Fatal(err)
	}

	d, err = Resume(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Log(map[string]any{"step": 3}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	var names []string
	fs.WalkDir(os.DirFS(path), ".", func(p string, e fs.DirEntry, err error) error {
		if strings.Count(p, "/") <= 1 {
			names = append(names, p)
		}
		return err
	})
	want := []string{".", ".lock", "checkpoints", "checkpoints/best", "checkpoints/step-0000001", "checkpoints/step-1", "config.yaml", "latest", "metrics.jsonl"}
	if !slices.Equal(names, want) {
		t.Errorf("after resuming, the run holds %q, want %q", names, want)
	}
	if got := complete(t, filepath.Join(ck, "step-0000001")); got != "v0-step-1" {
		t.Errorf("restored step-0000001 holds %s", got)
	}
	if got := complete(t, filepath.Join(ck, "best")); got != "v1-best" {
		t.Errorf("best holds %s, want the newer v1-best", got)
	}
	b, _ := os.ReadFile(metrics)
	lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	var last map[string]any
	if len(lines) != 3 || json.Unmarshal(lines[2], &last) != nil || last["step"] != 3.0 {
		t.Errorf("metrics after a cut line and a resume:\n%s", b)
	}

	// A Create killed before writing config.yaml leaves a lock file and
	// perhaps config.yaml's temporary: the directory is still free.
	path = filepath.Join(t.TempDir(), "run")
	os.MkdirAll(path, 0o755)
	for _, name := range []string{".lock", ".config.yaml.tmp-3"} {
		if err := os.WriteFile(filepath.Join(path, name), []byte("999999\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if d, err = Create(path, []byte("a: 1\n")); err != nil {
		t.Fatalf("creating where a Create was killed early: %v", err)
	}
	d.Close()
	if _, err := os.Stat(filepath.Join(path, ".config.yaml.tmp-3")); err == nil {
		t.Error("the temporary of config.yaml is left")
	}
}

// copyTree copies the directory src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if e.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
