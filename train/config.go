package train

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hiertune/hiertune/kernels"
)

// Config is the train: block of every job (pretrain, finetune, both
// distillation stages): the same keys everywhere, each job filling in its
// own defaults before the block is read.
type Config struct {
	// BatchSize is the number of sequences (sentences) in a batch.
	BatchSize int `yaml:"batch_size"`
	// Steps, or Epochs over the job's data (the first task's dataset when
	// fine-tuning): the length of the run.
	Steps  int     `yaml:"steps"`
	Epochs float64 `yaml:"epochs"`
	// LearningRate is the encoder's peak learning rate, reached after
	// Warmup (a share of the steps) and decaying linearly to 0; 0 freezes
	// the encoder (a probe: only the heads learn, at HeadLearningRate).
	LearningRate float64 `yaml:"learning_rate"`
	// HeadLearningRate is the heads' (0: the encoder's).
	HeadLearningRate float64 `yaml:"head_learning_rate"`
	WeightDecay      float64 `yaml:"weight_decay"`
	Warmup           float64 `yaml:"warmup"`
	// Clip is the largest global gradient norm; 0 turns clipping off.
	Clip float64 `yaml:"clip"`
	// Accumulate sums the gradients of this many batches before each
	// update.
	Accumulate int    `yaml:"accumulate"`
	Seed       uint64 `yaml:"seed"`
	// Threads is the number of threads (0: one per core).
	Threads int `yaml:"threads"`
	// TimeLimit stops the run (saving it) after this long, for jobs given
	// a wall-clock budget; the schedule still spans the steps.
	TimeLimit Duration `yaml:"time_limit"`
	// EvalEvery evaluates every epoch or every so many steps (0: only at
	// the end).
	EvalEvery Every `yaml:"eval_every"`
	// EvalBatchSize is the batch size of evaluations (0: BatchSize).
	EvalBatchSize int `yaml:"eval_batch_size"`
	// SaveEvery saves a checkpoint every so many steps (0: at every
	// evaluation), and always at the end.
	SaveEvery int `yaml:"save_every"`
	// Keep is how many recent checkpoints to keep besides the best.
	Keep int `yaml:"keep"`
	// Select names the evaluation metric that chooses the best checkpoint
	// (lower is better for losses and perplexities); each job has a
	// default.
	Select string `yaml:"select"`
	// Patience stops training after this many evaluations without a better
	// selected metric (0: never).
	Patience int `yaml:"patience"`
}

// Validate checks every value of the block; where names it in errors
// ("train", "task.train").
func (c *Config) Validate(where string) error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(where+"."+format, args...))
		}
	}
	check(c.BatchSize >= 1, "batch_size must be at least 1, got %d", c.BatchSize)
	check(c.Steps >= 0 && c.Epochs >= 0, "steps and epochs must not be negative")
	check(!(c.Steps > 0 && c.Epochs > 0), "steps, epochs: give one of them, not both")
	check(c.LearningRate > 0 || (c.LearningRate == 0 && c.HeadLearningRate > 0), "learning_rate must be positive, or 0 (a frozen encoder) with a positive head_learning_rate, got %g", c.LearningRate)
	check(c.HeadLearningRate >= 0, "head_learning_rate must not be negative, got %g", c.HeadLearningRate)
	check(c.WeightDecay >= 0, "weight_decay must not be negative, got %g", c.WeightDecay)
	check(c.Warmup >= 0 && c.Warmup < 1, "warmup is a share of the steps, in [0, 1), got %g", c.Warmup)
	check(c.Clip >= 0, "clip must not be negative (0 turns clipping off), got %g", c.Clip)
	check(c.Accumulate >= 1, "accumulate must be at least 1, got %d", c.Accumulate)
	check(c.Threads >= 0, "threads must not be negative, got %d", c.Threads)
	check(c.TimeLimit.Duration >= 0, "time_limit must not be negative")
	check(c.EvalBatchSize >= 0, "eval_batch_size must not be negative, got %d", c.EvalBatchSize)
	check(c.SaveEvery >= 0, "save_every must not be negative, got %d", c.SaveEvery)
	check(c.Keep >= 1, "keep must be at least 1, got %d", c.Keep)
	check(c.Patience >= 0, "patience must not be negative, got %d", c.Patience)
	return errors.Join(errs...)
}

// WholeUpdates rounds steps up to a whole number of updates: a multiple
// of Accumulate.
func (c *Config) WholeUpdates(steps int) int {
	return (steps + c.Accumulate - 1) / c.Accumulate * c.Accumulate
}

// EvalBatch returns the batch size of evaluations.
func (c *Config) EvalBatch() int {
	if c.EvalBatchSize == 0 {
		return c.BatchSize
	}
	return c.EvalBatchSize
}

// HeadRate returns the heads' learning rate.
func (c *Config) HeadRate() float64 {
	if c.HeadLearningRate == 0 {
		return c.LearningRate
	}
	return c.HeadLearningRate
}

// SetThreads applies Threads, if set, to the kernels.
func (c *Config) SetThreads() {
	if c.Threads > 0 {
		kernels.SetThreads(c.Threads)
	}
}

// Every is how often something happens: every epoch, or every so many
// steps (0: never but at the end). YAML writes "epoch" or a number.
type Every struct {
	Epoch bool
	Steps int
}

// UnmarshalYAML reads "epoch" or a whole number of steps.
func (e *Every) UnmarshalYAML(n *yaml.Node) error {
	if n.Value == "epoch" {
		*e = Every{Epoch: true}
		return nil
	}
	s, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || s < 0 {
		return fmt.Errorf("line %d: want epoch or a number of steps, got %q", n.Line, n.Value)
	}
	*e = Every{Steps: s}
	return nil
}

// MarshalYAML writes the value as UnmarshalYAML reads it.
func (e Every) MarshalYAML() (any, error) {
	if e.Epoch {
		return "epoch", nil
	}
	return e.Steps, nil
}

// In returns the number of steps between two events, given the steps of
// an epoch (0: never).
func (e Every) In(perEpoch int) int {
	if e.Epoch {
		return perEpoch
	}
	return e.Steps
}

// Duration is a time.Duration written like "2h" or "90m" in YAML.
type Duration struct{ time.Duration }

// UnmarshalYAML parses a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return fmt.Errorf("line %d: invalid duration %q (write e.g. 90m or 2h)", n.Line, n.Value)
	}
	d.Duration = v
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
