package run

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Progress prints the state of a long job to a terminal or log: the step,
// the given scalars (loss, accuracy...), tokens per second and the time
// left. It prints at most every Every (default 10 s), and always on the
// last step. A failed write does not stop the job; Err reports it.
type Progress struct {
	W     io.Writer
	Total int // steps in the whole job
	Every time.Duration

	start      time.Time
	startStep  int
	tokens     int64
	lastTokens int64
	lastPrint  time.Time
	err        error
}

// Start begins timing at step (non-zero when a run resumes).
func (p *Progress) Start(step int) {
	p.start, p.startStep, p.lastPrint = time.Now(), step, time.Now()
	if p.Every == 0 {
		p.Every = 10 * time.Second
	}
}

// Step records that step (1-based) has finished after processing tokens
// tokens, and prints a line when it is time to. It returns the tokens per
// second since the last printed line, or 0 when it did not print.
func (p *Progress) Step(step int, tokens int, values map[string]float64) float64 {
	p.tokens += int64(tokens)
	now := time.Now()
	if now.Sub(p.lastPrint) < p.Every && step != p.Total {
		return 0
	}
	rate := float64(p.tokens-p.lastTokens) / now.Sub(p.lastPrint).Seconds()
	p.lastTokens, p.lastPrint = p.tokens, now
	done := step - p.startStep
	eta := "?"
	if done > 0 && p.Total > 0 {
		left := time.Duration(float64(now.Sub(p.start)) / float64(done) * float64(p.Total-step))
		eta = left.Round(time.Second).String()
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var vals []string
	for _, k := range keys {
		vals = append(vals, fmt.Sprintf("%s %.4g", k, values[k]))
	}
	pct := 0.0
	if p.Total > 0 {
		pct = 100 * float64(step) / float64(p.Total)
	}
	if _, err := fmt.Fprintf(p.W, "step %d/%d (%.1f%%)  %s  %.0f tok/s  eta %s\n", step, p.Total, pct, strings.Join(vals, "  "), rate, eta); err != nil && p.err == nil {
		p.err = err
	}
	return rate
}

// Err returns the first error writing to W, or nil.
func (p *Progress) Err() error { return p.err }
