// Package svg draws the small figures hiertune writes itself, such as the
// heatmap of a model's weights over its layers.
package svg

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Heatmap returns an SVG image of values (rows × columns) as shaded cells
// with the value printed in each, row and column labels, and a title.
// Positive values are blue and negative ones red, saturating at ±1 (depth
// weights can be negative). Missing cells (NaN) are left blank.
func Heatmap(title string, rows, cols []string, values [][]float64) []byte {
	const cell, left, top, pad = 44, 110, 60, 10
	// About 7.5 pixels per character of the 13-pixel bold title.
	w := max(left+cell*len(cols)+pad, 2*pad+int(7.5*float64(len([]rune(title)))))
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
			shade := int(255 * (1 - math.Min(1, math.Abs(v))))
			fill := fmt.Sprintf("rgb(%d,%d,255)", shade, shade)
			if v < 0 {
				fill = fmt.Sprintf("rgb(255,%d,%d)", shade, shade)
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s" stroke="#ccc"/>`+"\n",
				left+j*cell, y, cell, cell, fill)
			ink := "black"
			if math.Abs(v) > 0.6 {
				ink = "white"
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="%s">%.2f</text>`+"\n", left+j*cell+cell/2, y+cell/2+4, ink, v)
		}
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}
