package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/hiertune/hiertune/internal/atomicfile"
	"github.com/hiertune/hiertune/model"
	"github.com/hiertune/hiertune/probing"
	"github.com/hiertune/hiertune/tasks"
)

// swapReport is what inspect --swap measures: how much a model's outputs
// for the words of two sentences A and B change when the input "A B" is
// given as "B A".
type swapReport struct {
	Pairs int `json:"pairs"`
	// MaxDelta[n] is the largest |Δ| of a word's hidden state n (the
	// mean of its pieces) between the two orders; CLSDelta that of
	// [CLS].
	MaxDelta []float64 `json:"max_delta"`
	CLSDelta []float64 `json:"cls_delta"`
	// Changed is, per task and column, the share of words (or heads,
	// mapped through the reordering) predicted differently.
	Changed map[string]float64 `json:"changed"`
	Words   int                `json:"words"`
}

// inspectSwap joins consecutive sentences of a file two by two, as
// "[CLS] A [SEP] B [SEP]" and "[CLS] B [SEP] A [SEP]", runs the model on
// both, and reports how much each word's states and predictions differ
// between the two orders: a model whose only positions are relative and
// within sentences (pairs.no_positions) gives the same outputs up to float
// error; one with absolute positions does not. Pairs that need more than
// one window are left out.
func inspectSwap(m *model.Model, dataset, data string, limit int, jsonOut string, stdout, stderr io.Writer) error {
	if data == "" {
		return usageError{"--swap needs --data (a file of one of the run's word-level datasets)"}
	}
	d, err := m.Dataset(dataset)
	if err != nil {
		return err
	}
	if !d.Data.WordLevel {
		return fmt.Errorf("--swap: dataset %s is not word-level", d.Name)
	}
	exs, err := d.Read(data, stderr)
	if err != nil {
		return err
	}
	var ab, ba []*tasks.Example
	var lenA []int
	for k := 0; k+1 < len(exs) && (limit == 0 || len(ab) < limit); k += 2 {
		a, b := exs[k].Words, exs[k+1].Words
		x := &tasks.Example{Words: join(a, b), Gold: noGold{}, Line: exs[k].Line}
		y := &tasks.Example{Words: join(b, a), Gold: noGold{}, Line: exs[k].Line}
		if x.EncodeWords(m.Tok, m.MaxLength, m.Stride) != nil || y.EncodeWords(m.Tok, m.MaxLength, m.Stride) != nil ||
			x.Windows() > 1 || y.Windows() > 1 || len(x.Words) > m.MaxWords {
			continue
		}
		ab, ba, lenA = append(ab, x), append(ba, y), append(lenA, len(a))
	}
	if len(ab) == 0 {
		return fmt.Errorf("%s: no two consecutive sentences fit in one window", data)
	}
	fx, err := probing.Extract(m, d, ab)
	if err != nil {
		return err
	}
	fy, err := probing.Extract(m, d, ba)
	if err != nil {
		return err
	}
	px, err := m.Predict(d, ab, 0)
	if err != nil {
		return err
	}
	py, err := m.Predict(d, ba, 0)
	if err != nil {
		return err
	}
	rep := &swapReport{Pairs: len(ab), MaxDelta: make([]float64, fx.States), CLSDelta: make([]float64, fx.States), Changed: map[string]float64{}}
	D := fx.Dim
	changed := map[string]int{}
	rowX, rowY := 0, 0
	for e, x := range ab {
		n, na := len(x.Words), lenA[e]
		perm := swapPerm(n, na) // word i of "A B" is word perm[i] of "B A"
		for s := range fx.States {
			rep.CLSDelta[s] = max(rep.CLSDelta[s], maxAbs(fx.Roots[s][e*D:(e+1)*D], fy.Roots[s][e*D:(e+1)*D]))
			for i := range n {
				if i == na {
					continue // the [SEP] between them
				}
				rx, ry := rowX+i, rowY+perm[i]
				rep.MaxDelta[s] = max(rep.MaxDelta[s], maxAbs(fx.Words[s][rx*D:(rx+1)*D], fy.Words[s][ry*D:(ry+1)*D]))
			}
		}
		for t, preds := range px {
			for col, vx := range preds[e] {
				vy := py[t][e][col]
				for i := range n {
					if i == na || i >= len(vx) {
						continue
					}
					want := vx[i]
					if col == "head" {
						if h, err := strconv.Atoi(want); err == nil && h > 0 {
							want = strconv.Itoa(perm[h-1] + 1)
						}
					}
					if vy[perm[i]] != want {
						changed[t.Config.Name+"."+col]++
					}
				}
			}
		}
		rep.Words += n - 1
		rowX, rowY = rowX+n, rowY+n
	}
	for k, c := range changed {
		rep.Changed[k] = float64(c) / float64(rep.Words)
	}
	for t := range px {
		for _, col := range t.Head.Columns() {
			if _, ok := rep.Changed[t.Config.Name+"."+col]; !ok {
				rep.Changed[t.Config.Name+"."+col] = 0
			}
		}
	}
	fmt.Fprintf(stdout, "%d pairs of sentences (%d words) given as \"A B\" and as \"B A\"\n", rep.Pairs, rep.Words)
	for s := range rep.MaxDelta {
		fmt.Fprintf(stdout, "  hidden state %d: max |Δ| of a word %.3g, of [CLS] %.3g\n", s, rep.MaxDelta[s], rep.CLSDelta[s])
	}
	for k, v := range rep.Changed {
		fmt.Fprintf(stdout, "  %s: %.2f%% of the words predicted differently\n", k, 100*v)
	}
	if jsonOut != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		return atomicfile.Write(jsonOut, append(b, '\n'))
	}
	return nil
}

// join returns the words of a, a [SEP], and the words of b: the tokenizer
// reads "[SEP]" as the separator token, so the input is two sentences.
func join(a, b []string) []string {
	out := append(append([]string{}, a...), "[SEP]")
	return append(out, b...)
}

// swapPerm maps the words of "A [SEP] B" (A of na words, n words in all)
// to their places in "B [SEP] A".
func swapPerm(n, na int) []int {
	nb := n - na - 1
	perm := make([]int, n)
	for i := range n {
		switch {
		case i < na:
			perm[i] = nb + 1 + i
		case i == na:
			perm[i] = nb
		default:
			perm[i] = i - na - 1
		}
	}
	return perm
}

func maxAbs(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}
