// Package draw renders the clustering of a sentence's words, as made by
// package cluster, for people to read: as an SVG dendrogram with the gold
// dependency tree beneath it, and as a line of nested brackets.
package draw

import (
	"encoding/xml"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hiertune/hiertune/hierarchy/cluster"
)

// The layout of Dendrogram, in pixels. Text is monospace, so that the width
// of a word can be estimated without font metrics.
const (
	fontSize   = 14
	charWidth  = 0.6 * fontSize // advance of a monospace character
	margin     = 16
	minColumn  = 32 // narrowest column of a word
	wordGap    = 12 // least space between two words
	titleY     = margin + fontSize
	treeTop    = titleY + 24 // y of the highest link
	treeHeight = 200         // from the highest link down to the words
	baseY      = treeTop + treeHeight
	wordY      = baseY + fontSize + 2 // baseline of the words
	arcY       = wordY + 6            // where the dependency arcs start
	arcDepth   = 10                   // depth of a dependency arc per word it spans
	rootLength = 24                   // of the line that marks the root
)

// Dendrogram draws the dendrogram of a sentence's clustering as an SVG
// picture, titled with title.
//
// The words are set along the bottom of the upper panel in sentence order,
// and each merge is drawn as a U-shaped link joining its two clusters at a
// height proportional to its Height (the highest link at the top of the
// panel). Heights can decrease from one merge to the next with adjacency, so
// each link is drawn at the highest of its Height and its children's link
// heights, keeping the picture a tree. Hovering over a link shows its Height
// and Size. merges may stop before the words are all in one cluster.
//
// When heads is not nil, it holds the sentence's gold dependency tree
// (CoNLL-U heads: heads[i] is word i's head, 1-based, or 0 for the root),
// drawn beneath the words: an arc from each head down to its dependent, and
// a short vertical line under the root.
//
// The picture is self-contained (no external fonts or style sheets) and
// grows in width with the number and the length of the words.
//
// Dendrogram panics if merges is not a valid sequence of merges of
// len(words) items (see cluster.Labels), if heads is not nil and its length
// is not len(words), or if a head is out of range. The heights must be
// finite.
func Dendrogram(title string, words []string, merges []cluster.Merge, heads []int) []byte {
	n := len(words)
	if n > 0 && len(merges) >= n {
		panic(fmt.Sprintf("draw: %d merges of %d words", len(merges), n))
	}
	cluster.Labels(n, merges, n-len(merges)) // panics if merges is invalid
	if heads != nil && len(heads) != n {
		panic(fmt.Sprintf("draw: %d heads for %d words", len(heads), n))
	}
	for i, h := range heads {
		if h < 0 || h > n {
			panic(fmt.Sprintf("draw: head %d of word %d out of range [0, %d]", h, i+1, n))
		}
	}

	// x[c] is the horizontal position of cluster c, h[c] the height at which
	// its link is drawn (0 for a word).
	x := make([]float64, n+len(merges))
	h := make([]float64, n+len(merges))
	right := float64(margin)
	for i, w := range words {
		column := max(minColumn, float64(utf8.RuneCountInString(w))*charWidth+wordGap)
		x[i] = right + column/2
		right += column
	}
	var top float64
	for k, m := range merges {
		c := n + k
		x[c] = (x[m.A] + x[m.B]) / 2
		h[c] = max(m.Height, h[m.A], h[m.B])
		top = max(top, h[c])
	}
	scale := 0.0
	if top > 0 {
		scale = treeHeight / top
	}
	y := func(c int) float64 { return baseY - h[c]*scale }

	width := max(right+margin, 2*margin+float64(utf8.RuneCountInString(title))*charWidth)
	height := float64(wordY + margin)
	if heads != nil {
		deepest := float64(rootLength)
		for i, hd := range heads {
			if hd > 0 {
				deepest = max(deepest, arcDepth*float64(abs(hd-1-i)))
			}
		}
		height = arcY + deepest + margin
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="monospace" font-size="%d">`+"\n",
		width, height, width, height, fontSize)
	fmt.Fprintf(&b, `<rect width="%.0f" height="%.0f" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", margin, titleY, escape(title))

	b.WriteString(`<g fill="none" stroke="#1f4e79" stroke-width="1.5">` + "\n")
	for k, m := range merges {
		c := n + k
		fmt.Fprintf(&b, `<path d="M%.1f %.1fV%.1fH%.1fV%.1f"><title>height %.4g, size %.4g</title></path>`+"\n",
			x[m.A], y(m.A), y(c), x[m.B], y(m.B), m.Height, m.Size)
	}
	b.WriteString("</g>\n")

	b.WriteString(`<g text-anchor="middle">` + "\n")
	for i, w := range words {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`+"\n", x[i], wordY, escape(w))
	}
	b.WriteString("</g>\n")

	if heads != nil {
		b.WriteString(`<g fill="none" stroke="#a33" stroke-width="1.2">` + "\n")
		for i, hd := range heads {
			if hd == 0 {
				fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>`+"\n", x[i], arcY, x[i], arcY+rootLength)
				continue
			}
			// A quadratic curve's lowest point is halfway to its control point.
			head := x[hd-1]
			depth := arcDepth * float64(abs(hd-1-i))
			fmt.Fprintf(&b, `<path d="M%.1f %dQ%.1f %.1f %.1f %d"/>`+"\n", head, arcY, (head+x[i])/2, arcY+2*depth, x[i], arcY)
		}
		b.WriteString("</g>\n")
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

func abs(a int) int {
	return max(a, -a)
}

// escape returns s escaped for XML text and attributes, characters that XML
// does not allow replaced by U+FFFD.
func escape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s)) // writing to a strings.Builder does not fail
	return b.String()
}

// Brackets renders a clustering of words as text. If every cluster is a
// contiguous span of the sentence, as with adjacency-constrained clustering,
// it shows the dendrogram as nested brackets, as in
// "((The dog) (barked (very loudly)))"; otherwise it lists the words of each
// cluster in braces, in sentence order, as in "{The dog} {barked}". The
// clusters are in order of their first word.
//
// k = 0 applies all of merges, which may stop before the words are all in
// one cluster. k > 0 applies only the first len(words)−k, leaving k
// clusters: only their top-level brackets are shown, each with its inner
// structure.
//
// Brackets panics if k is negative or if merges and k are invalid for
// cluster.Labels.
func Brackets(words []string, merges []cluster.Merge, k int) string {
	n := len(words)
	switch {
	case k < 0:
		panic(fmt.Sprintf("draw: negative number of clusters %d", k))
	case k == 0:
		k = n - len(merges)
	}
	labels := cluster.Labels(n, merges, k) // panics if the arguments are invalid
	merges = merges[:n-k]

	// lo[c], hi[c] and size[c] are cluster c's first and last words and its
	// number of words.
	lo, hi, size := make([]int, n+len(merges)), make([]int, n+len(merges)), make([]int, n+len(merges))
	joined := make([]bool, n+len(merges))
	for i := range n {
		lo[i], hi[i], size[i] = i, i, 1
	}
	contiguous := true
	for j, m := range merges {
		c := n + j
		lo[c], hi[c], size[c] = min(lo[m.A], lo[m.B]), max(hi[m.A], hi[m.B]), size[m.A]+size[m.B]
		joined[m.A], joined[m.B] = true, true
		contiguous = contiguous && hi[c]-lo[c]+1 == size[c]
	}

	var b strings.Builder
	if !contiguous {
		groups := make([][]string, k)
		for i, l := range labels {
			groups[l] = append(groups[l], words[i])
		}
		for l, g := range groups {
			if l > 0 {
				b.WriteByte(' ')
			}
			b.WriteString("{" + strings.Join(g, " ") + "}")
		}
		return b.String()
	}

	var write func(c int)
	write = func(c int) {
		if c < n {
			b.WriteString(words[c])
			return
		}
		l, r := merges[c-n].A, merges[c-n].B
		if lo[l] > lo[r] {
			l, r = r, l
		}
		b.WriteByte('(')
		write(l)
		b.WriteByte(' ')
		write(r)
		b.WriteByte(')')
	}
	// The clusters left are disjoint spans, so ordering them by their first
	// word puts them in sentence order.
	var roots []int
	for c := range joined {
		if !joined[c] {
			roots = append(roots, c)
		}
	}
	slices.SortFunc(roots, func(c, d int) int { return lo[c] - lo[d] })
	for j, c := range roots {
		if j > 0 {
			b.WriteByte(' ')
		}
		write(c)
	}
	return b.String()
}
