// Package finetune trains a pretrained encoder on several tasks at once,
// each reading the layer it names: the hierarchical multi-task fine-tuning
// that hiertune is for. Part-of-speech tagging can read layer 2, dependency
// parsing layer 4 and named entities the top, trained jointly, with the
// encoder run only as deep as the tasks of a batch need.
//
// A job is a YAML configuration (Config): the checkpoint, the datasets
// (CoNLL-U, CoNLL NER, TSV), the tasks (tagging, morphological features,
// biaffine parsing, classification) with their layers and loss weights, and
// the training (AdamW with separate encoder and head learning rates, linear
// warm-up and decay, clipping, accumulation, dataset sampling, an
// ERNIE-2.0-style continual schedule, evaluation, checkpoint selection and
// early stopping). A run directory holds checkpoints that hiertune's eval
// and predict commands read, and whose encoder HuggingFace reads.
package finetune

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/hiertune/hiertune/adapters"
	"github.com/hiertune/hiertune/heads"
)

// Config is a fine-tuning job. Unknown keys are errors.
type Config struct {
	Output string `yaml:"output"`
	// Model is the checkpoint to start from: a directory, an ONNX file,
	// hf:org/name[@rev], or an embedded checkpoint's name.
	Model string `yaml:"model"`
	// RandomInit keeps the checkpoint's architecture and tokenizer but
	// starts from freshly drawn weights (HuggingFace's initialisation), to
	// measure what pretraining adds.
	RandomInit bool `yaml:"random_init"`
	// Dropout overrides the encoder's dropout and is used in the heads.
	Dropout *float64 `yaml:"dropout"`
	// MaxLength is the longest input in pieces (special tokens included);
	// longer sentences are split into overlapping windows of this length
	// sharing Stride pieces. 0: the model's maximum.
	MaxLength int `yaml:"max_length"`
	Stride    int `yaml:"stride"`
	// WordPooling pools each word's pieces into one position partway
	// through the encoder (nil: never).
	WordPooling *WordPoolingConfig `yaml:"word_pooling"`
	// DepthMixing, "static" or "attention", feeds each encoder layer a
	// learned mix of all earlier outputs (adapters.DepthMixer); "" is off.
	DepthMixing string                   `yaml:"depth_mixing"`
	Datasets    map[string]DatasetConfig `yaml:"datasets"`
	Tasks       []TaskConfig             `yaml:"tasks"`
	Train       TrainConfig              `yaml:"train"`
	Eval        EvalConfig               `yaml:"eval"`
}

// DatasetConfig is one dataset: its format, files and reading options.
type DatasetConfig struct {
	// Format is "conllu", "conll" (token and tag columns, for NER) or
	// "tsv" (sentence or sentence-pair classification with a header).
	Format string `yaml:"format"`
	Train  string `yaml:"train"`
	Dev    string `yaml:"dev"`
	// Limit keeps only the first Limit training examples (0: all), for
	// quick runs.
	Limit int `yaml:"limit"`
	// conll options: a prefix every token carries (WikiANN's "en:"),
	// removing U+FEFF (WNUT-17), and the tag scheme (iob1, iob2, iobes).
	TokenPrefix string `yaml:"token_prefix"`
	StripBOM    bool   `yaml:"strip_bom"`
	Scheme      string `yaml:"scheme"`
	// tsv options: the text, second-text and label columns.
	Text     string `yaml:"text"`
	TextPair string `yaml:"text_pair"`
	Label    string `yaml:"label"`
}

// TaskConfig is one task: what it predicts, from which dataset, reading
// which layer.
type TaskConfig struct {
	Name    string `yaml:"name"`
	Dataset string `yaml:"dataset"`
	// Type is "tag" (a label per word: a CoNLL-U column or NER tags),
	// "feats" (morphological features, multi-label), "parse" (biaffine
	// dependency parsing, HEAD and DEPREL) or "classify" (a label per
	// sentence or pair).
	Type string `yaml:"type"`
	// Column is the CoNLL-U column a tag task predicts: upos, xpos, feats
	// (the whole FEATS string as one tag), lemma or deprel.
	Column string `yaml:"column"`
	// Layer is the hidden state the task reads: 0 is the embedding
	// output, i the output of layer i, negative counts from the top (-1 is
	// the last layer).
	Layer  *int    `yaml:"layer"`
	Weight float64 `yaml:"weight"`
	// Mix reads a learned mix of layers instead of Layer (see
	// adapters.MixConfig).
	Mix adapters.MixConfig `yaml:"mix"`
	// Pooling is how a word's pieces become one vector: first (default),
	// last, mean, sum or attention; for classify: cls (default) or mean.
	Pooling string `yaml:"pooling"`
	CRF     bool   `yaml:"crf"`
	// Parser sizes and tree decoder (mst, eisner, greedy).
	ArcMLP  int    `yaml:"arc_mlp"`
	RelMLP  int    `yaml:"rel_mlp"`
	Decoder string `yaml:"decoder"`
}

// WordPoolingConfig is word pooling inside the encoder: from hidden state
// After on (0: before the first layer, with word positions), the encoder
// runs on one position per word, pooled from its pieces by Mode (mean, sum,
// first, last, or attention: a learned score per piece, softmax-weighted
// within each word, starting as the mean). Tasks reading states above After see words; tasks at or
// below it see pieces. Classification datasets are not pooled.
type WordPoolingConfig struct {
	After int    `yaml:"after"`
	Mode  string `yaml:"mode"`
}

// TrainConfig sets the optimisation and the schedule.
type TrainConfig struct {
	BatchSize int `yaml:"batch_size"` // sentences per dataset batch
	// Steps, or Epochs over the first task's dataset.
	Steps        int      `yaml:"steps"`
	Epochs       float64  `yaml:"epochs"`
	LearningRate float64  `yaml:"learning_rate"`
	HeadLR       float64  `yaml:"head_learning_rate"`
	WeightDecay  *float64 `yaml:"weight_decay"`
	Warmup       *float64 `yaml:"warmup"`
	Clip         *float64 `yaml:"clip"`
	// Accumulate sums the gradients of this many steps' batches before
	// each update.
	Accumulate int `yaml:"accumulate"`
	// Sampling decides which datasets a step draws from: "mixed" (a batch
	// of every dataset with an active task, losses summed), "size" (one
	// dataset, chosen in proportion to its size), "temperature" (in
	// proportion to size^(1/Temperature)) or "round-robin".
	Sampling    string  `yaml:"sampling"`
	Temperature float64 `yaml:"temperature"`
	// Continual is an ERNIE-2.0-style schedule: stages that add tasks one
	// after another, earlier ones kept. Each stage lists the tasks it adds
	// and its share of the steps.
	Continual []StageConfig `yaml:"continual"`
	Seed      uint64        `yaml:"seed"`
	Threads   int           `yaml:"threads"`
}

// StageConfig is one stage of a continual schedule.
type StageConfig struct {
	Add   []string `yaml:"add"`
	Steps int      `yaml:"steps"`
}

// EvalConfig sets evaluation, checkpoint selection and early stopping.
type EvalConfig struct {
	// Every is "epoch" or a number of steps.
	Every string `yaml:"every"`
	// Select names the metric that chooses the best checkpoint, as
	// "dataset.metric" (e.g. ewt.las); default: the first task's main one.
	Select string `yaml:"select"`
	// Patience stops training after this many evaluations without a better
	// selected metric (0: never).
	Patience  int `yaml:"patience"`
	BatchSize int `yaml:"batch_size"`
	// Keep is how many recent checkpoints to keep besides the best.
	Keep int `yaml:"keep"`
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
	float := func(p **float64, v float64) {
		if *p == nil {
			*p = &v
		}
	}
	float(&c.Dropout, 0.1)
	t := &c.Train
	if t.BatchSize == 0 {
		t.BatchSize = 32
	}
	if t.LearningRate == 0 {
		t.LearningRate = 5e-5
	}
	if t.HeadLR == 0 {
		t.HeadLR = 1e-3
	}
	float(&t.WeightDecay, 0.01)
	float(&t.Warmup, 0.1)
	float(&t.Clip, 1)
	if t.Accumulate == 0 {
		t.Accumulate = 1
	}
	if t.Sampling == "" {
		t.Sampling = "mixed"
	}
	if t.Temperature == 0 {
		t.Temperature = 2
	}
	if c.Eval.Every == "" {
		c.Eval.Every = "epoch"
	}
	if c.Eval.BatchSize == 0 {
		c.Eval.BatchSize = 64
	}
	if c.Eval.Keep == 0 {
		c.Eval.Keep = 1
	}
	for i := range c.Tasks {
		task := &c.Tasks[i]
		if task.Weight == 0 {
			task.Weight = 1
		}
		if task.Pooling == "" {
			task.Pooling = "first"
			if task.Type == "classify" {
				task.Pooling = "cls"
			}
		}
		if task.ArcMLP == 0 {
			task.ArcMLP = 256
		}
		if task.RelMLP == 0 {
			task.RelMLP = 128
		}
		if task.Decoder == "" {
			task.Decoder = "mst"
		}
		if task.Layer == nil {
			top := -1
			task.Layer = &top
		}
	}
	for name, d := range c.Datasets {
		if d.Format == "conll" && d.Scheme == "" {
			d.Scheme = "iob2"
		}
		if d.Format == "tsv" && d.Label == "" {
			d.Label = "label"
		}
		c.Datasets[name] = d
	}
}

func (c *Config) validate() error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Output == "" {
		fail("output: the run directory is required")
	}
	if c.Model == "" {
		fail("model: a checkpoint is required")
	}
	if len(c.Tasks) == 0 {
		fail("tasks: at least one task is required")
	}
	for name, d := range c.Datasets {
		switch d.Format {
		case "conllu", "conll", "tsv":
		default:
			fail("datasets.%s.format must be conllu, conll or tsv, got %q", name, d.Format)
		}
		if d.Train == "" {
			fail("datasets.%s.train: a training file is required", name)
		}
		if d.Format == "conll" && !slices.Contains([]string{"iob1", "iob2", "iobes"}, d.Scheme) {
			fail("datasets.%s.scheme must be iob1, iob2 or iobes, got %q", name, d.Scheme)
		}
		if d.Format == "tsv" && d.Text == "" {
			fail("datasets.%s.text: name the text column", name)
		}
		if d.Limit < 0 {
			fail("datasets.%s.limit must not be negative", name)
		}
	}
	seen := map[string]bool{}
	for i, t := range c.Tasks {
		where := fmt.Sprintf("tasks[%d]", i)
		if t.Name == "" {
			fail("%s: a name is required", where)
		} else if seen[t.Name] || strings.ContainsAny(t.Name, ". /") {
			fail("%s: name %q is repeated or has '.', ' ' or '/'", where, t.Name)
		}
		seen[t.Name] = true
		d, ok := c.Datasets[t.Dataset]
		if !ok {
			fail("%s (%s): unknown dataset %q", where, t.Name, t.Dataset)
			continue
		}
		formats := map[string][]string{"tag": {"conllu", "conll"}, "feats": {"conllu"}, "parse": {"conllu"}, "classify": {"tsv"}}
		if want, ok := formats[t.Type]; !ok {
			fail("%s (%s): type must be tag, feats, parse or classify, got %q", where, t.Name, t.Type)
		} else if !slices.Contains(want, d.Format) {
			fail("%s (%s): a %s task needs a %v dataset, %s is %s", where, t.Name, t.Type, want, t.Dataset, d.Format)
		}
		if t.Type == "tag" && d.Format == "conllu" && !slices.Contains([]string{"upos", "xpos", "feats", "lemma", "deprel"}, t.Column) {
			fail("%s (%s): column must be upos, xpos, feats, lemma or deprel, got %q", where, t.Name, t.Column)
		}
		if t.Type == "classify" {
			if t.Pooling != "cls" && t.Pooling != "mean" {
				fail("%s (%s): pooling for classify must be cls or mean, got %q", where, t.Name, t.Pooling)
			}
		} else if !slices.Contains(heads.PoolModes, t.Pooling) {
			fail("%s (%s): pooling must be one of %v, got %q", where, t.Name, heads.PoolModes, t.Pooling)
		}
		if t.CRF && t.Type != "tag" {
			fail("%s (%s): crf is for tag tasks", where, t.Name)
		}
		if t.Type == "parse" && !slices.Contains(heads.Decoders, t.Decoder) {
			fail("%s (%s): decoder must be one of %v", where, t.Name, heads.Decoders)
		}
		if t.Weight < 0 {
			fail("%s (%s): weight must not be negative", where, t.Name)
		}
		if !slices.Contains(adapters.Modes, t.Mix.Mode) {
			fail("%s (%s): mix.mode must be scalar, concat or attention, got %q", where, t.Name, t.Mix.Mode)
		}
	}
	tr := c.Train
	if (tr.Steps > 0) == (tr.Epochs > 0) && len(tr.Continual) == 0 {
		fail("train: give steps or epochs (one of them)")
	}
	if !slices.Contains([]string{"mixed", "size", "temperature", "round-robin"}, tr.Sampling) {
		fail("train.sampling must be mixed, size, temperature or round-robin, got %q", tr.Sampling)
	}
	if tr.Accumulate < 1 || tr.BatchSize < 1 || tr.Threads < 0 {
		fail("train: batch_size and accumulate must be positive, threads not negative")
	}
	if *tr.Warmup < 0 || *tr.Warmup >= 1 {
		fail("train.warmup is a share of the steps, in [0, 1)")
	}
	if *c.Dropout < 0 || *c.Dropout >= 1 {
		fail("dropout must be in [0, 1)")
	}
	added := map[string]bool{}
	for i, s := range tr.Continual {
		if s.Steps <= 0 || len(s.Add) == 0 {
			fail("train.continual[%d]: a stage adds tasks and has steps", i)
		}
		for _, name := range s.Add {
			if !seen[name] || added[name] {
				fail("train.continual[%d]: %q is not a task or was added before", i, name)
			}
			added[name] = true
		}
	}
	if len(tr.Continual) > 0 && (tr.Steps > 0 || tr.Epochs > 0) {
		fail("train: with continual stages, the stages give the steps")
	}
	if c.Eval.Every != "epoch" {
		if n, err := strconv.Atoi(c.Eval.Every); err != nil || n <= 0 {
			fail("eval.every must be epoch or a number of steps, got %q", c.Eval.Every)
		}
	}
	if c.MaxLength < 0 || c.Stride < 0 {
		fail("max_length and stride must not be negative")
	}
	if c.DepthMixing != "" && !slices.Contains(adapters.DepthModes, c.DepthMixing) {
		fail("depth_mixing must be static or attention, got %q", c.DepthMixing)
	}
	if p := c.WordPooling; p != nil {
		if p.Mode == "" {
			p.Mode = "mean"
		}
		if !slices.Contains([]string{"mean", "sum", "first", "last", "attention"}, p.Mode) || p.After < 0 {
			fail("word_pooling: mode must be mean, sum, first, last or attention and after not negative")
		}
	}
	return errors.Join(errs...)
}
