package distill

import (
	"errors"
	"fmt"
	"math"

	"go.yaml.in/yaml/v3"

	"github.com/hiertune/hiertune/adapters"
	"github.com/hiertune/hiertune/datasets"
	"github.com/hiertune/hiertune/finetune"
	"github.com/hiertune/hiertune/hierarchy"
	"github.com/hiertune/hiertune/internal/yamlstrict"
	"github.com/hiertune/hiertune/model"
	"github.com/hiertune/hiertune/train"
)

// Config is a distillation job. Unknown keys are errors.
type Config struct {
	// Output is the job's run directory. Stage 1 checkpoints go to its
	// checkpoints/, the student's starting encoder to student-init/, and
	// the student of stage 2 — a fine-tuning run directory — to student/.
	Output string `yaml:"output"`
	// Teacher is a fine-tuned run directory whose tasks the student
	// learns (MKD when it has several); Teachers instead gives each task
	// its own run (task name → run directory), tasks named in none of
	// them being left out. TeacherCheckpoint is the checkpoint read from
	// each (default best).
	Teacher           string            `yaml:"teacher"`
	Teachers          map[string]string `yaml:"teachers"`
	TeacherCheckpoint string            `yaml:"teacher_checkpoint"`
	Student           StudentConfig     `yaml:"student"`
	// Datasets replaces the teachers' datasets (for data elsewhere than
	// where the teachers were trained); tasks keep their dataset names.
	Datasets map[string]datasets.Config `yaml:"datasets"`
	// General is stage 1 (nil: none); Task is stage 2 (nil: none, the
	// job then ends with the general student in checkpoints/).
	General *GeneralConfig `yaml:"general"`
	Task    *TaskConfig    `yaml:"task"`
	Seed    uint64         `yaml:"seed"`
	Threads int            `yaml:"threads"`
}

// Weights are the weights of the distillation losses, each a number or a
// schedule [start, end] over its stage (or phase).
type Weights struct {
	Embeddings Schedule `yaml:"embeddings"`
	Hidden     Schedule `yaml:"hidden"`
	Attention  Schedule `yaml:"attention"`
	// Soft and Hard, for stage 2's prediction phase: the soft
	// cross-entropy against the teacher and the tasks' own gold-label
	// losses.
	Soft Schedule `yaml:"soft"`
	Hard Schedule `yaml:"hard"`
}

// GeneralConfig is stage 1: general distillation on raw text.
type GeneralConfig struct {
	// Teacher is a pretrained checkpoint (directory, hf:org/name or an
	// embedded name); default: the checkpoint the stage 2 teacher was
	// fine-tuned from.
	Teacher string `yaml:"teacher"`
	// Corpus lists plain-text files, one sentence or paragraph per line.
	Corpus []string `yaml:"corpus"`
	// Heldout is the share of the corpus's lines kept out of training, on
	// which the losses are measured (chosen by a hash of each line, as
	// pretraining does): at the end, or every train.eval_every steps.
	Heldout   float64 `yaml:"heldout"`
	MaxLength int     `yaml:"max_length"`
	// LayerMap pairs [student, teacher] hidden states; default uniform.
	LayerMap [][2]int `yaml:"layer_map"`
	Weights  Weights  `yaml:"weights"`
	// Train is the train: block every job shares (seed and threads are
	// the job's, at its top level).
	Train train.Config `yaml:"train"`
}

// TaskConfig is stage 2: task-specific distillation.
type TaskConfig struct {
	// LayerMap pairs [student, teacher] hidden states for the
	// intermediate phase; default uniform.
	LayerMap [][2]int `yaml:"layer_map"`
	// TaskLayers sets the layer a student task reads, overriding the
	// hierarchical default (the teacher's layer at the same relative
	// depth).
	TaskLayers map[string]int `yaml:"task_layers"`
	// TaskMixes makes a student task read a learned mix of layers
	// (adapters.MixConfig) instead of its layer.
	TaskMixes map[string]adapters.MixConfig `yaml:"task_mixes"`
	// WordPooling pools the student's words inside its encoder (see
	// model.WordPoolingConfig); the teacher's states are pooled the same
	// way for the intermediate losses of the layers above it.
	WordPooling *model.WordPoolingConfig `yaml:"word_pooling"`
	// Hierarchy gives the student hierarchy vectors, their losses and
	// token merging (docs/hierarchy.md): a merged student.
	Hierarchy *hierarchy.Config `yaml:"hierarchy"`
	// Intermediate and Prediction are the lengths of the two phases:
	// hidden states and attention first, then the predictions.
	Intermediate Phase `yaml:"intermediate"`
	Prediction   Phase `yaml:"prediction"`
	// Temperature softens both distributions of the soft cross-entropy.
	Temperature Schedule `yaml:"temperature"`
	Weights     Weights  `yaml:"weights"`
	// Augment multiplies the training sets with masked-LM word
	// replacements, as TinyBERT (factor 0: off).
	Augment AugmentConfig `yaml:"augment"`
	// Cache keeps the teacher's predictions on disk (output/teacher-cache)
	// so that later epochs do not recompute them (default true).
	Cache *bool `yaml:"cache"`
	// Sampling and SamplingTemperature decide which datasets a step of the
	// student draws from (see finetune.Config).
	Sampling            string  `yaml:"sampling"`
	SamplingTemperature float64 `yaml:"sampling_temperature"`
	// Train is the train: block of the student's fine-tuning run (steps
	// and epochs come from the phases; seed and threads are the job's).
	Train train.Config `yaml:"train"`
}

// Phase is the length of a phase of stage 2, in steps or in epochs of the
// first task's dataset.
type Phase struct {
	Steps  int     `yaml:"steps"`
	Epochs float64 `yaml:"epochs"`
}

// Schedule is a value that changes linearly over a stage or phase: YAML
// gives a number (constant) or [start, end].
type Schedule struct {
	Start, End float64
}

// Constant returns a schedule that stays at v.
func Constant(v float64) Schedule { return Schedule{Start: v, End: v} }

// UnmarshalYAML reads a number or a [start, end] pair of finite numbers.
func (s *Schedule) UnmarshalYAML(n *yaml.Node) error {
	var v float64
	var pair []float64
	switch {
	case n.Kind == yaml.ScalarNode && n.Decode(&v) == nil:
		pair = []float64{v, v}
	case n.Decode(&pair) != nil || len(pair) != 2:
		return fmt.Errorf("line %d: want a number or [start, end]", n.Line)
	}
	for _, x := range pair {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("line %d: want finite numbers, got %q", n.Line, n.Value)
		}
	}
	*s = Schedule{Start: pair[0], End: pair[1]}
	return nil
}

// MarshalYAML writes the schedule as UnmarshalYAML reads it.
func (s Schedule) MarshalYAML() (any, error) {
	if s.Start == s.End {
		return s.Start, nil
	}
	return []float64{s.Start, s.End}, nil
}

// At returns the value after done of total steps.
func (s Schedule) At(done, total int) float64 {
	if total <= 1 || s.Start == s.End {
		return s.Start
	}
	f := float64(min(max(done, 0), total-1)) / float64(total-1)
	return s.Start + f*(s.End-s.Start)
}

// renames are the keys of earlier versions' configurations.
var renames = yamlstrict.Renames{
	"general.batch_size":     "general.train.batch_size",
	"general.steps":          "general.train.steps",
	"general.epochs":         "general.train.epochs",
	"general.learning_rate":  "general.train.learning_rate",
	"general.warmup":         "general.train.warmup",
	"general.weight_decay":   "general.train.weight_decay",
	"general.clip":           "general.train.clip",
	"general.keep":           "general.train.keep",
	"general.every":          "general.train.save_every",
	"task.eval.every":        "task.train.eval_every",
	"task.eval.select":       "task.train.select",
	"task.eval.patience":     "task.train.patience",
	"task.eval.batch_size":   "task.train.eval_batch_size",
	"task.eval.keep":         "task.train.keep",
	"task.train.sampling":    "task.sampling",
	"task.train.temperature": "task.sampling_temperature",
}

// ParseConfig reads a job, rejecting unknown keys and invalid values, with
// the defaults filled in.
func ParseConfig(data []byte) (*Config, error) {
	c := Config{TeacherCheckpoint: "best"}
	if err := yamlstrict.Decode(data, &c, renames); err != nil {
		return nil, err
	}
	c.defaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// UnmarshalYAML reads stage 1 with its defaults filled in first.
func (g *GeneralConfig) UnmarshalYAML(n *yaml.Node) error {
	*g = GeneralConfig{
		MaxLength: 128, Heldout: 0.01,
		Weights: Weights{Embeddings: Constant(1), Hidden: Constant(1), Attention: Constant(1)},
		Train:   train.Config{BatchSize: 32, LearningRate: 5e-5, Clip: 1, Accumulate: 1, Keep: 1},
	}
	return yamlstrict.DecodeNode(n, g, "general", renames)
}

// UnmarshalYAML reads stage 2 with its defaults filled in first.
func (t *TaskConfig) UnmarshalYAML(n *yaml.Node) error {
	on := true
	*t = TaskConfig{
		Temperature: Constant(1), Cache: &on, Augment: augmentDefaults(), Sampling: "mixed", SamplingTemperature: 2,
		Weights: Weights{Embeddings: Constant(1), Hidden: Constant(1), Attention: Constant(1), Soft: Constant(1), Hard: Constant(0)},
		Train:   finetune.TrainDefaults(),
	}
	return yamlstrict.DecodeNode(n, t, "task", renames)
}

func (c *Config) defaults() {
	c.Student.defaults()
}

func (c *Config) validate() error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Output == "" {
		fail("output: the run directory is required")
	}
	if c.General == nil && c.Task == nil {
		fail("general, task: a job has stage 1 (general), stage 2 (task) or both")
	}
	if c.Task != nil && (c.Teacher == "") == (len(c.Teachers) == 0) {
		fail("teacher, teachers: stage 2 needs one fine-tuned run (teacher) or one per task (teachers), not both")
	}
	if err := c.Student.validate(); err != nil {
		errs = append(errs, err)
	}
	if g := c.General; g != nil {
		if g.Teacher == "" && c.Teacher == "" && len(c.Teachers) == 0 {
			fail("general.teacher: a pretrained checkpoint is required")
		}
		if len(g.Corpus) == 0 {
			fail("general.corpus: give at least one text file")
		}
		if (g.Train.Steps > 0) == (g.Train.Epochs > 0) {
			fail("general.train: give steps or epochs (one of them)")
		}
		if g.MaxLength < 8 || g.Heldout <= 0 || g.Heldout >= 1 {
			fail("general: max_length ≥ 8 and heldout in (0, 1)")
		}
		errs = append(errs, g.Train.Validate("general.train"), jobOwned(g.Train, "general.train"))
		errs = append(errs, g.Weights.check("general.weights"))
	}
	if t := c.Task; t != nil {
		a, b := t.Intermediate, t.Prediction
		if a.Steps < 0 || a.Epochs < 0 || b.Steps < 0 || b.Epochs < 0 || (a.Steps > 0 && a.Epochs > 0) || (b.Steps > 0 && b.Epochs > 0) {
			fail("task.intermediate, task.prediction: each phase gives steps or epochs, not negative")
		}
		if (a.Steps > 0 || b.Steps > 0) && (a.Epochs > 0 || b.Epochs > 0) {
			fail("task.intermediate, task.prediction: both phases in steps or both in epochs")
		}
		if b.Steps == 0 && b.Epochs == 0 {
			fail("task.prediction: the prediction phase needs steps or epochs")
		}
		if t.Temperature.Start <= 0 || t.Temperature.End <= 0 {
			fail("task.temperature must be positive")
		}
		if t.Train.Steps > 0 || t.Train.Epochs > 0 {
			fail("task.train: the phases give the steps (no steps or epochs here)")
		}
		errs = append(errs, t.Train.Validate("task.train"), jobOwned(t.Train, "task.train"))
		errs = append(errs, t.Weights.check("task.weights"), t.Augment.validate())
		if h := t.Hierarchy; h != nil && h.Merge != nil && h.Merge.Train && (t.Weights.Attention.Start > 0 || t.Weights.Attention.End > 0) {
			fail("task.hierarchy.merge.train: a student that merges tokens in training has attention over units, not tokens: set task.weights.attention to 0")
		}
	}
	return errors.Join(errs...)
}

// jobOwned refuses a stage's seed and threads: a distillation job sets them
// once, at its top level.
func jobOwned(t train.Config, where string) error {
	if t.Seed != 0 || t.Threads != 0 {
		return fmt.Errorf("%s: seed and threads are set for the whole job, at its top level", where)
	}
	return nil
}

func (w Weights) check(where string) error {
	for name, s := range map[string]Schedule{"embeddings": w.Embeddings, "hidden": w.Hidden, "attention": w.Attention, "soft": w.Soft, "hard": w.Hard} {
		if s.Start < 0 || s.End < 0 {
			return fmt.Errorf("%s.%s must not be negative", where, name)
		}
	}
	return nil
}
