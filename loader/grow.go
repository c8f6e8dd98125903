package loader

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hiertune/hiertune/tensor"
)

// GrowSchemes names the ways Grow makes a deeper encoder, each a function
// from a new layer's index to the old layer it copies.
var GrowSchemes = map[string]func(newLayer, oldLayers, newLayers int) int{
	// stack puts copies of the whole stack on top of it (Gong et al. 2019,
	// "Efficient training of BERT by progressively stacking"): 4 → 8 layers
	// run 0 1 2 3 0 1 2 3.
	"stack": func(j, old, _ int) int { return j % old },
	// interleave repeats each layer in place: 4 → 8 layers run
	// 0 0 1 1 2 2 3 3, so every layer is followed by its own copy.
	"interleave": func(j, old, new int) int { return j * old / new },
}

// Grow deepens the checkpoint's encoder to layers layers by copying its
// layers as scheme (a key of GrowSchemes) says; everything else (embeddings,
// pooler, heads) is kept. The new depth must be a multiple of the old one,
// so every old layer is copied the same number of times.
func (c *Checkpoint) Grow(layers int, scheme string) error {
	pick, ok := GrowSchemes[scheme]
	if !ok {
		return fmt.Errorf("grow: unknown scheme %q (stack or interleave)", scheme)
	}
	old := c.Config.NumHiddenLayers
	if layers <= old || layers%old != 0 {
		return fmt.Errorf("grow: %d layers is not a multiple of the checkpoint's %d greater than it", layers, old)
	}
	perLayer := map[int]map[string]*tensor.Tensor{}
	for name, t := range c.Tensors {
		if i, ok := layerIndex(name); ok {
			if perLayer[i] == nil {
				perLayer[i] = map[string]*tensor.Tensor{}
			}
			perLayer[i][strings.TrimPrefix(name, "encoder.layer."+strconv.Itoa(i)+".")] = t
		}
	}
	if len(perLayer) != old {
		return fmt.Errorf("%s: config.json says %d layers, the weights have %s", c.Dir, old, c.describeLayers(keys(perLayer)))
	}
	// Tensors are only read (Model copies them into parameters), so copies
	// of a layer share them.
	for j := range layers {
		src := pick(j, old, layers)
		if src == j {
			continue
		}
		for rest, t := range perLayer[src] {
			to := "encoder.layer." + strconv.Itoa(j) + "." + rest
			c.Tensors[to] = t
			c.Files[to] = c.Files["encoder.layer."+strconv.Itoa(src)+"."+rest]
		}
	}
	c.Config.NumHiddenLayers = layers
	return nil
}

func keys(m map[int]map[string]*tensor.Tensor) map[int]bool {
	out := make(map[int]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}
