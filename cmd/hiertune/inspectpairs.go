package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/internal/atomicfile"
	"github.com/hiertune/hiertune/internal/svg"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/model"
	"github.com/hiertune/hiertune/tasks"
)

// inspectPairs draws the attention bias a run's pair states give every
// head of layer on the pieces of text: one heatmap per head, rows the
// attending piece, columns the attended one.
func inspectPairs(m *model.Model, text string, layer int, svgDir string, stdout io.Writer) error {
	p := m.Pairs()
	switch {
	case p == nil:
		return fmt.Errorf("--pairs: the run has no pair states (no pairs block in its configuration)")
	case text == "":
		return usageError{"--pairs needs --text (a sentence; \"[SEP]\" separates two)"}
	case svgDir == "":
		return usageError{"--pairs needs --svg DIR for the heatmaps"}
	}
	if layer == 0 {
		layer = p.Config.From
	}
	if layer < p.Config.From || layer >= len(p.Bias) {
		return usageError{fmt.Sprintf("--layers: layer %d has no pair bias (%d..%d)", layer, p.Config.From, len(p.Bias)-1)}
	}
	ex := &tasks.Example{Words: strings.Fields(text), Gold: noGold{}}
	if err := ex.EncodeWords(m.Tok, m.MaxLength, m.Stride); err != nil {
		return fmt.Errorf("--text: %w", err)
	}
	if ex.Windows() > 1 {
		return fmt.Errorf("--text: %d pieces do not fit in one window of %d", ex.Size(), m.MaxLength)
	}
	b := tasks.NewBatch([]*tasks.Example{ex}, max(m.Tok.Specials().PAD, 0))
	opt := encoder.Options{Depth: layer}
	if err := m.SetPairs(&opt, b); err != nil {
		return err
	}
	if _, err := m.Encoder.Forward(b.Enc, opt); err != nil {
		return err
	}
	bias := kernels.Values(b.Pairs.Bias(layer))
	S, H := b.Enc.Seq, p.Heads
	var labels []string
	for _, id := range b.Enc.InputIDs {
		t, _ := m.Tok.IDToToken(id)
		labels = append(labels, t)
	}
	if err := os.MkdirAll(svgDir, 0o755); err != nil {
		return err
	}
	for h := range H {
		lo, hi := math.Inf(1), math.Inf(-1)
		for i := range S * S {
			lo, hi = min(lo, float64(bias[i*H+h])), max(hi, float64(bias[i*H+h]))
		}
		scale := max(-lo, hi)
		values := make([][]float64, S)
		for i := range S {
			values[i] = make([]float64, S)
			for j := range S {
				values[i][j] = float64(bias[(i*S+j)*H+h]) / max(scale, 1e-12)
			}
		}
		title := fmt.Sprintf("Layer %d, head %d: pair bias (row attends to column), divided by its largest |value| %.3g", layer, h+1, scale)
		out := filepath.Join(svgDir, fmt.Sprintf("pair-bias-layer%d-head%d.svg", layer, h+1))
		if err := atomicfile.Write(out, svg.Heatmap(title, labels, labels, values)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "layer %d head %d: bias in [%.3g, %.3g] → %s\n", layer, h+1, lo, hi, out)
	}
	return nil
}
