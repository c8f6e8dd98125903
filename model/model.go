// Package model is hiertune's multi-task model: a pretrained encoder with
// its adapters (word pooling and depth mixing inside the encoder), the
// datasets its tasks read and the tasks' heads. It runs the model on data
// — predicting, scoring, inspecting — and writes and reads its
// checkpoints; package finetune trains it.
package model

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hiertune/hiertune/adapters"
	"github.com/hiertune/hiertune/data/conllu"
	"github.com/hiertune/hiertune/datasets"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/hierarchy"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/loader/safetensors"
	"github.com/hiertune/hiertune/loader/tokenizer"
	"github.com/hiertune/hiertune/pairs"
	"github.com/hiertune/hiertune/tasks"
)

// Config is a model: the checkpoint it starts from, the adapters inside
// its encoder, its datasets and its tasks.
type Config struct {
	// Model is the checkpoint to start from: a directory, an ONNX file,
	// hf:org/name[@rev], or an embedded checkpoint's name.
	Model string `yaml:"model"`
	// RandomInit keeps the checkpoint's architecture and tokenizer but
	// starts from freshly drawn weights (HuggingFace's initialisation), to
	// measure what pretraining adds.
	RandomInit bool `yaml:"random_init"`
	// Dropout overrides the encoder's dropout and is used in the heads.
	Dropout float64 `yaml:"dropout"`
	// MaxLength is the longest input in pieces (special tokens included);
	// longer sentences are split into overlapping windows of this length
	// sharing Stride pieces. 0: the model's maximum.
	MaxLength int `yaml:"max_length"`
	Stride    int `yaml:"stride"`
	// MaxWords is the longest sentence, in words, the model takes (0:
	// DefaultMaxWords), so that memory stays bounded (a parser's scores
	// grow with its square): eval and predict refuse a longer one, naming
	// it, and training leaves it out, counted.
	MaxWords int `yaml:"max_words"`
	// LongSentences is what training does with a sentence longer than
	// MaxLength pieces: "window" (split it into overlapping windows, as
	// eval and predict do) or "skip" (leave it out, counted).
	LongSentences string `yaml:"long_sentences"`
	// WordPooling pools each word's pieces into one position partway
	// through the encoder (nil: never).
	WordPooling *WordPoolingConfig `yaml:"word_pooling"`
	// DepthMixing, "static" or "attention", feeds each encoder layer a
	// learned mix of all earlier outputs (adapters.DepthMixer); "" is off.
	DepthMixing string `yaml:"depth_mixing"`
	// Hierarchy gives tokens hierarchy vectors, trains them and merges
	// tokens by them (nil: none; see package hierarchy).
	Hierarchy *hierarchy.Config `yaml:"hierarchy"`
	// Pairs gives the encoder pair states (nil: none; see package pairs).
	Pairs    *pairs.Config              `yaml:"pairs"`
	Datasets map[string]datasets.Config `yaml:"datasets"`
	Tasks    []tasks.Config             `yaml:"tasks"`
}

// WordPoolingConfig is word pooling inside the encoder: from hidden state
// After on (0: before the first layer, with word positions), the encoder
// runs on one position per word, pooled from its pieces by Mode (mean, sum,
// first, last, or attention: a learned score per piece, softmax-weighted
// within each word, starting as the mean). Tasks reading states above
// After see words; tasks at or below it see pieces. Sentence-level
// datasets are not pooled.
type WordPoolingConfig struct {
	After int    `yaml:"after"`
	Mode  string `yaml:"mode"`
}

// DefaultMaxWords is MaxWords when it is 0.
const DefaultMaxWords = 1024

// Defaults returns a configuration with the defaults filled in, for
// decoding a job's configuration into.
func Defaults() Config {
	return Config{Dropout: 0.1, MaxWords: DefaultMaxWords, LongSentences: "window"}
}

// Validate checks what does not need the checkpoint or the data.
func (c *Config) Validate() error {
	switch {
	case c.Model == "":
		return fmt.Errorf("model: a checkpoint is required")
	case len(c.Tasks) == 0:
		return fmt.Errorf("tasks: at least one task is required")
	case c.Dropout < 0 || c.Dropout >= 1:
		return fmt.Errorf("dropout must be in [0, 1), got %g", c.Dropout)
	case c.MaxLength < 0 || c.Stride < 0 || c.MaxWords < 0:
		return fmt.Errorf("max_length, stride and max_words must not be negative")
	case c.LongSentences != "" && c.LongSentences != "window" && c.LongSentences != "skip":
		return fmt.Errorf("long_sentences must be window or skip, got %q", c.LongSentences)
	case c.DepthMixing != "" && !slices.Contains(adapters.DepthModes, c.DepthMixing):
		return fmt.Errorf("depth_mixing must be static or attention, got %q", c.DepthMixing)
	}
	if p := c.WordPooling; p != nil {
		if p.Mode == "" {
			p.Mode = "mean"
		}
		if !slices.Contains(heads.PoolModes, p.Mode) || p.After < 0 {
			return fmt.Errorf("word_pooling: mode must be mean, sum, first, last or attention and after not negative")
		}
	}
	data := map[string]tasks.Data{}
	for name, d := range c.Datasets {
		if d.Train == "" {
			return fmt.Errorf("datasets.%s.train: a training file is required", name)
		}
		ds, err := datasets.New(name, d)
		if err != nil {
			return err
		}
		data[name] = ds.Data
	}
	seen := map[string]bool{}
	for i, t := range c.Tasks {
		if seen[t.Name] {
			return fmt.Errorf("tasks[%d]: name %q is repeated", i, t.Name)
		}
		seen[t.Name] = true
		d, ok := data[t.Dataset]
		if !ok {
			return fmt.Errorf("tasks[%d] (%s): unknown dataset %q", i, t.Name, t.Dataset)
		}
		if err := tasks.Check(t, d); err != nil {
			return fmt.Errorf("tasks[%d]: %w", i, err)
		}
	}
	return nil
}

// Model is an encoder with the heads of a job's tasks.
type Model struct {
	Config   *Config
	Encoder  *encoder.Model
	Tok      *tokenizer.Tokenizer
	tokDir   string            // where the tokenizer's files are
	tokFiles map[string][]byte // their contents, for checkpoints
	rawCfg   map[string]json.RawMessage
	prefix   string
	Datasets []*datasets.Dataset // sorted by name
	Tasks    []*tasks.Task       // in configuration order
	// MaxLength and Stride are the windows inputs are cut into, MaxWords
	// the longest sentence taken.
	MaxLength, Stride, MaxWords int
	// BatchSize is the batch size of inference when none is given.
	BatchSize int
	depth     *adapters.DepthMixer // nil: layers read the previous layer
	// wordScore scores pieces for attention word pooling in the encoder.
	wordScore *encoder.Linear
	hier      *hierarchy.Module      // nil without hierarchy vectors
	pairs     *pairs.Module          // nil without pair states
	merge     *hierarchy.MergeConfig // the merging in use at inference, or nil
	merged    [2]int                 // see MergeCounts
	engine    Engine                 // nil: the Go encoder and heads (see SetEngine)

	// Extra are parameters trained and saved with the heads (a
	// distillation hook's projections).
	Extra []encoder.NamedParam
}

// New loads the encoder of checkpoint ck for cfg — with the dropout of the
// configuration, the tokenizer beside the weights, the adapters — and makes
// the datasets and tasks, whose heads BuildHeads makes.
func New(cfg *Config, ck *loader.Checkpoint) (*Model, error) {
	enc, err := ck.Model()
	if err != nil {
		return nil, err
	}
	enc.Config.HiddenDropoutProb, enc.Config.AttentionProbsDropoutProb = cfg.Dropout, cfg.Dropout
	tok, err := tokenizer.Load(ck.Dir)
	if err != nil {
		return nil, err
	}
	if tok.VocabSize() > enc.Config.VocabSize {
		return nil, fmt.Errorf("%s: the tokenizer has %d ids, the model %d embeddings", ck.Dir, tok.VocabSize(), enc.Config.VocabSize)
	}
	m := &Model{Config: cfg, Encoder: enc, Tok: tok, tokDir: ck.Dir, rawCfg: ck.RawConfig, prefix: ck.Prefix, BatchSize: 64}
	// The files are read now: a resumed run's checkpoint directory may be
	// pruned before the run saves its next checkpoint.
	if m.tokFiles, err = tokenizer.ReadFiles(ck.Dir); err != nil {
		return nil, err
	}
	if m.prefix == "" {
		m.prefix = "bert."
	}
	m.MaxLength = enc.Config.MaxSequenceLength()
	if cfg.MaxLength > 0 {
		if cfg.MaxLength > m.MaxLength {
			return nil, fmt.Errorf("max_length %d exceeds the model's %d positions", cfg.MaxLength, m.MaxLength)
		}
		m.MaxLength = cfg.MaxLength
	}
	m.Stride = cfg.Stride
	if m.Stride == 0 {
		m.Stride = m.MaxLength / 4
	}
	m.MaxWords = cfg.MaxWords
	if m.MaxWords == 0 {
		m.MaxWords = DefaultMaxWords
	}
	L := enc.Config.NumHiddenLayers
	if cfg.DepthMixing != "" {
		if m.depth, err = adapters.NewDepthMixer(cfg.DepthMixing, L, enc.Config.HiddenSize); err != nil {
			return nil, err
		}
		enc.LayerInput = m.depth
	}
	if p := cfg.WordPooling; p != nil {
		if p.After > L {
			return nil, fmt.Errorf("word_pooling.after %d: the encoder has %d layers", p.After, L)
		}
		if p.Mode == string(encoder.PoolAttention) {
			m.wordScore = encoder.NewLinear(enc.Config.HiddenSize, 1) // zero: the mean
		}
	}
	if h := cfg.Hierarchy; h != nil {
		pooled := -1
		if p := cfg.WordPooling; p != nil {
			pooled = p.After
		}
		if err := h.Check(L, pooled, cfg.DepthMixing != ""); err != nil {
			return nil, err
		}
		if s := h.Syntax; s != nil {
			d, ok := cfg.Datasets[s.Dataset]
			if !ok {
				return nil, fmt.Errorf("hierarchy.syntax.dataset: no dataset %q", s.Dataset)
			}
			ds, err := datasets.New(s.Dataset, d)
			if err != nil {
				return nil, err
			}
			if !ds.Data.Has("head") {
				return nil, fmt.Errorf("hierarchy.syntax.dataset: dataset %s (%s) has no dependency heads", s.Dataset, d.Format)
			}
		}
		m.merge = h.Merge
	}
	if p := cfg.Pairs; p != nil {
		p.Defaults()
		if err := p.Check(L); err != nil {
			return nil, err
		}
		switch {
		case cfg.WordPooling != nil:
			return nil, fmt.Errorf("pairs: pair states are over pieces; not with word_pooling")
		case cfg.Hierarchy != nil && cfg.Hierarchy.Merge != nil:
			return nil, fmt.Errorf("pairs: pair states are over pieces; not with hierarchy.merge")
		}
	}
	names := make([]string, 0, len(cfg.Datasets))
	for name := range cfg.Datasets {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		d, err := datasets.New(name, cfg.Datasets[name])
		if err != nil {
			return nil, err
		}
		m.Datasets = append(m.Datasets, d)
	}
	for _, tc := range cfg.Tasks {
		d := m.dataset(tc.Dataset)
		if d == nil {
			return nil, fmt.Errorf("task %s: unknown dataset %q", tc.Name, tc.Dataset)
		}
		t, err := tasks.New(tc, d.Data, L)
		if err != nil {
			return nil, err
		}
		m.Tasks = append(m.Tasks, t)
	}
	return m, nil
}

func (m *Model) dataset(name string) *datasets.Dataset {
	for _, d := range m.Datasets {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// TasksOf returns the tasks of dataset d, in configuration order.
func (m *Model) TasksOf(d *datasets.Dataset) []*tasks.Task {
	var out []*tasks.Task
	for _, t := range m.Tasks {
		if t.Config.Dataset == d.Name {
			out = append(out, t)
		}
	}
	return out
}

// Task returns the named task, or nil.
func (m *Model) Task(name string) *tasks.Task {
	for _, t := range m.Tasks {
		if t.Config.Name == name {
			return t
		}
	}
	return nil
}

// BuildHeads makes every task's head, with labels either given (by task
// name: from a checkpoint or a teacher) or collected from the training
// data, and weights drawn from seed.
func (m *Model) BuildHeads(labels map[string][]string, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0xbead))
	c := m.Encoder.Config
	for _, t := range m.Tasks {
		train := m.dataset(t.Config.Dataset).Train
		l, ok := labels[t.Config.Name]
		if !ok {
			l = t.Head.Vocabulary(train)
		}
		if err := t.Build(l, c.HiddenSize, c.NumHiddenLayers, train, rng); err != nil {
			return err
		}
		if p := m.Config.WordPooling; p != nil && t.Mixer != nil && p.After > 0 {
			layers := t.Mixer.Layers()
			lo := layers[0]
			if t.Mixer.Config.Diff {
				lo-- // h_l − h_{l−1} reads the layer below too
			}
			if lo <= p.After && layers[len(layers)-1] > p.After {
				return fmt.Errorf("task %s: its mix reads layers %d..%d on both sides of word pooling after %d", t.Config.Name, lo, layers[len(layers)-1], p.After)
			}
		}
	}
	if h := m.Config.Hierarchy; h != nil && h.UsesVectors() {
		m.hier = hierarchy.New(h, c.HiddenSize, c.NumHiddenLayers, rng)
	}
	if p := m.Config.Pairs; p != nil {
		m.pairs = pairs.New(p, c.HiddenSize, c.NumAttentionHeads, c.NumHiddenLayers, rng)
	}
	return nil
}

// Pairs returns the model's pair-state parameters, or nil.
func (m *Model) Pairs() *pairs.Module { return m.pairs }

// SetPairs starts the pair states of a forward pass over b, when the model
// has them: it sets opt.Pairs (and opt.NoPositions as configured) and
// b.Pairs, which the tasks read. A batch whose pair states would not fit
// in the memory available is refused before anything is computed.
func (m *Model) SetPairs(opt *encoder.Options, b *tasks.Batch) error {
	b.Pairs = nil
	if m.pairs == nil {
		return nil
	}
	depth := len(m.Encoder.Layers)
	if opt.Depth > 0 {
		depth = min(depth, opt.Depth)
	}
	if need, have := m.pairs.EstimateBytes(b.Enc.Size, b.Enc.Seq, depth), availableMemory(); have > 0 && need > have {
		return fmt.Errorf("pairs: a batch of %d×%d pieces needs about %.1f GiB of pair states over %d layers, more than the %.1f GiB available: lower the batch size, max_length or pairs.dim",
			b.Enc.Size, b.Enc.Seq, float64(need)/(1<<30), depth, float64(have)/(1<<30))
	}
	st, err := m.pairs.Start(b.Enc, m.Tok.Specials().SEP)
	if err != nil {
		return err
	}
	opt.Pairs, opt.NoPositions, b.Pairs = st, m.pairs.Config.NoPositions, st
	return nil
}

// availableMemory returns the memory available to the process in bytes
// (MemAvailable of /proc/meminfo), or 0 when it cannot tell.
func availableMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemAvailable:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// Hierarchy returns the model's hierarchy projections, or nil.
func (m *Model) Hierarchy() *hierarchy.Module { return m.hier }

// SetMerge sets the token merging of inference (nil: none), in place of
// the configuration's hierarchy.merge; merging by keys needs no hierarchy.
func (m *Model) SetMerge(c *hierarchy.MergeConfig) error {
	if c == nil {
		m.merge = nil
		return nil
	}
	L, from, pooled := m.Encoder.Config.NumHiddenLayers, m.Encoder.Config.NumHiddenLayers+1, -1
	if m.hier != nil {
		from = m.hier.Config.From
	}
	if p := m.Config.WordPooling; p != nil {
		pooled = p.After
	}
	if err := c.Check(L, from, pooled, m.depth != nil); err != nil {
		return err
	}
	if c.By == hierarchy.ByHierarchy && m.hier == nil {
		return fmt.Errorf("merging by hierarchy: the model has no hierarchy vectors (merge by keys, or train it with a hierarchy block)")
	}
	m.merge = c
	return nil
}

// Merge returns the token merging in use at inference, or nil.
func (m *Model) Merge() *hierarchy.MergeConfig { return m.merge }

// SetMerger sets opt.Merge to the merger of one forward pass — in training
// only when the merging says so — and returns it, or leaves opt as it is
// and returns nil when nothing is merged.
func (m *Model) SetMerger(opt *encoder.Options) (*hierarchy.Merger, error) {
	c := m.merge
	if opt.Train {
		c = nil
		if h := m.Config.Hierarchy; h != nil && h.Merge != nil && h.Merge.Train {
			c = h.Merge
		}
	}
	if c == nil {
		return nil, nil
	}
	mg, err := hierarchy.NewMerger(c, m.hier, m.Encoder)
	if err != nil {
		return nil, err
	}
	opt.Merge = mg // only a merger: a nil *Merger is not a nil encoder.Merger
	return mg, nil
}

// Labels returns every task's label vocabulary, by task name.
func (m *Model) Labels() map[string][]string {
	out := map[string][]string{}
	for _, t := range m.Tasks {
		out[t.Config.Name] = t.Labels
	}
	return out
}

// HeadParams returns the parameters of all task heads, and of the adapters
// inside the encoder (named "encoder.…"): the depth mixer and the word
// pooling scorer, if any; the hierarchy projections; then Extra.
func (m *Model) HeadParams() []encoder.NamedParam {
	var ps []encoder.NamedParam
	if s := m.wordScore; s != nil {
		h := m.Encoder.Config.HiddenSize
		ps = append(ps,
			encoder.NamedParam{Name: "encoder.word_pooling.score.weight", Param: s.Weight, Shape: []int{1, h}},
			encoder.NamedParam{Name: "encoder.word_pooling.score.bias", Param: s.Bias, Shape: []int{1}})
	}
	if m.depth != nil {
		for _, np := range m.depth.NamedParams() {
			np.Name = "encoder." + np.Name
			ps = append(ps, np)
		}
	}
	if m.hier != nil {
		ps = append(ps, m.hier.NamedParams()...)
	}
	if m.pairs != nil {
		ps = append(ps, m.pairs.NamedParams()...)
	}
	for _, t := range m.Tasks {
		ps = append(ps, t.Params()...)
	}
	return append(ps, m.Extra...)
}

// Depth returns the deepest hidden state the given tasks read.
func Depth(ts []*tasks.Task) int {
	d := 0
	for _, t := range ts {
		d = max(d, t.Deepest())
	}
	return d
}

// taskInfo is what a checkpoint's tasks.json records of a task to rebuild
// its head without the training data: its configuration and its label
// vocabulary.
type taskInfo struct {
	Config tasks.Config `json:"config"`
	Labels []string     `json:"labels"`
}

// Files returns the files of a model checkpoint: a HuggingFace encoder
// directory plus heads.safetensors and tasks.json.
func (m *Model) Files() (map[string][]byte, error) {
	files, err := loader.EncoderFiles(m.Encoder, m.prefix, m.rawCfg, "BertModel", nil, m.tokFiles)
	if err != nil {
		return nil, err
	}
	sums := map[string]string{}
	for _, t := range m.Tasks {
		sums[labelsKey(t.Config.Name)] = labelsSum(t.Labels)
	}
	if files["heads.safetensors"], err = safetensors.Encode(encoder.Tensors(m.HeadParams()), sums); err != nil {
		return nil, err
	}
	var infos []taskInfo
	for _, t := range m.Tasks {
		infos = append(infos, taskInfo{Config: t.Config, Labels: t.Labels})
	}
	if files["tasks.json"], err = json.MarshalIndent(infos, "", "  "); err != nil {
		return nil, err
	}
	return files, nil
}

// ReadLabels reads the label vocabularies of a checkpoint's tasks.json and
// checks that it has the model's tasks.
func (m *Model) ReadLabels(dir string) (map[string][]string, error) {
	path := filepath.Join(dir, "tasks.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var infos []struct {
		Config struct {
			Name string `json:"name"`
		} `json:"config"`
		Labels []string `json:"labels"`
	}
	if err := json.Unmarshal(b, &infos); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	labels := map[string][]string{}
	for _, in := range infos {
		labels[in.Config.Name] = in.Labels
	}
	for _, t := range m.Tasks {
		if _, ok := labels[t.Config.Name]; !ok {
			return nil, fmt.Errorf("%s: the checkpoint has no task %q", path, t.Config.Name)
		}
	}
	return labels, nil
}

// labelsKey names the checksum of a task's labels in heads.safetensors's
// metadata.
func labelsKey(task string) string { return "labels." + task }

// labelsSum is the checksum of a label vocabulary, in order: the heads'
// weights only make sense with the labels in the order they were trained
// with.
func labelsSum(labels []string) string {
	h := sha256.New()
	for _, l := range labels {
		h.Write([]byte(l))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// LoadHeads copies the weights of the heads (and of Extra) from
// dir/heads.safetensors, after checking that every task's labels are those
// its head was trained with.
func (m *Model) LoadHeads(dir string) error {
	f, err := safetensors.ReadFile(filepath.Join(dir, "heads.safetensors"))
	if err != nil {
		return err
	}
	for _, t := range m.Tasks {
		if sum, ok := f.Header.Metadata[labelsKey(t.Config.Name)]; ok && sum != labelsSum(t.Labels) {
			return fmt.Errorf("%s: the labels of task %s are not those its head was trained with (their checksum in %s differs): was tasks.json edited?", filepath.Join(dir, "tasks.json"), t.Config.Name, f.Path)
		}
	}
	if err := encoder.LoadTensors(m.HeadParams(), f.Tensors()); err != nil {
		return fmt.Errorf("%s: %w (the heads the run's configuration builds are not those saved: was its config.yaml edited?)", f.Path, err)
	}
	return nil
}

// Load makes the model of checkpoint directory dir for cfg, its heads and
// labels from the checkpoint, for inference: no parameter takes gradients.
func Load(cfg *Config, dir string) (*Model, error) {
	ck, err := loader.Read(dir)
	if err != nil {
		return nil, err
	}
	m, err := New(cfg, ck)
	if err != nil {
		return nil, err
	}
	labels, err := m.ReadLabels(dir)
	if err != nil {
		return nil, err
	}
	if err := m.BuildHeads(labels, 0); err != nil {
		return nil, err
	}
	if err := m.LoadHeads(dir); err != nil {
		return nil, err
	}
	for _, np := range append(m.Encoder.NamedParams(), m.HeadParams()...) {
		np.Param.SetRequiresGrad(false)
	}
	return m, nil
}

// RawConfig returns the fields of the encoder's config.json.
func (m *Model) RawConfig() map[string]json.RawMessage { return m.rawCfg }

// TokenizerDir returns the directory of the model's tokenizer files.
func (m *Model) TokenizerDir() string { return m.tokDir }

// DatasetNames returns the names of the model's datasets.
func (m *Model) DatasetNames() []string {
	var names []string
	for _, d := range m.Datasets {
		names = append(names, d.Name)
	}
	return names
}

// Dataset returns the dataset a command means: the one named, or the only
// one.
func (m *Model) Dataset(name string) (*datasets.Dataset, error) {
	if name == "" {
		if len(m.Datasets) == 1 {
			return m.Datasets[0], nil
		}
		return nil, fmt.Errorf("the run has datasets %v: name one", m.DatasetNames())
	}
	if d := m.dataset(name); d != nil {
		return d, nil
	}
	return nil, fmt.Errorf("no dataset %q in the run (it has %v)", name, m.DatasetNames())
}

// ReadInput reads and encodes a file of dataset d's format, for eval or
// predict; with gold, it checks the gold annotation as training does.
func (m *Model) ReadInput(d *datasets.Dataset, path string, gold bool, log io.Writer) ([]*tasks.Example, error) {
	exs, err := d.Read(path, log)
	if err != nil {
		return nil, err
	}
	if len(exs) == 0 {
		return nil, fmt.Errorf("%s: no examples", path)
	}
	for _, ex := range exs {
		if len(ex.Words) > m.MaxWords {
			return nil, fmt.Errorf("%s:%d: a sentence of %d words, more than the model's max_words %d: split it", path, ex.Line, len(ex.Words), m.MaxWords)
		}
	}
	if gold {
		if err := m.Check(d, path, exs); err != nil {
			return nil, err
		}
	}
	if err := d.Encode(exs, path, m.Tok, m.MaxLength, m.Stride, log); err != nil {
		return nil, err
	}
	return exs, m.checkTriangle(path, exs)
}

// checkTriangle refuses, naming the file and line, an example whose
// encoder input is longer than the pair states' triangle update accepts.
func (m *Model) checkTriangle(file string, exs []*tasks.Example) error {
	p := m.Config.Pairs
	if p == nil || !p.Triangle {
		return nil
	}
	for _, ex := range exs {
		if n := ex.Longest(); n > p.TriangleMaxLength {
			return fmt.Errorf("%s:%d: an input of %d pieces is longer than pairs.triangle_max_length %d (the triangle update costs n³; raise the limit to allow it)", file, ex.Line, n, p.TriangleMaxLength)
		}
	}
	return nil
}

// Check checks the gold annotation of examples of dataset d read from file
// for its tasks (a parser's trees) and for the hierarchy's syntactic
// supervision (trees too, where a sentence has heads); the error names the
// file and line.
func (m *Model) Check(d *datasets.Dataset, file string, exs []*tasks.Example) error {
	for _, t := range m.TasksOf(d) {
		for _, ex := range exs {
			if err := t.Head.Check(ex); err != nil {
				return fmt.Errorf("%s:%d: task %s: %w", file, ex.Line, t.Config.Name, err)
			}
		}
	}
	if h := m.Config.Hierarchy; h != nil && h.Syntax != nil && h.Syntax.Dataset == d.Name {
		for _, ex := range exs {
			heads := tasks.GoldHeads(ex)
			if !slices.Contains(heads, conllu.NoHead) && !hierarchy.IsTree(heads, len(ex.Words)) {
				return fmt.Errorf("%s:%d: hierarchy.syntax: the gold heads are not a tree", file, ex.Line)
			}
		}
	}
	return nil
}

// Load reads the training and dev files of dataset d and encodes their
// examples, checking their gold annotation.
func (m *Model) Load(d *datasets.Dataset, log io.Writer) error {
	c := d.Config
	exs, err := d.Read(c.Train, log)
	if err != nil {
		return err
	}
	long := 0
	d.Train = exs[:0]
	for _, ex := range exs {
		if len(ex.Words) > m.MaxWords {
			long++
			continue
		}
		d.Train = append(d.Train, ex)
	}
	if long > 0 && log != nil {
		fmt.Fprintf(log, "%s: %d sentences longer than max_words %d left out\n", c.Train, long, m.MaxWords)
	}
	if c.Limit > 0 && len(d.Train) > c.Limit {
		d.Train = d.Train[:c.Limit]
	}
	if err := m.Check(d, c.Train, d.Train); err != nil {
		return err
	}
	if c.Dev != "" {
		if d.Dev, err = m.ReadInput(d, c.Dev, true, log); err != nil {
			return err
		}
	}
	if err := d.Encode(d.Train, c.Train, m.Tok, m.MaxLength, m.Stride, log); err != nil {
		return err
	}
	if err := m.checkTriangle(c.Train, d.Train); err != nil {
		return err
	}
	if m.Config.LongSentences == "skip" {
		kept := d.Train[:0]
		for _, ex := range d.Train {
			if ex.Windows() == 1 {
				kept = append(kept, ex)
			}
		}
		if n := len(d.Train) - len(kept); n > 0 && log != nil {
			fmt.Fprintf(log, "%s: %d sentences longer than %d pieces left out (long_sentences: skip)\n", c.Train, n, m.MaxLength)
		}
		d.Train = kept
	}
	if len(d.Train) == 0 {
		return fmt.Errorf("%s: no training examples", c.Train)
	}
	return nil
}

// DepthMixer returns the depth mixing of the encoder's layers, or nil.
func (m *Model) DepthMixer() *adapters.DepthMixer { return m.depth }

// EncoderWordPooling returns the word pooling inside the encoder (nil
// without it): after which hidden state, in which mode, and the attention
// scorer.
func (m *Model) EncoderWordPooling() *encoder.WordPooling {
	p := m.Config.WordPooling
	if p == nil {
		return nil
	}
	return &encoder.WordPooling{After: p.After, Mode: kernels.PoolMode(p.Mode), Score: m.wordScore}
}
