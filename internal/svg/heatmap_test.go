package svg

import (
	"encoding/xml"
	"math"
	"strings"
	"testing"
)

func TestHeatmapIsWellFormedSVG(t *testing.T) {
	out := Heatmap(`a <title> & more`, []string{"layer 1", "layer 2"}, []string{"emb", "1"},
		[][]float64{{1, math.NaN()}, {0.25, -0.75}})
	dec := xml.NewDecoder(strings.NewReader(string(out)))
	for {
		if _, err := dec.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("not well-formed XML: %v", err)
			}
			break
		}
	}
	s := string(out)
	if strings.Count(s, "<rect") != 1+3 { // background and three cells, the NaN left blank
		t.Errorf("%d rects", strings.Count(s, "<rect"))
	}
	for _, want := range []string{"a &lt;title&gt; &amp; more", ">0.25<", ">-0.75<", ">1.00<",
		`fill="rgb(0,0,255)"`, `fill="rgb(255,63,63)"`} { // 1 in full blue, -0.75 in red
		if !strings.Contains(s, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}
