package onnxweights

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/hiertune/hiertune/onnx"
)

// walker identifies the encoder parameters by their place in the graph,
// walking from the embedding lookups through the layers to the pooler.
type walker struct {
	g      *graph
	params map[string]param
	layers int
	heads  int
	eps    float64
	act    string
	pooler bool
}

func (w *walker) setLinear(prefix string, l *linear) {
	w.params[prefix+".weight"] = l.weight
	if l.bias != nil {
		w.params[prefix+".bias"] = *l.bias
	}
}

func (w *walker) setLayerNorm(prefix string, ln *layerNorm) error {
	if w.eps != 0 && ln.eps != w.eps {
		return fmt.Errorf("%s: epsilon %g differs from the embeddings' %g", prefix, ln.eps, w.eps)
	}
	w.eps = ln.eps
	w.params[prefix+".weight"] = ln.weight
	w.params[prefix+".bias"] = ln.bias
	return nil
}

// walk fills w.params; on error, w holds what it found before the failure.
func (w *walker) walk() error {
	h, err := w.embeddings()
	if err != nil {
		return fmt.Errorf("embeddings: %w", err)
	}
	seen := map[string]bool{}
	for i := 0; ; i++ {
		att, err := w.attention(h)
		if err != nil {
			return fmt.Errorf("encoder.layer.%d: %w", i, err)
		}
		if att == nil {
			break
		}
		if seen[h] {
			return fmt.Errorf("encoder.layer.%d: the graph loops back to %q", i, h)
		}
		seen[h] = true
		if h, err = w.layer(i, h, att); err != nil {
			return fmt.Errorf("encoder.layer.%d: %w", i, err)
		}
		w.layers = i + 1
	}
	if w.layers == 0 {
		return fmt.Errorf("no self-attention reads the embeddings output %q", h)
	}
	return w.findPooler(h)
}

// embeddings finds the three lookups and their LayerNorm, and returns the
// LayerNorm output. The Gather on input_ids is the word embedding, the one
// on token_type_ids the token type embedding, and the one on computed ids
// (or a position_ids input) the position embedding.
func (w *walker) embeddings() (string, error) {
	var word, pos, tokenType *onnx.Node
	var unknown []*onnx.Node // Gathers on graph inputs with unfamiliar names
	claim := func(slot **onnx.Node, n *onnx.Node, what string) error {
		if *slot != nil {
			return fmt.Errorf("both %s and %s look like the %s lookup", nodeName(*slot), nodeName(n), what)
		}
		*slot = n
		return nil
	}
	for _, n := range w.g.nodes {
		if !is(n, "Gather") || attrInt(n, "axis", 0) != 0 || !w.isTable(input(n, 0)) {
			continue
		}
		ids := w.g.graphInput(input(n, 1))
		var err error
		switch {
		case ids == "":
			err = claim(&pos, n, "position embedding")
		case strings.Contains(ids, "token_type"):
			err = claim(&tokenType, n, "token type embedding")
		case strings.Contains(ids, "position"):
			err = claim(&pos, n, "position embedding")
		case strings.Contains(ids, "input_ids"):
			err = claim(&word, n, "word embedding")
		default:
			unknown = append(unknown, n)
		}
		if err != nil {
			return "", err
		}
	}
	// Without familiar input names, the larger table holds the vocabulary.
	slices.SortFunc(unknown, func(a, b *onnx.Node) int { return cmp.Compare(w.rows(input(b, 0)), w.rows(input(a, 0))) })
	for _, n := range unknown {
		switch {
		case word == nil:
			word = n
		case tokenType == nil:
			tokenType = n
		default:
			return "", fmt.Errorf("cannot tell what the embedding lookup %s on input %q is", nodeName(n), input(n, 1))
		}
	}
	if word == nil {
		return "", fmt.Errorf("no Gather looks up the input ids in a constant table")
	}
	// The lookups are summed by Adds that lead to the LayerNorm.
	sum, adds := output(word), map[string]bool{output(word): true}
	for !w.g.startsLayerNorm(sum) {
		var next string
		for _, u := range w.g.consumers[sum] {
			if is(u.node, "Add") && len(u.node.Input) == 2 {
				adds[input(u.node, 1-u.operand)] = true
				next = output(u.node)
			}
		}
		if next == "" || adds[next] {
			return "", fmt.Errorf("no LayerNorm after the word embedding lookup %s", nodeName(word))
		}
		sum, adds[next] = next, true
	}
	w.params["embeddings.word_embeddings.weight"] = param{value: input(word, 0), node: word}
	for _, e := range []struct {
		n    *onnx.Node
		name string
	}{{pos, "embeddings.position_embeddings.weight"}, {tokenType, "embeddings.token_type_embeddings.weight"}} {
		if e.n == nil {
			continue // reported as missing unless the graph names it
		}
		if !adds[output(e.n)] {
			return "", fmt.Errorf("the lookup %s is not added to the word embeddings", nodeName(e.n))
		}
		w.params[e.name] = param{value: input(e.n, 0), node: e.n}
	}
	ln, err := w.g.layerNormOn(sum)
	if err != nil {
		return "", err
	}
	if err := w.setLayerNorm("embeddings.LayerNorm", ln); err != nil {
		return "", err
	}
	return ln.out, nil
}

// isTable reports whether v is a constant 2-D floating-point tensor.
func (w *walker) isTable(v string) bool {
	_, t, ok := w.g.constant(v)
	switch {
	case !ok || len(t.Dims) != 2:
		return false
	case t.DataType == onnx.Float, t.DataType == onnx.Float16, t.DataType == onnx.BFloat16, t.DataType == onnx.Double:
		return true
	}
	return false
}

// rows returns the first dimension of the constant v.
func (w *walker) rows(v string) int64 {
	_, t, _ := w.g.constant(v)
	return t.Dims[0]
}

// graphInput returns the graph input that v is, possibly after Cast or
// Identity nodes, or "" if v is computed.
func (g *graph) graphInput(v string) string {
	for range len(g.producer) + 1 {
		if g.inputs[v] {
			return v
		}
		n := g.producer[v]
		if n == nil || !(is(n, "Cast") || is(n, "Identity")) {
			return ""
		}
		v = input(n, 0)
	}
	return ""
}

// startsLayerNorm reports whether a LayerNorm (fused or decomposed) reads x.
func (g *graph) startsLayerNorm(x string) bool {
	for _, u := range g.consumers[x] {
		if u.operand == 0 && (is(u.node, "LayerNormalization") || is(u.node, "ReduceMean")) {
			return true
		}
	}
	return false
}

// attention is a self-attention block: the three projections of the layer
// input, the scores MatMul (Q times K transposed) and the context MatMul
// (softmax of the scores times V).
type attention struct {
	q, k, v         *linear
	scores, context *onnx.Node
}

// matmulOfActivations accepts a MatMul of two computed tensors.
func (g *graph) matmulOfActivations(u use) bool {
	return is(u.node, "MatMul") && len(u.node.Input) == 2 && !g.isConst(input(u.node, 0)) && !g.isConst(input(u.node, 1))
}

// attention finds the self-attention block reading h, or returns nil if
// there is none (h is then the encoder output). Query and key are the
// projections that reach the scores MatMul as its left and right operand;
// value is the one that the softmax output is multiplied with.
func (w *walker) attention(h string) (*attention, error) {
	// reach pairs each projection with the MatMul of activations it flows into.
	type reach struct {
		l *linear
		u use
	}
	var reaches []reach
	for _, l := range w.g.linearsFrom(h) {
		if us := w.g.follow(l.out, passThrough, w.g.matmulOfActivations); len(us) == 1 {
			reaches = append(reaches, reach{l, us[0]})
		}
	}
	a := &attention{}
	for _, r := range reaches {
		if r.u.operand != 0 {
			continue
		}
		for _, r2 := range reaches {
			if r2.u.node == r.u.node && r2.u.operand == 1 {
				if a.scores != nil {
					return nil, fmt.Errorf("two score MatMuls read projections of %q: %s and %s", h, nodeName(a.scores), nodeName(r.u.node))
				}
				a.q, a.k, a.scores = r.l, r2.l, r.u.node
			}
		}
	}
	if a.scores == nil {
		return nil, nil
	}
	softmax := w.g.follow(output(a.scores), func(u use) bool {
		n := u.node
		return is(n, "Add") || is(n, "Sub") || is(n, "Mul") || is(n, "Div") || is(n, "Where") || is(n, "Cast")
	}, func(u use) bool { return is(u.node, "Softmax") })
	if len(softmax) != 1 {
		return nil, fmt.Errorf("no single Softmax after the attention scores %s", nodeName(a.scores))
	}
	probs := output(softmax[0].node)
	for _, r := range reaches {
		if r.u.operand != 1 || r.u.node == a.scores {
			continue
		}
		fromSoftmax := w.g.follow(probs, passThrough, func(x use) bool { return x.node == r.u.node && x.operand == 0 })
		if len(fromSoftmax) > 0 {
			a.v, a.context = r.l, r.u.node
		}
	}
	if a.v == nil {
		return nil, fmt.Errorf("no projection of %q is multiplied with the attention probabilities %q", h, probs)
	}
	return a, nil
}

// layer records the parameters of encoder layer i, whose input is h, and
// returns the layer output.
func (w *walker) layer(i int, h string, att *attention) (string, error) {
	prefix := fmt.Sprintf("encoder.layer.%d.", i)
	w.setLinear(prefix+"attention.self.query", att.q)
	w.setLinear(prefix+"attention.self.key", att.k)
	w.setLinear(prefix+"attention.self.value", att.v)
	heads, err := w.numHeads(att)
	if err != nil {
		return "", err
	}
	if w.heads != 0 && heads != w.heads {
		return "", fmt.Errorf("%d attention heads, but layer 0 has %d", heads, w.heads)
	}
	w.heads = heads

	dense, err := w.nextLinear(output(att.context), passThrough)
	if err != nil {
		return "", fmt.Errorf("attention output: %w", err)
	}
	w.setLinear(prefix+"attention.output.dense", dense)
	a, err := w.residualLayerNorm(prefix+"attention.output.LayerNorm", dense.out, h)
	if err != nil {
		return "", err
	}

	inter := w.g.linearsFrom(a)
	if len(inter) != 1 {
		return "", fmt.Errorf("intermediate: %d Linear layers read the attention output %q, want 1", len(inter), a)
	}
	w.setLinear(prefix+"intermediate.dense", inter[0])
	var ops []string
	out, err := w.nextLinear(inter[0].out, func(u use) bool {
		ops = append(ops, u.node.OpType)
		return activationOps[u.node.OpType]
	})
	if err != nil {
		return "", fmt.Errorf("intermediate activation: %w", err)
	}
	act, err := activation(ops, out.node)
	if err != nil {
		return "", err
	}
	if w.act != "" && act != w.act {
		return "", fmt.Errorf("activation %s, but layer 0 uses %s", act, w.act)
	}
	w.act = act
	w.setLinear(prefix+"output.dense", out)
	return w.residualLayerNorm(prefix+"output.LayerNorm", out.out, a)
}

// nextLinear follows v through the uses that through accepts to the one
// Linear layer it reaches.
func (w *walker) nextLinear(v string, through func(use) bool) (*linear, error) {
	us := w.g.follow(v, through, w.g.linearInput)
	if len(us) != 1 {
		return nil, fmt.Errorf("%d Linear layers follow %q, want 1", len(us), v)
	}
	l, _ := w.g.linearAt(us[0].node)
	return l, nil
}

// residualLayerNorm finds LayerNorm(y + x), records it under prefix and
// returns its output.
func (w *walker) residualLayerNorm(prefix, y, x string) (string, error) {
	for _, u := range w.g.consumers[y] {
		if !is(u.node, "Add") || len(u.node.Input) != 2 || input(u.node, 1-u.operand) != x {
			continue
		}
		ln, err := w.g.layerNormOn(output(u.node))
		if err != nil {
			return "", fmt.Errorf("%s: %w", prefix, err)
		}
		return ln.out, w.setLayerNorm(prefix, ln)
	}
	return "", fmt.Errorf("%s: no residual Add of %q and %q", prefix, y, x)
}

// activationOps are the operators that activation functions export to.
var activationOps = map[string]bool{
	"Add": true, "Sub": true, "Mul": true, "Div": true, "Pow": true, "Sqrt": true, "Cast": true, "Identity": true,
	"Erf": true, "Tanh": true, "Sigmoid": true, "Relu": true, "Gelu": true,
}

// activation names the HF hidden_act that the operators ops compute; next
// is the Linear they lead to, for messages.
func activation(ops []string, next *onnx.Node) (string, error) {
	switch {
	case slices.Contains(ops, "Erf"):
		return "gelu", nil
	case slices.Contains(ops, "Tanh"):
		return "gelu_new", nil
	case slices.Contains(ops, "Sigmoid"):
		return "silu", nil
	case slices.Contains(ops, "Relu"):
		return "relu", nil
	case slices.Contains(ops, "Gelu"):
		return "gelu", nil
	}
	return "", fmt.Errorf("unknown activation before %s (operators %v)", nodeName(next), ops)
}

// numHeads reads the number of attention heads from the Reshape that splits
// a projection into [..., heads, head_size].
func (w *walker) numHeads(att *attention) (int, error) {
	hidden := w.g.outFeatures(att.q.weight)
	for _, l := range []*linear{att.q, att.k, att.v} {
		heads := int64(0)
		w.g.follow(l.out, func(u use) bool {
			if is(u.node, "Reshape") && u.operand == 0 && heads == 0 {
				s := w.g.shapeValues(input(u.node, 1))
				if n := len(s); n >= 2 && s[n-2] > 0 && s[n-1] > 0 && s[n-2]*s[n-1] == hidden {
					heads = s[n-2]
				}
			}
			return passThrough(u)
		}, w.g.matmulOfActivations)
		if heads > 0 {
			return int(heads), nil
		}
	}
	return 0, fmt.Errorf("no Reshape after %s splits %d features into heads", nodeName(att.q.node), hidden)
}

// findPooler looks for the pooler: a Linear on token 0 of the encoder
// output h, followed by Tanh. Its absence is not an error.
func (w *walker) findPooler(h string) error {
	through := func(u use) bool {
		n := u.node
		switch {
		case u.operand != 0:
			return false
		case is(n, "Gather"):
			idx, ok := w.g.ints(input(n, 1))
			return ok && attrInt(n, "axis", 0) == 1 && slices.Equal(idx, []int64{0})
		}
		return is(n, "Slice") || is(n, "Squeeze") || is(n, "Reshape") || is(n, "Identity") || is(n, "Cast")
	}
	var pools []*linear
	for _, u := range w.g.follow(h, through, w.g.linearInput) {
		l, _ := w.g.linearAt(u.node)
		for _, c := range w.g.consumers[l.out] {
			if is(c.node, "Tanh") {
				pools = append(pools, l)
			}
		}
	}
	switch len(pools) {
	case 0:
		return nil
	case 1:
		w.setLinear("pooler.dense", pools[0])
		w.pooler = true
		return nil
	}
	return fmt.Errorf("pooler: %d Linear+Tanh read token 0 of the encoder output", len(pools))
}
