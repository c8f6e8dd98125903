package draw

import (
	"encoding/xml"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hiertune/hiertune/hierarchy/cluster"
)

// svg is what the tests read of a picture.
type svg struct {
	width    float64
	elements map[string]int // number of elements of each name
	texts    []string       // the character data of the <text> elements
	links    []string       // the d attributes of the paths of the first group
}

// parse decodes every token of an SVG picture, failing the test if it is not
// well-formed XML.
func parse(t *testing.T, pic []byte) svg {
	t.Helper()
	s := svg{elements: map[string]int{}}
	dec := xml.NewDecoder(strings.NewReader(string(pic)))
	var stack []string
	group := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, pic)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			name := tok.Name.Local
			s.elements[name]++
			stack = append(stack, name)
			for _, a := range tok.Attr {
				switch {
				case name == "svg" && a.Name.Local == "width":
					s.width, _ = strconv.ParseFloat(a.Value, 64)
				case name == "path" && group == 1 && a.Name.Local == "d":
					s.links = append(s.links, a.Value)
				}
			}
			if name == "g" {
				group++
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 && stack[len(stack)-1] == "text" {
				s.texts = append(s.texts, string(tok))
			}
		}
	}
	return s
}

// The dog barked very loudly: ((The dog) (barked (very loudly))).
var (
	words  = []string{"The", "dog", "barked", "very", "loudly"}
	merges = []cluster.Merge{{A: 0, B: 1, Height: 1, Size: 2}, {A: 3, B: 4, Height: 1.5, Size: 2},
		{A: 2, B: 6, Height: 2, Size: 3}, {A: 5, B: 7, Height: 4, Size: 5}}
	heads = []int{2, 3, 0, 5, 3}
)

func TestDendrogram(t *testing.T) {
	for _, c := range []struct {
		name         string
		words        []string
		merges       []cluster.Merge
		heads        []int
		paths, lines int
	}{
		// Four links, four arcs and the root's line.
		{"tree", words, merges, heads, 4 + 4, 1},
		{"no heads", words, merges, nil, 4, 0},
		{"partial", words, merges[:2], heads, 2 + 4, 1},
		// Two words under the root.
		{"two roots", words[:3], merges[:1], []int{0, 1, 0}, 1 + 1, 2},
		{"one word", words[:1], nil, []int{0}, 0, 1},
		{"no words", nil, nil, nil, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := parse(t, Dendrogram("title", c.words, c.merges, c.heads))
			if s.elements["path"] != c.paths || s.elements["line"] != c.lines || s.elements["text"] != 1+len(c.words) {
				t.Errorf("%d paths, %d lines, %d texts; want %d, %d, %d",
					s.elements["path"], s.elements["line"], s.elements["text"], c.paths, c.lines, 1+len(c.words))
			}
			if s.elements["title"] != len(c.merges) {
				t.Errorf("%d link titles, want %d", s.elements["title"], len(c.merges))
			}
			if want := append([]string{"title"}, c.words...); strings.Join(s.texts, "|") != strings.Join(want, "|") {
				t.Errorf("texts %q, want %q", s.texts, want)
			}
		})
	}
}

func TestDendrogramEscapes(t *testing.T) {
	odd := []string{"<&>", `"quoted"`, "it's", "nul\x00", "a\tb"}
	pic := Dendrogram("Title <&> \"x\"", odd, nil, []int{0, 1, 1, 1, 1})
	s := parse(t, pic)
	want := []string{"Title <&> \"x\"", "<&>", `"quoted"`, "it's", "nul\uFFFD", "a\tb"}
	if strings.Join(s.texts, "|") != strings.Join(want, "|") {
		t.Errorf("texts %q, want %q", s.texts, want)
	}
	if !strings.Contains(string(pic), "&lt;&amp;&gt;") {
		t.Error(`"<&>" not escaped`)
	}
}

func TestDendrogramWidth(t *testing.T) {
	narrow := parse(t, Dendrogram("", words[:2], nil, nil)).width
	wide := parse(t, Dendrogram("", words, nil, nil)).width
	longer := parse(t, Dendrogram("", []string{"The", "dog", "barked", "very", "loudly!!!!!!!!!!!"}, nil, nil)).width
	if !(narrow < wide && wide < longer) {
		t.Errorf("widths %v, %v, %v: not growing with the words", narrow, wide, longer)
	}
	title := parse(t, Dendrogram(strings.Repeat("long title ", 20), words[:2], nil, nil)).width
	if title <= wide {
		t.Errorf("width %v does not fit a long title", title)
	}
}

var link = regexp.MustCompile(`^M([0-9.]+) ([0-9.]+)V([0-9.]+)H([0-9.]+)V([0-9.]+)$`)

// TestDendrogramInversion checks that a link lower than one of its
// children's is drawn at its child's height, as adjacency can make them.
func TestDendrogramInversion(t *testing.T) {
	// 3 = {1, 2} at 9, then {0, 3} at 5.5, then nothing.
	inverted := []cluster.Merge{{A: 1, B: 2, Height: 9, Size: 2}, {A: 0, B: 3, Height: 5.5, Size: 3}}
	s := parse(t, Dendrogram("", words[:3], inverted, nil))
	if len(s.links) != 2 {
		t.Fatalf("links %q", s.links)
	}
	var bars [2]float64 // y of each link's bar
	for k, d := range s.links {
		m := link.FindStringSubmatch(d)
		if m == nil {
			t.Fatalf("link %q is not a U", d)
		}
		var v [5]float64
		for i := range v {
			v[i], _ = strconv.ParseFloat(m[i+1], 64)
		}
		// The bar is above (y less than or equal to) both legs' ends.
		if v[2] > v[1] || v[2] > v[4] {
			t.Errorf("link %d %q: bar below a leg's end", k, d)
		}
		bars[k] = v[2]
	}
	if bars[0] != bars[1] {
		t.Errorf("bars at y %v and %v, want the same", bars[0], bars[1])
	}
	// The second link's right leg (cluster 3) starts at the first link's bar.
	if m := link.FindStringSubmatch(s.links[1]); m[5] != link.FindStringSubmatch(s.links[0])[3] {
		t.Errorf("links %q and %q do not meet", s.links[0], s.links[1])
	}
}

func TestDendrogramZeroHeights(t *testing.T) {
	flat := []cluster.Merge{{A: 0, B: 1, Height: 0, Size: 2}}
	parse(t, Dendrogram("", words[:2], flat, nil))
}

func TestDendrogramPanics(t *testing.T) {
	for _, c := range []struct {
		name   string
		merges []cluster.Merge
		heads  []int
	}{
		{"too many merges", append(merges, cluster.Merge{A: 8, B: 8}), nil},
		{"invalid merge", []cluster.Merge{{A: 0, B: 0}}, nil},
		{"heads length", merges, heads[:4]},
		{"head out of range", merges, []int{2, 3, 0, 5, 6}},
		{"negative head", merges, []int{2, 3, 0, 5, -1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			Dendrogram("", words, c.merges, c.heads)
		})
	}
}

func TestBrackets(t *testing.T) {
	for _, c := range []struct {
		name   string
		words  []string
		merges []cluster.Merge
		k      int
		want   string
	}{
		{"whole tree", words, merges, 0, "((The dog) (barked (very loudly)))"},
		{"one cluster", words, merges, 1, "((The dog) (barked (very loudly)))"},
		{"two clusters", words, merges, 2, "(The dog) (barked (very loudly))"},
		{"three clusters", words, merges, 3, "(The dog) barked (very loudly)"},
		{"no merge", words, merges, 5, "The dog barked very loudly"},
		{"partial tree", words, merges[:2], 0, "(The dog) barked (very loudly)"},
		{"no merges", words, nil, 0, "The dog barked very loudly"},
		{"no words", nil, nil, 0, ""},
		{
			// The older cluster, 4, is on the right.
			name: "children in sentence order", words: []string{"a", "b", "c", "d"},
			merges: []cluster.Merge{{A: 2, B: 3}, {A: 0, B: 1}, {A: 4, B: 5}}, want: "((a b) (c d))",
		},
		{
			name: "not contiguous", words: words,
			merges: []cluster.Merge{{A: 0, B: 2}, {A: 1, B: 3}}, want: "{The barked} {dog very} {loudly}",
		},
		{
			name: "not contiguous with k", words: words,
			merges: []cluster.Merge{{A: 0, B: 2}, {A: 1, B: 3}}, k: 4, want: "{The barked} {dog} {very} {loudly}",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Brackets(c.words, c.merges, c.k); got != c.want {
				t.Errorf("Brackets = %q, want %q", got, c.want)
			}
		})
	}

	// Contiguous up to the cut, not beyond: 7 = {The, dog, loudly}.
	mixed := []cluster.Merge{{A: 0, B: 1}, {A: 2, B: 3}, {A: 4, B: 5}, {A: 6, B: 7}}
	for k, want := range map[int]string{
		3: "(The dog) (barked very) loudly",
		2: "{The dog loudly} {barked very}",
		0: "{The dog barked very loudly}",
	} {
		if got := Brackets(words, mixed, k); got != want {
			t.Errorf("Brackets(k=%d) = %q, want %q", k, got, want)
		}
	}
}

func TestBracketsOfAgglomerate(t *testing.T) {
	// Hierarchy vectors that group "The dog" and "very loudly".
	points := [][]float32{{0}, {1}, {6}, {9}, {10}}
	m := cluster.Agglomerate(points, nil, cluster.Average, true)
	if got, want := Brackets(words, m, 0), "((The dog) (barked (very loudly)))"; got != want {
		t.Errorf("adjacent: Brackets = %q, want %q", got, want)
	}
	// Unconstrained, The and barked join first, then dog and very.
	points = [][]float32{{0}, {10}, {1}, {11}, {5}}
	m = cluster.Agglomerate(points, nil, cluster.Average, false)
	if got, want := Brackets(words, m, 3), "{The barked} {dog very} {loudly}"; got != want {
		t.Errorf("unconstrained: Brackets = %q, want %q", got, want)
	}
}

func TestBracketsPanics(t *testing.T) {
	for _, c := range []struct {
		name string
		k    int
	}{
		{"negative k", -1},
		{"k above n", 6},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			Brackets(words, merges, c.k)
		})
	}
	defer func() {
		if recover() == nil {
			t.Error("too few merges: no panic")
		}
	}()
	Brackets(words, merges[:1], 2)
}
