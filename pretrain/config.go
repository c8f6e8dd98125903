// Package pretrain trains BERT-family encoders with the masked-language-model
// objective: whole-word masking with the 80/10/10 rule, masks drawn anew
// each epoch, sentences packed to the maximum length, and an optional
// next-sentence or sentence-order objective.
//
// A run tokenizes its corpus once into the run directory (streaming, so the
// corpus may be larger than memory), holds out a deterministic share of the
// lines, trains with AdamW and a linear schedule, evaluates held-out
// perplexity and masked-token accuracy, and writes HuggingFace
// BertForMaskedLM checkpoints that it can resume from exactly.
package pretrain

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hiertune/hiertune/encoder"
)

// Config is a pretraining job, read from YAML. Unknown keys are errors.
type Config struct {
	// Output is the run directory.
	Output    string          `yaml:"output"`
	Model     ModelConfig     `yaml:"model"`
	Vocab     VocabConfig     `yaml:"vocab"`
	Data      DataConfig      `yaml:"data"`
	Objective ObjectiveConfig `yaml:"objective"`
	Train     TrainConfig     `yaml:"train"`
}

// ModelConfig chooses the model: a checkpoint to continue from, or an
// architecture to start from random weights.
type ModelConfig struct {
	// From is a checkpoint (directory, hf:org/name, embedded name) to
	// continue pretraining; empty starts from scratch.
	From string `yaml:"from"`
	// Preset names an architecture (encoder.Presets) for a new model; the
	// fields below override its values.
	Preset        string   `yaml:"preset"`
	Layers        int      `yaml:"layers"`
	Hidden        int      `yaml:"hidden"`
	Heads         int      `yaml:"heads"`
	Intermediate  int      `yaml:"intermediate"`
	MaxPositions  int      `yaml:"max_positions"`
	Dropout       *float64 `yaml:"dropout"`
	AttentionDrop *float64 `yaml:"attention_dropout"`
}

// VocabConfig chooses the vocabulary of a new model: an existing one, or one
// trained on the training text. A model continued from a checkpoint keeps
// its own.
type VocabConfig struct {
	// File is a vocab.txt, a tokenizer.json, or a directory with either.
	File string `yaml:"file"`
	// Size is the size of a WordPiece vocabulary to train when File is
	// empty.
	Size         int  `yaml:"size"`
	MinFrequency int  `yaml:"min_frequency"`
	Cased        bool `yaml:"cased"`
}

// DataConfig describes the corpus: UTF-8 text, one sentence (or paragraph)
// per line, blank lines between documents.
type DataConfig struct {
	Files []string `yaml:"files"`
	// Heldout is the share of lines kept out of training for evaluation,
	// chosen by a hash of each line's text (so the split does not depend
	// on file order, and repeated lines fall on one side).
	Heldout float64 `yaml:"heldout"`
	// MaxLength is the length of a training sequence in pieces, special
	// tokens included.
	MaxLength int `yaml:"max_length"`
	// Pack concatenates consecutive lines of a document up to MaxLength;
	// without it every line is its own sequence. A line longer than a
	// sequence is always split, at word boundaries.
	Pack *bool `yaml:"pack"`
	// EvalSequences caps the held-out sequences each evaluation reads.
	EvalSequences int `yaml:"eval_sequences"`
}

// ObjectiveConfig sets the masking and the sentence-level objective.
type ObjectiveConfig struct {
	MaskProbability float64 `yaml:"mask_probability"`
	WholeWord       *bool   `yaml:"whole_word"`
	// Replace gives the shares of masked positions that become [MASK], a
	// random token, or stay unchanged (BERT's 80/10/10).
	Replace []float64 `yaml:"replace"`
	// Sentence is "none", "nsp" (next-sentence prediction: the second
	// segment is from another sequence half of the time) or "sop"
	// (sentence order: the two segments are swapped half of the time).
	Sentence string `yaml:"sentence"`
}

// TrainConfig sets the optimisation.
type TrainConfig struct {
	BatchSize    int     `yaml:"batch_size"`
	Steps        int     `yaml:"steps"`
	LearningRate float64 `yaml:"learning_rate"`
	// Warmup is the share of Steps with a rising learning rate.
	Warmup      *float64 `yaml:"warmup"`
	WeightDecay *float64 `yaml:"weight_decay"`
	// Clip is the largest global gradient norm; 0 turns clipping off.
	Clip      *float64 `yaml:"clip"`
	Seed      uint64   `yaml:"seed"`
	Threads   int      `yaml:"threads"`
	EvalEvery int      `yaml:"eval_every"`
	SaveEvery int      `yaml:"save_every"`
	// Keep is how many recent checkpoints to keep besides the best.
	Keep int `yaml:"keep"`
	// TimeLimit stops the run (saving it) after this long, for jobs given
	// a wall-clock budget; the schedule still spans Steps.
	TimeLimit Duration `yaml:"time_limit"`
}

// Duration is a time.Duration written like "2h" or "90m" in YAML.
type Duration struct{ time.Duration }

// UnmarshalYAML parses a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: invalid duration %q (write e.g. 90m or 2h)", n.Line, s)
	}
	d.Duration = v
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// ParseConfig reads a configuration, rejecting unknown keys, and fills in
// defaults.
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
	t := true
	float := func(p **float64, v float64) {
		if *p == nil {
			*p = &v
		}
	}
	if c.Model.From == "" && c.Model.Preset == "" {
		c.Model.Preset = "bert-mini"
	}
	float(&c.Model.Dropout, 0.1)
	float(&c.Model.AttentionDrop, *c.Model.Dropout)
	if c.Vocab.MinFrequency == 0 {
		c.Vocab.MinFrequency = 2
	}
	if c.Data.Heldout == 0 {
		c.Data.Heldout = 0.01
	}
	if c.Data.MaxLength == 0 {
		c.Data.MaxLength = 128
	}
	if c.Data.Pack == nil {
		c.Data.Pack = &t
	}
	if c.Data.EvalSequences == 0 {
		c.Data.EvalSequences = 1000
	}
	if c.Objective.MaskProbability == 0 {
		c.Objective.MaskProbability = 0.15
	}
	if c.Objective.WholeWord == nil {
		c.Objective.WholeWord = &t
	}
	if c.Objective.Replace == nil {
		c.Objective.Replace = []float64{0.8, 0.1, 0.1}
	}
	if c.Objective.Sentence == "" {
		c.Objective.Sentence = "none"
	}
	tr := &c.Train
	if tr.BatchSize == 0 {
		tr.BatchSize = 32
	}
	if tr.LearningRate == 0 {
		tr.LearningRate = 5e-4
	}
	float(&tr.Warmup, 0.06)
	float(&tr.WeightDecay, 0.01)
	float(&tr.Clip, 1)
	if tr.EvalEvery == 0 {
		tr.EvalEvery = 500
	}
	if tr.SaveEvery == 0 {
		tr.SaveEvery = 1000
	}
	if tr.Keep == 0 {
		tr.Keep = 2
	}
}

func (c *Config) validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Output != "", "output: the run directory is required")
	check(len(c.Data.Files) > 0, "data.files: at least one text file is required")
	check(c.Data.Heldout > 0 && c.Data.Heldout < 0.5, "data.heldout must be in (0, 0.5), got %g", c.Data.Heldout)
	check(c.Data.MaxLength >= 8, "data.max_length must be at least 8, got %d", c.Data.MaxLength)
	check(c.Objective.MaskProbability > 0 && c.Objective.MaskProbability < 1, "objective.mask_probability must be in (0, 1)")
	if len(c.Objective.Replace) != 3 {
		check(false, "objective.replace must have 3 shares ([MASK], random, unchanged)")
	} else {
		r := c.Objective.Replace
		sum := r[0] + r[1] + r[2]
		check(r[0] >= 0 && r[1] >= 0 && r[2] >= 0 && sum > 0.999 && sum < 1.001, "objective.replace shares must be non-negative and sum to 1, got %v", r)
	}
	check(c.Objective.Sentence == "none" || c.Objective.Sentence == "nsp" || c.Objective.Sentence == "sop",
		"objective.sentence must be none, nsp or sop, got %q", c.Objective.Sentence)
	check(c.Train.Steps > 0, "train.steps must be positive")
	check(c.Train.BatchSize > 0, "train.batch_size must be positive")
	check(c.Train.LearningRate > 0, "train.learning_rate must be positive")
	check(*c.Train.Warmup >= 0 && *c.Train.Warmup < 1, "train.warmup is a share of the steps, in [0, 1)")
	check(*c.Train.WeightDecay >= 0, "train.weight_decay must not be negative")
	check(*c.Train.Clip >= 0, "train.clip must not be negative")
	check(c.Train.Threads >= 0, "train.threads must not be negative")
	check(*c.Model.Dropout >= 0 && *c.Model.Dropout < 1, "model.dropout must be in [0, 1)")
	check(*c.Model.AttentionDrop >= 0 && *c.Model.AttentionDrop < 1, "model.attention_dropout must be in [0, 1)")
	if c.Model.From == "" {
		_, err := encoder.Preset(c.Model.Preset)
		check(err == nil, "model.preset: %v", err)
		check(c.Vocab.File != "" || c.Vocab.Size >= 100, "vocab: give a file, or a size (at least 100) to train one")
	} else {
		check(c.Vocab.File == "" && c.Vocab.Size == 0, "vocab: a model continued from a checkpoint keeps its vocabulary")
	}
	return errors.Join(errs...)
}

// Architecture returns the encoder configuration of a new model.
func (c *Config) Architecture(vocabSize, padID int) encoder.Config {
	a, _ := encoder.Preset(c.Model.Preset)
	m := c.Model
	for _, o := range []struct {
		dst *int
		v   int
	}{{&a.NumHiddenLayers, m.Layers}, {&a.HiddenSize, m.Hidden}, {&a.NumAttentionHeads, m.Heads},
		{&a.IntermediateSize, m.Intermediate}, {&a.MaxPositionEmbeddings, m.MaxPositions}} {
		if o.v > 0 {
			*o.dst = o.v
		}
	}
	if m.MaxPositions == 0 {
		a.MaxPositionEmbeddings = max(c.Data.MaxLength, 64)
	}
	a.VocabSize, a.PadTokenID = vocabSize, padID
	a.HiddenDropoutProb, a.AttentionProbsDropoutProb = *m.Dropout, *m.AttentionDrop
	return a
}
