package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/internal/yamlstrict"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/loader/tokenizer"
	"github.com/hiertune/hiertune/optim"
	"github.com/hiertune/hiertune/pairs"
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"
)

func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", "bench [--model PRESET|DIR] [--batch 16 --seq 128 --steps 10 --threads 2] [--gemm]\n       hiertune bench --run DIR --data FILE [--merge none --merge SPEC ...] [--rounds 3]", stdout, stderr)
	model := fs.String("model", "bert-mini", "a preset ("+strings.Join(presetNames(), ", ")+", randomly initialised) or a checkpoint directory")
	batch := fs.Int("batch", 16, "sequences per batch")
	seq := fs.Int("seq", 128, "tokens per sequence")
	steps := fs.Int("steps", 10, "timed steps (the median is reported)")
	warmup := fs.Int("warmup", 2, "untimed steps before timing")
	threads := fs.Int("threads", kernels.Threads(), "threads to compute with")
	labels := fs.Int("labels", 9, "classes of the token-classification head")
	dropout := fs.Float64("dropout", -1, "dropout probability in training (-1: the model's own, 0.1 for the presets)")
	modes := fs.String("mode", "train,infer", "what to time: train (forward + cross-entropy + backward + AdamW), infer (forward only), or both")
	headName := fs.String("head", "token", "training head: token (token classification, as torch_speed.py) or mlm (masked-LM head tied to the embeddings on --mask of the tokens, with gradient clipping, as pretrain)")
	mask := fs.Float64("mask", 0.15, "with --head mlm: share of the tokens that are predicted")
	vocab := fs.Int("vocab", 0, "vocabulary size of a preset (0: the preset's)")
	gemm := fs.Bool("gemm", false, "also time matrix products of BERT shapes against the machine's measured FMA peak")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed steps to this file (for go tool pprof)")
	dataPath := fs.String("data", "", "time batches of this CoNLL-U (or CoNLL, with --format) file's sentences, encoded and grouped by length as finetune does, instead of random full batches; tokens/s counts real pieces, the head reads words")
	format := fs.String("format", "conllu", "with --data: conllu or conll")
	tokDir := fs.String("tokenizer", "", "with --data: the tokenizer's directory (default: the --model checkpoint's, or the embedded default's for a preset)")
	pool := fs.Int("word-pooling", -1, "with --data: pool each word's pieces into one position after this hidden state (0: before the first layer; -1: no pooling)")
	poolMode := fs.String("pool-mode", "mean", "with --word-pooling: mean, sum, first, last or attention (a learned score per piece)")
	pairSpec := fs.String("pairs", "", "time the encoder with pair states: a pairs block in YAML flow style, e.g. '{dim: 16, triangle: true, triangle_max_length: 128}' (their parameters drawn at random, the biases too)")
	runDir := fs.String("run", "", "time a fine-tuned run's inference on --data instead, under each --merge")
	var merges repeatedFlag
	fs.Var(&merges, "merge", "with --run: a token merging to time (repeatable; the first is the baseline of the speed-ups): none, or a merge block in YAML flow style, e.g. '{by: keys, after: [1, 2], ratio: 0.3}' (default: none, then the run's own)")
	rounds := fs.Int("rounds", 3, "with --run: timed passes over --data per merging, interleaved (the median is reported)")
	dataset := fs.String("dataset", "", "with --run: which of the run's datasets --data belongs to")
	checkpoint := fs.String("checkpoint", "best", "with --run: which checkpoint")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *runDir != "" {
		onlyFlags := map[string]bool{"run": true, "data": true, "merge": true, "rounds": true, "dataset": true, "checkpoint": true, "batch": true, "threads": true, "cpuprofile": true}
		var other []string
		batchSize := 0 // the run's own unless --batch is given
		fs.Visit(func(f *flag.Flag) {
			switch {
			case !onlyFlags[f.Name]:
				other = append(other, "--"+f.Name)
			case f.Name == "batch":
				batchSize = *batch
			}
		})
		if len(other) > 0 {
			return usageError{fmt.Sprintf("--run times a run on --data: %s does not apply", strings.Join(other, ", "))}
		}
		return benchRun(benchRunOptions{run: *runDir, data: *dataPath, dataset: *dataset, checkpoint: *checkpoint,
			merges: merges, rounds: *rounds, batch: batchSize, threads: *threads, profile: *cpuProfile}, stdout, stderr)
	}
	stopProfile, err := startProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	if *batch <= 0 || *seq <= 0 || *steps <= 0 || *warmup < 0 || *threads <= 0 || *labels <= 1 {
		return usageError{"--batch, --seq, --steps, --threads must be positive, --labels above 1, --warmup not negative"}
	}
	kernels.SetThreads(*threads)
	if *headName != "token" && *headName != "mlm" {
		return usageError{fmt.Sprintf("unknown --head %q (want token or mlm)", *headName)}
	}
	if *dataPath == "" && (*pool >= 0 || *tokDir != "") {
		return usageError{"--word-pooling and --tokenizer need --data"}
	}
	if *dataPath != "" && *headName != "token" {
		return usageError{"--data times the token head only"}
	}
	var tok *tokenizer.Tokenizer
	if *dataPath != "" {
		if tok, err = benchTokenizer(*tokDir, *model); err != nil {
			return err
		}
		*vocab = tok.VocabSize()
	}
	m, err := benchModel(*model, *vocab)
	if err != nil {
		return err
	}
	if *dropout >= 0 {
		m.Config.HiddenDropoutProb, m.Config.AttentionProbsDropoutProb = *dropout, *dropout
	}
	if *seq > m.Config.MaxSequenceLength() {
		return usageError{fmt.Sprintf("--seq %d exceeds the model's %d positions", *seq, m.Config.MaxSequenceLength())}
	}
	var pm *pairs.Module
	if *pairSpec != "" {
		if pm, err = benchPairs(*pairSpec, m.Config); err != nil {
			return usageError{err.Error()}
		}
		if need := pm.EstimateBytes(*batch, *seq, m.Config.NumHiddenLayers); need > 0 {
			fmt.Fprintf(stderr, "pair states: about %.2f GiB estimated for a training step\n", float64(need)/(1<<30))
		}
	}
	report := map[string]any{
		"model": *model, "backend": kernels.Backend(), "threads": *threads, "batch": *batch, "seq": *seq,
		"steps": *steps, "warmup": *warmup, "dropout": m.Config.HiddenDropoutProb, "params": countParams(m),
		"layers": m.Config.NumHiddenLayers, "hidden": m.Config.HiddenSize, "heads": m.Config.NumAttentionHeads,
		"go": runtime.Version(), "head": *headName, "vocab": m.Config.VocabSize,
	}
	bs := []benchBatch{{enc: randomBatch(m.Config, *batch, *seq), tokens: *batch * *seq}}
	if *dataPath != "" {
		if bs, err = dataBatches(tok, *dataPath, *format, *batch, *seq, *pool, *poolMode, *warmup+*steps, m.Config.HiddenSize); err != nil {
			return err
		}
		report["data"], report["word_pooling"], report["pool_mode"] = *dataPath, *pool, *poolMode
		describeBatches(report, m.Config, bs[min(*warmup, len(bs)-1):], *pool)
	}
	for _, mode := range strings.Split(*modes, ",") {
		switch strings.TrimSpace(mode) {
		case "train":
			t, err := benchTrain(m, pm, bs, trainHead{name: *headName, classes: *labels, mask: *mask}, *steps, *warmup)
			if err != nil {
				return err
			}
			report["train_step_s"], report["train_fwd_s"], report["train_bwd_s"], report["train_opt_s"] = t.step, t.fwd, t.bwd, t.opt
			report["train_tokens_per_s"] = t.tokensPerS
		case "infer":
			s, rate, err := benchInfer(m, pm, bs, *steps, *warmup)
			if err != nil {
				return err
			}
			report["infer_s"], report["infer_tokens_per_s"] = s, rate
		default:
			return usageError{fmt.Sprintf("unknown --mode %q (want train, infer or both)", mode)}
		}
	}
	if *gemm {
		peak, width := kernels.PeakGFLOPS(time.Second)
		g := benchGemm(m.Config, *batch**seq)
		report["fma_peak_gflops"], report["fma_width"], report["gemm_gflops"] = peak, width, g
		if peak > 0 {
			report["gemm_fraction_of_peak"] = g / peak
		}
	}
	report["peak_rss_mb"] = peakRSSMB()
	enc := json.NewEncoder(stdout)
	return enc.Encode(report)
}

func presetNames() []string {
	names := make([]string, 0, len(encoder.Presets))
	for n := range encoder.Presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// benchModel returns a randomly initialised preset (with vocab entries if
// not 0), or a checkpoint's model.
func benchModel(name string, vocab int) (*encoder.Model, error) {
	if cfg, err := encoder.Preset(name); err == nil {
		if vocab > 0 {
			cfg.VocabSize = vocab
		}
		m, err := encoder.New(cfg, true)
		if err != nil {
			return nil, err
		}
		m.InitWeights(rand.New(rand.NewPCG(0, 0)))
		return m, nil
	}
	if _, err := os.Stat(name); err != nil {
		return nil, fmt.Errorf("--model %q is neither a preset (%s) nor a checkpoint directory", name, strings.Join(presetNames(), ", "))
	}
	ck, err := loader.Open(name)
	if err != nil {
		return nil, err
	}
	return ck.Model()
}

func countParams(m *encoder.Model) int {
	n := 0
	for _, np := range m.NamedParams() {
		n += len(kernels.Values(np.Param))
	}
	return n
}

// randomBatch draws token ids like torch_speed.py: ordinary tokens after the
// first 999 (the special and unused ones of BERT's vocabulary), full masks.
func randomBatch(cfg encoder.Config, batch, seq int) *encoder.Batch {
	r := rand.New(rand.NewPCG(1, 1))
	lo := 0
	if cfg.VocabSize > 2000 {
		lo = 999
	}
	b := &encoder.Batch{Size: batch, Seq: seq, InputIDs: make([]int, batch*seq), AttentionMask: make([]int64, batch*seq)}
	for i := range b.InputIDs {
		b.InputIDs[i] = lo + r.IntN(cfg.VocabSize-lo)
		b.AttentionMask[i] = 1
	}
	return b
}

// benchBatch is one batch a benchmark step runs on.
type benchBatch struct {
	enc   *encoder.Batch
	words *encoder.WordPooling // nil: no pooling in the encoder
	// rows are the rows of the last hidden state the token head reads
	// (nil: all).
	rows   []int
	tokens int // real tokens, for tokens/s
}

// trainTimes are the median times of a step and its parts, and the rate of
// real tokens over all timed steps.
type trainTimes struct{ step, fwd, bwd, opt, tokensPerS float64 }

// trainHead says which head a training step trains.
type trainHead struct {
	name    string  // "token" or "mlm"
	classes int     // for "token"
	mask    float64 // for "mlm": share of tokens predicted
}

// benchTrain times a training step. With the token head it is
// torch_speed.py's: forward, dropout and a linear classifier on the last
// layer, cross-entropy, backward, and AdamW (lr 5e-5, weight decay 0.01).
// With the MLM head it is pretrain's: the masked-LM head (tied decoder) on a
// share of the positions, cross-entropy, backward, clipping to norm 1 and
// AdamW.
func benchTrain(m *encoder.Model, pm *pairs.Module, bs []benchBatch, h trainHead, steps, warmup int) (trainTimes, error) {
	rng := rand.New(rand.NewPCG(2, 2))
	params := m.NamedParams()
	if pm != nil {
		params = append(params, pm.NamedParams()...)
	}
	var loss func(b benchBatch, last mat.Tensor) (mat.Tensor, error)
	switch h.name {
	case "token":
		head := encoder.NewLinear(m.Config.HiddenSize, h.classes)
		encoder.InitNormal(head.Weight, 0.02, rng)
		params = append(params,
			encoder.NamedParam{Name: "classifier.weight", Param: head.Weight, Shape: []int{h.classes, m.Config.HiddenSize}},
			encoder.NamedParam{Name: "classifier.bias", Param: head.Bias, Shape: []int{h.classes}})
		loss = func(b benchBatch, last mat.Tensor) (mat.Tensor, error) {
			if b.rows != nil {
				last = kernels.GatherRows(last, b.rows)
			}
			r, _ := kernels.Dims(last)
			labels := make([]int, r)
			for i := range labels {
				labels[i] = rng.IntN(h.classes)
			}
			drop := kernels.Dropout{P: float32(m.Config.HiddenDropoutProb), Seed: rng.Uint32()}
			return kernels.CrossEntropy(head.Forward(kernels.DropoutOp(last, drop)), labels, -100)
		}
	case "mlm":
		head, err := heads.NewMaskedLM(m, func(p *nn.Param) { encoder.InitNormal(p, 0.02, rng) })
		if err != nil {
			return trainTimes{}, err
		}
		params = append(params, head.NamedParams()...)
		var rows, targets []int
		for i, id := range bs[0].enc.InputIDs {
			if rng.Float64() < h.mask {
				rows, targets = append(rows, i), append(targets, id)
			}
		}
		loss = func(_ benchBatch, last mat.Tensor) (mat.Tensor, error) {
			return kernels.CrossEntropy(head.Forward(last, rows), targets, -100)
		}
	}
	opt := optim.NewAdamW(params, 5e-5, 0.01)
	arena := kernels.NewArena()
	kernels.UseArena(arena)
	defer kernels.UseArena(nil)
	var tot, fwd, bwd, upd []float64
	tokens := 0
	for i := 0; i < warmup+steps; i++ {
		b := bs[i%len(bs)]
		t0 := time.Now()
		fo := encoder.Options{Train: true, RNG: rng, Words: b.words}
		if err := startPairs(pm, b, &fo); err != nil {
			return trainTimes{}, err
		}
		res, err := m.Forward(b.enc, fo)
		if err != nil {
			return trainTimes{}, err
		}
		l, err := loss(b, res.HiddenStates[len(res.HiddenStates)-1])
		if err != nil {
			return trainTimes{}, err
		}
		kernels.Values(l) // the forward pass is done
		t1 := time.Now()
		if err := kernels.Backward(l); err != nil {
			return trainTimes{}, err
		}
		t2 := time.Now()
		if h.name == "mlm" {
			optim.ClipGradNorm(params, 1)
		}
		opt.Step()
		opt.ZeroGrad()
		arena.Reset()
		t3 := time.Now()
		if i >= warmup {
			tokens += b.tokens
			tot = append(tot, t3.Sub(t0).Seconds())
			fwd = append(fwd, t1.Sub(t0).Seconds())
			bwd = append(bwd, t2.Sub(t1).Seconds())
			upd = append(upd, t3.Sub(t2).Seconds())
		}
	}
	return trainTimes{median(tot), median(fwd), median(bwd), median(upd), tokensPer(tokens, tot)}, nil
}

// benchInfer times a forward pass in evaluation mode, without gradients:
// the median time and the rate of real tokens over all timed steps.
func benchInfer(m *encoder.Model, pm *pairs.Module, bs []benchBatch, steps, warmup int) (float64, float64, error) {
	params := m.NamedParams()
	if pm != nil {
		params = append(params, pm.NamedParams()...)
	}
	for _, np := range params {
		np.Param.SetRequiresGrad(false)
		defer np.Param.SetRequiresGrad(true)
	}
	arena := kernels.NewArena()
	kernels.UseArena(arena)
	defer kernels.UseArena(nil)
	var ts []float64
	tokens := 0
	for i := 0; i < warmup+steps; i++ {
		b := bs[i%len(bs)]
		t0 := time.Now()
		opt := encoder.Options{Words: b.words}
		if err := startPairs(pm, b, &opt); err != nil {
			return 0, 0, err
		}
		res, err := m.Forward(b.enc, opt)
		if err != nil {
			return 0, 0, err
		}
		kernels.Values(res.HiddenStates[len(res.HiddenStates)-1])
		arena.Reset()
		if i >= warmup {
			tokens += b.tokens
			ts = append(ts, time.Since(t0).Seconds())
		}
	}
	return median(ts), tokensPer(tokens, ts), nil
}

// benchPairs makes pair states for an encoder from a pairs block in YAML
// flow style, every parameter drawn at random (so that the biases are not
// zero, as after training).
func benchPairs(spec string, c encoder.Config) (*pairs.Module, error) {
	var pc pairs.Config
	if err := yamlstrict.Decode([]byte(spec), &pc, nil); err != nil {
		return nil, fmt.Errorf("--pairs %q: %w", spec, err)
	}
	pc.Defaults()
	if err := pc.Check(c.NumHiddenLayers); err != nil {
		return nil, fmt.Errorf("--pairs: %w", err)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	pm := pairs.New(&pc, c.HiddenSize, c.NumAttentionHeads, c.NumHiddenLayers, rng)
	for _, np := range pm.NamedParams() {
		encoder.InitNormal(np.Param, 0.1, rng)
	}
	return pm, nil
}

// startPairs starts the pair states of a forward pass over b, if any (no
// sentence boundaries: the benchmark's batches are one sequence each).
func startPairs(pm *pairs.Module, b benchBatch, opt *encoder.Options) error {
	if pm == nil {
		return nil
	}
	if b.words != nil {
		return fmt.Errorf("--pairs: not with word pooling")
	}
	st, err := pm.Start(b.enc, -1)
	if err != nil {
		return err
	}
	opt.Pairs, opt.NoPositions = st, pm.Config.NoPositions
	return nil
}

// tokensPer returns tokens over the sum of the times.
func tokensPer(tokens int, times []float64) float64 {
	sum := 0.0
	for _, t := range times {
		sum += t
	}
	return float64(tokens) / sum
}

// benchGemm returns the median GFLOP/s of the products of a training step
// (forward x·Wᵀ and the two backward products) for the model's shapes.
func benchGemm(cfg encoder.Config, rows int) float64 {
	H, F := cfg.HiddenSize, cfg.IntermediateSize
	shapes := [][2]int{{H, H}, {F, H}, {H, F}}
	r := rand.New(rand.NewPCG(3, 3))
	fill := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	var rates []float64
	for _, s := range shapes {
		out, in := s[0], s[1]
		x, w, y, dx, dw := fill(rows*in), fill(out*in), fill(rows*out), fill(rows*in), fill(out*in)
		products := []func(){
			func() { kernels.Gemm(false, true, rows, out, in, 1, x, in, w, in, 0, y, out) },
			func() { kernels.Gemm(false, false, rows, in, out, 1, y, out, w, in, 0, dx, in) },
			func() { kernels.Gemm(true, false, out, in, rows, 1, y, out, x, in, 0, dw, in) },
		}
		for _, p := range products {
			p()
			best := 0.0
			for i := 0; i < 10; i++ {
				t0 := time.Now()
				p()
				best = max(best, 2*float64(rows*out*in)/time.Since(t0).Seconds()/1e9)
			}
			rates = append(rates, best)
		}
	}
	return median(rates)
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// startProfile starts a CPU profile into path ("" for none) and returns
// the function that ends it.
func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// peakRSSMB returns the process's peak resident set size in MiB (VmHWM),
// or -1 where /proc is not available.
func peakRSSMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return -1
}
