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
	"errors"
	"fmt"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/internal/yamlstrict"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/train"
)

// Config is a pretraining job, read from YAML. Unknown keys are errors.
type Config struct {
	// Output is the run directory.
	Output    string          `yaml:"output"`
	Model     ModelConfig     `yaml:"model"`
	Vocab     VocabConfig     `yaml:"vocab"`
	Data      DataConfig      `yaml:"data"`
	Objective ObjectiveConfig `yaml:"objective"`
	// Train is the train: block every job shares; eval_batch_size is the
	// held-out evaluation's batch size (default: batch_size), select
	// defaults to the held-out loss (steps are required, epochs not
	// allowed).
	Train train.Config `yaml:"train"`
}

// ModelConfig chooses the model: a checkpoint to continue from, or an
// architecture to start from random weights.
type ModelConfig struct {
	// From is a checkpoint (directory, hf:org/name, embedded name) to
	// continue pretraining; empty starts from scratch.
	From string `yaml:"from"`
	// Grow deepens the From checkpoint before training starts.
	Grow GrowConfig `yaml:"grow"`
	// Preset names an architecture (encoder.Presets) for a new model; the
	// fields below override its values.
	Preset       string  `yaml:"preset"`
	Layers       int     `yaml:"layers"`
	Hidden       int     `yaml:"hidden"`
	Heads        int     `yaml:"heads"`
	Intermediate int     `yaml:"intermediate"`
	MaxPositions int     `yaml:"max_positions"`
	Dropout      float64 `yaml:"dropout"`
	// AttentionDrop defaults to Dropout.
	AttentionDrop *float64 `yaml:"attention_dropout"`
}

// GrowConfig makes a deeper encoder out of a shallower one by copying its
// layers (progressive stacking), to continue pretraining from.
type GrowConfig struct {
	// Layers is the new depth, a multiple of the checkpoint's; 0 keeps it.
	Layers int `yaml:"layers"`
	// Scheme is how layers are copied (loader.GrowSchemes): "stack" (the
	// default) puts copies of the whole stack on top, "interleave" follows
	// every layer with its copies.
	Scheme string `yaml:"scheme"`
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
	Pack bool `yaml:"pack"`
	// EvalSequences caps the held-out sequences each evaluation reads.
	EvalSequences int `yaml:"eval_sequences"`
}

// ObjectiveConfig sets the masking and the sentence-level objective.
type ObjectiveConfig struct {
	MaskProbability float64 `yaml:"mask_probability"`
	WholeWord       bool    `yaml:"whole_word"`
	// Replace gives the shares of masked positions that become [MASK], a
	// random token, or stay unchanged (BERT's 80/10/10).
	Replace []float64 `yaml:"replace"`
	// Sentence is "none", "nsp" (next-sentence prediction: the second
	// segment is from another sequence half of the time) or "sop"
	// (sentence order: the two segments are swapped half of the time).
	Sentence string `yaml:"sentence"`
}

// ParseConfig reads a configuration, rejecting unknown keys and invalid
// values, with the defaults filled in.
func ParseConfig(data []byte) (*Config, error) {
	c := defaults()
	if err := yamlstrict.Decode(data, &c, nil); err != nil {
		return nil, err
	}
	if c.Model.From == "" && c.Model.Preset == "" {
		c.Model.Preset = "bert-mini"
	}
	if c.Model.Grow.Layers > 0 && c.Model.Grow.Scheme == "" {
		c.Model.Grow.Scheme = "stack"
	}
	if c.Model.AttentionDrop == nil {
		d := c.Model.Dropout
		c.Model.AttentionDrop = &d
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// defaults returns a job with every default filled in, for reading a
// configuration into.
func defaults() Config {
	return Config{
		Model:     ModelConfig{Dropout: 0.1},
		Vocab:     VocabConfig{MinFrequency: 2},
		Data:      DataConfig{Heldout: 0.01, MaxLength: 128, Pack: true, EvalSequences: 1000},
		Objective: ObjectiveConfig{MaskProbability: 0.15, WholeWord: true, Replace: []float64{0.8, 0.1, 0.1}, Sentence: "none"},
		Train: train.Config{
			BatchSize: 32, LearningRate: 5e-4, Warmup: 0.06, WeightDecay: 0.01, Clip: 1, Accumulate: 1,
			EvalEvery: train.Every{Steps: 500}, SaveEvery: 1000, Keep: 2,
		},
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
	if err := c.Train.Validate("train"); err != nil {
		errs = append(errs, err)
	}
	check(c.Train.Steps > 0 && c.Train.Epochs == 0, "train.steps must be positive (pretraining counts steps, not epochs)")
	check(c.Data.EvalSequences > 0, "data.eval_sequences must be positive, got %d", c.Data.EvalSequences)
	check(c.Vocab.MinFrequency >= 1, "vocab.min_frequency must be at least 1, got %d", c.Vocab.MinFrequency)
	check(c.Model.Layers >= 0 && c.Model.Hidden >= 0 && c.Model.Heads >= 0 && c.Model.Intermediate >= 0 && c.Model.MaxPositions >= 0,
		"model: layers, hidden, heads, intermediate and max_positions must not be negative")
	check(c.Model.Dropout >= 0 && c.Model.Dropout < 1, "model.dropout must be in [0, 1)")
	check(*c.Model.AttentionDrop >= 0 && *c.Model.AttentionDrop < 1, "model.attention_dropout must be in [0, 1)")
	if c.Model.From == "" {
		_, err := encoder.Preset(c.Model.Preset)
		check(err == nil, "model.preset: %v", err)
		check(c.Vocab.File != "" || c.Vocab.Size >= 100, "vocab: give a file, or a size (at least 100) to train one")
	} else {
		check(c.Vocab.File == "" && c.Vocab.Size == 0, "vocab: a model continued from a checkpoint keeps its vocabulary")
	}
	if g := c.Model.Grow; g != (GrowConfig{}) {
		_, known := loader.GrowSchemes[g.Scheme]
		check(c.Model.From != "", "model.grow: growing needs a checkpoint to grow (model.from)")
		check(g.Layers > 0, "model.grow.layers must be positive, got %d", g.Layers)
		check(known, "model.grow.scheme must be stack or interleave, got %q", g.Scheme)
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
	a.HiddenDropoutProb, a.AttentionProbsDropoutProb = m.Dropout, *m.AttentionDrop
	return a
}
