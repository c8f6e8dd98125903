package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInspectPairsAndSwap trains two tiny runs on the sample data, one with
// pair states and no absolute positions and one plain, and checks what
// inspect --swap reports for each (the first's word states do not depend
// on sentence order, the second's do) and that inspect --pairs draws a
// heatmap per head.
func TestInspectPairsAndSwap(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HIERTUNE_CACHE", filepath.Join(dir, "cache"))
	data, _ := filepath.Abs("../../examples/data")
	dev := data + "/ewt-sample-dev.conllu"
	runs := map[string]string{"pairs": "pairs: {dim: 4, parser: true, no_positions: true}\n", "plain": ""}
	for name, block := range runs {
		cfg := filepath.Join(dir, name+".yaml")
		yaml := "output: " + filepath.Join(dir, name) + "\nmodel: tiny-random\n" + block + `datasets:
  ewt: {format: conllu, train: ` + data + `/ewt-sample-train.conllu, dev: ` + dev + `, limit: 16}
tasks:
  - {name: upos, dataset: ewt, type: tag, column: upos, layer: 2}
  - {name: deps, dataset: ewt, type: parse, layer: 2, arc_mlp: 8, rel_mlp: 8}
train: {batch_size: 8, steps: 2, threads: 1, eval_every: 2, head_learning_rate: 1e-2}
`
		if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, _, errOut := run("finetune", "--config", cfg); code != 0 {
			t.Fatalf("finetune %s: exit %d: %s", name, code, errOut)
		}
	}
	swap := func(name string) swapReport {
		out := filepath.Join(dir, name+"-swap.json")
		if code, _, errOut := run("inspect", "--swap", "--run", filepath.Join(dir, name), "--data", dev, "--swap-pairs", "20", "--json", out); code != 0 {
			t.Fatalf("inspect --swap %s: exit %d: %s", name, code, errOut)
		}
		var r swapReport
		b, _ := os.ReadFile(out)
		if err := json.Unmarshal(b, &r); err != nil || r.Pairs == 0 || len(r.MaxDelta) != 3 {
			t.Fatalf("swap report %s: %v\n%s", name, err, b)
		}
		return r
	}
	p, plain := swap("pairs"), swap("plain")
	for n := range p.MaxDelta {
		if p.MaxDelta[n] > 1e-4 || p.CLSDelta[n] > 1e-4 {
			t.Errorf("without positions, hidden state %d changes by %g (words) and %g ([CLS]) when sentences swap", n, p.MaxDelta[n], p.CLSDelta[n])
		}
	}
	if p.Changed["upos.upos"] != 0 {
		t.Errorf("without positions, %.2f%% of UPOS tags change when sentences swap", 100*p.Changed["upos.upos"])
	}
	if plain.MaxDelta[2] < 1e-2 {
		t.Errorf("with positions, the top state changes by only %g when sentences swap", plain.MaxDelta[2])
	}
	svgDir := filepath.Join(dir, "svg")
	code, out, errOut := run("inspect", "--pairs", "--run", filepath.Join(dir, "pairs"), "--text", "The cat sat . [SEP] It purred .", "--layers", "2", "--svg", svgDir)
	if code != 0 {
		t.Fatalf("inspect --pairs: exit %d: %s", code, errOut)
	}
	files, _ := filepath.Glob(filepath.Join(svgDir, "pair-bias-layer2-head*.svg"))
	if len(files) != 4 || strings.Count(out, "bias in") != 4 { // tiny-random has 4 heads
		t.Errorf("inspect --pairs wrote %v and printed %q", files, out)
	}
	if code, _, errOut := run("inspect", "--pairs", "--run", filepath.Join(dir, "plain"), "--text", "a b", "--svg", svgDir); code != 1 || !strings.Contains(errOut, "no pair states") {
		t.Errorf("inspect --pairs on a run without pair states: exit %d %q", code, errOut)
	}
}
