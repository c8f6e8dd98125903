package finetune

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestConfigRejectsBadNumbers checks that numbers that are not finite, not
// whole where they must be, or out of range are errors naming the key,
// never replaced by a default.
func TestConfigRejectsBadNumbers(t *testing.T) {
	base := "output: x\nmodel: tiny-random\ndatasets: {ewt: {format: conllu, train: a}}\n"
	task := "tasks: [{name: u, dataset: ewt, type: tag, column: upos%s}]\n"
	cases := map[string]string{
		"train: {steps: 1, learning_rate: .nan}\n":   "learning_rate: want a finite number",
		"train: {steps: 1, learning_rate: .inf}\n":   "learning_rate: want a finite number",
		"train: {steps: 1, learning_rate: -1}\n":     "train.learning_rate must be positive",
		"train: {steps: 1, clip: -1}\n":              "train.clip must not be negative",
		"train: {steps: 1, batch_size: 0}\n":         "train.batch_size must be at least 1",
		"train: {steps: 1, accumulate: 0}\n":         "train.accumulate must be at least 1",
		"train: {steps: 1.5}\n":                      "steps: want a whole number",
		"train: {steps: 1, seed: -3}\n":              "seed: want a whole number not below 0",
		"train: {steps: 1, eval_every: 2.5}\n":       "want epoch or a number of steps",
		"train: {steps: 1, time_limit: 5}\n":         "invalid duration",
		"train: {steps: 1, warmup: 1}\n":             "train.warmup is a share of the steps",
		"dropout: 1\ntrain: {steps: 1}\n":            "dropout must be in [0, 1)",
		"train: {steps: 1}\nsampling_temperature: 0": "sampling_temperature must be positive",
	}
	for extra, want := range cases {
		text := base + strings.Replace(task, "%s", "", 1) + extra
		if _, err := ParseConfig([]byte(text)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", extra, err, want)
		}
	}
	for opt, want := range map[string]string{
		", layer: 1.5":    "layer: want a whole number",
		", weight: -1":    "weight must not be negative",
		", weight: .nan":  "weight: want a finite number",
		", pooling: 3":    "pooling must be one of",
		", crf: yes":      "crf: want true or false",
		", arc_mlp: 16":   `unknown key "arc_mlp"`,
		", layer: [1, 2]": "layer: want a single value",
	} {
		text := base + strings.Replace(task, "%s", opt, 1) + "train: {steps: 1}\n"
		if _, err := ParseConfig([]byte(text)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("task %q: error %v, want %q", opt, err, want)
		}
	}
}

// FuzzParseConfig checks that no configuration makes ParseConfig panic,
// and that one it accepts, written back as YAML (what the run saves),
// parses to the same configuration.
func FuzzParseConfig(f *testing.F) {
	paths, _ := filepath.Glob("../examples/*.yaml")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && !strings.Contains(p, "pretrain-") && !strings.Contains(p, "distill-") {
			f.Add(b)
		}
	}
	f.Add([]byte("output: x\nmodel: m\ndatasets: {d: {format: tsv, train: t, text: s}}\ntasks: [{name: c, dataset: d, type: classify}]\ntrain: {epochs: 1e308}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			return
		}
		raw, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("%v", err)
		}
		again, err := ParseConfig(raw)
		if err != nil {
			t.Fatalf("the written configuration does not parse: %v\n%s", err, raw)
		}
		if !reflect.DeepEqual(cfg, again) {
			t.Fatalf("round trip changed the configuration:\n%s", raw)
		}
	})
}
