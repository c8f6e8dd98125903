// Package svg draws the small figures hiertune writes itself, such as the
// heatmap of a model's weights over its layers.
package svg

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Heatmap returns an SVG image of values (rows × columns, in [0, 1]) as
// shaded cells with the value printed in each, row and column labels, and a
// title. Missing cells (NaN) are left blank.
func Heatmap(title string, rows, cols []string, values [][]float64) []byte {
	const cell, left, top, pad = 44, 110, 60, 10
	w := left + cell*len(cols) + pad
	h := top + cell*len(rows) + pad + 20
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="18" font-size="13" font-weight="bold">%s</text>`+"\n", pad, html.EscapeString(title))
	for j, c := range cols {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", left+j*cell+cell/2, top-8, html.EscapeString(c))
	}
	for i, r := range rows {
		y := top + i*cell
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-8, y+cell/2+4, html.EscapeString(r))
		for j := range cols {
			v := math.NaN()
			if j < len(values[i]) {
				v = values[i][j]
			}
			if math.IsNaN(v) {
				continue
			}
			shade := int(255 * (1 - math.Max(0, math.Min(1, v))))
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="rgb(%d,%d,255)" stroke="#ccc"/>`+"\n",
				left+j*cell, y, cell, cell, shade, shade)
			ink := "black"
			if v > 0.6 {
				ink = "white"
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="%s">%.2f</text>`+"\n", left+j*cell+cell/2, y+cell/2+4, ink, v)
		}
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}
