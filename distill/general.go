package distill

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/loader/safetensors"
	"github.com/hiertune/hiertune/loader/tokenizer"
	"github.com/hiertune/hiertune/optim"
	"github.com/hiertune/hiertune/pretrain"
	"github.com/hiertune/hiertune/run"
)

// pieceID extracts the token id from a piece of a corpus that
// pretrain.Tokenize wrote: the id is in its low 24 bits, flags above.
const pieceID = 1<<24 - 1

// generalState is what a stage 1 checkpoint records of the progress.
type generalState struct {
	Step   int   `json:"step"`
	Tokens int64 `json:"tokens"`
}

// general is stage 1: the student learns a pretrained teacher's
// embeddings, hidden states and attention scores on raw text.
type general struct {
	cfg      *GeneralConfig
	seed     uint64
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
	opt      *optim.AdamW
	params   []encoder.NamedParam
	data     *pretrain.Dataset
	heldout  *pretrain.Dataset
	steps    int
	perEpoch int
	state    generalState
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
	g := &general{cfg: cfg.General, seed: cfg.Seed, dir: dir, log: log}
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
	if resume {
		if err := g.restore(latest); err != nil {
			return "", err
		}
	}
	fmt.Fprintf(log, "stage 1: general distillation from %s, %d steps (%d per epoch), layers %v → %v\n", ref, g.steps, g.perEpoch, g.layers.Student, g.layers.Teacher)
	if err := g.loop(ctx); err != nil {
		return "", err
	}
	if err := g.evaluate(); err != nil {
		return "", err
	}
	if err := g.save(generalName); err != nil {
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
	g.opt = optim.NewAdamW(g.params, g.cfg.LearningRate, g.cfg.WeightDecay)
	data := filepath.Join(g.dir.Path, "general-data")
	if _, err := os.Stat(filepath.Join(data, "manifest.json")); err != nil {
		if _, err := pretrain.Tokenize(g.cfg.Corpus, g.tok, g.cfg.MaxLength-2, g.cfg.Heldout, true, data, g.log); err != nil {
			return fmt.Errorf("general.corpus: %w", err)
		}
	}
	if g.data, err = pretrain.OpenDataset(data, "train"); err != nil {
		return err
	}
	if g.heldout, err = pretrain.OpenDataset(data, "heldout"); err != nil {
		return err
	}
	g.perEpoch = (g.data.Len() + g.cfg.BatchSize - 1) / g.cfg.BatchSize
	g.steps = g.cfg.Steps
	if g.steps == 0 {
		g.steps = int(math.Ceil(g.cfg.Epochs * float64(g.perEpoch)))
	}
	return nil
}

// batchAt returns the batch of step s: the sequences of a permutation of
// the corpus drawn for its epoch, each as [CLS] pieces [SEP].
func (g *general) batchAt(s int) (*encoder.Batch, error) {
	epoch, k := s/g.perEpoch, s%g.perEpoch
	if g.perm == nil || g.permEpoch != epoch {
		g.perm, g.permEpoch = rand.New(rand.NewPCG(g.seed^0x6e2, uint64(epoch))).Perm(g.data.Len()), epoch
	}
	return g.batch(g.data, g.perm[k*g.cfg.BatchSize:min(len(g.perm), (k+1)*g.cfg.BatchSize)])
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

func (g *general) loop(ctx context.Context) error {
	arena := kernels.NewArena()
	kernels.UseArena(arena)
	defer kernels.UseArena(nil)
	sched := optim.LinearSchedule{Peak: g.cfg.LearningRate, Warmup: int(g.cfg.Warmup * float64(g.steps)), Total: g.steps}
	progress := run.Progress{W: g.log, Total: g.steps}
	progress.Start(g.state.Step)
	window := map[string]float64{}
	n, tokens, secs := 0, 0, 0.0
	for g.state.Step < g.steps {
		select {
		case <-ctx.Done():
			if err := g.save(fmt.Sprintf("step-%07d", g.state.Step)); err != nil {
				return err
			}
			fmt.Fprintf(g.log, "interrupted at step %d: saved; continue with --resume\n", g.state.Step)
			return ErrStopped
		default:
		}
		t0 := time.Now()
		s := g.state.Step
		b, err := g.batchAt(s)
		if err != nil {
			return err
		}
		losses, err := g.step(s, b, true)
		if err != nil {
			return fmt.Errorf("stage 1 step %d: %w", s+1, err)
		}
		if g.cfg.Clip > 0 {
			optim.ClipGradNorm(g.params, g.cfg.Clip)
		}
		g.opt.LR = sched.At(s)
		g.opt.Step()
		g.opt.ZeroGrad()
		arena.Reset()
		words := 0
		for _, v := range b.AttentionMask {
			words += int(v)
		}
		g.state.Step++
		g.state.Tokens += int64(words)
		n, tokens, secs = n+1, tokens+words, secs+time.Since(t0).Seconds()
		total := 0.0
		for k, v := range losses {
			window[k] += v
			total += v
		}
		progress.Step(g.state.Step, words, map[string]float64{"loss": total})
		if n == 50 || g.state.Step == g.steps {
			rec := map[string]any{"step": g.state.Step, "stage": "general", "split": "train", "tokens_per_s": float64(tokens) / secs, "lr": g.opt.LR}
			for k, v := range window {
				rec["loss_"+k] = v / float64(n)
			}
			if err := g.dir.Log(rec); err != nil {
				return err
			}
			window, n, tokens, secs = map[string]float64{}, 0, 0, 0
		}
		if g.cfg.Every > 0 && g.state.Step%g.cfg.Every == 0 && g.state.Step < g.steps {
			if err := g.save(fmt.Sprintf("step-%07d", g.state.Step)); err != nil {
				return err
			}
		}
	}
	return nil
}

// evaluate logs the mean losses on the held-out text.
func (g *general) evaluate() error {
	arena := kernels.NewArena()
	kernels.UseArena(arena)
	defer kernels.UseArena(nil)
	sum, n := map[string]float64{}, 0
	for lo := 0; lo < g.heldout.Len(); lo += g.cfg.BatchSize {
		idx := make([]int, 0, g.cfg.BatchSize)
		for i := lo; i < min(lo+g.cfg.BatchSize, g.heldout.Len()); i++ {
			idx = append(idx, i)
		}
		b, err := g.batch(g.heldout, idx)
		if err != nil {
			return err
		}
		losses, err := g.step(g.steps-1, b, false)
		if err != nil {
			return fmt.Errorf("held-out batch %d: %w", lo/g.cfg.BatchSize+1, err)
		}
		arena.Reset()
		for k, v := range losses {
			sum[k] += v
		}
		n++
	}
	rec := map[string]any{"step": g.state.Step, "stage": "general", "split": "heldout"}
	var parts []string
	for _, k := range []string{"embeddings", "hidden", "attention"} {
		if v, ok := sum[k]; ok {
			rec["loss_"+k] = v / float64(max(n, 1))
			parts = append(parts, fmt.Sprintf("%s %.4f", k, v/float64(max(n, 1))))
		}
	}
	fmt.Fprintf(g.log, "stage 1 held-out losses: %s\n", strings.Join(parts, ", "))
	return g.dir.Log(rec)
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
	keep := make([]bool, len(b.AttentionMask))
	for i, v := range b.AttentionMask {
		keep[i] = v != 0
	}
	var terms []mat.Tensor
	var weights []float32
	losses := map[string]float64{}
	add := func(name string, l mat.Tensor, weight float64) {
		if weight > 0 {
			terms, weights = append(terms, l), append(weights, float32(weight))
			losses[name] += weight * float64(kernels.Values(l)[0])
		}
	}
	for i, sl := range g.layers.Student {
		tl := g.layers.Teacher[i]
		states := res.HiddenStates[sl]
		if g.proj != nil {
			states = g.proj.Forward(states)
		}
		l, err := MSE(states, kernels.Values(tres.HiddenStates[tl]), keep)
		if err != nil {
			return nil, fmt.Errorf("layer %d → %d: %w", sl, tl, err)
		}
		if sl == 0 {
			add("embeddings", l, wEmb)
		} else {
			add("hidden", l, wHid)
		}
		if wAtt > 0 && sl > 0 {
			a, err := AttentionMSE(res.Scores[sl-1], kernels.Values(tres.Scores[tl-1]), b.AttentionMask, b.Size, b.Seq)
			if err != nil {
				return nil, fmt.Errorf("attention of layer %d → %d: %w", sl, tl, err)
			}
			add("attention", a, wAtt)
		}
	}
	if len(terms) == 0 || !train {
		return losses, nil
	}
	return losses, kernels.Backward(kernels.WeightedSum(terms, weights))
}

// save writes a checkpoint: the student encoder as a HuggingFace
// directory, with the projection, the optimiser and the state.
func (g *general) save(name string) error {
	files, err := encoderFiles(g.student, g.rawCfg, g.tokDir)
	if err != nil {
		return err
	}
	if g.projPs != nil {
		if files["projection.safetensors"], err = safetensors.Encode(encoder.Tensors(g.projPs), nil); err != nil {
			return err
		}
	}
	if files["optimizer.safetensors"], err = safetensors.Encode(g.opt.State(), nil); err != nil {
		return err
	}
	if files["state.json"], err = json.MarshalIndent(g.state, "", "  "); err != nil {
		return err
	}
	return g.dir.SaveCheckpoint(name, files, g.cfg.Keep, generalName)
}

// restore loads the projection, optimiser and state of the checkpoint in
// dir (the student's weights came with it through the loader).
func (g *general) restore(dir string) error {
	if g.projPs != nil {
		f, err := safetensors.ReadFile(filepath.Join(dir, "projection.safetensors"))
		if err != nil {
			return err
		}
		if err := encoder.LoadTensors(g.projPs, f.Tensors()); err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
	}
	f, err := safetensors.ReadFile(filepath.Join(dir, "optimizer.safetensors"))
	if err != nil {
		return err
	}
	if err := g.opt.LoadState(f.Tensors()); err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &g.state); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, "state.json"), err)
	}
	if g.state.Step < 0 || g.state.Step > g.steps {
		return fmt.Errorf("%s: step %d outside the run's %d", dir, g.state.Step, g.steps)
	}
	return nil
}
