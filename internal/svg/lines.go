package svg

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Series is one line of a line chart: a value per x position (NaN: no
// point), drawn dashed when Dashed; series of the same Group share a
// colour; Mark, when not NaN, puts a triangle on the x axis at that
// position (a summary such as an expected layer) in the series' colour.
type Series struct {
	Name   string
	Values []float64
	Dashed bool
	Group  int
	Mark   float64
}

// palette is colour-blind-safe (Okabe & Ito).
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"}

// Lines returns an SVG line chart of series over the x positions labelled
// xs, with a title, axis titles, a y range from the data (or from 0 when
// all values are positive and fromZero), and a legend on the right.
func Lines(title, xTitle, yTitle string, xs []string, series []Series, fromZero bool) []byte {
	const plotW, plotH, left, top, pad, legendW = 420, 260, 56, 40, 12, 230
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for _, v := range s.Values {
			if !math.IsNaN(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 0) {
		lo, hi = 0, 1
	}
	if fromZero && lo > 0 {
		lo = 0
	}
	step := niceStep((hi - lo) / 5)
	lo, hi = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	if hi == lo {
		hi = lo + step
	}
	x := func(i float64) float64 {
		if len(xs) < 2 {
			return left + plotW/2
		}
		return left + i*plotW/float64(len(xs)-1)
	}
	y := func(v float64) float64 { return top + plotH - (v-lo)/(hi-lo)*plotH }
	w, h := left+plotW+pad+legendW, top+plotH+48
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="13" font-weight="bold">%s</text>`+"\n", pad, html.EscapeString(title))
	for v := lo; v <= hi+step/2; v += step {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e5e5"/>`+"\n", left, y(v), left+plotW, y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y(v)+4, trim(v))
	}
	for i, l := range xs {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x(float64(i)), top+plotH+16, html.EscapeString(l))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>`+"\n", left, top, plotW, plotH)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", left+plotW/2, top+plotH+36, html.EscapeString(xTitle))
	fmt.Fprintf(&b, `<text x="14" y="%d" text-anchor="middle" transform="rotate(-90 14 %d)">%s</text>`+"\n", top+plotH/2, top+plotH/2, html.EscapeString(yTitle))
	for k, s := range series {
		colour := palette[s.Group%len(palette)]
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="5,4"`
		}
		var pts []string
		for i, v := range s.Values {
			if math.IsNaN(v) {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(float64(i)), y(v)))
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>`+"\n", x(float64(i)), y(v), colour)
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="1.8"%s/>`+"\n", strings.Join(pts, " "), colour, dash)
		if !math.IsNaN(s.Mark) {
			mx, my := x(s.Mark), float64(top+plotH)
			fmt.Fprintf(&b, `<path d="M%.1f,%.1f l-5,9 h10 z" fill="%s"/>`+"\n", mx, my-9, colour)
		}
		ly := top + 6 + 16*k
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n", left+plotW+pad, ly, left+plotW+pad+22, ly, colour, dash)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", left+plotW+pad+28, ly+4, html.EscapeString(s.Name))
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// niceStep rounds a step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if !(raw > 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// trim prints a tick value without needless decimals.
func trim(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		return "0"
	}
	return s
}
