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
	wellFormed(t, out)
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

func TestLinesIsWellFormedSVG(t *testing.T) {
	out := Lines("upos & <feats>", "layer", "accuracy", []string{"emb", "1", "2"}, []Series{
		{Name: "upos", Values: []float64{50, 90, 95}, Mark: 1.5},
		{Name: "upos control", Values: []float64{40, math.NaN(), 45}, Dashed: true, Mark: math.NaN()},
	}, true)
	wellFormed(t, out)
	s := string(out)
	// Five points (the NaN left out), one mark, two lines and their legend.
	for what, want := range map[string]int{"<circle": 5, "<path": 1, "<polyline": 2, "stroke-dasharray": 2, ">upos control<": 1} {
		if got := strings.Count(s, what); got != want {
			t.Errorf("%d %s, want %d", got, what, want)
		}
	}
	// The y axis starts at 0 and ends on a round value above 95.
	for _, want := range []string{"upos &amp; &lt;feats&gt;", ">0<", ">100<"} {
		if !strings.Contains(s, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}

// wellFormed fails the test unless out is well-formed XML.
func wellFormed(t *testing.T, out []byte) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(string(out)))
	for {
		if _, err := dec.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("not well-formed XML: %v", err)
			}
			return
		}
	}
}
