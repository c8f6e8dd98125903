package hub

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	commitMain = strings.Repeat("a1", 20)
	commitV1   = strings.Repeat("b2", 20)
)

var (
	config    = fakeFile{name: "config.json", data: []byte(`{"model_type": "bert", "hidden_size": 32}` + "\n")}
	vocab     = fakeFile{name: "vocab.txt", data: []byte("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n")}
	tokConfig = fakeFile{name: "tokenizer_config.json", data: []byte(`{"do_lower_case": true}`)}
	readme    = fakeFile{name: "README.md", data: []byte("# tiny\n")}
	weights   = fakeFile{name: "model.safetensors", data: randomBytes(1, 40<<10), lfs: true}
	ptWeights = fakeFile{name: "pytorch_model.bin", data: randomBytes(2, 20<<10), lfs: true}
	onnx      = fakeFile{name: "onnx/model.onnx", data: randomBytes(3, 3000), lfs: true}
	index     = fakeFile{name: "model.safetensors.index.json", data: []byte(`{"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}`)}
	shard1    = fakeFile{name: "model-00001-of-00002.safetensors", data: randomBytes(4, 9000), lfs: true}
	shard2    = fakeFile{name: "model-00002-of-00002.safetensors", data: randomBytes(5, 7000), lfs: true}
)

// singleRepo is a checkpoint with both weight formats and unrelated files.
var singleRepo = []fakeFile{{name: ".gitattributes", data: []byte("*.bin filter=lfs\n")}, readme, config, vocab, tokConfig, weights, ptWeights, onnx}

// addRepo adds id with files at commitMain, its main branch.
func addRepo(h *fakeHub, id string, files ...fakeFile) *fakeRepo {
	var r *fakeRepo
	h.update(func() {
		r = h.repo(id)
		r.commits[commitMain] = files
		r.refs["main"] = commitMain
	})
	return r
}

func fileNamed(t *testing.T, files []fakeFile, name string) fakeFile {
	t.Helper()
	for _, f := range files {
		if f.name == name {
			return f
		}
	}
	t.Fatalf("no fake file %s", name)
	return fakeFile{}
}

// checkSnapshot checks that snap holds exactly want, with huggingface_hub's
// layout: relative symlinks into blobs/ named by etag, no partial downloads.
func checkSnapshot(t *testing.T, c *Client, snap *Snapshot, repo, commit string, files []fakeFile, want []string) {
	t.Helper()
	repoDir := filepath.Join(c.CacheDir, "models--"+strings.ReplaceAll(repo, "/", "--"))
	if wantDir := filepath.Join(repoDir, "snapshots", commit); snap.Dir != wantDir || snap.Commit != commit {
		t.Errorf("snapshot %s at %s, want %s at %s", snap.Commit, snap.Dir, commit, wantDir)
	}
	if !slices.Equal(snap.Files, want) {
		t.Errorf("files %q, want %q", snap.Files, want)
	}
	for _, name := range want {
		f := fileNamed(t, files, name)
		path := filepath.Join(snap.Dir, filepath.FromSlash(name))
		target, err := os.Readlink(path)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		wantTarget := strings.Repeat("../", strings.Count(name, "/")+2) + "blobs/" + f.etag()
		if target != filepath.FromSlash(wantTarget) {
			t.Errorf("%s links to %s, want %s", name, target, wantTarget)
		}
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, f.data) {
			t.Errorf("%s: content differs (err %v)", name, err)
		}
	}
	partials, _ := filepath.Glob(filepath.Join(repoDir, "blobs", "*.incomplete"))
	if len(partials) > 0 {
		t.Errorf("partial downloads left: %q", partials)
	}
}

func TestDownloadFresh(t *testing.T) {
	tests := []struct {
		name  string
		files []fakeFile
		want  []string
	}{
		{"safetensors", singleRepo, []string{"config.json", "tokenizer_config.json", "vocab.txt", "model.safetensors"}},
		{"sharded", []fakeFile{config, vocab, index, shard2, shard1}, []string{"config.json", "vocab.txt", index.name, shard1.name, shard2.name}},
		{"pytorch only", []fakeFile{readme, config, vocab, ptWeights}, []string{"config.json", "vocab.txt", "pytorch_model.bin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHub(t)
			addRepo(h, "org/tiny-bert", tt.files...)
			c := h.client(t)
			snap, err := c.Download(context.Background(), Ref{Repo: "org/tiny-bert"}, ModelFiles)
			if err != nil {
				t.Fatal(err)
			}
			checkSnapshot(t, c, snap, "org/tiny-bert", commitMain, tt.files, tt.want)
			if snap.Offline != nil {
				t.Errorf("Offline = %v, want nil", snap.Offline)
			}
			ref, err := os.ReadFile(filepath.Join(c.CacheDir, "models--org--tiny-bert", "refs", "main"))
			if string(ref) != commitMain {
				t.Errorf("refs/main = %q (%v), want %s", ref, err, commitMain)
			}
			hubTransfers := 0
			for _, r := range h.transfers() {
				if r.host == "hub" {
					hubTransfers++
				}
			}
			if hubTransfers != len(tt.want) {
				t.Errorf("%d file requests, want %d", hubTransfers, len(tt.want))
			}

			// A second call only lists the revision.
			again, err := c.Download(context.Background(), Ref{Repo: "org/tiny-bert"}, ModelFiles)
			if err != nil {
				t.Fatal(err)
			}
			checkSnapshot(t, c, again, "org/tiny-bert", commitMain, tt.files, tt.want)
			if reqs := h.requests(); len(reqs) != 1 || !strings.HasPrefix(reqs[0].path, "/api/models/org/tiny-bert/revision/main") {
				t.Errorf("second call made requests %+v, want only the listing", reqs)
			}
		})
	}
}

func TestDownloadSubdirectoryAndLegacyName(t *testing.T) {
	h := newFakeHub(t)
	addRepo(h, "bert-tiny", singleRepo...)
	c := h.client(t)
	onlyONNX := func([]string) ([]string, error) { return []string{"onnx/model.onnx"}, nil }
	snap, err := c.Download(context.Background(), Ref{Repo: "bert-tiny"}, onlyONNX)
	if err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, c, snap, "bert-tiny", commitMain, singleRepo, []string{"onnx/model.onnx"})
}

func TestDownloadSharesBlobs(t *testing.T) {
	// The same content at two commits is stored once.
	h := newFakeHub(t)
	r := addRepo(h, "org/m", config, vocab, weights)
	h.update(func() {
		r.commits[commitV1] = []fakeFile{config, vocab, weights}
		r.refs["v1.0"] = commitV1
	})
	c := h.client(t)
	if _, err := c.Download(context.Background(), Ref{Repo: "org/m"}, ModelFiles); err != nil {
		t.Fatal(err)
	}
	h.requests()
	snap, err := c.Download(context.Background(), Ref{Repo: "org/m", Revision: "v1.0"}, ModelFiles)
	if err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, c, snap, "org/m", commitV1, []fakeFile{config, vocab, weights}, []string{"config.json", "vocab.txt", "model.safetensors"})
	if n := len(h.transfers()); n != 0 {
		t.Errorf("%d file requests, want 0", n)
	}
}

func TestRevisions(t *testing.T) {
	h := newFakeHub(t)
	v1Config := fakeFile{name: "config.json", data: []byte(`{"model_type": "bert", "hidden_size": 16}`)}
	prConfig := fakeFile{name: "config.json", data: []byte(`{"model_type": "bert", "hidden_size": 8}`)}
	commitPR := strings.Repeat("c3", 20)
	r := addRepo(h, "org/m", config, vocab, weights)
	h.update(func() {
		r.commits[commitV1] = []fakeFile{v1Config, vocab, weights}
		r.commits[commitPR] = []fakeFile{prConfig, vocab, weights}
		r.refs["v1.0"] = commitV1
		r.refs["refs/pr/1"] = commitPR
	})
	want := []string{"config.json", "vocab.txt", "model.safetensors"}

	tests := []struct {
		rev, commit string
		files       []fakeFile
		refFile     string // "" when no ref is recorded
	}{
		{"v1.0", commitV1, []fakeFile{v1Config, vocab, weights}, "v1.0"},
		{"refs/pr/1", commitPR, []fakeFile{prConfig, vocab, weights}, "refs/pr/1"},
		{commitV1, commitV1, []fakeFile{v1Config, vocab, weights}, ""},
		{"main", commitMain, []fakeFile{config, vocab, weights}, "main"},
	}
	for _, tt := range tests {
		t.Run(tt.rev, func(t *testing.T) {
			c := h.client(t)
			snap, err := c.Download(context.Background(), Ref{Repo: "org/m", Revision: tt.rev}, ModelFiles)
			if err != nil {
				t.Fatal(err)
			}
			checkSnapshot(t, c, snap, "org/m", tt.commit, tt.files, want)
			refs, _ := filepath.Glob(filepath.Join(c.CacheDir, "models--org--m", "refs", "*"))
			if tt.refFile == "" {
				if len(refs) != 0 {
					t.Errorf("refs %q recorded for a commit", refs)
				}
				return
			}
			got, err := os.ReadFile(filepath.Join(c.CacheDir, "models--org--m", "refs", filepath.FromSlash(tt.refFile)))
			if string(got) != tt.commit {
				t.Errorf("refs/%s = %q (%v), want %s", tt.refFile, got, err, tt.commit)
			}
		})
	}
	// The revision reached the Hub escaped as one path element.
	found := false
	for _, req := range h.requests() {
		found = found || req.path == "/api/models/org/m/revision/refs%2Fpr%2F1"
	}
	if !found {
		t.Error("no listing request for refs%2Fpr%2F1")
	}
}

func TestResumeAfterCut(t *testing.T) {
	for _, f := range []fakeFile{weights, vocab} { // from the CDN, from the Hub
		t.Run(f.name, func(t *testing.T) {
			h := newFakeHub(t)
			addRepo(h, "org/m", config, vocab, weights)
			c := h.client(t)
			h.update(func() { h.cuts = map[string]int{f.name: 1} })
			snap, err := c.Download(context.Background(), Ref{Repo: "org/m"}, func([]string) ([]string, error) {
				return []string{f.name}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			checkSnapshot(t, c, snap, "org/m", commitMain, []fakeFile{f}, []string{f.name})
			var ranges []string
			for _, r := range h.transfers() {
				if r.host == "hub" {
					ranges = append(ranges, r.rangeHeader)
				}
			}
			if want := []string{"", "bytes=" + strconv.Itoa(len(f.data)/2) + "-"}; !slices.Equal(ranges, want) {
				t.Errorf("requests with Range %q, want %q", ranges, want)
			}
		})
	}
}

func TestResumeAcrossCalls(t *testing.T) {
	h := newFakeHub(t)
	addRepo(h, "org/m", config, vocab, weights)
	c := h.client(t)
	h.update(func() { h.cuts = map[string]int{weights.name: maxAttempts} }) // every attempt of the first call is cut
	_, err := c.Download(context.Background(), Ref{Repo: "org/m"}, ModelFiles)
	if err == nil || !strings.Contains(err.Error(), "model.safetensors") || !strings.Contains(err.Error(), "unexpected EOF") {
		t.Fatalf("Download = %v, want an interrupted model.safetensors", err)
	}
	partial := filepath.Join(c.CacheDir, "models--org--m", "blobs", weights.etag()+".incomplete")
	fi, err := os.Stat(partial)
	if err != nil || fi.Size() == 0 || fi.Size() >= int64(len(weights.data)) {
		t.Fatalf("partial download: %v, %v", fi, err)
	}
	h.requests()

	snap, err := c.Download(context.Background(), Ref{Repo: "org/m"}, ModelFiles)
	if err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, c, snap, "org/m", commitMain, []fakeFile{config, vocab, weights}, []string{"config.json", "vocab.txt", "model.safetensors"})
	var ranges []string
	for _, r := range h.transfers() {
		ranges = append(ranges, r.rangeHeader)
	}
	// The hub request redirects to the CDN; both carry the Range header.
	if want := "bytes=" + strconv.FormatInt(fi.Size(), 10) + "-"; !slices.Equal(ranges, []string{want, want}) {
		t.Errorf("second call sent Range %q, want %q twice", ranges, want)
	}
}

func TestServerWithoutRanges(t *testing.T) {
	tests := []struct {
		name  string
		fault func(h *fakeHub)
	}{
		{"ignores Range", func(h *fakeHub) { h.ignoreRange = true }},
		{"answers 416", func(h *fakeHub) { h.refuseRange = 1 }},
		{"answers 206 from 0", func(h *fakeHub) { h.rangeAtZero = true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHub(t)
			addRepo(h, "org/m", config, vocab, weights)
			c := h.client(t)
			h.update(func() { h.cuts = map[string]int{weights.name: 1}; tt.fault(h) })
			snap, err := c.Download(context.Background(), Ref{Repo: "org/m"}, ModelFiles)
			if err != nil {
				t.Fatal(err)
			}
			checkSnapshot(t, c, snap, "org/m", commitMain, []fakeFile{config, vocab, weights}, []string{"config.json", "vocab.txt", "model.safetensors"})
		})
	}
}

func TestLeftoverPartials(t *testing.T) {
	tests := []struct {
		name    string
		partial []byte
		ranges  []string // the Range headers of the requests made
	}{
		{"valid prefix", weights.data[:1000], []string{"bytes=1000-"}},
		{"complete", weights.data, nil},
		{"too long", append(slices.Clone(weights.data), 0), []string{""}},
		{"wrong prefix", make([]byte, 1000), []string{"bytes=1000-", ""}}, // the hash catches it
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHub(t)
			addRepo(h, "org/m", config, weights)
			c := h.client(t)
			blobs := filepath.Join(c.CacheDir, "models--org--m", "blobs")
			os.MkdirAll(blobs, 0o755)
			if err := os.WriteFile(filepath.Join(blobs, weights.etag()+".incomplete"), tt.partial, 0o644); err != nil {
				t.Fatal(err)
			}
			only := func([]string) ([]string, error) { return []string{"model.safetensors"}, nil }
			snap, err := c.Download(context.Background(), Ref{Repo: "org/m"}, only)
			if err != nil {
				t.Fatal(err)
			}
			checkSnapshot(t, c, snap, "org/m", commitMain, []fakeFile{weights}, []string{"model.safetensors"})
			var ranges []string
			for _, r := range h.transfers() {
				if r.host == "hub" {
					ranges = append(ranges, r.rangeHeader)
				}
			}
			if !slices.Equal(ranges, tt.ranges) {
				t.Errorf("requests with Range %q, want %q", ranges, tt.ranges)
			}
		})
	}
}

func TestVerification(t *testing.T) {
	flip := func(b []byte) []byte {
		b = slices.Clone(b)
		b[len(b)/2] ^= 1
		return b
	}
	tests := []struct {
		name, file string
		served     []byte
		want       string
		expected   string
	}{
		{"LFS hash", weights.name, flip(weights.data), "sha256 mismatch", weights.etag()},
		{"git hash", config.name, flip(config.data), "git blob sha1 mismatch", config.etag()},
		{"LFS too long", weights.name, append(slices.Clone(weights.data), 1), "size mismatch", "40960"},
		{"git too short", vocab.name, vocab.data[1:], "size mismatch", strconv.Itoa(len(vocab.data))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHub(t)
			addRepo(h, "org/m", config, vocab, weights)
			h.update(func() { h.serveAs = map[string][]byte{tt.file: tt.served} })
			c := h.client(t)
			_, err := c.Download(context.Background(), Ref{Repo: "org/m"}, ModelFiles)
			if err == nil {
				t.Fatal("Download succeeded")
			}
			for _, s := range []string{"org/m", tt.file, tt.want, "expected " + tt.expected} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			f := fileNamed(t, []fakeFile{config, vocab, weights}, tt.file)
			blob := filepath.Join(c.CacheDir, "models--org--m", "blobs", f.etag())
			for _, p := range []string{blob, blob + ".incomplete", filepath.Join(c.CacheDir, "models--org--m", "snapshots", commitMain, tt.file)} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("%s was kept", p)
				}
			}
		})
	}
}

// TestFailedDownloadLeavesNoEmptyPartial guards against the 0-byte
// .incomplete files that a download failing before its first byte (a 404,
// a 500, a redirect loop) used to leave in the cache. A partial download
// with bytes stays, for the next call to resume.
func TestFailedDownloadLeavesNoEmptyPartial(t *testing.T) {
	defer func(d time.Duration) { retryDelay = d }(retryDelay)
	retryDelay = time.Millisecond
	for _, tt := range []struct {
		name   string
		status int
		want   string
	}{
		{"404", http.StatusNotFound, "404 Not Found"},
		{"500", http.StatusInternalServerError, "500 Internal Server Error"},
		{"redirect loop", http.StatusFound, "stopped after 10 redirects"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHub(t)
			addRepo(h, "org/m", config, vocab, weights)
			c := h.client(t)
			h.update(func() { h.failWith = map[string]int{weights.name: tt.status} })
			_, err := c.Download(context.Background(), Ref{Repo: "org/m"}, ModelFiles)
			if err == nil || !strings.Contains(err.Error(), weights.name) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Download = %v, want a failed %s saying %q", err, weights.name, tt.want)
			}
			partials, _ := filepath.Glob(filepath.Join(c.CacheDir, "models--org--m", "blobs", "*.incomplete"))
			if len(partials) > 0 {
				t.Errorf("empty partial downloads left: %q", partials)
			}
		})
	}
	t.Run("partial with bytes is kept", func(t *testing.T) {
		h := newFakeHub(t)
		addRepo(h, "org/m", config, vocab, weights)
		c := h.client(t)
		h.update(func() { h.cuts = map[string]int{weights.name: 1} })
		// The first transfer is cut half way, the retries fail before any byte.
		var once sync.Once
		c.Progress = func(name string, done, total int64) {
			if name == weights.name && done > 0 {
				once.Do(func() { h.update(func() { h.failWith = map[string]int{weights.name: http.StatusInternalServerError} }) })
			}
		}
		if _, err := c.Download(context.Background(), Ref{Repo: "org/m"}, ModelFiles); err == nil {
			t.Fatal("Download succeeded")
		}
		fi, err := os.Stat(filepath.Join(c.CacheDir, "models--org--m", "blobs", weights.etag()+".incomplete"))
		if err != nil || fi.Size() == 0 {
			t.Errorf("partial download with bytes: %v, %v; want it kept", fi, err)
		}
	})
}

func TestOffline(t *testing.T) {
	h := newFakeHub(t)
	r := addRepo(h, "org/m", singleRepo...)
	h.update(func() { r.refs["v1.0"] = commitMain })
	online := h.client(t)
	for _, rev := range []string{"main", "v1.0"} {
		if _, err := online.Download(context.Background(), Ref{Repo: "org/m", Revision: rev}, ModelFiles); err != nil {
			t.Fatal(err)
		}
	}
	h.requests()
	offline := *online
	offline.Offline = true
	want := []string{"config.json", "tokenizer_config.json", "vocab.txt", "model.safetensors"}

	for _, rev := range []string{"main", "v1.0", commitMain} {
		snap, err := offline.Download(context.Background(), Ref{Repo: "org/m", Revision: rev}, ModelFiles)
		if err != nil {
			t.Fatalf("%s: %v", rev, err)
		}
		checkSnapshot(t, &offline, snap, "org/m", commitMain, singleRepo, want)
		if snap.Offline != ErrOffline {
			t.Errorf("%s: Offline = %v, want ErrOffline", rev, snap.Offline)
		}
	}
	// The cached subset decides: pytorch_model.bin was never downloaded.
	snap, err := offline.Download(context.Background(), Ref{Repo: "org/m"}, func(files []string) ([]string, error) {
		if slices.Contains(files, "pytorch_model.bin") {
			t.Errorf("offline listing %q has an uncached file", files)
		}
		return files, nil
	})
	if err != nil || len(snap.Files) != len(want) {
		t.Errorf("offline listing: %v, %v", snap, err)
	}
	if reqs := h.requests(); len(reqs) != 0 {
		t.Errorf("offline mode made requests %+v", reqs)
	}

	// Cold or incomplete caches are clear errors.
	cold := h.client(t)
	cold.Offline = true
	errTests := []struct {
		c    *Client
		rev  string
		sel  Selector
		want string
	}{
		{cold, "main", ModelFiles, "no cached revision main"},
		{cold, commitMain, ModelFiles, "no snapshot"},
		{&offline, "v2.0", ModelFiles, "no cached revision v2.0"},
		{&offline, "main", func([]string) ([]string, error) { return ModelFiles([]string{"config.json"}) }, "incomplete: no weights"},
	}
	for _, tt := range errTests {
		_, err := tt.c.Download(context.Background(), Ref{Repo: "org/m", Revision: tt.rev}, tt.sel)
		if !errors.Is(err, ErrNotCached) || !errors.Is(err, ErrOffline) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "HF_HUB_OFFLINE") {
			t.Errorf("%s: err = %v, want ErrNotCached and ErrOffline saying %q", tt.rev, err, tt.want)
		}
	}
}

func TestOfflineIncompleteSnapshot(t *testing.T) {
	// A snapshot with only the config (downloaded by another selection) does
	// not satisfy ModelFiles offline, and a dangling link does not count.
	h := newFakeHub(t)
	addRepo(h, "org/m", config, vocab, weights)
	c := h.client(t)
	all := func(files []string) ([]string, error) { return files, nil }
	if _, err := c.Download(context.Background(), Ref{Repo: "org/m"}, all); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(c.CacheDir, "models--org--m", "blobs", weights.etag())); err != nil {
		t.Fatal(err)
	}
	c.Offline = true
	_, err := c.Download(context.Background(), Ref{Repo: "org/m"}, ModelFiles)
	if !errors.Is(err, ErrNotCached) || !strings.Contains(err.Error(), "no weights") {
		t.Errorf("err = %v, want ErrNotCached for missing weights", err)
	}
}

func TestUnreachableHub(t *testing.T) {
	tests := []struct {
		name     string
		breakHub func(h *fakeHub, c *Client)
		want     string
	}{
		{"connection refused", func(h *fakeHub, c *Client) { h.hub.Close() }, "connection refused"},
		{"DNS", func(h *fakeHub, c *Client) { c.Endpoint = "http://unknown.test" }, "no such host"},
		{"timeout", func(h *fakeHub, c *Client) {
			h.update(func() { h.stall = true })
			c.HTTP.Timeout = 100 * time.Millisecond
		}, "Timeout"},
		{"503", func(h *fakeHub, c *Client) { h.update(func() { h.apiStatus = http.StatusServiceUnavailable }) }, "503 Service Unavailable: Service Unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newFakeHub(t)
			addRepo(h, "org/m", config, vocab, weights)
			c := h.client(t)
			if _, err := c.Download(context.Background(), Ref{Repo: "org/m"}, ModelFiles); err != nil {
				t.Fatal(err)
			}
			cold := h.client(t)
			tt.breakHub(h, c)
			tt.breakHub(h, cold)

			snap, err := c.Download(context.Background(), Ref{Repo: "org/m"}, ModelFiles)
			if err != nil {
				t.Fatal(err)
			}
			checkSnapshot(t, c, snap, "org/m", commitMain, []fakeFile{config, vocab, weights}, []string{"config.json", "vocab.txt", "model.safetensors"})
			if snap.Offline == nil || !strings.Contains(snap.Offline.Error(), tt.want) {
				t.Errorf("Offline = %v, want an error saying %q", snap.Offline, tt.want)
			}

			_, err = cold.Download(context.Background(), Ref{Repo: "org/m"}, ModelFiles)
			if !errors.Is(err, ErrNotCached) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("cold cache: err = %v, want ErrNotCached saying %q", err, tt.want)
			}
		})
	}
}

func TestHubErrors(t *testing.T) {
	h := newFakeHub(t)
	addRepo(h, "org/m", config, vocab, weights)
	gated := addRepo(h, "org/gated", config, vocab, weights)
	h.update(func() { gated.gated = true })
	addRepo(h, "org/noweights", config, vocab)
	tests := []struct {
		repo, rev, token string
		want             error
		text             string
	}{
		{"org/missing", "main", "", ErrRepoNotFound, "401 Unauthorized: Repository not found"},
		{"org/gated", "main", "", ErrGated, "401 Unauthorized: Access to model org/gated is restricted"},
		{"org/gated", "main", "hf_wrong", ErrGated, "org/gated"},
		{"org/m", "v9", "", ErrRevisionNotFound, "404 Not Found: Invalid rev id: v9"},
		{"org/noweights", "main", "", nil, "no weights"},
	}
	for _, tt := range tests {
		c := h.client(t)
		c.Token = tt.token
		_, err := c.Download(context.Background(), Ref{Repo: tt.repo, Revision: tt.rev}, ModelFiles)
		if err == nil || tt.want != nil && !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
			t.Errorf("%s@%s: err = %v, want %v saying %q", tt.repo, tt.rev, err, tt.want, tt.text)
		}
	}
}

func TestHubErrorsDoNotFallBack(t *testing.T) {
	// A repository that disappeared or became gated is an error even though
	// the cache still has its main branch.
	h := newFakeHub(t)
	r := addRepo(h, "org/m", config, vocab, weights)
	c := h.client(t)
	if _, err := c.Download(context.Background(), Ref{Repo: "org/m"}, ModelFiles); err != nil {
		t.Fatal(err)
	}
	h.update(func() { r.gated = true })
	if _, err := c.Download(context.Background(), Ref{Repo: "org/m"}, ModelFiles); !errors.Is(err, ErrGated) {
		t.Errorf("gated: err = %v, want ErrGated", err)
	}
	h.update(func() { delete(h.repos, "org/m") })
	if _, err := c.Download(context.Background(), Ref{Repo: "org/m"}, ModelFiles); !errors.Is(err, ErrRepoNotFound) {
		t.Errorf("deleted: err = %v, want ErrRepoNotFound", err)
	}
}

func TestTokenStaysOnHub(t *testing.T) {
	h := newFakeHub(t)
	gated := addRepo(h, "org/gated", config, vocab, weights)
	h.update(func() { gated.gated = true })
	c := h.client(t)
	c.Token = h.token
	snap, err := c.Download(context.Background(), Ref{Repo: "org/gated"}, ModelFiles)
	if err != nil {
		t.Fatal(err)
	}
	checkSnapshot(t, c, snap, "org/gated", commitMain, []fakeFile{config, vocab, weights}, []string{"config.json", "vocab.txt", "model.safetensors"})
	cdn := 0
	for _, r := range h.requests() {
		switch {
		case r.host == "hub" && r.auth != "Bearer "+h.token:
			t.Errorf("hub request %s carried %q", r.path, r.auth)
		case r.host == "cdn":
			cdn++
			if r.auth != "" {
				t.Errorf("CDN request %s carried %q", r.path, r.auth)
			}
		}
	}
	if cdn != 1 {
		t.Errorf("%d CDN requests, want 1", cdn)
	}
}

func TestConcurrentDownloads(t *testing.T) {
	h := newFakeHub(t)
	files := []fakeFile{config, vocab, weights}
	addRepo(h, "org/m", files...)
	c := h.client(t)
	var wg sync.WaitGroup
	snaps := make([]*Snapshot, 4)
	errs := make([]error, len(snaps))
	for i := range snaps {
		wg.Go(func() {
			// Each goroutine has its own Client, as separate processes would.
			cc := *c
			snaps[i], errs[i] = cc.Download(context.Background(), Ref{Repo: "org/m"}, ModelFiles)
		})
	}
	wg.Wait()
	for i := range snaps {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		checkSnapshot(t, c, snaps[i], "org/m", commitMain, files, []string{"config.json", "vocab.txt", "model.safetensors"})
	}
	// The lock makes every blob download exactly once.
	count := map[string]int{}
	for _, r := range h.transfers() {
		if r.host == "hub" {
			count[r.path]++
		}
	}
	for _, f := range files {
		if n := count["/org/m/resolve/"+commitMain+"/"+f.name]; n != 1 {
			t.Errorf("%s downloaded %d times", f.name, n)
		}
	}
}

func TestProgress(t *testing.T) {
	h := newFakeHub(t)
	addRepo(h, "org/m", config, vocab, weights)
	c := h.client(t)
	h.update(func() { h.cuts = map[string]int{weights.name: 1} })
	last := map[string][2]int64{}
	c.Progress = func(file string, done, total int64) {
		if prev := last[file]; done < prev[0] && done != 0 {
			t.Errorf("%s: progress went back from %d to %d", file, prev[0], done)
		}
		last[file] = [2]int64{done, total}
	}
	if _, err := c.Download(context.Background(), Ref{Repo: "org/m"}, ModelFiles); err != nil {
		t.Fatal(err)
	}
	for _, f := range []fakeFile{config, vocab, weights} {
		if n := int64(len(f.data)); last[f.name] != [2]int64{n, n} {
			t.Errorf("%s: last progress %v, want %d of %d", f.name, last[f.name], n, n)
		}
	}
}

func TestBadListing(t *testing.T) {
	h := newFakeHub(t)
	addRepo(h, "org/m", config, fakeFile{name: "../../../escape", data: []byte("x")})
	c := h.client(t)
	all := func(files []string) ([]string, error) { return files, nil }
	_, err := c.Download(context.Background(), Ref{Repo: "org/m"}, all)
	if err == nil || !strings.Contains(err.Error(), `bad file name "../../../escape"`) {
		t.Errorf("err = %v, want a bad file name", err)
	}
	invented := func([]string) ([]string, error) { return []string{"nope.bin"}, nil }
	if _, err := c.Download(context.Background(), Ref{Repo: "org/m"}, invented); err == nil || !strings.Contains(err.Error(), "nope.bin is not in the repository") {
		t.Errorf("err = %v, want nope.bin not in the repository", err)
	}
}

func TestDownloadChecksRef(t *testing.T) {
	c := &Client{CacheDir: t.TempDir(), Offline: true}
	for _, ref := range []Ref{{Repo: "../etc"}, {Repo: "org/m", Revision: "../../x"}, {Repo: ""}} {
		if _, err := c.Download(context.Background(), ref, ModelFiles); err == nil {
			t.Errorf("%+v: no error", ref)
		}
	}
	if _, err := (&Client{}).Download(context.Background(), Ref{Repo: "org/m"}, ModelFiles); err == nil || !strings.Contains(err.Error(), "no cache directory") {
		t.Errorf("no cache directory: err = %v", err)
	}
}

func TestNewClient(t *testing.T) {
	home := t.TempDir()
	for _, k := range []string{"HF_ENDPOINT", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "XDG_CACHE_HOME", "HF_HOME"} {
		t.Setenv(k, "")
	}
	t.Setenv("HOME", home)

	c := NewClient()
	if want := filepath.Join(home, ".cache", "huggingface", "hub"); c.Endpoint != "https://huggingface.co" || c.CacheDir != want || c.Token != "" || c.Offline {
		t.Errorf("defaults: %+v, want cache %s", c, want)
	}

	t.Setenv("HF_HOME", "~/hf")
	os.MkdirAll(filepath.Join(home, "hf"), 0o755)
	os.WriteFile(filepath.Join(home, "hf", "token"), []byte("hf_fromfile\n"), 0o600)
	t.Setenv("HF_ENDPOINT", "https://mirror.example/")
	t.Setenv("HF_HUB_OFFLINE", "yes")
	c = NewClient()
	if c.CacheDir != filepath.Join(home, "hf", "hub") || c.Token != "hf_fromfile" || c.Endpoint != "https://mirror.example" || !c.Offline {
		t.Errorf("HF_HOME: %+v", c)
	}

	t.Setenv("HF_HUB_CACHE", "/tmp/hubcache")
	t.Setenv("HF_TOKEN", " hf_env ")
	t.Setenv("HF_HUB_OFFLINE", "0")
	c = NewClient()
	if c.CacheDir != "/tmp/hubcache" || c.Token != "hf_env" || c.Offline {
		t.Errorf("HF_HUB_CACHE, HF_TOKEN: %+v", c)
	}
}

func TestOfflineReadsHandMadeCache(t *testing.T) {
	// A cache laid out by huggingface_hub, by hand: relative symlinks, refs
	// without a newline, and a plain file where symlinks were unavailable.
	cache := t.TempDir()
	repoDir := filepath.Join(cache, "models--org--m")
	snapDir := filepath.Join(repoDir, "snapshots", commitMain)
	for _, f := range []fakeFile{config, weights} {
		os.MkdirAll(filepath.Join(repoDir, "blobs"), 0o755)
		os.MkdirAll(snapDir, 0o755)
		if err := os.WriteFile(filepath.Join(repoDir, "blobs", f.etag()), f.data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..", "..", "blobs", f.etag()), filepath.Join(snapDir, f.name)); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(snapDir, "vocab.txt"), vocab.data, 0o644)
	os.MkdirAll(filepath.Join(repoDir, "refs"), 0o755)
	os.WriteFile(filepath.Join(repoDir, "refs", "main"), []byte(commitMain), 0o644)

	c := &Client{CacheDir: cache, Offline: true}
	snap, err := c.Download(context.Background(), Ref{Repo: "org/m"}, ModelFiles)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"config.json", "vocab.txt", "model.safetensors"}; snap.Dir != snapDir || !slices.Equal(snap.Files, want) {
		t.Errorf("snapshot %s with %q, want %s with %q", snap.Dir, snap.Files, snapDir, want)
	}
}
