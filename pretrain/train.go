package pretrain

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nlpodyssey/spago/nn"

	"github.com/hiertune/hiertune/data/text"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/loader/tokenizer"
	"github.com/hiertune/hiertune/mpi"
	"github.com/hiertune/hiertune/run"
	"github.com/hiertune/hiertune/train"
)

// trainer holds the state of a pretraining run.
type trainer struct {
	cfg      *Config
	comm     *mpi.Comm // the ranks of a data-parallel job, nil for one process
	dir      *run.Dir
	log      io.Writer
	tok      *tokenizer.Tokenizer
	tokDir   string            // where the tokenizer's files were read from
	tokFiles map[string][]byte // their contents, written into every checkpoint
	model    *encoder.Model
	rawCfg   map[string]json.RawMessage
	prefix   string
	mlm      *heads.MaskedLM
	pair     *encoder.Linear // cls.seq_relationship, with a sentence objective
	masker   masker
	train    *Dataset
	heldout  *Dataset
	baseline Baseline
	epoch    int // the epoch whose batches are in batches
	batches  [][]int
	// The masked-LM loss (times the masked tokens), the tokens predicted
	// right and the masked tokens of the steps since the last train
	// record.
	sumLoss               float64
	sumCorrect, sumMasked int
}

// Baseline is what a unigram model (token frequencies of the training
// split) achieves on the held-out masked tokens: the accuracy of always
// guessing the most frequent token, and its perplexity.
type Baseline struct {
	Accuracy   float64 `json:"unigram_accuracy"`
	Perplexity float64 `json:"unigram_perplexity"`
}

// afterStep, when set (by tests), is called after every step.
var afterStep func(step int)

// Run runs the pretraining job cfg (whose YAML text is raw) in its run
// directory: a new run, the continuation of the one there from its latest
// checkpoint (from step 0 if it has none yet), or that run started over,
// as mode says. It reports progress on log and returns
// train.ErrStopped after an interruption (ctx cancelled) or at the time
// limit, once a checkpoint is saved.
func Run(ctx context.Context, cfg *Config, raw []byte, mode run.Mode, log io.Writer) error {
	cfg.Train.SetThreads()
	t := &trainer{cfg: cfg, log: log, comm: train.World(ctx)}
	var err error
	log = train.Quiet(ctx, log)
	t.log = log
	if t.dir, err = train.OpenRun(ctx, cfg.Output, raw, mode); err != nil {
		return err
	}
	defer t.dir.Close()
	latest, err := run.ResumeFrom(t.dir, mode, log)
	if err != nil {
		return err
	}
	// Rank 0 writes the run's vocabulary and tokenized corpus; the other
	// ranks then find them there.
	if err := train.OnRankZero(t.comm, "prepare the run", func() error { return t.setup(latest) }); err != nil {
		return err
	}
	if train.Rank(ctx) != 0 {
		if err := t.setup(latest); err != nil {
			return err
		}
	}
	defer t.train.Close()
	defer t.heldout.Close()
	if err := t.computeBaseline(); err != nil {
		return err
	}
	tr := cfg.Train
	steps := tr.WholeUpdates(tr.Steps)
	params := append(slices.Clone(t.model.NamedParams()), t.mlm.NamedParams()...)
	if t.pair != nil {
		params = append(params, pairParams(t.pair)...)
	}
	groups := []train.Group{{Name: "model", Params: params, LR: tr.LearningRate, Metric: "lr"}}
	if tr.HeadLearningRate > 0 {
		n := len(t.model.NamedParams())
		groups = []train.Group{{Name: "model", Params: params[:n], LR: tr.LearningRate, Metric: "lr"},
			{Name: "heads", Params: params[n:], LR: tr.HeadLearningRate, Metric: "head_lr"}}
	}
	selected := tr.Select
	if selected == "" {
		selected = "loss"
	}
	loop := &train.Loop{Config: &cfg.Train, Dir: t.dir, Log: log, Steps: steps, PerEpoch: t.perEpoch(),
		Groups: groups, Select: selected, AfterStep: afterStep}
	return loop.Run(ctx, t, latest)
}

// setup builds or restores (from the checkpoint in latest) the model, the
// tokenizer and the data.
func (t *trainer) setup(latest string) error {
	var ck *loader.Checkpoint
	var err error
	switch {
	case latest != "":
		if ck, err = loader.Read(latest); err != nil {
			return err
		}
	case t.cfg.Model.From != "":
		if ck, err = loader.Open(t.cfg.Model.From); err != nil {
			return err
		}
		if g := t.cfg.Model.Grow; g.Layers > 0 {
			old := ck.Config.NumHiddenLayers
			if err := ck.Grow(g.Layers, g.Scheme); err != nil {
				return fmt.Errorf("model.grow: %s: %w", t.cfg.Model.From, err)
			}
			fmt.Fprintf(t.log, "grew %s from %d to %d layers (%s)\n", t.cfg.Model.From, old, g.Layers, g.Scheme)
		}
	}
	if ck != nil {
		if err := t.fromCheckpoint(ck); err != nil {
			return err
		}
	} else if err := t.fromScratch(); err != nil {
		return err
	}
	// The files are read once: the checkpoint a run resumed from may be
	// pruned before the next save.
	if t.tokFiles, err = tokenizer.ReadFiles(t.tokDir); err != nil {
		return err
	}
	if err := t.prepareData(filepath.Join(t.dir.Path, "data"), t.dir.Log); err != nil {
		return err
	}
	return t.initMasker()
}

// fromCheckpoint takes the model, heads and tokenizer of a checkpoint.
func (t *trainer) fromCheckpoint(ck *loader.Checkpoint) error {
	var err error
	if t.model, err = ck.Model(); err != nil {
		return err
	}
	t.rawCfg, t.prefix, t.tokDir = ck.RawConfig, ck.Prefix, ck.Dir
	if t.prefix == "" {
		t.prefix = "bert."
	}
	if t.tok, err = tokenizer.Load(ck.Dir); err != nil {
		return err
	}
	if t.tok.VocabSize() > t.model.Config.VocabSize {
		return fmt.Errorf("%s: the tokenizer has %d ids, the model %d embeddings", ck.Dir, t.tok.VocabSize(), t.model.Config.VocabSize)
	}
	rng := rand.New(rand.NewPCG(t.cfg.Train.Seed, 1))
	init := func(p *nn.Param) { encoder.InitNormal(p, t.model.Config.InitializerRange, rng) }
	if t.mlm, err = heads.LoadMaskedLM(ck.Tensors, t.model); err != nil {
		if t.mlm, err = heads.NewMaskedLM(t.model, init); err != nil {
			return err
		}
		fmt.Fprintf(t.log, "%s has no masked-LM head: starting a new one\n", ck.Dir)
	}
	if t.cfg.Objective.Sentence != "none" {
		if t.model.Pooler == nil {
			return fmt.Errorf("%s: a sentence objective needs a pooler, which this checkpoint has not", ck.Dir)
		}
		t.pair = encoder.NewLinear(t.model.Config.HiddenSize, 2)
		if err := loadPair(ck, t.pair); err != nil {
			init(t.pair.Weight)
		}
	}
	return nil
}

// fromScratch makes the vocabulary (reused or trained) and a freshly
// initialised model.
func (t *trainer) fromScratch() error {
	vdir := filepath.Join(t.dir.Path, "vocab")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return err
	}
	if f := t.cfg.Vocab.File; f != "" {
		if err := copyTokenizer(f, vdir); err != nil {
			return err
		}
	} else if err := t.trainVocab(vdir); err != nil {
		return err
	}
	var err error
	if t.tok, err = tokenizer.Load(vdir); err != nil {
		return err
	}
	t.tokDir, t.prefix = vdir, "bert."
	pad := max(t.tok.Specials().PAD, 0)
	arch := t.cfg.Architecture(t.tok.VocabSize(), pad)
	if t.model, err = encoder.New(arch, t.cfg.Objective.Sentence != "none"); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	rng := rand.New(rand.NewPCG(t.cfg.Train.Seed, 0))
	t.model.InitWeights(rng)
	init := func(p *nn.Param) { encoder.InitNormal(p, arch.InitializerRange, rng) }
	if t.mlm, err = heads.NewMaskedLM(t.model, init); err != nil {
		return err
	}
	if t.cfg.Objective.Sentence != "none" {
		t.pair = encoder.NewLinear(arch.HiddenSize, 2)
		init(t.pair.Weight)
	}
	return nil
}

// trainVocab trains a WordPiece vocabulary on the training lines and writes
// its files into dir.
func (t *trainer) trainVocab(dir string) error {
	v := t.cfg.Vocab
	fmt.Fprintf(t.log, "training a WordPiece vocabulary of %d on %s\n", v.Size, strings.Join(t.cfg.Data.Files, ", "))
	tr := tokenizer.NewTrainer(tokenizer.TrainOptions{VocabSize: v.Size, MinFrequency: v.MinFrequency, Lowercase: !v.Cased})
	err := text.Lines(t.cfg.Data.Files, func(line, _ string, _ int) error {
		if !heldOut(line, t.cfg.Data.Heldout) { // the held-out text stays unseen
			tr.Add(line)
		}
		return nil
	})
	if err != nil {
		return err
	}
	vocab, err := tr.Train()
	if err != nil {
		return err
	}
	return writeVocab(dir, vocab, !v.Cased)
}

// initMasker sets up the masking of the configured objective.
func (t *trainer) initMasker() error {
	sp := t.tok.Specials()
	if sp.CLS < 0 || sp.SEP < 0 || sp.MASK < 0 {
		return fmt.Errorf("%s: the tokenizer lacks a [CLS], [SEP] or [MASK] token", t.tokDir)
	}
	r := t.cfg.Objective.Replace
	t.masker = masker{specials: sp, vocab: t.model.Config.VocabSize, prob: t.cfg.Objective.MaskProbability,
		wholeWord: t.cfg.Objective.WholeWord, replace: [3]float64{r[0], r[1], r[2]}, sentence: t.cfg.Objective.Sentence}
	return nil
}

// maxPieces is the longest sequence of corpus pieces an example holds,
// leaving room for [CLS] and [SEP] (twice with a sentence objective).
func (t *trainer) maxPieces() int {
	if t.cfg.Objective.Sentence != "none" {
		return t.cfg.Data.MaxLength - 3
	}
	return t.cfg.Data.MaxLength - 2
}

// prepareData tokenizes the corpus into dir, unless it was already done
// with the same inputs, and opens both splits. logEvent records the corpus
// manifest when the corpus is tokenized anew.
func (t *trainer) prepareData(dir string, logEvent func(map[string]any) error) error {
	maxPieces := t.maxPieces()
	if maxPieces+2 > t.model.Config.MaxSequenceLength() {
		return fmt.Errorf("data.max_length %d exceeds the model's %d positions", t.cfg.Data.MaxLength, t.model.Config.MaxSequenceLength())
	}
	old, err := readManifest(dir)
	if err != nil {
		return err
	}
	if old == nil || !t.sameData(old, maxPieces) {
		fmt.Fprintf(t.log, "tokenizing %s\n", strings.Join(t.cfg.Data.Files, ", "))
		m, err := Tokenize(t.cfg.Data.Files, t.tok, maxPieces, t.cfg.Data.Heldout, t.cfg.Data.Pack, dir, t.log)
		if err != nil {
			return err
		}
		fmt.Fprintf(t.log, "corpus: %d training sequences (%d pieces), %d held out (%d pieces); %d long lines split\n",
			m.Splits["train"], m.Tokens["train"], m.Splits["heldout"], m.Tokens["heldout"], m.LongLines)
		if err := logEvent(map[string]any{"event": "corpus", "manifest": m}); err != nil {
			return err
		}
	}
	if t.train, err = OpenDataset(dir, "train"); err != nil {
		return err
	}
	if t.heldout, err = OpenDataset(dir, "heldout"); err != nil {
		return err
	}
	return nil
}

func (t *trainer) sameData(m *Manifest, maxPieces int) bool {
	probe := &Manifest{Vocab: vocabHash(t.tok), MaxPieces: maxPieces, Heldout: t.cfg.Data.Heldout, Pack: t.cfg.Data.Pack}
	for _, path := range t.cfg.Data.Files {
		st, err := os.Stat(path)
		if err != nil {
			return false
		}
		abs, _ := filepath.Abs(path)
		probe.Files = append(probe.Files, FileInfo{Path: abs, Size: st.Size(), MTime: st.ModTime().UnixNano()})
	}
	return m.sameInput(probe)
}
