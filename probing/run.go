package probing

import (
	"fmt"
	"io"
	"time"

	"github.com/hiertune/hiertune/tasks"
)

// Result is what probing found for one task.
type Result struct {
	Task   string `json:"task"`
	Metric string `json:"metric"`
	// Layers has one entry per hidden state (0: the embeddings).
	Layers []Layer `json:"layers"`
	// Mix is the softmax weight of each state in the scalar mix of all of
	// them, and CenterOfGravity Σ l·Mix[l] (Tenney et al.).
	Mix             []float64 `json:"mix"`
	CenterOfGravity float64   `json:"center_of_gravity"`
	// ExpectedLayer is Σ l·Δ(l) / Σ Δ(l) over the gains Δ(l) of the
	// cumulative mixes (Tenney et al.), with negative gains (noise) counted
	// as 0; nil when no layer gains.
	ExpectedLayer *float64 `json:"expected_layer"`
	// Best is the state whose own probe scores highest.
	Best int `json:"best_layer"`
}

// Layer is what probes found at one hidden state.
type Layer struct {
	Layer int `json:"layer"`
	// Score is the dev score of a probe on this state alone, Control that
	// of the same probe on the control task, Selectivity their difference.
	Score       float64 `json:"score"`
	Control     float64 `json:"control"`
	Selectivity float64 `json:"selectivity"`
	// Cumulative is the dev score of a probe on a scalar mix of states
	// 0..Layer, and Gain its rise over the mix of 0..Layer-1.
	Cumulative float64 `json:"cumulative"`
	Gain       float64 `json:"gain"`
}

// Data are the examples and features of one split.
type Data struct {
	Examples []*tasks.Example
	Features *Features
}

// Probe trains, for task t, a probe on each state of train and scores it
// on dev, with its control task; then scalar-mix probes on states 0..l for
// every l, and summarises them. control false leaves the control task out
// (Control is then 0). Progress goes to log.
func Probe(t *Task, train, dev Data, o Options, control bool, log io.Writer) (*Result, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	S := train.Features.States
	res := &Result{Task: t.Name(), Metric: t.Metric()}
	trainS := newSplit(train.Features, t, t.Targets(train.Examples))
	devS := newSplit(dev.Features, t, t.Targets(dev.Examples))
	var ctrTrain, ctrDev *split
	if control {
		ctrTrain = newSplit(train.Features, t, t.Control(train.Examples, o.Seed))
		ctrDev = newSplit(dev.Features, t, t.Control(dev.Examples, o.Seed))
	}
	score := func(states []int, tr, dv *split) (float64, *probe, error) {
		p, err := fit(t, states, tr, o)
		if err != nil {
			return 0, nil, err
		}
		s, err := t.score(p.predict(dv), dv.targets, dev.Features.Counts)
		return s, p, err
	}
	start := time.Now()
	for l := range S {
		var ly Layer
		var err error
		ly.Layer = l
		if ly.Score, _, err = score([]int{l}, trainS, devS); err != nil {
			return nil, err
		}
		if control {
			if ly.Control, _, err = score([]int{l}, ctrTrain, ctrDev); err != nil {
				return nil, err
			}
		}
		ly.Selectivity = ly.Score - ly.Control
		if l == 0 {
			ly.Cumulative = ly.Score
		} else {
			states := make([]int, l+1)
			for i := range states {
				states[i] = i
			}
			s, p, err := score(states, trainS, devS)
			if err != nil {
				return nil, err
			}
			ly.Cumulative, ly.Gain = s, s-res.Layers[l-1].Cumulative
			if l == S-1 {
				res.Mix = p.mixWeights()
			}
		}
		res.Layers = append(res.Layers, ly)
		if ly.Score > res.Layers[res.Best].Score {
			res.Best = l
		}
		fmt.Fprintf(log, "%s layer %d/%d: %s %.2f, control %.2f, mix of 0..%d %.2f  (%s)\n", t.Name(), l, S-1, res.Metric,
			ly.Score, ly.Control, l, ly.Cumulative, time.Since(start).Round(time.Second))
	}
	res.CenterOfGravity, res.ExpectedLayer = summaries(res)
	return res, nil
}

// summaries returns Tenney et al.'s center of gravity of the full mix and
// expected layer of the cumulative gains.
func summaries(r *Result) (cog float64, expected *float64) {
	for l, w := range r.Mix {
		cog += float64(l) * w
	}
	var num, den float64
	for _, ly := range r.Layers[1:] {
		g := max(0, ly.Gain)
		num += float64(ly.Layer) * g
		den += g
	}
	if den == 0 {
		return cog, nil
	}
	e := num / den
	return cog, &e
}
