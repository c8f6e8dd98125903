package loader

import (
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader/hub"
	"github.com/hiertune/hiertune/loader/safetensors"
	"github.com/hiertune/hiertune/tensor"
)

func mustModel(t *testing.T, dir string) *encoder.Model {
	t.Helper()
	ck, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ck.Model()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sameParams compares every parameter of two models, after passing a's
// values through round (nil: exact).
func sameParams(t *testing.T, a, b *encoder.Model, round func(float32) float32) {
	t.Helper()
	pa, pb := a.NamedParams(), b.NamedParams()
	if len(pa) != len(pb) {
		t.Fatalf("%d parameters against %d", len(pa), len(pb))
	}
	for i := range pa {
		va, vb := kernels.Values(pa[i].Param), kernels.Values(pb[i].Param)
		for j := range va {
			want := va[j]
			if round != nil {
				want = round(want)
			}
			if vb[j] != want {
				t.Fatalf("%s[%d]: %g, want %g", pa[i].Name, j, vb[j], want)
			}
		}
	}
}

func TestPyTorchCheckpointsMatchSafetensors(t *testing.T) {
	ref := mustModel(t, "testdata/micro")
	sameParams(t, ref, mustModel(t, "testdata/bin-legacy"), nil) // no prefix, gamma/beta names
	half := func(v float32) float32 { return tensor.HalfToFloat32(tensor.Float32ToHalf(v)) }
	sameParams(t, ref, mustModel(t, "testdata/bin-zip"), half)
	if ref.Pooler == nil {
		t.Error("pooler not loaded")
	}
}

func TestExtraKeysAreReported(t *testing.T) {
	ck, err := Read("testdata/micro")
	if err != nil {
		t.Fatal(err)
	}
	if ck.Prefix != "bert." {
		t.Errorf("prefix %q", ck.Prefix)
	}
	if got := ck.Extra(); !slices.Equal(got, []string{"classifier.bias", "classifier.weight"}) {
		t.Errorf("extra keys %v", got)
	}
}

// copyDir copies the regular files of src into a new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644)
	}
	return dst
}

func TestShardedSafetensors(t *testing.T) {
	f, err := safetensors.ReadFile("testdata/micro/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b, _ := os.ReadFile("testdata/micro/config.json")
	os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
	shards := []map[string]*tensor.Tensor{{}, {}}
	weightMap := map[string]string{}
	for i, name := range f.Names() {
		t, _ := f.Tensor(name)
		shards[i%2][name] = t
		weightMap[name] = fmt.Sprintf("model-%05d-of-00002.safetensors", i%2+1)
	}
	for i, s := range shards {
		if err := safetensors.WriteFile(filepath.Join(dir, fmt.Sprintf("model-%05d-of-00002.safetensors", i+1)), s, nil); err != nil {
			t.Fatal(err)
		}
	}
	writeIndex := func(m map[string]string) {
		idx, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 0}, "weight_map": m})
		os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), idx, 0o644)
	}
	writeIndex(weightMap)
	sameParams(t, mustModel(t, "testdata/micro"), mustModel(t, dir), nil)

	weightMap["bert.pooler.dense.bias"] = "model-00001-of-00002.safetensors" // it is in shard 2
	writeIndex(weightMap)
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), `"bert.pooler.dense.bias" is listed in model-00001-of-00002.safetensors but not found there`) {
		t.Fatalf("error %v", err)
	}
}

// TestTensorInTwoShards guards the error for a tensor that two shards both
// hold: it used to say the tensor was "listed in" one shard "but not found
// there", pointing at the wrong cause.
func TestTensorInTwoShards(t *testing.T) {
	for _, format := range []struct{ src, weights, index string }{
		{"testdata/micro/model.safetensors", "model-%05d-of-00002.safetensors", "model.safetensors.index.json"},
		{"testdata/bin-zip/pytorch_model.bin", "pytorch_model-%05d-of-00002.bin", "pytorch_model.bin.index.json"},
	} {
		t.Run(format.index, func(t *testing.T) {
			dir := t.TempDir()
			b, _ := os.ReadFile("testdata/micro/config.json")
			os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
			// Both shards are the whole checkpoint; the index puts each tensor in the first.
			w, err := os.ReadFile(format.src)
			if err != nil {
				t.Fatal(err)
			}
			first, second := fmt.Sprintf(format.weights, 1), fmt.Sprintf(format.weights, 2)
			os.WriteFile(filepath.Join(dir, first), w, 0o644)
			os.WriteFile(filepath.Join(dir, second), w, 0o644)
			idx, _ := json.Marshal(map[string]any{"weight_map": map[string]string{
				"bert.embeddings.word_embeddings.weight": first, "bert.pooler.dense.bias": second,
			}})
			os.WriteFile(filepath.Join(dir, format.index), idx, 0o644)
			_, err = Read(dir)
			if err == nil || !strings.Contains(err.Error(), format.index) ||
				!strings.Contains(err.Error(), "is in both "+first+" and "+second) || strings.Contains(err.Error(), "not found there") {
				t.Errorf("error %v, want it to say a tensor is in both %s and %s", err, first, second)
			}
		})
	}
}

func TestONNXWeights(t *testing.T) {
	want, err := safetensors.ReadFile("onnxweights/testdata/a.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	check := func(ck *Checkpoint) {
		t.Helper()
		m, err := ck.Model()
		if err != nil {
			t.Fatal(err)
		}
		for _, np := range m.NamedParams() {
			wt, ok := want.Tensor(np.Name)
			if !ok {
				wt, ok = want.Tensor("bert." + np.Name)
			}
			if !ok {
				t.Fatalf("reference lacks %s", np.Name)
			}
			v, _ := wt.Float32()
			if !slices.Equal(v, kernels.Values(np.Param)) {
				t.Fatalf("%s differs from the checkpoint it was exported from", np.Name)
			}
		}
	}
	// With the exporter's config.json beside the graph.
	dir := t.TempDir()
	b, _ := os.ReadFile("onnxweights/testdata/a_op17.onnx")
	os.WriteFile(filepath.Join(dir, "model.onnx"), b, 0o644)
	c, _ := os.ReadFile("onnxweights/testdata/a.config.json")
	os.WriteFile(filepath.Join(dir, "config.json"), c, 0o644)
	ck, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	check(ck)
	// A bare graph with anonymous initializers: the configuration comes from
	// the graph.
	ck, err = Open("onnxweights/testdata/a_op17_anon.onnx")
	if err != nil {
		t.Fatal(err)
	}
	wantCfg, _, err := ParseConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	got := ck.Config
	got.InitializerRange, got.HiddenDropoutProb, got.AttentionProbsDropoutProb = wantCfg.InitializerRange, wantCfg.HiddenDropoutProb, wantCfg.AttentionProbsDropoutProb
	if got != wantCfg {
		t.Errorf("config from the graph %+v, want %+v", got, wantCfg)
	}
	check(ck)
}

func TestBadCheckpoints(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(dir string)
		wants []string
	}{
		{"truncated safetensors", func(d string) { truncate(t, filepath.Join(d, "model.safetensors"), 5000) },
			[]string{"model.safetensors", "run past the end"}},
		{"missing tensor", func(d string) { dropTensor(t, d, "bert.encoder.layer.1.output.dense.weight") },
			[]string{`missing tensor "bert.encoder.layer.1.output.dense.weight"`}},
		{"shape disagrees with config", func(d string) { editConfig(t, d, "intermediate_size", 48) },
			[]string{"model.safetensors", `"bert.encoder.layer.0.intermediate.dense.weight"`, "shape [64 32], want [48 32]"}},
		{"unknown model_type", func(d string) { editConfig(t, d, "model_type", "deberta-v2") },
			[]string{"config.json", `unknown model_type "deberta-v2"`}},
		{"relative positions", func(d string) { editConfig(t, d, "position_embedding_type", "relative_key") },
			[]string{"config.json", "relative_key"}},
		{"bad config value", func(d string) { editConfig(t, d, "num_attention_heads", 5) },
			[]string{"config.json", "not a multiple of num_attention_heads 5"}},
		{"config not JSON", func(d string) { os.WriteFile(filepath.Join(d, "config.json"), []byte("{oops"), 0o644) },
			[]string{"config.json", "not a JSON object"}},
		{"no weights", func(d string) { os.Remove(filepath.Join(d, "model.safetensors")) },
			[]string{"no weights found", "pytorch_model.bin"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, "testdata/micro")
			c.edit(dir)
			ck, err := Read(dir)
			if err == nil {
				_, err = ck.Model()
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	t.Run("corrupt pickle", func(t *testing.T) {
		dir := copyDir(t, "testdata/bin-legacy")
		truncate(t, filepath.Join(dir, "pytorch_model.bin"), 20000)
		_, err := Read(dir)
		if err == nil || !strings.Contains(err.Error(), "pytorch_model.bin") {
			t.Fatalf("error %v should name the file", err)
		}
	})
}

// TestConfigSizesCheckedBeforeAllocation guards against sizes in
// config.json that used to be allocated before anything checked them,
// ending in "fatal error: out of memory" or an unbounded allocation: Read
// must refuse them against the weights, naming config.json and the key,
// without allocating more than the checkpoint's own size.
func TestConfigSizesCheckedBeforeAllocation(t *testing.T) {
	for _, tc := range []struct {
		key   string
		value any
		want  string
	}{
		{"hidden_size", 1e9, `hidden_size is 1000000000, but tensor "bert.embeddings.word_embeddings.weight" in `},
		{"vocab_size", 1e12, `vocab_size is 1000000000000, but tensor "bert.embeddings.word_embeddings.weight"`},
		{"max_position_embeddings", 1e12, `max_position_embeddings is 1000000000000, but tensor "bert.embeddings.position_embeddings.weight"`},
		{"type_vocab_size", 1e12, `type_vocab_size is 1000000000000, but tensor "bert.embeddings.token_type_embeddings.weight"`},
		{"intermediate_size", 1e9, `intermediate_size is 1000000000, but tensor "bert.encoder.layer.0.intermediate.dense.weight"`},
		{"num_hidden_layers", 1e9, "num_hidden_layers is 1000000000, but the weights have 2 layers (bert.encoder.layer.0 to 1)"},
		{"num_hidden_layers", 1, "num_hidden_layers is 1, but the weights have 2 layers"},
		{"embedding_size", 1e9, `embedding_size is 1000000000, but tensor "bert.embeddings.word_embeddings.weight"`},
	} {
		t.Run(tc.key, func(t *testing.T) {
			dir := copyDir(t, "testdata/micro")
			editConfig(t, dir, tc.key, tc.value)
			if tc.key == "embedding_size" {
				editConfig(t, dir, "model_type", "electra")
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Read(dir)
			runtime.ReadMemStats(&after)
			if err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, "config.json")+": ") ||
				!strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Read error = %v, want a line naming config.json and saying %q", err, tc.want)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 10<<20 {
				t.Errorf("Read allocated %d bytes", n)
			}
		})
	}
	t.Run("layer missing", func(t *testing.T) {
		dir := copyDir(t, "testdata/micro")
		editConfig(t, dir, "num_hidden_layers", 3)
		p := filepath.Join(dir, "model.safetensors")
		f, err := safetensors.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		ts := f.Tensors()
		ts["bert.encoder.layer.5.output.dense.bias"] = ts["bert.encoder.layer.1.output.dense.bias"]
		if err := safetensors.WriteFile(p, ts, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), "num_hidden_layers is 3, but the weights have 3 layers numbered up to 5 (bert.encoder.layer.2 is missing)") {
			t.Errorf("Read error = %v", err)
		}
	})
	// A size whose tensor is missing is caught by the estimate before New
	// allocates: the error names config.json and the key.
	t.Run("estimate", func(t *testing.T) {
		dir := copyDir(t, "testdata/micro")
		editConfig(t, dir, "vocab_size", 1e12)
		dropTensor(t, dir, "bert.embeddings.word_embeddings.weight")
		ck, err := Read(dir)
		if err != nil {
			t.Fatal(err)
		}
		if extra := ck.Extra(); extra != nil {
			t.Errorf("Extra() = %v for a model too large to build", extra)
		}
		_, err = ck.Model()
		if !errors.Is(err, encoder.ErrTooLarge) || !strings.HasPrefix(err.Error(), filepath.Join(dir, "config.json")+": ") ||
			!strings.Contains(err.Error(), "vocab_size 1000000000000 makes a model that would take 116.4 TiB") {
			t.Errorf("Model error = %v, want ErrTooLarge naming config.json and vocab_size", err)
		}
	})
}

// TestBadConfigValues guards the errors for config.json values of the
// wrong type or range: each must name the key, never panic.
func TestBadConfigValues(t *testing.T) {
	for _, tc := range []struct{ config, want string }{
		{`{"num_attention_heads": 0}`, "num_attention_heads must be positive, got 0"},
		{`{"hidden_size": 100, "num_attention_heads": 12}`, "hidden_size 100 is not a multiple of num_attention_heads 12"},
		{`{"layer_norm_eps": -1}`, "layer_norm_eps must be a positive float32"},
		{`{"layer_norm_eps": 1e-60}`, "layer_norm_eps must be a positive float32"},
		{`{"layer_norm_eps": "NaN"}`, `layer_norm_eps: want a number, got "NaN"`},
		{"{\n  \"layer_norm_eps\": NaN\n}", "not a JSON object: line 2, column 21: invalid character 'N'"},
		{`{"layer_norm_eps": 1e400}`, "layer_norm_eps: want a number, got 1e400"},
		{`{"hidden_size": 768.5}`, "hidden_size: want an integer, got 768.5"},
		{`{"hidden_size": 1e9}`, "hidden_size: want an integer, got 1e9"},
		{`{"hidden_size": "768"}`, `hidden_size: want an integer, got "768"`},
		{`{"vocab_size": 99999999999999999999}`, "vocab_size: 99999999999999999999 is out of range"},
		{`{"num_hidden_layers": -3}`, "num_hidden_layers must be positive, got -3"},
		{`{"pad_token_id": -1}`, "pad_token_id -1 is outside the vocabulary"},
		{`{"hidden_dropout_prob": 1.5}`, "hidden_dropout_prob must be in [0, 1), got 1.5"},
		{`{"initializer_range": -1}`, "initializer_range must be finite and not negative, got -1"},
		{`{"architectures": "BertModel"}`, `architectures: want a list of strings, got "BertModel"`},
		{`{"model_type": {"name": "bert"}}`, "model_type: want a string, got an object"},
		{`{"hidden_act": ["gelu"]}`, "hidden_act: want a string, got a list"},
		{`[1, 2]`, "not a JSON object"},
		{`null`, "not a JSON object"},
		{``, "not a JSON object"},
	} {
		_, _, err := ParseConfig([]byte(tc.config))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseConfig(%s) = %v, want one line saying %q", tc.config, err, tc.want)
		}
	}
	path := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(path, []byte(`{"hidden_size": 1e9}`), 0o644)
	if _, _, err := ReadConfig(path); err == nil || !strings.HasPrefix(err.Error(), path+": hidden_size: ") {
		t.Errorf("ReadConfig error = %v, want it to name the file and the key", err)
	}
}

func truncate(t *testing.T, path string, n int64) {
	t.Helper()
	if err := os.Truncate(path, n); err != nil {
		t.Fatal(err)
	}
}

func dropTensor(t *testing.T, dir, name string) {
	t.Helper()
	p := filepath.Join(dir, "model.safetensors")
	f, err := safetensors.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	ts := f.Tensors()
	delete(ts, name)
	if err := safetensors.WriteFile(p, ts, nil); err != nil {
		t.Fatal(err)
	}
}

func editConfig(t *testing.T, dir, key string, value any) {
	t.Helper()
	p := filepath.Join(dir, "config.json")
	var cfg map[string]any
	b, _ := os.ReadFile(p)
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg[key] = value
	b, _ = json.Marshal(cfg)
	os.WriteFile(p, b, 0o644)
}

func TestConfigRoundTrip(t *testing.T) {
	raw := []byte(`{"model_type": "roberta", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
		"intermediate_size": 128, "max_position_embeddings": 66, "type_vocab_size": 1, "vocab_size": 100,
		"bos_token_id": 0, "id2label": {"0": "O"}}`)
	c, fields, err := ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	if c.PadTokenID != 1 || c.LayerNormEps != 1e-12 || c.HiddenAct != "gelu" || c.MaxSequenceLength() != 64 {
		t.Errorf("RoBERTa defaults not applied: %+v", c)
	}
	out, err := ConfigJSON(c, fields)
	if err != nil {
		t.Fatal(err)
	}
	c2, fields2, err := ParseConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	var labels map[string]string
	json.Unmarshal(fields2["id2label"], &labels)
	if c2 != c || labels["0"] != "O" || string(fields2["bos_token_id"]) != "0" {
		t.Errorf("round trip changed the config: %+v, %s", c2, out)
	}
	// Old configs have no model_type: it comes from "architectures".
	c, _, err = ParseConfig([]byte(`{"architectures": ["ElectraForPreTraining"], "vocab_size": 50}`))
	if err != nil || c.ModelType != "electra" || c.EmbeddingSize != 128 {
		t.Errorf("inferred %+v (%v)", c, err)
	}
}

// fakeHub serves one repository the way the HuggingFace Hub does: a listing
// with blob ids and sizes, and files under /resolve/.
func fakeHub(t *testing.T, repo, dir string) *httptest.Server {
	t.Helper()
	const commit = "0123456789abcdef0123456789abcdef01234567"
	files := map[string][]byte{}
	var siblings []map[string]any
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		files[e.Name()] = b
		h := sha1.New()
		fmt.Fprintf(h, "blob %d\x00", len(b))
		h.Write(b)
		siblings = append(siblings, map[string]any{"rfilename": e.Name(), "size": len(b), "blobId": fmt.Sprintf("%x", h.Sum(nil))})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/models/"+repo+"/revision/main", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"sha": commit, "siblings": siblings})
	})
	mux.HandleFunc("/"+repo+"/resolve/"+commit+"/", func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[filepath.Base(r.URL.Path)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("X-Repo-Commit", commit)
		w.Write(b)
	})
	return httptest.NewServer(mux)
}

func TestOpenFromHub(t *testing.T) {
	srv := fakeHub(t, "acme/micro-bert", "testdata/micro")
	client := &hub.Client{Endpoint: srv.URL, CacheDir: t.TempDir(), HTTP: srv.Client()}
	ctx := t.Context()
	ck, err := OpenWith(ctx, "hf:acme/micro-bert", client)
	if err != nil {
		t.Fatal(err)
	}
	sameParams(t, mustModel(t, "testdata/micro"), must(ck.Model()), nil)
	if ck.Offline != nil {
		t.Errorf("online load marked offline: %v", ck.Offline)
	}
	srv.Close() // the Hub is gone: the cache serves
	ck, err = OpenWith(ctx, "hf:acme/micro-bert", client)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Offline == nil {
		t.Error("load from the cache not reported")
	}
	if _, err := OpenWith(ctx, "hf:acme/other", client); err == nil {
		t.Error("an uncached repository loaded while offline")
	}
}

func must(m *encoder.Model, err error) *encoder.Model {
	if err != nil {
		panic(err)
	}
	return m
}
