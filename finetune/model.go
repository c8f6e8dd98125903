package finetune

import (
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"

	"github.com/hiertune/hiertune/adapters"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/loader/safetensors"
	"github.com/hiertune/hiertune/loader/tokenizer"
	"github.com/hiertune/hiertune/tensor"
)

// Model is an encoder with the heads of a job's tasks.
type Model struct {
	cfg      *Config
	Encoder  *encoder.Model
	tok      *tokenizer.Tokenizer
	tokDir   string            // where the tokenizer's files are
	tokFiles map[string][]byte // their contents, for checkpoints
	rawCfg   map[string]json.RawMessage
	prefix   string
	datasets []*dataset // sorted by name
	tasks    []*task    // in configuration order
	maxLen   int
	stride   int
	depth    *adapters.DepthMixer // nil: layers read the previous layer
	// wordScore scores pieces for attention word pooling in the encoder.
	wordScore *encoder.Linear
	engine    Engine // nil: the Go encoder and heads (see SetEngine)

	// extra are parameters a Hook trains with the heads.
	extra []encoder.NamedParam
}

// newModel loads the encoder of checkpoint ck for cfg: the dropout of the
// configuration, the tokenizer beside the weights, the input lengths.
func newModel(cfg *Config, ck *loader.Checkpoint) (*Model, error) {
	enc, err := ck.Model()
	if err != nil {
		return nil, err
	}
	enc.Config.HiddenDropoutProb, enc.Config.AttentionProbsDropoutProb = *cfg.Dropout, *cfg.Dropout
	tok, err := tokenizer.Load(ck.Dir)
	if err != nil {
		return nil, err
	}
	if tok.VocabSize() > enc.Config.VocabSize {
		return nil, fmt.Errorf("%s: the tokenizer has %d ids, the model %d embeddings", ck.Dir, tok.VocabSize(), enc.Config.VocabSize)
	}
	m := &Model{cfg: cfg, Encoder: enc, tok: tok, tokDir: ck.Dir, rawCfg: ck.RawConfig, prefix: ck.Prefix}
	// The files are read now: a resumed run's checkpoint directory may be
	// pruned before the run saves its next checkpoint.
	if m.tokFiles, err = tokenizer.ReadFiles(ck.Dir); err != nil {
		return nil, err
	}
	if m.prefix == "" {
		m.prefix = "bert."
	}
	m.maxLen = enc.Config.MaxSequenceLength()
	if cfg.MaxLength > 0 {
		if cfg.MaxLength > m.maxLen {
			return nil, fmt.Errorf("max_length %d exceeds the model's %d positions", cfg.MaxLength, m.maxLen)
		}
		m.maxLen = cfg.MaxLength
	}
	if cfg.DepthMixing != "" {
		if m.depth, err = adapters.NewDepthMixer(cfg.DepthMixing, enc.Config.NumHiddenLayers, enc.Config.HiddenSize); err != nil {
			return nil, err
		}
		enc.LayerInput = m.depth
	}
	if p := cfg.WordPooling; p != nil && p.Mode == string(encoder.PoolAttention) {
		m.wordScore = encoder.NewLinear(enc.Config.HiddenSize, 1) // zero: the mean
	}
	m.stride = cfg.Stride
	if m.stride == 0 {
		m.stride = m.maxLen / 4
	}
	names := make([]string, 0, len(cfg.Datasets))
	for name := range cfg.Datasets {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		m.datasets = append(m.datasets, &dataset{name: name, cfg: cfg.Datasets[name]})
	}
	for _, tc := range cfg.Tasks {
		layer, err := resolveLayer(*tc.Layer, enc.Config.NumHiddenLayers, tc.Name)
		if err != nil {
			return nil, err
		}
		t := &task{cfg: tc, layer: layer, numLayers: enc.Config.NumHiddenLayers, ds: m.dataset(tc.Dataset)}
		t.ds.tasks = append(t.ds.tasks, t)
		m.tasks = append(m.tasks, t)
	}
	return m, nil
}

func (m *Model) dataset(name string) *dataset {
	for _, d := range m.datasets {
		if d.name == name {
			return d
		}
	}
	return nil
}

// buildHeads makes every task's head, with labels either given (from a
// checkpoint) or collected from the training data.
func (m *Model) buildHeads(labels map[string][]string, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0xbead))
	if p := m.cfg.WordPooling; p != nil && p.After > m.Encoder.Config.NumHiddenLayers {
		return fmt.Errorf("word_pooling.after %d: the encoder has %d layers", p.After, m.Encoder.Config.NumHiddenLayers)
	}
	for _, t := range m.tasks {
		if l, ok := labels[t.cfg.Name]; ok {
			t.labels = l
		} else {
			t.labels = t.vocabulary(t.ds.train)
		}
		if err := t.build(m.Encoder.Config.HiddenSize, t.ds.cfg.Scheme, rng); err != nil {
			return err
		}
		if p := m.cfg.WordPooling; p != nil && t.mixer != nil && p.After > 0 {
			layers := t.mixer.Layers()
			lo := layers[0]
			if t.mixer.Config.Diff {
				lo-- // h_l − h_{l−1} reads the layer below too
			}
			if lo <= p.After && layers[len(layers)-1] > p.After {
				return fmt.Errorf("task %s: its mix reads layers %d..%d on both sides of word pooling after %d", t.cfg.Name, lo, layers[len(layers)-1], p.After)
			}
		}
	}
	return nil
}

// wordPooling returns the word pooling inside the encoder for the batches
// of dataset d: the job's, except for sentence-level (TSV) datasets, which
// have no words; nil when there is none.
func (m *Model) wordPooling(d *dataset) *WordPoolingConfig {
	if d.cfg.Format == "tsv" {
		return nil
	}
	return m.cfg.WordPooling
}

// batch encodes examples of dataset d into a batch, laid out for word
// pooling in the encoder when the job asks for it.
func (m *Model) batch(d *dataset, exs []*example) *batch {
	b := makeBatch(exs, max(m.tok.Specials().PAD, 0))
	if p := m.wordPooling(d); p != nil {
		b.poolWords(p.After, p.Mode)
		b.words.Score = m.wordScore
	}
	return b
}

// inBatches encodes the examples exs of dataset d in batches of size,
// grouped by length (longest first) as training groups them, and yields
// each batch with the indices in exs of its examples.
func (m *Model) inBatches(d *dataset, exs []*example, size int) iter.Seq2[[]int, *batch] {
	return func(yield func([]int, *batch) bool) {
		idx := make([]int, len(exs))
		for i := range idx {
			idx[i] = i
		}
		for _, group := range groupedBatches(idx, exs, size, m.batchLength(d), nil) {
			bexs := make([]*example, len(group))
			for i, e := range group {
				bexs[i] = exs[e]
			}
			if !yield(group, m.batch(d, bexs)) {
				return
			}
		}
	}
}

// batchLength returns the length the batches of dataset d are grouped by
// (see batchLength).
func (m *Model) batchLength(d *dataset) func(*example) int {
	if p := m.wordPooling(d); p != nil {
		return batchLength(p.After)
	}
	return batchLength(-1)
}

// headParams returns the parameters of all task heads, and of the adapters
// inside the encoder (named "encoder.…"): the depth mixer and the word
// pooling scorer, if any.
func (m *Model) headParams() []encoder.NamedParam {
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
	for _, t := range m.tasks {
		ps = append(ps, t.NamedParams()...)
	}
	return append(ps, m.extra...)
}

// depth returns the deepest layer the given tasks read.
func depth(tasks []*task) int {
	d := 0
	for _, t := range tasks {
		d = max(d, t.deepest())
	}
	return d
}

// checkpointFiles returns the files of a model checkpoint: a HuggingFace
// encoder directory plus heads.safetensors and tasks.json.
func (m *Model) checkpointFiles() (map[string][]byte, error) {
	files := map[string][]byte{}
	weights := map[string]*tensor.Tensor{}
	for n, t := range encoder.Tensors(m.Encoder.NamedParams()) {
		weights[m.prefix+n] = t
	}
	var err error
	if files["model.safetensors"], err = safetensors.Encode(weights, map[string]string{"format": "pt"}); err != nil {
		return nil, err
	}
	raw := map[string]json.RawMessage{}
	for k, v := range m.rawCfg {
		raw[k] = v
	}
	raw["architectures"], _ = json.Marshal([]string{"BertModel"})
	// The saved encoder keeps the checkpoint's own dropout, not the job's.
	if files["config.json"], err = loader.ConfigJSON(m.Encoder.Config, raw); err != nil {
		return nil, err
	}
	headTensors := encoder.Tensors(m.headParams())
	var infos []TaskInfo
	for _, t := range m.tasks {
		infos = append(infos, TaskInfo{Config: t.cfg, Labels: t.labels})
	}
	if files["heads.safetensors"], err = safetensors.Encode(headTensors, nil); err != nil {
		return nil, err
	}
	if files["tasks.json"], err = json.MarshalIndent(infos, "", "  "); err != nil {
		return nil, err
	}
	for f, b := range m.tokFiles {
		files[f] = b
	}
	return files, nil
}

// readTaskLabels reads the label vocabularies of a checkpoint's tasks.json
// and checks that they belong to the configured tasks.
func readTaskLabels(dir string, cfg *Config) (map[string][]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "tasks.json"))
	if err != nil {
		return nil, err
	}
	var infos []TaskInfo
	if err := json.Unmarshal(b, &infos); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "tasks.json"), err)
	}
	labels := map[string][]string{}
	for _, in := range infos {
		labels[in.Config.Name] = in.Labels
	}
	for _, t := range cfg.Tasks {
		if _, ok := labels[t.Name]; !ok {
			return nil, fmt.Errorf("%s: the checkpoint has no task %q", dir, t.Name)
		}
	}
	return labels, nil
}

// loadHeads copies the task heads' weights from dir/heads.safetensors.
func (m *Model) loadHeads(dir string) error {
	f, err := safetensors.ReadFile(filepath.Join(dir, "heads.safetensors"))
	if err != nil {
		return err
	}
	if err := encoder.LoadTensors(m.headParams(), f.Tensors()); err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	return nil
}

// Open loads a fine-tuned model from a run directory: the configuration
// the run was started with, and the named checkpoint ("best", "latest" or
// a step checkpoint's name).
func Open(runDir, checkpoint string, log io.Writer) (*Model, error) {
	raw, err := os.ReadFile(filepath.Join(runDir, "config.yaml"))
	if err != nil {
		return nil, fmt.Errorf("%s: not a run directory: %w", runDir, err)
	}
	cfg, err := ParseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(runDir, "config.yaml"), err)
	}
	dir := filepath.Join(runDir, "checkpoints", checkpoint)
	if checkpoint == "latest" {
		b, err := os.ReadFile(filepath.Join(runDir, "latest"))
		if err != nil {
			return nil, fmt.Errorf("%s: no checkpoint yet: %w", runDir, err)
		}
		dir = filepath.Join(runDir, "checkpoints", string(trimSpace(b)))
	}
	ck, err := loader.Read(dir)
	if err != nil {
		return nil, err
	}
	m, err := newModel(cfg, ck)
	if err != nil {
		return nil, err
	}
	labels, err := readTaskLabels(dir, cfg)
	if err != nil {
		return nil, err
	}
	if err := m.buildHeads(labels, cfg.Train.Seed); err != nil {
		return nil, err
	}
	if err := m.loadHeads(dir); err != nil {
		return nil, err
	}
	for _, np := range append(m.Encoder.NamedParams(), m.headParams()...) {
		np.Param.SetRequiresGrad(false)
	}
	return m, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// Datasets returns the names of the model's datasets.
func (m *Model) Datasets() []string {
	var names []string
	for _, d := range m.datasets {
		names = append(names, d.name)
	}
	return names
}

// datasetFor returns the dataset a command means: the one named, or the
// only one.
func (m *Model) datasetFor(name string) (*dataset, error) {
	if name == "" {
		if len(m.datasets) == 1 {
			return m.datasets[0], nil
		}
		return nil, fmt.Errorf("the run has datasets %v: name one", m.Datasets())
	}
	if d := m.dataset(name); d != nil {
		return d, nil
	}
	return nil, fmt.Errorf("no dataset %q in the run (it has %v)", name, m.Datasets())
}
