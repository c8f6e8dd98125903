package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/hierarchy"
	"github.com/hiertune/hiertune/hierarchy/draw"
	"github.com/hiertune/hiertune/internal/atomicfile"
	"github.com/hiertune/hiertune/model"
	"github.com/hiertune/hiertune/tasks"
)

// hierarchyOptions are the flags of inspect --hierarchy.
type hierarchyOptions struct {
	data, dataset, layers, svgDir, jsonOut string
	sentences                              int
	texts                                  []string // sentences given on the command line, instead of data
}

// inspectHierarchy prints, for the first sentences of a file, the
// dendrogram that each layer's hierarchy vectors induce on the words (as
// brackets, and drawn beside the gold tree as SVG), then over the whole
// file each layer's report: the spread of the H distances and their
// agreement with the gold trees (hierarchy.Report).
func inspectHierarchy(m *model.Model, o hierarchyOptions, stdout, stderr io.Writer) error {
	h := m.Hierarchy()
	if h == nil {
		return fmt.Errorf("--hierarchy: the run has no hierarchy vectors (no hierarchy block in its configuration)")
	}
	if (o.data == "") == (len(o.texts) == 0) {
		return usageError{"--hierarchy needs --data (a file of one of the run's datasets) or --text, not both"}
	}
	if o.sentences < 0 {
		return usageError{"--sentences must not be negative"}
	}
	var layers []int
	if o.layers == "" {
		for l := h.Config.From; h.Has(l); l++ {
			layers = append(layers, l)
		}
	}
	for _, f := range strings.Split(o.layers, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		l, err := strconv.Atoi(f)
		if err != nil || !h.Has(l) {
			return usageError{fmt.Sprintf("--layers: %q is not a hidden state with hierarchy vectors (%d..%d)", f, h.Config.From, len(h.Proj)-1)}
		}
		layers = append(layers, l)
	}
	d, err := m.Dataset(o.dataset)
	if err != nil {
		return err
	}
	if !d.Data.WordLevel {
		return fmt.Errorf("--hierarchy: dataset %s is not word-level: its examples have no words to draw", d.Name)
	}
	var exs []*tasks.Example
	if o.data != "" {
		if exs, err = m.ReadInput(d, o.data, false, stderr); err != nil {
			return err
		}
	}
	for i, text := range o.texts {
		ex := &tasks.Example{Words: strings.Fields(text), Gold: noGold{}, Line: i + 1}
		if len(ex.Words) == 0 {
			return usageError{fmt.Sprintf("--text %q has no words", text)}
		}
		if err := ex.EncodeWords(m.Tok, m.MaxLength, m.Stride); err != nil {
			return fmt.Errorf("--text %q: %w", text, err)
		}
		exs = append(exs, ex)
	}
	an, err := h.Analyse(layers)
	if err != nil {
		return err
	}
	if o.svgDir != "" {
		if err := os.MkdirAll(o.svgDir, 0o755); err != nil {
			return err
		}
	}
	show, source := exs[:min(o.sentences, len(exs))], o.data
	if o.data == "" {
		show, source = exs, "text"
	}
	err = m.Hidden(d, show, func(b *tasks.Batch, hidden []mat.Tensor) error {
		for i, ex := range b.Examples {
			heads := tasks.GoldHeads(ex)
			if !hierarchy.IsTree(heads, len(ex.Words)) {
				heads = nil
			}
			fmt.Fprintf(stdout, "%s:%d\n", source, ex.Line)
			for _, l := range layers {
				merges := h.Dendrogram(l, hidden, b, i)
				fmt.Fprintf(stdout, "  layer %d: %s\n", l, draw.Brackets(ex.Words, merges, 0))
				if o.svgDir != "" {
					title := fmt.Sprintf("%s:%d, hierarchy of layer %d", filepath.Base(source), ex.Line, l)
					path := filepath.Join(o.svgDir, fmt.Sprintf("line%d-layer%d.svg", ex.Line, l))
					if err := atomicfile.Write(path, draw.Dendrogram(title, ex.Words, merges, heads)); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := m.Hidden(d, exs, an.Add); err != nil {
		return fmt.Errorf("%s: %w", source, err)
	}
	reports := an.Reports()
	fmt.Fprintf(stdout, "over %s (%d sentences):\n", source, len(exs))
	for _, r := range reports {
		fmt.Fprintf(stdout, "  layer %d: DSpr %s (%d sentences of 5-50 words)  UUAS %s (%d trees)  squared H distance q10/q50/q90 %.3g/%.3g/%.3g  mean pair weight %s\n",
			r.Layer, num(r.DSpr), r.Sentences, num(r.UUAS), r.Trees, r.Q10, r.Q50, r.Q90, num(r.MeanWeight))
	}
	if o.jsonOut != "" {
		b, err := json.MarshalIndent(jsonSafe(reports), "", "  ")
		if err != nil {
			return err
		}
		return atomicfile.Write(o.jsonOut, b)
	}
	return nil
}

// noGold is the annotation of a sentence given on the command line.
type noGold struct{}

func (noGold) Column(string) []string { return nil }

// num formats a score, "-" for NaN.
func num(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.4f", v)
}

// jsonSafe returns the reports as maps with NaN values left out (JSON has
// no NaN).
func jsonSafe(rs []hierarchy.Report) []map[string]any {
	var out []map[string]any
	for _, r := range rs {
		m := map[string]any{"layer": r.Layer, "sentences": r.Sentences, "trees": r.Trees, "sq_dist_q10": r.Q10, "sq_dist_q50": r.Q50, "sq_dist_q90": r.Q90}
		for k, v := range map[string]float64{"dspr": r.DSpr, "uuas": r.UUAS, "mean_weight": r.MeanWeight} {
			if !math.IsNaN(v) {
				m[k] = v
			}
		}
		out = append(out, m)
	}
	return out
}
