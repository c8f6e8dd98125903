package main

import (
	"encoding/json"
	"encoding/xml"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hiertune/hiertune/probing"
)

// probeConfig writes a fine-tuning configuration on the sample EWT data,
// with random_init when random.
func probeConfig(t *testing.T, random bool) string {
	t.Helper()
	data, err := filepath.Abs("../../examples/data")
	if err != nil {
		t.Fatal(err)
	}
	cfg := "output: unused\nmodel: default\n"
	if random {
		cfg += "random_init: true\n"
	}
	cfg += "datasets:\n  ewt:\n    format: conllu\n    train: " + data + "/ewt-sample-train.conllu\n    dev: " + data + "/ewt-sample-dev.conllu\n" +
		"tasks:\n  - {name: upos, dataset: ewt, type: tag, column: upos, layer: 2}\ntrain: {epochs: 1}\n"
	path := filepath.Join(t.TempDir(), "probe.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestProbeSelectivity runs probe on the pretrained default and on the
// same architecture with random weights: on the random encoder a UPOS
// probe does no better than its control task (labels by word type) —
// selectivity at chance — while the pretrained states are selective at
// every layer.
func TestProbeSelectivity(t *testing.T) {
	dir := t.TempDir()
	reports := map[bool]*probing.Report{}
	for _, random := range []bool{false, true} {
		out := filepath.Join(dir, map[bool]string{false: "default.json", true: "random.json"}[random])
		code, stdout, stderr := run("probe", "--config", probeConfig(t, random), "--task", "upos", "--train-limit", "400", "--epochs", "6", "--json", out, "--svg", out+".svg")
		if code != 0 {
			t.Fatalf("probe: %d %s", code, stderr)
		}
		if !strings.Contains(stdout, "upos (accuracy on dev)") || !strings.Contains(stdout, "center of gravity") {
			t.Errorf("probe printed %q", stdout)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var r probing.Report
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Results) != 1 || len(r.Results[0].Layers) != 5 {
			t.Fatalf("report %+v: want one task over 5 states", r)
		}
		reports[random] = &r
		wellFormed(t, out+".svg")
	}
	for _, ly := range reports[true].Results[0].Layers {
		t.Logf("random state %d: %.1f control %.1f", ly.Layer, ly.Score, ly.Control)
		if math.Abs(ly.Selectivity) > 5 {
			t.Errorf("random encoder, state %d: selectivity %.1f, want about 0", ly.Layer, ly.Selectivity)
		}
	}
	for _, ly := range reports[false].Results[0].Layers {
		t.Logf("default state %d: %.1f control %.1f", ly.Layer, ly.Score, ly.Control)
		if ly.Selectivity < 15 {
			t.Errorf("pretrained encoder, state %d: selectivity %.1f, want well above 0", ly.Layer, ly.Selectivity)
		}
	}
	prefix := filepath.Join(dir, "both")
	if code, _, stderr := run("probe", "--compare", filepath.Join(dir, "default.json")+","+filepath.Join(dir, "random.json"), "--svg", prefix); code != 0 {
		t.Fatalf("probe --compare: %d %s", code, stderr)
	}
	wellFormed(t, prefix+"-upos.svg")
}

func wellFormed(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(strings.NewReader(string(b)))
	for {
		if _, err := dec.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("%s: not well-formed XML: %v", path, err)
			}
			return
		}
	}
}

func TestProbeErrors(t *testing.T) {
	cfg := probeConfig(t, false)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--config", cfg}, 2, "--task"},
		{[]string{"--config", cfg, "--run", "x", "--task", "upos"}, 2, "--config or --run"},
		{[]string{"--model", "default", "--task", "upos"}, 2, "--config or --run"},
		{[]string{"--config", cfg, "--task", "upos", "--mlp", "-1"}, 2, "width"},
		{[]string{"--config", cfg, "--task", "upos", "--epochs", "0"}, 2, "epochs"},
		{[]string{"--config", cfg, "--task", "nosuch"}, 1, `no column "nosuch"`},
		{[]string{"--compare", "nosuch.json", "--svg", "x"}, 1, "nosuch.json"},
		{[]string{"--compare", cfg, "--svg", "x"}, 1, "not a probe report"},
	} {
		code, _, stderr := run(append([]string{"probe"}, c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 && c.code == 1 {
			t.Errorf("probe %v: exit %d %q, want %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
}

// TestProbeRunWithWordPooling probes a fine-tuned run whose encoder pools
// words after layer 1: the states above it are over words, below over
// pieces, and every state gets a probe.
func TestProbeRunWithWordPooling(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HIERTUNE_CACHE", filepath.Join(dir, "cache"))
	data, _ := filepath.Abs("../../examples/data")
	cfg := filepath.Join(dir, "job.yaml")
	yaml := "output: " + filepath.Join(dir, "run") + `
model: tiny-random
word_pooling: {after: 1, mode: mean}
datasets:
  ewt: {format: conllu, train: ` + data + `/ewt-sample-train.conllu, dev: ` + data + `/ewt-sample-dev.conllu, limit: 16}
tasks:
  - {name: upos, dataset: ewt, type: tag, column: upos, layer: 2}
train: {batch_size: 8, steps: 2, threads: 1, eval_every: 2}
`
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run("finetune", "--config", cfg); code != 0 {
		t.Fatalf("finetune: exit %d: %s", code, errOut)
	}
	out := filepath.Join(dir, "probe.json")
	code, _, errOut := run("probe", "--run", filepath.Join(dir, "run"), "--checkpoint", "latest", "--task", "upos,head", "--train-limit", "100", "--epochs", "2", "--no-control", "--json", out)
	if code != 0 {
		t.Fatalf("probe --run: exit %d: %s", code, errOut)
	}
	b, _ := os.ReadFile(out)
	var r probing.Report
	if err := json.Unmarshal(b, &r); err != nil || len(r.Results) != 2 || len(r.Results[0].Layers) != 3 || r.Control {
		t.Fatalf("report: %v\n%s", err, b)
	}
	for _, res := range r.Results {
		for _, ly := range res.Layers {
			if !(ly.Score > 0) {
				t.Errorf("%s state %d: score %v", res.Task, ly.Layer, ly.Score)
			}
		}
	}
}
