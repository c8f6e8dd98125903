package run

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
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
	d.Log(map[string]any{"step": 1, "loss": 2.5})
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
	d.Log(map[string]any{"step": 2})
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
