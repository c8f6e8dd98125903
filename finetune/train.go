package finetune

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
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/loader/safetensors"
	"github.com/hiertune/hiertune/optim"
	"github.com/hiertune/hiertune/run"
	"github.com/hiertune/hiertune/tensor"
)

// ErrStopped is returned when a run stopped early (interrupted) after
// saving a checkpoint it can be resumed from.
var ErrStopped = errors.New("stopped early; the run can be resumed")

// State is what a checkpoint records of the run's progress; with the
// seed it fixes everything the rest of the run draws.
type State struct {
	Step int `json:"step"`
	// Draws counts the batches taken from each dataset.
	Draws map[string]int `json:"draws"`
	// Best is the best value of the selected metric and BestStep its step
	// (0 before the first evaluation); Stale counts evaluations since.
	Best     float64 `json:"best"`
	BestStep int     `json:"best_step"`
	Stale    int     `json:"stale"`
	// Tokens and TrainSeconds measure the throughput of the steps alone.
	Tokens       int64   `json:"tokens"`
	TrainSeconds float64 `json:"train_seconds"`
}

// trainer runs a job.
type trainer struct {
	cfg      *Config
	m        *Model
	dir      *run.Dir
	log      io.Writer
	encOpt   *optim.AdamW
	headOpt  *optim.AdamW
	params   []encoder.NamedParam
	steps    int
	perEpoch int
	every    int
	selected string
	state    State
	arena    *kernels.Arena
	// hook, when set, adds losses to every step (see RunWithHook); keys
	// numbers the training examples for it.
	hook Hook
	keys map[*example]int
}

// Streams of random numbers, derived from the seed so that any step can be
// replayed exactly.
const (
	streamOrder = iota + 1
	streamSample
	streamDropout
)

func (t *trainer) rng(stream, a, b uint64) *rand.Rand {
	return rand.New(rand.NewPCG(t.cfg.Train.Seed^(stream<<56)^(a<<24), b))
}

// Run runs the fine-tuning job cfg (whose YAML text is raw) in its run
// directory, a new run or, with resume, the continuation of the one there.
// Progress goes to log. It returns ErrStopped after an interruption (ctx
// cancelled), once a checkpoint is saved.
func Run(ctx context.Context, cfg *Config, raw []byte, resume bool, log io.Writer) error {
	return (&trainer{cfg: cfg, log: log}).start(ctx, raw, resume)
}

func (t *trainer) start(ctx context.Context, raw []byte, resume bool) error {
	if t.cfg.Train.Threads > 0 {
		kernels.SetThreads(t.cfg.Train.Threads)
	}
	var err error
	if t.dir, err = run.Start(t.cfg.Output, raw, resume); err != nil {
		return err
	}
	defer t.dir.Close()
	if err := t.setup(resume); err != nil {
		return err
	}
	return t.loop(ctx)
}

func (t *trainer) setup(resume bool) error {
	from := t.cfg.Model
	var ckDir string
	if resume {
		latest, err := t.dir.Latest()
		if err != nil {
			return fmt.Errorf("%w (a run interrupted before its first checkpoint must be started again)", err)
		}
		from, ckDir = latest, latest
		fmt.Fprintf(t.log, "resuming from %s\n", latest)
	}
	ck, err := loader.Open(from)
	if err != nil {
		return err
	}
	if t.m, err = newModel(t.cfg, ck); err != nil {
		return err
	}
	if t.cfg.RandomInit && !resume {
		t.m.Encoder.InitWeights(rand.New(rand.NewPCG(t.cfg.Train.Seed, 0x1417)))
		fmt.Fprintln(t.log, "random_init: the encoder starts from random weights")
	}
	for _, d := range t.m.datasets {
		if len(d.tasks) == 0 {
			continue
		}
		if err := d.load(t.m.tok, t.m.maxLen, t.m.stride, t.log); err != nil {
			return err
		}
		fmt.Fprintf(t.log, "dataset %s: %d training and %d dev examples\n", d.name, len(d.train), len(d.dev))
	}
	var labels map[string][]string
	if resume {
		if labels, err = readTaskLabels(ckDir, t.cfg); err != nil {
			return err
		}
	} else if t.hook != nil {
		labels = t.hook.Labels()
	}
	if err := t.m.buildHeads(labels, t.cfg.Train.Seed); err != nil {
		return err
	}
	if t.hook != nil {
		if t.m.extra, err = t.hook.Attach(t.m); err != nil {
			return err
		}
	}
	if resume {
		if err := t.m.loadHeads(ckDir); err != nil {
			return err
		}
	}
	for _, task := range t.m.tasks {
		reads := fmt.Sprintf("layer %d of %d", task.layer, t.m.Encoder.Config.NumHiddenLayers)
		if task.mixer != nil {
			reads = fmt.Sprintf("a %s mix of layers %v (diff %v)", task.cfg.Mix.Mode, task.mixer.Layers(), task.cfg.Mix.Diff)
		}
		fmt.Fprintf(t.log, "task %s: %s on %s, %s, %d labels\n", task.cfg.Name, task.cfg.Type, task.ds.name, reads, len(task.labels))
	}
	tr := t.cfg.Train
	t.encOpt = optim.NewAdamW(t.m.Encoder.NamedParams(), tr.LearningRate, *tr.WeightDecay)
	t.headOpt = optim.NewAdamW(t.m.headParams(), tr.HeadLR, *tr.WeightDecay)
	t.params = append(append([]encoder.NamedParam{}, t.m.Encoder.NamedParams()...), t.m.headParams()...)
	first := t.m.tasks[0].ds
	t.perEpoch = max(1, (len(first.train)+tr.BatchSize-1)/tr.BatchSize)
	switch {
	case len(tr.Continual) > 0:
		for _, s := range tr.Continual {
			t.steps += s.Steps
		}
	case tr.Steps > 0:
		t.steps = tr.Steps
	default:
		t.steps = int(math.Ceil(tr.Epochs * float64(t.perEpoch)))
	}
	t.steps = (t.steps + tr.Accumulate - 1) / tr.Accumulate * tr.Accumulate
	t.every = t.perEpoch
	if t.cfg.Eval.Every != "epoch" {
		t.every, _ = strconv.Atoi(t.cfg.Eval.Every)
	}
	t.selected = t.cfg.Eval.Select
	if t.selected == "" {
		task := t.m.tasks[0]
		t.selected = task.ds.name + "." + mainMetric(task.cfg, task.ds.cfg.Format)
	}
	if t.hook != nil {
		t.hook.Plan(t.steps, t.perEpoch)
	}
	t.state = State{Draws: map[string]int{}}
	if resume {
		return t.restore(ckDir)
	}
	return nil
}

// active returns the tasks trained at step s: all of them, or those of the
// continual stages begun by then.
func (t *trainer) active(s int) []*task {
	stages := t.cfg.Train.Continual
	if len(stages) == 0 {
		return t.m.tasks
	}
	on := map[string]bool{}
	end := 0
	for _, st := range stages {
		for _, name := range st.Add {
			on[name] = true
		}
		end += st.Steps
		if s < end {
			break
		}
	}
	var out []*task
	for _, task := range t.m.tasks {
		if on[task.cfg.Name] {
			out = append(out, task)
		}
	}
	return out
}

// datasetsAt returns the datasets step s draws a batch from, following the
// sampling rule, with the tasks of each that are active.
func (t *trainer) datasetsAt(s int) ([]*dataset, map[*dataset][]*task) {
	tasks := map[*dataset][]*task{}
	var ds []*dataset
	for _, task := range t.active(s) {
		if _, ok := tasks[task.ds]; !ok {
			ds = append(ds, task.ds)
		}
		tasks[task.ds] = append(tasks[task.ds], task)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].name < ds[j].name })
	tr := t.cfg.Train
	switch tr.Sampling {
	case "mixed":
		return ds, tasks
	case "round-robin":
		return []*dataset{ds[s%len(ds)]}, tasks
	}
	temp := 1.0
	if tr.Sampling == "temperature" {
		temp = tr.Temperature
	}
	weights := make([]float64, len(ds))
	var total float64
	for i, d := range ds {
		weights[i] = math.Pow(float64(len(d.train)), 1/temp)
		total += weights[i]
	}
	u := t.rng(streamSample, 0, uint64(s)).Float64() * total
	for i, w := range weights {
		if u < w || i == len(ds)-1 {
			return []*dataset{ds[i]}, tasks
		}
		u -= w
	}
	return ds[:1], tasks
}

// nextBatch returns the dataset's next training batch: its draws walk a
// fresh permutation every pass, grouped by length.
func (t *trainer) nextBatch(d *dataset) *batch {
	k := t.state.Draws[d.name]
	t.state.Draws[d.name]++
	n, bs := len(d.train), t.cfg.Train.BatchSize
	perPass := (n + bs - 1) / bs
	if pass := k / perPass; d.batches == nil || d.pass != pass {
		rng := t.rng(streamOrder, datasetKey(d.name), uint64(pass))
		d.pass, d.batches = pass, groupedBatches(rng.Perm(n), d.train, bs, t.m.batchLength(d), rng.Shuffle)
	}
	group := d.batches[k%perPass]
	exs := make([]*example, len(group))
	for i, e := range group {
		exs[i] = d.train[e]
	}
	return t.m.batch(d, exs)
}

// datasetKey turns a dataset name into a number for its random stream.
func datasetKey(name string) uint64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * 1099511628211
	}
	return h & 0xffffff
}

// stopAfter, when set (by tests), is called after every step.
var stopAfter func(step int)

func (t *trainer) loop(ctx context.Context) error {
	t.arena = kernels.NewArena()
	kernels.UseArena(t.arena)
	defer kernels.UseArena(nil)
	tr := t.cfg.Train
	warmup := int(*tr.Warmup * float64(t.steps))
	encSched := optim.LinearSchedule{Peak: tr.LearningRate, Warmup: warmup, Total: t.steps}
	headSched := optim.LinearSchedule{Peak: tr.HeadLR, Warmup: warmup, Total: t.steps}
	progress := run.Progress{W: t.log, Total: t.steps}
	progress.Start(t.state.Step)
	fmt.Fprintf(t.log, "training %d steps (%d per epoch of %s), evaluating every %d\n", t.steps, t.perEpoch, t.m.tasks[0].ds.name, t.every)
	var window struct {
		loss           map[string]float64
		n              int
		tokens, padded int
		secs           float64
	}
	window.loss = map[string]float64{}
	for t.state.Step < t.steps {
		select {
		case <-ctx.Done():
			return t.stop("interrupted")
		default:
		}
		s := t.state.Step
		t0 := time.Now()
		losses, tokens, padded, err := t.forwardBackward(s)
		if err != nil {
			return fmt.Errorf("step %d: %w", s+1, err)
		}
		if (s+1)%tr.Accumulate == 0 {
			if *tr.Clip > 0 {
				optim.ClipGradNorm(t.params, *tr.Clip)
			}
			t.encOpt.LR, t.headOpt.LR = encSched.At(s/tr.Accumulate*tr.Accumulate), headSched.At(s/tr.Accumulate*tr.Accumulate)
			t.encOpt.Step()
			t.headOpt.Step()
			t.encOpt.ZeroGrad()
			t.headOpt.ZeroGrad()
			t.arena.Reset()
		}
		elapsed := time.Since(t0).Seconds()
		t.state.Step++
		t.state.Tokens += int64(tokens)
		t.state.TrainSeconds += elapsed
		window.n++
		window.tokens += tokens
		window.padded += padded
		window.secs += elapsed
		var total float64
		for name, l := range losses {
			window.loss[name] += l
			total += l
		}
		progress.Step(t.state.Step, tokens, map[string]float64{"loss": total})
		if stopAfter != nil {
			stopAfter(t.state.Step)
		}
		if window.n == 50 || t.state.Step == t.steps {
			rec := map[string]any{"step": t.state.Step, "split": "train", "tokens_per_s": float64(window.tokens) / window.secs,
				"padded_tokens_per_s": float64(window.padded) / window.secs, "lr": t.encOpt.LR, "head_lr": t.headOpt.LR}
			for name, l := range window.loss {
				rec["loss_"+name] = l / float64(window.n)
			}
			t.dir.Log(rec)
			window.loss, window.n, window.tokens, window.padded, window.secs = map[string]float64{}, 0, 0, 0, 0
		}
		final := t.state.Step == t.steps
		if t.state.Step%t.every == 0 || final {
			stop, err := t.evaluate()
			if err != nil {
				return err
			}
			if stop {
				fmt.Fprintf(t.log, "no better %s for %d evaluations: stopping early\n", t.selected, t.cfg.Eval.Patience)
				break
			}
		}
	}
	fmt.Fprintf(t.log, "done: %d steps, %.0f tokens/s; best %s = %.4f at step %d (checkpoints/best)\n", t.state.Step,
		float64(t.state.Tokens)/t.state.TrainSeconds, t.selected, t.state.Best, t.state.BestStep)
	return nil
}

// forwardBackward runs the forward and backward passes of step s and
// returns each task's weighted loss, the tokens processed and the padded
// positions computed.
func (t *trainer) forwardBackward(s int) (map[string]float64, int, int, error) {
	ds, tasks := t.datasetsAt(s)
	rng := t.rng(streamDropout, 0, uint64(s))
	p := float32(*t.cfg.Dropout)
	drop := func() kernels.Dropout { return kernels.Dropout{P: p, Seed: rng.Uint32()} }
	losses := map[string]float64{}
	tokens, padded := 0, 0
	for _, d := range ds {
		b := t.nextBatch(d)
		tokens += b.tokens
		padded += b.enc.Size * b.enc.Seq
		opt := encoder.Options{Train: true, RNG: rng, Depth: depth(tasks[d]), Words: b.words}
		var hb *Batch
		if t.hook != nil {
			hb = t.hookBatch(d, b)
			t.hook.Options(s, hb, &opt)
		}
		res, err := t.m.Encoder.Forward(b.enc, opt)
		if err != nil {
			return nil, 0, 0, err
		}
		extra := Losses{Hard: 1}
		if t.hook != nil {
			if extra, err = t.hook.Loss(s, hb, res); err != nil {
				return nil, 0, 0, err
			}
		}
		acc := float64(t.cfg.Train.Accumulate)
		var terms []mat.Tensor
		var weights []float32
		for _, task := range tasks[d] {
			if extra.Hard == 0 {
				break
			}
			l, err := task.loss(b, task.input(res.HiddenStates), heads.Dropout(drop))
			if err != nil {
				return nil, 0, 0, fmt.Errorf("task %s: %w", task.cfg.Name, err)
			}
			w := task.cfg.Weight * extra.Hard
			terms = append(terms, l)
			weights = append(weights, float32(w/acc))
			losses[task.cfg.Name] = w * float64(kernels.Values(l)[0])
		}
		for i, l := range extra.Terms {
			terms = append(terms, l)
			weights = append(weights, float32(float64(extra.Weights[i])/acc))
			losses[extra.Names[i]] += float64(extra.Weights[i]) * float64(kernels.Values(l)[0])
		}
		if len(terms) == 0 { // every weight of the step is 0
			continue
		}
		if err := kernels.Backward(kernels.WeightedSum(terms, weights)); err != nil {
			return nil, 0, 0, err
		}
	}
	return losses, tokens, padded, nil
}

// evaluate scores every dataset's dev set, logs the scores, saves the best
// checkpoint and the latest, and reports whether to stop early.
func (t *trainer) evaluate() (stop bool, err error) {
	scores := map[string]float64{}
	for _, d := range t.m.datasets {
		if len(d.tasks) == 0 || len(d.dev) == 0 {
			continue
		}
		preds, err := t.m.predict(d, d.dev, t.cfg.Eval.BatchSize, t.arena)
		if err != nil {
			return false, err
		}
		s, err := t.m.score(d, d.dev, preds)
		if err != nil {
			return false, err
		}
		for k, v := range s {
			scores[k] = v
		}
	}
	if len(scores) == 0 {
		return false, t.save(fmt.Sprintf("step-%07d", t.state.Step))
	}
	value, ok := scores[t.selected]
	if !ok {
		return false, fmt.Errorf("eval.select: no metric %q (have %s)", t.selected, strings.Join(sortedKeys(scores), ", "))
	}
	rec := map[string]any{"step": t.state.Step, "split": "dev", "epoch": float64(t.state.Step) / float64(t.perEpoch)}
	var parts []string
	for _, k := range sortedKeys(scores) {
		rec[k] = scores[k]
		parts = append(parts, fmt.Sprintf("%s %.4f", k, scores[k]))
	}
	t.dir.Log(rec)
	fmt.Fprintf(t.log, "dev at step %d: %s\n", t.state.Step, strings.Join(parts, "  "))
	if t.state.BestStep == 0 || value > t.state.Best {
		t.state.Best, t.state.BestStep, t.state.Stale = value, t.state.Step, 0
		if err := t.save("best"); err != nil {
			return false, err
		}
	} else {
		t.state.Stale++
	}
	if err := t.save(fmt.Sprintf("step-%07d", t.state.Step)); err != nil {
		return false, err
	}
	return t.cfg.Eval.Patience > 0 && t.state.Stale >= t.cfg.Eval.Patience, nil
}

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// stop saves the run after an interruption.
func (t *trainer) stop(why string) error {
	if err := t.save(fmt.Sprintf("step-%07d", t.state.Step)); err != nil {
		return err
	}
	fmt.Fprintf(t.log, "%s at step %d: saved; continue with --resume\n", why, t.state.Step)
	t.dir.Log(map[string]any{"event": "stopped", "reason": why, "step": t.state.Step})
	return ErrStopped
}

// save writes a checkpoint: the model (encoder, heads, tasks.json,
// tokenizer), the optimisers and the state.
func (t *trainer) save(name string) error {
	files, err := t.m.checkpointFiles()
	if err != nil {
		return err
	}
	opt := map[string]*tensor.Tensor{}
	for k, v := range t.encOpt.State() {
		opt["encoder."+k] = v
	}
	for k, v := range t.headOpt.State() {
		opt["heads."+k] = v
	}
	if files["optimizer.safetensors"], err = safetensors.Encode(opt, nil); err != nil {
		return err
	}
	if files["state.json"], err = json.MarshalIndent(t.state, "", "  "); err != nil {
		return err
	}
	return t.dir.SaveCheckpoint(name, files, t.cfg.Eval.Keep, "best")
}

// restore loads the optimisers and the state of the checkpoint in dir.
func (t *trainer) restore(dir string) error {
	f, err := safetensors.ReadFile(filepath.Join(dir, "optimizer.safetensors"))
	if err != nil {
		return err
	}
	enc, hd := map[string]*tensor.Tensor{}, map[string]*tensor.Tensor{}
	for k, v := range f.Tensors() {
		switch {
		case strings.HasPrefix(k, "encoder."):
			enc[strings.TrimPrefix(k, "encoder.")] = v
		case strings.HasPrefix(k, "heads."):
			hd[strings.TrimPrefix(k, "heads.")] = v
		default:
			return fmt.Errorf("%s: unexpected tensor %q", f.Path, k)
		}
	}
	if err := t.encOpt.LoadState(enc); err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	if err := t.headOpt.LoadState(hd); err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &t.state); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, "state.json"), err)
	}
	if t.state.Draws == nil {
		t.state.Draws = map[string]int{}
	}
	return nil
}
