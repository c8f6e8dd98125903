package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHierarchyCommands trains a run with hierarchy vectors and merging,
// then: inspect --hierarchy draws and reports, bench --run times it under
// several mergings, eval takes --merge (and refuses a bad one in a line),
// and export refuses the merging model unless --unmerged.
func TestHierarchyCommands(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HIERTUNE_CACHE", filepath.Join(dir, "cache"))
	data, _ := filepath.Abs("../../examples/data")
	dev := data + "/ewt-sample-dev.conllu"
	cfg := filepath.Join(dir, "job.yaml")
	runDir := filepath.Join(dir, "run")
	yaml := "output: " + runDir + `
model: tiny-random
hierarchy: {dim: 8, similarity: {weight: 0.5}, syntax: {dataset: ewt}, merge: {after: [1], ratio: 0.3}}
datasets:
  ewt: {format: conllu, train: ` + data + `/ewt-sample-train.conllu, dev: ` + dev + `, limit: 16}
tasks:
  - {name: upos, dataset: ewt, type: tag, column: upos, layer: 2}
  - {name: deps, dataset: ewt, type: parse, layer: 2, arc_mlp: 16, rel_mlp: 8}
train: {batch_size: 8, steps: 2, threads: 1, eval_every: 2}
`
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run("finetune", "--config", cfg); code != 0 {
		t.Fatalf("finetune: exit %d: %s", code, errOut)
	}

	svgDir, jsonPath := filepath.Join(dir, "dendrograms"), filepath.Join(dir, "hier.json")
	code, out, errOut := run("inspect", "--hierarchy", "--run", runDir, "--data", dev, "--sentences", "2", "--svg", svgDir, "--json", jsonPath)
	if code != 0 {
		t.Fatalf("inspect --hierarchy: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "layer 1: (") || !strings.Contains(out, "DSpr") || !strings.Contains(out, "UUAS") {
		t.Errorf("inspect --hierarchy printed:\n%s", out)
	}
	svgs, _ := filepath.Glob(filepath.Join(svgDir, "*.svg"))
	if len(svgs) != 4 { // 2 sentences × layers 1 and 2
		t.Errorf("%d dendrograms, want 4", len(svgs))
	}
	var reports []map[string]any
	if b, err := os.ReadFile(jsonPath); err != nil || json.Unmarshal(b, &reports) != nil || len(reports) != 2 || reports[0]["uuas"] == nil {
		t.Errorf("hierarchy report: %v\n%s", err, b)
	}

	code, out, errOut = run("inspect", "--hierarchy", "--run", runDir, "--text", "The cat sat on the mat .", "--layers", "2")
	if code != 0 || !strings.Contains(out, "text:1\n  layer 2: (") {
		t.Errorf("inspect --hierarchy --text: exit %d, %s%s", code, out, errOut)
	}

	code, out, errOut = run("bench", "--run", runDir, "--data", dev, "--rounds", "1", "--merge", "none", "--merge", "{by: keys, after: [1], ratio: 0.5}", "--merge", "run")
	if code != 0 {
		t.Fatalf("bench --run: exit %d: %s", code, errOut)
	}
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("bench --run line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 3 || recs[0]["speedup"] != 1.0 || recs[0]["kept"] != 1.0 || recs[1]["kept"].(float64) >= 1 || recs[1]["ewt.las"] == nil {
		t.Errorf("bench --run records: %v", recs)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--run", runDir, "--data", dev, "--merge", "{ratio: 2, after: [1]}"}, "ratio must be in [0, 1)"},
		{[]string{"eval", "--run", runDir, "--data", dev, "--merge", "{after: [1], colour: red}"}, "colour"},
		{[]string{"eval", "--run", runDir, "--data", dev, "--merge", "{after: [2]}"}, "not a hidden state with a layer above"},
		{[]string{"bench", "--run", runDir, "--data", dev, "--seq", "8"}, "--seq does not apply"},
		{[]string{"inspect", "--hierarchy", "--run", runDir, "--data", dev, "--text", "a b"}, "not both"},
		{[]string{"inspect", "--run", runDir, "--text", "a b"}, "go with --hierarchy"},
		{[]string{"export", "--run", runDir, "--output", filepath.Join(dir, "m.onnx")}, "--unmerged"},
	} {
		code, _, errOut := run(c.args...)
		if code == 0 || !strings.Contains(errOut, c.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q, want one line with %q", c.args, code, errOut, c.want)
		}
	}
	if code, _, errOut := run("eval", "--run", runDir, "--data", dev, "--merge", "none"); code != 0 {
		t.Errorf("eval --merge none: exit %d: %s", code, errOut)
	}
	if code, _, errOut := run("export", "--run", runDir, "--output", filepath.Join(dir, "m.onnx"), "--unmerged"); code != 0 {
		t.Errorf("export --unmerged: exit %d: %s", code, errOut)
	} else if b, _ := os.ReadFile(filepath.Join(dir, "m.onnx")); len(b) == 0 || bytes.Contains(b, []byte("hierarchy.1.weight")) {
		t.Errorf("export --unmerged wrote %d bytes (with the hierarchy projections: %v)", len(b), bytes.Contains(b, []byte("hierarchy.1.weight")))
	}
}
