package distill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/loader/safetensors"
	"github.com/hiertune/hiertune/loader/tokenizer"
	"github.com/hiertune/hiertune/mpi"
	"github.com/hiertune/hiertune/pretrain"
	"github.com/hiertune/hiertune/run"
	"github.com/hiertune/hiertune/train"
)

// pieceID extracts the token id from a piece of a corpus that
// pretrain.Tokenize wrote: the id is in its low 24 bits, flags above.
const pieceID = 1<<24 - 1

// general is stage 1: the student learns a pretrained teacher's
// embeddings, hidden states and attention scores on raw text.
type general struct {
	cfg      *GeneralConfig
	seed     uint64
	comm     *mpi.Comm // the ranks of a data-parallel job, nil for one process
	dir      *run.Dir
	log      io.Writer
	teacher  *encoder.Model
	student  *encoder.Model
	tok      *tokenizer.Tokenizer
	tokDir   string
	rawCfg   map[string]json.RawMessage
	layers   LayerMap
	proj     *encoder.Linear // nil when the widths are equal
	projPs   []encoder.NamedParam
	params   []encoder.NamedParam
	data     *pretrain.Dataset
	heldout  *pretrain.Dataset
	steps    int
	perEpoch int
	// perm is the order of the corpus in epoch permEpoch.
	perm      []int
	permEpoch int
}

// runGeneral runs stage 1 from the student encoder in from, resuming from
// the job's latest checkpoint if there is one, and returns the directory
// of the general student (checkpoints/general).
func runGeneral(ctx context.Context, cfg *Config, dir *run.Dir, from string, teachers []*teacher, log io.Writer) (string, error) {
	done := dir.Checkpoint(generalName)
	if _, err := os.Stat(filepath.Join(done, "config.json")); err == nil {
		fmt.Fprintf(log, "stage 1: done (%s)\n", done)
		return done, nil
	}
	g := &general{cfg: cfg.General, seed: cfg.Seed, comm: train.World(ctx), dir: dir, log: log}
	ref := generalTeacher(cfg, teachers)
	tck, err := loader.Open(ref)
	if err != nil {
		return "", err
	}
	if g.teacher, err = tck.Model(); err != nil {
		return "", err
	}
	for _, np := range g.teacher.NamedParams() {
		np.Param.SetRequiresGrad(false)
	}
	start := from
	latest, err := dir.Latest()
	if err != nil && !errors.Is(err, run.ErrNoCheckpoint) {
		return "", err // a latest that names no checkpoint of the run: not a reason to start over
	}
	resume := err == nil
	if resume {
		start = latest
		fmt.Fprintf(log, "stage 1: resuming from %s\n", latest)
	}
	sck, err := loader.Read(start)
	if err != nil {
		return "", err
	}
	if g.student, err = sck.Model(); err != nil {
		return "", err
	}
	// The tokenizer's files are read from the student's first directory,
	// which stays: a resumed checkpoint's may be pruned by the next save.
	g.rawCfg, g.tokDir = sck.RawConfig, from
	if g.tok, err = tokenizer.Load(from); err != nil {
		return "", err
	}
	defer g.close()
	if err := g.setup(); err != nil {
		return "", err
	}
	if !resume {
		latest = ""
	} else if g.projPs != nil {
		f, err := safetensors.ReadFile(filepath.Join(latest, "projection.safetensors"))
		if err != nil {
			return "", err
		}
		if err := encoder.LoadTensors(g.projPs, f.Tensors()); err != nil {
			return "", fmt.Errorf("%s: %w", f.Path, err)
		}
	}
	fmt.Fprintf(log, "stage 1: general distillation from %s, %d steps (%d per epoch), layers %v → %v\n", ref, g.steps, g.perEpoch, g.layers.Student, g.layers.Teacher)
	loop := &train.Loop{
		Config: &g.cfg.Train, Dir: dir, Log: log, Steps: g.steps, PerEpoch: g.perEpoch, Best: generalName,
		Groups: []train.Group{{Name: "student", Params: g.params, LR: g.cfg.Train.LearningRate, Metric: "lr"}},
		Fields: map[string]any{"stage": "general"},
	}
	if err := loop.Run(ctx, g, latest); err != nil {
		return "", err
	}
	return done, nil
}

// close closes the corpus files.
func (g *general) close() {
	for _, d := range []*pretrain.Dataset{g.data, g.heldout} {
		if d != nil {
			d.Close()
		}
	}
}

func (g *general) setup() error {
	sc, tc := g.student.Config, g.teacher.Config
	if sc.VocabSize != tc.VocabSize {
		return fmt.Errorf("general: the student has %d tokens, the teacher %d", sc.VocabSize, tc.VocabSize)
	}
	var err error
	if g.layers, err = ParseLayerMap(g.cfg.LayerMap, sc.NumHiddenLayers, tc.NumHiddenLayers); err != nil {
		return fmt.Errorf("general.%w", err)
	}
	if w := g.cfg.Weights.Attention; w.Start > 0 || w.End > 0 {
		if err := CheckHeads(sc.NumAttentionHeads, tc.NumAttentionHeads); err != nil {
			return fmt.Errorf("general: %w", err)
		}
	}
	if g.cfg.MaxLength > min(sc.MaxSequenceLength(), tc.MaxSequenceLength()) {
		return fmt.Errorf("general.max_length %d exceeds the models' positions", g.cfg.MaxLength)
	}
	sp := g.tok.Specials()
	if sp.CLS < 0 || sp.SEP < 0 {
		return fmt.Errorf("%s: the tokenizer lacks a [CLS] or [SEP] token", g.tokDir)
	}
	g.params = g.student.NamedParams()
	if sc.HiddenSize != tc.HiddenSize {
		g.proj = encoder.NewLinear(sc.HiddenSize, tc.HiddenSize)
		encoder.InitNormal(g.proj.Weight, 0.02, rand.New(rand.NewPCG(g.seed, 0x9a0)))
		g.projPs = []encoder.NamedParam{
			{Name: "proj.weight", Param: g.proj.Weight, Shape: []int{tc.HiddenSize, sc.HiddenSize}},
			{Name: "proj.bias", Param: g.proj.Bias, Shape: []int{tc.HiddenSize}},
		}
		g.params = append(g.params, g.projPs...)
	}
	data := filepath.Join(g.dir.Path, "general-data")
	err = train.OnRankZero(g.comm, "tokenize general.corpus", func() error {
		if _, err := os.Stat(filepath.Join(data, "manifest.json")); err == nil {
			return nil
		}
		if _, err := pretrain.Tokenize(g.cfg.Corpus, g.tok, g.cfg.MaxLength-2, g.cfg.Heldout, true, data, g.log); err != nil {
			return fmt.Errorf("general.corpus: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if g.data, err = pretrain.OpenDataset(data, "train"); err != nil {
		return err
	}
	if g.heldout, err = pretrain.OpenDataset(data, "heldout"); err != nil {
		return err
	}
	tr := g.cfg.Train
	g.perEpoch = (g.data.Len() + tr.BatchSize - 1) / tr.BatchSize
	g.steps = tr.Steps
	if g.steps == 0 {
		g.steps = int(math.Ceil(tr.Epochs * float64(g.perEpoch)))
	}
	g.steps = tr.WholeUpdates(g.steps)
	return nil
}

// batchAt returns the batch of step s: the sequences of a permutation of
// the corpus drawn for its epoch, each as [CLS] pieces [SEP].
func (g *general) batchAt(s int) (*encoder.Batch, error) {
	epoch, k := s/g.perEpoch, s%g.perEpoch
	if g.perm == nil || g.permEpoch != epoch {
		g.perm, g.permEpoch = rand.New(rand.NewPCG(g.seed^0x6e2, uint64(epoch))).Perm(g.data.Len()), epoch
	}
	bs := g.cfg.Train.BatchSize
	return g.batch(g.data, g.perm[k*bs:min(len(g.perm), (k+1)*bs)])
}

// batch returns the sequences idx of d as a batch.
func (g *general) batch(d *pretrain.Dataset, idx []int) (*encoder.Batch, error) {
	sp := g.tok.Specials()
	var seqs [][]int
	seq := 0
	for _, i := range idx {
		pieces, err := d.Sequence(i)
		if err != nil {
			return nil, err
		}
		ids := []int{sp.CLS}
		for _, p := range pieces {
			ids = append(ids, int(p&pieceID))
		}
		ids = append(ids, sp.SEP)
		seqs = append(seqs, ids)
		seq = max(seq, len(ids))
	}
	b := &encoder.Batch{Size: len(seqs), Seq: seq, InputIDs: make([]int, len(seqs)*seq), AttentionMask: make([]int64, len(seqs)*seq)}
	for r, ids := range seqs {
		for j := range seq {
			b.InputIDs[r*seq+j] = max(sp.PAD, 0)
		}
		copy(b.InputIDs[r*seq:], ids)
		for j := range ids {
			b.AttentionMask[r*seq+j] = 1
		}
	}
	return b, nil
}

// Skip does nothing: a step's batch is a function of its number, so a
// rank skipping the batches other ranks compute has nothing to advance.
func (g *general) Skip(int) error { return nil }

// Step runs the forward and backward passes of step s on its batch.
func (g *general) Step(s int) (train.Stats, error) {
	b, err := g.batchAt(s)
	if err != nil {
		return train.Stats{}, err
	}
	losses, err := g.step(s, b, true)
	if err != nil {
		return train.Stats{}, err
	}
	words := 0
	for _, v := range b.AttentionMask {
		words += int(v)
	}
	return train.Stats{Tokens: words, Padded: b.Size * b.Seq, Losses: losses}, nil
}

// Evaluate returns the mean losses on the held-out text.
func (g *general) Evaluate(step int) (*train.Scores, error) {
	sum, n := map[string]float64{}, 0
	bs := g.cfg.Train.EvalBatch()
	for lo := 0; lo < g.heldout.Len(); lo += bs {
		if !train.Mine(g.comm, lo/bs) {
			continue // another rank's
		}
		idx := make([]int, 0, bs)
		for i := lo; i < min(lo+bs, g.heldout.Len()); i++ {
			idx = append(idx, i)
		}
		b, err := g.batch(g.heldout, idx)
		if err != nil {
			return nil, err
		}
		losses, err := g.step(g.steps-1, b, false)
		if err != nil {
			return nil, fmt.Errorf("held-out batch %d: %w", lo/bs+1, err)
		}
		if a := kernels.CurrentArena(); a != nil {
			a.Reset()
		}
		for k, v := range losses {
			sum[k] += v
		}
		n++
	}
	kinds := []string{"embeddings", "hidden", "attention"}
	if g.comm != nil {
		sums := []float64{float64(n), 0, 0, 0}
		for i, k := range kinds {
			sums[1+i] = sum[k]
		}
		if err := train.SumShards(g.comm, sums); err != nil {
			return nil, err
		}
		n = int(sums[0])
		for i, k := range kinds {
			if _, ok := sum[k]; ok {
				sum[k] = sums[1+i]
			}
		}
	}
	values := map[string]float64{}
	var parts []string
	for _, k := range kinds {
		if v, ok := sum[k]; ok {
			values["loss_"+k] = v / float64(max(n, 1))
			parts = append(parts, fmt.Sprintf("%s %.4f", k, v/float64(max(n, 1))))
		}
	}
	fmt.Fprintf(g.log, "stage 1 held-out losses at step %d: %s\n", step, strings.Join(parts, ", "))
	return &train.Scores{Split: "heldout", Values: values}, nil
}

// step runs the forward pass of step s on b, and the backward pass when
// training, and returns each loss, weighted.
func (g *general) step(s int, b *encoder.Batch, train bool) (map[string]float64, error) {
	w := g.cfg.Weights
	wEmb, wHid, wAtt := w.Embeddings.At(s, g.steps), w.Hidden.At(s, g.steps), w.Attention.At(s, g.steps)
	var sScores, tScores []int
	if wAtt > 0 {
		for i, l := range g.layers.Student {
			if l > 0 {
				sScores, tScores = append(sScores, l), append(tScores, g.layers.Teacher[i])
			}
		}
	}
	sDeep, tDeep := g.layers.Deepest()
	dropout := rand.New(rand.NewPCG(g.seed^0xd70, uint64(s)))
	res, err := g.student.Forward(b, encoder.Options{Train: train, RNG: dropout, Depth: max(sDeep, 1), Scores: sScores})
	if err != nil {
		return nil, err
	}
	tres, err := g.teacher.Forward(b, encoder.Options{Depth: max(tDeep, 1), Scores: tScores})
	if err != nil {
		return nil, err
	}
	ts, err := intermediateLosses(res, tres, g.layers, g.proj, b, nil, intermediateWeights{wEmb, wHid, wAtt})
	if err != nil {
		return nil, err
	}
	var terms []mat.Tensor
	var weights []float32
	losses := map[string]float64{}
	for _, t := range ts {
		terms, weights = append(terms, t.loss), append(weights, float32(t.weight))
		losses[t.name] += t.weight * float64(kernels.Values(t.loss)[0])
	}
	if len(terms) == 0 || !train {
		return losses, nil
	}
	return losses, kernels.Backward(kernels.WeightedSum(terms, weights))
}

// Files returns the files of a checkpoint: the student encoder as a
// HuggingFace directory, with the projection.
func (g *general) Files() (map[string][]byte, error) {
	files, err := encoderFiles(g.student, g.rawCfg, g.tokDir)
	if err != nil {
		return nil, err
	}
	if g.projPs != nil {
		if files["projection.safetensors"], err = safetensors.Encode(encoder.Tensors(g.projPs), nil); err != nil {
			return nil, err
		}
	}
	return files, nil
}
