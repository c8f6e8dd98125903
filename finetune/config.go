// Package finetune trains a pretrained encoder on several tasks at once,
// each reading the layer it names: the hierarchical multi-task fine-tuning
// that hiertune is for. Part-of-speech tagging can read layer 2, dependency
// parsing layer 4 and named entities the top, trained jointly, with the
// encoder run only as deep as the tasks of a batch need.
//
// A job is a YAML configuration (Config): the model — the checkpoint, its
// adapters, the datasets (CoNLL-U, CoNLL NER, TSV) and the tasks with
// their layers and loss weights (package model) — how a step draws from
// the datasets (mixed, by size, by temperature, round-robin, or an
// ERNIE-2.0-style continual schedule), and the train: block every job
// shares (package train: AdamW with separate encoder and head learning
// rates, warm-up and decay, clipping, accumulation, evaluation, checkpoint
// selection and early stopping). A run directory holds checkpoints that
// hiertune's eval and predict commands read, and whose encoder
// HuggingFace reads.
package finetune

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/hiertune/hiertune/internal/yamlstrict"
	"github.com/hiertune/hiertune/model"
	"github.com/hiertune/hiertune/tasks"
	"github.com/hiertune/hiertune/train"
)

// Config is a fine-tuning job. Unknown keys are errors.
type Config struct {
	// Output is the run directory.
	Output       string `yaml:"output"`
	model.Config `yaml:",inline"`
	// Sampling decides which datasets a step draws from: "mixed" (a batch
	// of every dataset with an active task, losses summed), "size" (one
	// dataset, chosen in proportion to its size), "temperature" (in
	// proportion to size^(1/SamplingTemperature)) or "round-robin".
	Sampling            string  `yaml:"sampling"`
	SamplingTemperature float64 `yaml:"sampling_temperature"`
	// Continual is an ERNIE-2.0-style schedule: stages that add tasks one
	// after another, earlier ones kept. Each stage lists the tasks it adds
	// and its share of the steps.
	Continual []StageConfig `yaml:"continual"`
	Train     train.Config  `yaml:"train"`
}

// StageConfig is one stage of a continual schedule.
type StageConfig struct {
	Add   []string `yaml:"add"`
	Steps int      `yaml:"steps"`
}

// Defaults returns a job with every default filled in, for reading a
// configuration into.
func Defaults() Config {
	return Config{
		Config:   model.Defaults(),
		Sampling: "mixed", SamplingTemperature: 2,
		Train: TrainDefaults(),
	}
}

// TrainDefaults are the train: block's defaults for fine-tuning.
func TrainDefaults() train.Config {
	return train.Config{
		BatchSize: 32, LearningRate: 5e-5, HeadLearningRate: 1e-3, WeightDecay: 0.01, Warmup: 0.1, Clip: 1, Accumulate: 1,
		EvalEvery: train.Every{Epoch: true}, EvalBatchSize: 64, Keep: 1,
	}
}

// renames are the keys of earlier versions' configurations.
var renames = yamlstrict.Renames{
	"eval.every":        "train.eval_every",
	"eval.select":       "train.select",
	"eval.patience":     "train.patience",
	"eval.batch_size":   "train.eval_batch_size",
	"eval.keep":         "train.keep",
	"train.sampling":    "sampling",
	"train.temperature": "sampling_temperature",
	"train.continual":   "continual",
}

// ParseConfig reads a job, rejecting unknown keys and invalid values, with
// the defaults filled in.
func ParseConfig(data []byte) (*Config, error) {
	c := Defaults()
	if err := yamlstrict.Decode(data, &c, renames); err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) validate() error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Output == "" {
		fail("output: the run directory is required")
	}
	if err := c.Config.Validate(); err != nil {
		errs = append(errs, err)
	}
	tr := c.Train
	if err := tr.Validate("train"); err != nil {
		errs = append(errs, err)
	}
	if (tr.Steps > 0) == (tr.Epochs > 0) && len(c.Continual) == 0 {
		fail("train: give steps or epochs (one of them)")
	}
	if !slices.Contains([]string{"mixed", "size", "temperature", "round-robin"}, c.Sampling) {
		fail("sampling must be mixed, size, temperature or round-robin, got %q", c.Sampling)
	}
	if c.SamplingTemperature <= 0 {
		fail("sampling_temperature must be positive, got %g", c.SamplingTemperature)
	}
	added := map[string]bool{}
	for i, s := range c.Continual {
		if s.Steps <= 0 || len(s.Add) == 0 {
			fail("continual[%d]: a stage adds tasks and has steps", i)
		}
		for _, name := range s.Add {
			if !slices.ContainsFunc(c.Tasks, func(t tasks.Config) bool { return t.Name == name }) || added[name] {
				fail("continual[%d]: %q is not a task or was added before", i, name)
			}
			added[name] = true
		}
	}
	if len(c.Continual) > 0 && (tr.Steps > 0 || tr.Epochs > 0) {
		fail("train: with continual stages, the stages give the steps")
	}
	return errors.Join(errs...)
}

// ReadRunConfig reads the configuration a run was started with.
func ReadRunConfig(runDir string) (*Config, error) {
	path := filepath.Join(runDir, "config.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: not a run directory: %w", runDir, err)
	}
	cfg, err := ParseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}
