// Package train is hiertune's one training loop, which pretraining,
// fine-tuning and both distillation stages run: steps with gradient
// accumulation, clipping, a guard against non-finite losses, AdamW with
// warm-up and linear decay per parameter group, a time limit, the
// evaluation schedule, best-checkpoint selection and early stopping,
// atomic checkpoints with exact resumption, Ctrl-C, progress and JSON-lines
// metrics. A job supplies what differs through the Job interface: where a
// step's batches come from and its loss, what is evaluated, and what a
// checkpoint holds.
package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader/safetensors"
	"github.com/hiertune/hiertune/optim"
	"github.com/hiertune/hiertune/run"
	"github.com/hiertune/hiertune/tensor"
)

// ErrStopped is returned when a run stopped early — interrupted, or out of
// its time limit — after saving a checkpoint it can be resumed from.
var ErrStopped = errors.New("stopped early; the run can be resumed")

// Job is what the loop trains.
type Job interface {
	// Step runs the forward and backward passes of step s (0-based; with
	// accumulation, one of the batches of an update) and returns what it
	// measured.
	Step(s int) (Stats, error)
	// Evaluate scores the model after step steps; nil when there is
	// nothing to evaluate. It may reset the step arena in use
	// (kernels.CurrentArena).
	Evaluate(step int) (*Scores, error)
	// Files returns the files of a checkpoint of the model; the loop adds
	// the optimiser's state and its own.
	Files() (map[string][]byte, error)
}

// Stats is what one step measured.
type Stats struct {
	// Tokens counts the real tokens of the step's batches, Padded the
	// positions computed (0: not measured).
	Tokens, Padded int
	// Losses are the step's weighted loss terms by name: their sum is the
	// step's loss (shown, and checked to be finite); each one's mean over
	// a window of steps is logged as loss_NAME.
	Losses map[string]float64
}

// Scores are an evaluation's values, logged as one record of the split.
type Scores struct {
	Split  string
	Values map[string]float64
}

// Window is what the loop measured over the steps since the last train
// record, for a Recorder. A train record is logged every logEvery steps
// and at the end; checkpoints keep the window, so that a resumed run logs
// the records an uninterrupted one does.
type Window struct {
	Steps int `json:"steps"`
	// Losses sums each loss term over the steps.
	Losses map[string]float64 `json:"losses"`
	// GradNorm is the gradient norm of the last update (0 without
	// clipping).
	GradNorm float64 `json:"grad_norm"`
	// Tokens counts the real tokens of the whole run so far.
	Tokens int64 `json:"-"`
}

// logEvery is how many steps a train record spans.
const logEvery = 50

// Recorder is a Job that writes its own fields of a train record (the
// loop's default is loss_NAME, the mean of each loss term).
type Recorder interface {
	Record(w Window) map[string]any
}

// Stateful is a Job with state of its own to save in checkpoints and
// restore on resumption (what makes the rest of the run replayable, such as
// the batches drawn so far).
type Stateful interface {
	State() any
	Restore(state json.RawMessage) error
}

// Group is a set of parameters with one peak learning rate.
type Group struct {
	// Name prefixes the group's tensors in the optimiser's state.
	Name   string
	Params []encoder.NamedParam
	LR     float64
	// Metric is the key under which train records log its current rate.
	Metric string
}

// Loop is a training run of Steps steps in a run directory.
type Loop struct {
	Config *Config
	Dir    *run.Dir
	Log    io.Writer
	Steps  int
	// PerEpoch is the number of steps of an epoch (for eval_every:
	// epoch).
	PerEpoch int
	Groups   []Group
	// Select is the metric that chooses the best checkpoint (Config.Select
	// or the job's default); empty makes every evaluation the best.
	Select string
	// Best is the name of the best checkpoint (default "best").
	Best string
	// Fields are added to every record the loop logs.
	Fields map[string]any
	// AfterStep, if set (by tests), is called after every step.
	AfterStep func(step int)

	job    Job
	opts   []*optim.AdamW
	params []encoder.NamedParam
	state  State
}

// State is what a checkpoint records of the loop's progress.
type State struct {
	Step int `json:"step"`
	// Best is the best value of the selected metric and BestStep its step
	// (0 before the first evaluation); Stale counts evaluations since.
	Best     float64 `json:"best"`
	BestStep int     `json:"best_step"`
	Stale    int     `json:"stale"`
	// Tokens and TrainSeconds measure the throughput of the steps alone.
	Tokens       int64   `json:"tokens"`
	TrainSeconds float64 `json:"train_seconds"`
	// Window is what the next train record will report of the steps so
	// far.
	Window Window          `json:"window"`
	Job    json.RawMessage `json:"job,omitempty"`
}

// Run trains job from the start, or from the checkpoint in resume (its
// directory) whose model the job has loaded: the loop restores the
// optimiser's state and its own, and the job's if it is Stateful. It
// returns ErrStopped after an interruption (ctx cancelled) or at the time
// limit, once a checkpoint is saved.
func (l *Loop) Run(ctx context.Context, job Job, resume string) error {
	l.job = job
	if l.Best == "" {
		l.Best = "best"
	}
	for _, g := range l.Groups {
		l.opts = append(l.opts, optim.NewAdamW(g.Params, g.LR, l.Config.WeightDecay))
		l.params = append(l.params, g.Params...)
	}
	if resume != "" {
		if err := l.restore(resume); err != nil {
			return err
		}
	}
	arena := kernels.NewArena()
	kernels.UseArena(arena)
	defer kernels.UseArena(nil)
	return l.loop(ctx, arena)
}

func (l *Loop) loop(ctx context.Context, arena *kernels.Arena) error {
	c := l.Config
	comm := World(ctx)
	var skipper Skipper
	if comm != nil {
		N := comm.Size()
		if c.Accumulate%N != 0 {
			return fmt.Errorf("train.accumulate %d is not a multiple of the %d ranks: an update's batches (batch_size × accumulate sentences) are shared among them; for this global batch on %d ranks give batch_size %d and accumulate %d",
				c.Accumulate, N, N, max(1, c.BatchSize*c.Accumulate/N), N)
		}
		var ok bool
		if skipper, ok = l.job.(Skipper); !ok {
			return fmt.Errorf("this job does not support data-parallel training")
		}
	}
	warmup := int(c.Warmup * float64(l.Steps))
	scheds := make([]optim.LinearSchedule, len(l.Groups))
	for i, g := range l.Groups {
		scheds[i] = optim.LinearSchedule{Peak: g.LR, Warmup: warmup, Total: l.Steps}
	}
	every := c.EvalEvery.In(l.PerEpoch)
	progress := run.Progress{W: l.Log, Total: l.Steps}
	progress.Start(l.state.Step)
	start := time.Now()
	w := &l.state.Window
	if w.Losses == nil {
		w.Losses = map[string]float64{}
	}
	var tokens, padded int
	var secs float64
	var updTokens, updPadded int // this rank's, in the current update
	var shown float64            // the loss of this rank's last step
	var commSecs float64         // spent summing over the ranks since the last record
	var waitSecs float64         // spent waiting for the other ranks since then
	var updates int              // the updates since the last record
	for l.state.Step < l.Steps {
		s := l.state.Step
		timeUp := c.TimeLimit.Duration > 0 && time.Since(start) > c.TimeLimit.Duration
		switch {
		case comm != nil && s%c.Accumulate == 0:
			// Every rank stops at the same update, or none does.
			stop, err := anyRank(comm, interrupted(ctx) || timeUp)
			if err != nil {
				return err
			}
			if stop {
				return l.stop("interrupted (on a rank) or out of time")
			}
		case comm != nil:
		case interrupted(ctx):
			return l.stop("interrupted")
		case timeUp:
			return l.stop("time limit reached")
		}
		t0 := time.Now()
		var st Stats
		var err error
		computed := comm == nil || (s%c.Accumulate)%comm.Size() == comm.Rank()
		if computed {
			st, err = l.job.Step(s)
		} else {
			err = skipper.Skip(s)
		}
		if err != nil {
			return fmt.Errorf("step %d: %w", s+1, err)
		}
		var loss float64
		for _, v := range st.Losses {
			loss += v
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return l.diverged(s, fmt.Sprintf("the loss is %g", loss))
		}
		if comm != nil {
			// Tokens count once an update's are summed over the ranks.
			updTokens, updPadded = updTokens+st.Tokens, updPadded+st.Padded
			st.Tokens, st.Padded = 0, 0
		}
		if (s+1)%c.Accumulate == 0 {
			if comm != nil {
				// The wait for the slowest rank (their micro-batches
				// differ in length) is measured apart from the sums.
				tw := time.Now()
				if err := comm.Barrier(); err != nil {
					return err
				}
				tc := time.Now()
				waitSecs += tc.Sub(tw).Seconds()
				if err := sumGradients(comm, l.params); err != nil {
					return err
				}
				if st.Tokens, st.Padded, err = sumTokens(comm, updTokens, updPadded); err != nil {
					return err
				}
				updTokens, updPadded = 0, 0
				commSecs += time.Since(tc).Seconds()
				updates++
			}
			if c.Clip > 0 {
				w.GradNorm = optim.ClipGradNorm(l.params, c.Clip)
				if math.IsNaN(w.GradNorm) || math.IsInf(w.GradNorm, 0) {
					return l.diverged(s, fmt.Sprintf("the gradient norm is %g", w.GradNorm))
				}
			}
			at := s / c.Accumulate * c.Accumulate
			for i, o := range l.opts {
				o.LR = scheds[i].At(at)
				o.Step()
				o.ZeroGrad()
			}
			arena.Reset()
		}
		elapsed := time.Since(t0).Seconds()
		l.state.Step++
		l.state.Tokens += int64(st.Tokens)
		l.state.TrainSeconds += elapsed
		tokens, padded, secs = tokens+st.Tokens, padded+st.Padded, secs+elapsed
		if computed { // this rank's steps: its losses are the ones it knows
			w.Steps++
			for k, v := range st.Losses {
				w.Losses[k] += v
			}
			shown = loss
		}
		progress.Step(l.state.Step, st.Tokens, map[string]float64{"loss": shown, "lr": l.opts[0].LR})
		if l.AfterStep != nil {
			l.AfterStep(l.state.Step)
		}
		final := l.state.Step == l.Steps
		if l.state.Step%logEvery == 0 || final {
			rec := map[string]any{"step": l.state.Step, "split": "train", "tokens_per_s": float64(tokens) / secs}
			if padded > 0 {
				rec["padded_tokens_per_s"] = float64(padded) / secs
			}
			if comm != nil && updates > 0 {
				rec["allreduce_ms_per_update"] = 1000 * commSecs / float64(updates)
				rec["allreduce_share"] = commSecs / secs
				rec["rank_wait_ms_per_update"] = 1000 * waitSecs / float64(updates)
				rec["rank_wait_share"] = waitSecs / secs
				commSecs, waitSecs, updates = 0, 0, 0
			}
			for i, g := range l.Groups {
				rec[g.Metric] = l.opts[i].LR
			}
			w.Tokens = l.state.Tokens
			if r, ok := l.job.(Recorder); ok {
				for k, v := range r.Record(*w) {
					rec[k] = v
				}
			} else {
				for k, v := range w.Losses {
					rec["loss_"+k] = v / float64(w.Steps)
				}
			}
			if err := l.log(rec); err != nil {
				return err
			}
			*w = Window{Losses: map[string]float64{}}
			tokens, padded, secs = 0, 0, 0
		}
		evaluate := final || (every > 0 && l.state.Step%every == 0)
		stop := false
		if evaluate {
			if stop, err = l.evaluate(); err != nil {
				return err
			}
		}
		if final || (c.SaveEvery > 0 && l.state.Step%c.SaveEvery == 0) || (c.SaveEvery == 0 && evaluate) {
			if err := l.save(fmt.Sprintf("step-%07d", l.state.Step)); err != nil {
				return err
			}
		}
		if stop {
			fmt.Fprintf(l.Log, "no better %s for %d evaluations: stopping early\n", l.Select, c.Patience)
			break
		}
	}
	msg := fmt.Sprintf("done: %d steps, %.0f tokens/s", l.state.Step, float64(l.state.Tokens)/l.state.TrainSeconds)
	if l.Select != "" && l.state.BestStep > 0 {
		msg += fmt.Sprintf("; best %s = %.4f at step %d (checkpoints/%s)", l.Select, l.state.Best, l.state.BestStep, l.Best)
	}
	fmt.Fprintln(l.Log, msg)
	if comm != nil {
		// What rank 0 wrote is there before any rank reads it.
		return comm.Barrier()
	}
	return nil
}

// interrupted reports whether ctx is done (Ctrl-C).
func interrupted(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

// log writes a record to the run's metrics, with the loop's fields.
func (l *Loop) log(rec map[string]any) error {
	for k, v := range l.Fields {
		rec[k] = v
	}
	return l.Dir.Log(rec)
}

// lower reports whether a smaller value of metric is better: losses and
// perplexities.
func lower(metric string) bool {
	return strings.Contains(metric, "loss") || strings.Contains(metric, "perplexity")
}

// evaluate scores the model, logs the scores, saves the best checkpoint,
// and reports whether to stop early.
func (l *Loop) evaluate() (stop bool, err error) {
	scores, err := l.job.Evaluate(l.state.Step)
	if err != nil || scores == nil {
		return false, err
	}
	value, better := 0.0, true
	if l.Select != "" {
		v, ok := scores.Values[l.Select]
		if !ok {
			return false, fmt.Errorf("train.select: no metric %q (have %s)", l.Select, strings.Join(slices.Sorted(maps.Keys(scores.Values)), ", "))
		}
		value = v
		better = l.state.BestStep == 0 || (lower(l.Select) && v < l.state.Best) || (!lower(l.Select) && v > l.state.Best)
	}
	rec := map[string]any{"step": l.state.Step, "split": scores.Split}
	for k, v := range scores.Values {
		rec[k] = v
	}
	if err := l.log(rec); err != nil {
		return false, err
	}
	if !better {
		l.state.Stale++
		return l.Config.Patience > 0 && l.state.Stale >= l.Config.Patience, nil
	}
	l.state.Best, l.state.BestStep, l.state.Stale = value, l.state.Step, 0
	return false, l.save(l.Best)
}

// stop saves the run after an interruption.
func (l *Loop) stop(why string) error {
	if err := l.save(fmt.Sprintf("step-%07d", l.state.Step)); err != nil {
		return err
	}
	fmt.Fprintf(l.Log, "%s at step %d: saved; continue with --resume\n", why, l.state.Step)
	if err := l.log(map[string]any{"event": "stopped", "reason": why, "step": l.state.Step}); err != nil {
		return err
	}
	return ErrStopped
}

// diverged stops a run whose loss or gradients stopped being finite,
// without saving: the last checkpoint stays the last good one.
func (l *Loop) diverged(s int, what string) error {
	if err := l.log(map[string]any{"event": "diverged", "step": s + 1, "reason": what}); err != nil {
		return err
	}
	last := "no checkpoint was saved"
	if dir, err := l.Dir.Latest(); err == nil {
		last = "the last checkpoint, " + filepath.Base(dir) + ", is kept"
	}
	return fmt.Errorf("step %d: %s: training diverged (%s); lower train.learning_rate or raise train.warmup", s+1, what, last)
}

// save writes a checkpoint: the job's files, the optimisers' state and the
// loop's.
func (l *Loop) save(name string) error {
	files, err := l.job.Files()
	if err != nil {
		return err
	}
	opt := map[string]*tensor.Tensor{}
	for i, g := range l.Groups {
		for k, v := range l.opts[i].State() {
			opt[g.Name+"."+k] = v
		}
	}
	if files["optimizer.safetensors"], err = safetensors.Encode(opt, nil); err != nil {
		return err
	}
	if s, ok := l.job.(Stateful); ok {
		if l.state.Job, err = json.Marshal(s.State()); err != nil {
			return err
		}
	}
	if files["state.json"], err = json.MarshalIndent(l.state, "", "  "); err != nil {
		return err
	}
	return l.Dir.SaveCheckpoint(name, files, l.Config.Keep, l.Best)
}

// restore loads the optimisers' state and the loop's (and the job's) from
// the checkpoint in dir.
func (l *Loop) restore(dir string) error {
	f, err := safetensors.ReadFile(filepath.Join(dir, "optimizer.safetensors"))
	if err != nil {
		return err
	}
	byGroup := map[string]map[string]*tensor.Tensor{}
	for k, v := range f.Tensors() {
		g, rest, ok := strings.Cut(k, ".")
		if !ok {
			return fmt.Errorf("%s: unexpected tensor %q", f.Path, k)
		}
		if byGroup[g] == nil {
			byGroup[g] = map[string]*tensor.Tensor{}
		}
		byGroup[g][rest] = v
	}
	for i, g := range l.Groups {
		if err := l.opts[i].LoadState(byGroup[g.Name]); err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		delete(byGroup, g.Name)
	}
	for g := range byGroup {
		return fmt.Errorf("%s: unexpected tensors of a parameter group %q", f.Path, g)
	}
	path := filepath.Join(dir, "state.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &l.state); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if l.state.Step < 0 || l.state.Step > l.Steps {
		return fmt.Errorf("%s: step %d outside the run's %d", path, l.state.Step, l.Steps)
	}
	if s, ok := l.job.(Stateful); ok {
		if err := s.Restore(l.state.Job); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	dropped, err := l.Dir.DropMetrics(l.loggedAfter(l.state.Step))
	if dropped > 0 {
		fmt.Fprintf(l.Log, "%d metrics records of steps after %d dropped (they are logged again)\n", dropped, l.state.Step)
	}
	return err
}

// loggedAfter selects the records this loop logged after step: those with
// its fields and a later step.
func (l *Loop) loggedAfter(step int) func(map[string]any) bool {
	fields := map[string]any{}
	maps.Copy(fields, l.Fields)
	want, _ := json.Marshal(fields) // as the records hold them
	return func(rec map[string]any) bool {
		s, ok := rec["step"].(float64)
		if !ok || s <= float64(step) {
			return false
		}
		own := map[string]any{}
		for k := range l.Fields {
			own[k] = rec[k]
		}
		got, _ := json.Marshal(own)
		return bytes.Equal(got, want)
	}
}
