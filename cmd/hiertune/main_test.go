package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hiertune/hiertune/loader/safetensors"
	"github.com/hiertune/hiertune/tensor"
)

func run(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = dispatch(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestHelp(t *testing.T) {
	code, out, _ := run("help")
	if code != 0 || !strings.Contains(out, "encode") || !strings.Contains(out, "bench") {
		t.Fatalf("help: %d %q", code, out)
	}
	for name := range commands {
		code, out, errOut := run(name, "--help")
		if code != 0 || !strings.Contains(out, "Usage: hiertune "+name) {
			t.Errorf("%s --help: exit %d, stdout %q, stderr %q", name, code, out, errOut)
		}
	}
	if code, _, errOut := run("frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Errorf("unknown command: %d %q", code, errOut)
	}
	if code, _, errOut := run("encode", "--bogus"); code != 2 || !strings.Contains(errOut, "bogus") {
		t.Errorf("unknown flag: %d %q", code, errOut)
	}
}

const fixture = "../../encoder/testdata/parity/micro-f32"

// TestEncodeMatchesReference runs "hiertune encode" on the oracle's inputs
// and compares what it writes with the oracle's outputs.
func TestEncodeMatchesReference(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.safetensors")
	code, _, errOut := run("encode", "--model", fixture+"/ckpt", "--inputs", fixture+"/ref.safetensors", "--output", out, "--attentions")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got, err := safetensors.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := safetensors.ReadFile(fixture + "/ref.safetensors")
	for _, name := range ref.Names() {
		want, _ := ref.Tensor(name)
		have, ok := got.Tensor(name)
		if !ok {
			t.Errorf("output lacks %s", name)
			continue
		}
		if !slices.Equal(have.Shape, want.Shape) {
			t.Errorf("%s: shape %v, want %v", name, have.Shape, want.Shape)
			continue
		}
		if !want.DType.IsFloat() {
			continue
		}
		a, _ := have.Float32()
		b, _ := want.Float32()
		for i := range a {
			if math.Abs(float64(a[i]-b[i])) > 1e-4 {
				t.Errorf("%s[%d] = %g, want %g", name, i, a[i], b[i])
				break
			}
		}
	}
}

func TestEncodeBadInput(t *testing.T) {
	dir := t.TempDir()
	truncated := filepath.Join(dir, "truncated.safetensors")
	b, _ := os.ReadFile(fixture + "/ref.safetensors")
	os.WriteFile(truncated, b[:len(b)/2], 0o644)
	noIDs := filepath.Join(dir, "noids.safetensors")
	safetensors.WriteFile(noIDs, map[string]*tensor.Tensor{"x": tensor.FromInt64([]int{1, 2}, []int64{1, 2})}, nil)
	badID := filepath.Join(dir, "badid.safetensors")
	safetensors.WriteFile(badID, map[string]*tensor.Tensor{"input_ids": tensor.FromInt64([]int{1, 2}, []int64{1, 100000})}, nil)
	tooLong := filepath.Join(dir, "long.safetensors")
	safetensors.WriteFile(tooLong, map[string]*tensor.Tensor{"input_ids": tensor.FromInt64([]int{1, 65}, make([]int64, 65))}, nil)
	cases := map[string][]string{
		truncated: {"truncated.safetensors", "run past the end"},
		noIDs:     {"noids.safetensors", "no input_ids"},
		badID:     {"id 100000", "outside [0, 128)"},
		tooLong:   {"sequence length 65 exceeds the model's maximum of 64"},
	}
	for in, wants := range cases {
		code, _, errOut := run("encode", "--model", fixture+"/ckpt", "--inputs", in, "--output", filepath.Join(dir, "o.safetensors"))
		if code != 1 {
			t.Errorf("%s: exit %d (%s)", in, code, errOut)
		}
		for _, w := range wants {
			if !strings.Contains(errOut, w) {
				t.Errorf("%s: error %q lacks %q", in, errOut, w)
			}
		}
	}
}

func TestEncodeTextOnEmbeddedDefault(t *testing.T) {
	t.Setenv("HIERTUNE_CACHE", t.TempDir())
	code, out, errOut := run("encode", "--text", "The cat sat on the mat.")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, w := range []string{"[CLS] The cat sat on the mat . [SEP]", "hidden_states.4", "4 layers, hidden 256"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestBenchReportsJSON(t *testing.T) {
	code, out, errOut := run("bench", "--model", "micro", "--batch", "2", "--seq", "8", "--steps", "1", "--warmup", "0")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, k := range []string{"train_tokens_per_s", "infer_tokens_per_s", "peak_rss_mb", "train_step_s", "params"} {
		if v, ok := r[k].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v", k, r[k])
		}
	}
}

// TestBenchOnData times batches of real sentences with words pooled in the
// encoder and checks the shapes it reports.
func TestBenchOnData(t *testing.T) {
	t.Setenv("HIERTUNE_CACHE", t.TempDir())
	var flops [2]float64
	for i, k := range []string{"-1", "0"} {
		code, out, errOut := run("bench", "--model", "micro", "--data", "../../examples/data/ewt-sample-dev.conllu",
			"--batch", "4", "--seq", "64", "--steps", "2", "--warmup", "0", "--word-pooling", k)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var r map[string]float64
		json.Unmarshal([]byte(out), &r) // string fields are left out
		if r["train_tokens_per_s"] <= 0 || r["pieces_per_word"] < 1 || r["mean_seq"] <= 0 {
			t.Errorf("word pooling %s: %s", k, out)
		}
		flops[i] = r["encoder_fwd_gflop_per_step"]
		if flops[i] > r["encoder_fwd_gflop_per_step_unpooled"] {
			t.Errorf("word pooling %s costs more than none: %s", k, out)
		}
	}
	if flops[1] >= flops[0] {
		t.Errorf("pooling before the first layer does not cut FLOPs: %v", flops)
	}
	if code, _, errOut := run("bench", "--word-pooling", "0"); code != 2 || !strings.Contains(errOut, "--data") {
		t.Errorf("pooling without data: exit %d, %s", code, errOut)
	}
}

func TestConvertKeepsTheWeights(t *testing.T) {
	src := "../../encoder/testdata/parity/micro-bf16-mlmhead/ckpt"
	for _, dt := range []string{"F16", "F32"} {
		out := filepath.Join(t.TempDir(), dt)
		if code, _, errOut := run("convert", "--model", src, "--output", out, "--dtype", dt); code != 0 {
			t.Fatalf("%s: exit %d: %s", dt, code, errOut)
		}
		a, _ := safetensors.ReadFile(src + "/model.safetensors")
		b, err := safetensors.ReadFile(out + "/model.safetensors")
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Names()) != len(b.Names()) {
			t.Fatalf("%s: %d tensors, source %d", dt, len(b.Names()), len(a.Names()))
		}
		for _, name := range a.Names() {
			ta, _ := a.Tensor(name)
			tb, ok := b.Tensor(name)
			if !ok || tb.DType != tensor.DType(dt) {
				t.Fatalf("%s: %s missing or of the wrong dtype", dt, name)
			}
			va, _ := ta.Float32() // BF16 values are exact in F16 only when small; compare loosely
			vb, _ := tb.Float32()
			for i := range va {
				if math.Abs(float64(va[i]-vb[i])) > 1e-3*math.Abs(float64(va[i]))+1e-7 {
					t.Fatalf("%s: %s[%d] = %g, source %g", dt, name, i, vb[i], va[i])
				}
			}
		}
	}
}

// TestFinetuneInspect runs a tiny depth-mixing job through the CLI and
// reads it back with inspect: text, JSON and the SVG heatmap.
func TestFinetuneInspect(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HIERTUNE_CACHE", filepath.Join(dir, "cache"))
	data, _ := filepath.Abs("../../examples/data")
	cfg := filepath.Join(dir, "job.yaml")
	yaml := "output: " + filepath.Join(dir, "run") + `
model: tiny-random
depth_mixing: static
datasets:
  ewt: {format: conllu, train: ` + data + `/ewt-sample-train.conllu, dev: ` + data + `/ewt-sample-dev.conllu, limit: 16}
tasks:
  - {name: upos, dataset: ewt, type: tag, column: upos, layer: 2, mix: {mode: attention}}
train: {batch_size: 8, steps: 2, threads: 1, eval_every: 2}
`
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run("finetune", "--config", cfg); code != 0 {
		t.Fatalf("finetune: exit %d: %s", code, errOut)
	}
	svgPath, jsonPath := filepath.Join(dir, "depth.svg"), filepath.Join(dir, "inspect.json")
	code, out, errOut := run("inspect", "--run", filepath.Join(dir, "run"), "--svg", svgPath, "--json", jsonPath)
	if code != 0 {
		t.Fatalf("inspect: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "layer 2 reads: emb ") {
		t.Errorf("inspect output lacks the depth weights:\n%s", out)
	}
	svg, err := os.ReadFile(svgPath)
	if err != nil || !bytes.HasPrefix(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("layer 2")) {
		t.Errorf("svg: %v\n%.200s", err, svg)
	}
	var readings struct {
		Tasks []any       `json:"tasks"`
		Depth [][]float64 `json:"depth_mixing"`
	}
	b, _ := os.ReadFile(jsonPath)
	if err := json.Unmarshal(b, &readings); err != nil || len(readings.Tasks) != 1 || len(readings.Depth) != 1 {
		t.Errorf("json: %v\n%s", err, b)
	}
}
