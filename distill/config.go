package distill

import (
	"bytes"
	"errors"
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/hiertune/hiertune/finetune"
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
	Datasets map[string]finetune.DatasetConfig `yaml:"datasets"`
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
	// which the losses are measured at the end (chosen by a hash of each
	// line, as pretraining does).
	Heldout   float64 `yaml:"heldout"`
	MaxLength int     `yaml:"max_length"`
	BatchSize int     `yaml:"batch_size"`
	Steps     int     `yaml:"steps"`
	Epochs    float64 `yaml:"epochs"`
	// LearningRate peaks after Warmup (a share of the steps) and decays
	// linearly to 0.
	LearningRate float64 `yaml:"learning_rate"`
	Warmup       float64 `yaml:"warmup"`
	WeightDecay  float64 `yaml:"weight_decay"`
	Clip         float64 `yaml:"clip"`
	// LayerMap pairs [student, teacher] hidden states; default uniform.
	LayerMap [][2]int `yaml:"layer_map"`
	Weights  Weights  `yaml:"weights"`
	// Keep is how many recent checkpoints to keep; Every saves one every
	// Every steps (0: only at the end and when interrupted).
	Keep  int `yaml:"keep"`
	Every int `yaml:"every"`
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
	// Train and Eval are the fine-tuning settings of the student run
	// (steps and epochs come from the phases).
	Train finetune.TrainConfig `yaml:"train"`
	Eval  finetune.EvalConfig  `yaml:"eval"`
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
	set        bool
}

// Constant returns a schedule that stays at v.
func Constant(v float64) Schedule { return Schedule{Start: v, End: v, set: true} }

// UnmarshalYAML reads a number or a [start, end] pair.
func (s *Schedule) UnmarshalYAML(n *yaml.Node) error {
	var v float64
	if err := n.Decode(&v); err == nil {
		*s = Constant(v)
		return nil
	}
	var pair []float64
	if err := n.Decode(&pair); err != nil || len(pair) != 2 {
		return fmt.Errorf("line %d: want a number or [start, end]", n.Line)
	}
	*s = Schedule{Start: pair[0], End: pair[1], set: true}
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

func (s *Schedule) orDefault(v float64) {
	if !s.set {
		*s = Constant(v)
	}
}

// ParseConfig reads a job, rejecting unknown keys, and fills in defaults.
func ParseConfig(data []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, err
	}
	c.defaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) defaults() {
	if c.TeacherCheckpoint == "" {
		c.TeacherCheckpoint = "best"
	}
	c.Student.defaults()
	if g := c.General; g != nil {
		if g.MaxLength == 0 {
			g.MaxLength = 128
		}
		if g.BatchSize == 0 {
			g.BatchSize = 32
		}
		if g.LearningRate == 0 {
			g.LearningRate = 5e-5
		}
		if g.Clip == 0 {
			g.Clip = 1
		}
		if g.Keep == 0 {
			g.Keep = 1
		}
		if g.Heldout == 0 {
			g.Heldout = 0.01
		}
		g.Weights.Embeddings.orDefault(1)
		g.Weights.Hidden.orDefault(1)
		g.Weights.Attention.orDefault(1)
	}
	if t := c.Task; t != nil {
		t.Temperature.orDefault(1)
		t.Weights.Embeddings.orDefault(1)
		t.Weights.Hidden.orDefault(1)
		t.Weights.Attention.orDefault(1)
		t.Weights.Soft.orDefault(1)
		t.Weights.Hard.orDefault(0)
		t.Augment.defaults()
		if t.Cache == nil {
			on := true
			t.Cache = &on
		}
	}
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
		if (g.Steps > 0) == (g.Epochs > 0) {
			fail("general: give steps or epochs (one of them)")
		}
		if g.MaxLength < 8 || g.BatchSize < 1 || g.Warmup < 0 || g.Warmup >= 1 || g.Keep < 1 || g.Every < 0 || g.Heldout <= 0 || g.Heldout >= 1 {
			fail("general: max_length ≥ 8, batch_size ≥ 1, warmup and heldout in [0, 1) (heldout above 0), keep ≥ 1, every ≥ 0")
		}
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
		if t.Train.Steps > 0 || t.Train.Epochs > 0 || len(t.Train.Continual) > 0 {
			fail("task.train: the phases give the steps (no steps, epochs or continual here)")
		}
		errs = append(errs, t.Weights.check("task.weights"), t.Augment.validate())
	}
	return errors.Join(errs...)
}

func (w Weights) check(where string) error {
	for name, s := range map[string]Schedule{"embeddings": w.Embeddings, "hidden": w.Hidden, "attention": w.Attention, "soft": w.Soft, "hard": w.Hard} {
		if s.Start < 0 || s.End < 0 {
			return fmt.Errorf("%s.%s must not be negative", where, name)
		}
	}
	return nil
}
