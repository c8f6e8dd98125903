package hub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The fake Hub is reached as http://hf.test and redirects LFS downloads to
// http://cdn-lfs.hf.test, a subdomain, as huggingface.co does to its CDN:
// Go's default redirect policy would forward the token there.
const (
	fakeEndpoint = "http://hf.test"
	fakeCDN      = "http://cdn-lfs.hf.test"
)

// fakeHub imitates the HuggingFace Hub endpoints that Download uses, with
// the Hub's status codes and X-Error-Code headers, and can inject faults.
type fakeHub struct {
	hub, cdn *httptest.Server
	token    string // the token gated repositories accept

	mu    sync.Mutex
	repos map[string]*fakeRepo
	reqs  []fakeRequest

	// Faults, consumed or applied by the next file transfers.
	cuts        map[string]int    // file → transfers to cut after sending half the body
	ignoreRange bool              // answer Range requests with the whole file
	refuseRange int               // Range requests to answer with 416
	rangeAtZero bool              // answer Range requests with 206 and the whole file
	apiStatus   int               // status for listing requests, if not 0
	stall       bool              // never answer listing requests
	serveAs     map[string][]byte // bytes served instead of a file's content
	failWith    map[string]int    // status to answer a file's transfers with; 302 redirects to itself
}

type fakeRepo struct {
	gated   bool
	refs    map[string]string     // branch or tag → commit
	commits map[string][]fakeFile // commit → files
}

type fakeFile struct {
	name string
	data []byte
	lfs  bool
}

func (f fakeFile) etag() string {
	if f.lfs {
		sum := sha256.Sum256(f.data)
		return hex.EncodeToString(sum[:])
	}
	return gitBlobSHA1(f.data)
}

func gitBlobSHA1(data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// fakeRequest records a request the fake Hub or CDN received.
type fakeRequest struct {
	host, path, rangeHeader, auth string
}

func newFakeHub(t *testing.T) *fakeHub {
	h := &fakeHub{token: "hf_secret", repos: map[string]*fakeRepo{}}
	h.hub = httptest.NewServer(http.HandlerFunc(h.serveHub))
	h.cdn = httptest.NewServer(http.HandlerFunc(h.serveCDN))
	t.Cleanup(func() {
		h.hub.Close()
		h.cdn.Close()
	})
	return h
}

// update runs f, which may change the repositories or the faults, under
// the lock the handlers take.
func (h *fakeHub) update(f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f()
}

// repo adds or returns the repository id; call it under update.
func (h *fakeHub) repo(id string) *fakeRepo {
	r := h.repos[id]
	if r == nil {
		r = &fakeRepo{refs: map[string]string{}, commits: map[string][]fakeFile{}}
		h.repos[id] = r
	}
	return r
}

// client returns a Client for the fake Hub with its own empty cache.
func (h *fakeHub) client(t *testing.T) *Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var target string
		switch addr {
		case "hf.test:80":
			target = h.hub.Listener.Addr().String()
		case "cdn-lfs.hf.test:80":
			target = h.cdn.Listener.Addr().String()
		default:
			host, _, _ := net.SplitHostPort(addr)
			return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
		}
		var d net.Dialer
		return d.DialContext(ctx, network, target)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &Client{Endpoint: fakeEndpoint, CacheDir: t.TempDir(), HTTP: &http.Client{Transport: tr}}
}

func (h *fakeHub) record(r *http.Request, host string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reqs = append(h.reqs, fakeRequest{host: host, path: r.URL.EscapedPath(), rangeHeader: r.Header.Get("Range"), auth: r.Header.Get("Authorization")})
}

// requests returns the requests received so far and forgets them.
func (h *fakeHub) requests() []fakeRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	reqs := h.reqs
	h.reqs = nil
	return reqs
}

// transfers returns the requests for file contents received so far.
func (h *fakeHub) transfers() []fakeRequest {
	var out []fakeRequest
	for _, r := range h.requests() {
		if !strings.HasPrefix(r.path, "/api/") {
			out = append(out, r)
		}
	}
	return out
}

func hubError(w http.ResponseWriter, status int, code, msg string) {
	if code != "" {
		w.Header().Set("X-Error-Code", code)
		w.Header().Set("X-Error-Message", msg)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// lookup finds the repository and the commit a revision names, writing the
// Hub's error answer when there is none.
func (h *fakeHub) lookup(w http.ResponseWriter, r *http.Request, id, rev string) (string, []fakeFile, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	repo := h.repos[id]
	if repo == nil {
		// The Hub answers 401 rather than 404 so as not to reveal private repositories.
		hubError(w, http.StatusUnauthorized, "RepoNotFound", "Repository not found")
		return "", nil, false
	}
	if repo.gated && r.Header.Get("Authorization") != "Bearer "+h.token {
		hubError(w, http.StatusUnauthorized, "GatedRepo", "Access to model "+id+" is restricted. You must have access to it and be authenticated to access it. Please log in.")
		return "", nil, false
	}
	commit := rev
	if c, ok := repo.refs[rev]; ok {
		commit = c
	}
	files, ok := repo.commits[commit]
	if !ok {
		hubError(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
		return "", nil, false
	}
	return commit, files, true
}

func (h *fakeHub) serveHub(w http.ResponseWriter, r *http.Request) {
	h.record(r, "hub")
	path := r.URL.EscapedPath()
	if rest, ok := strings.CutPrefix(path, "/api/models/"); ok {
		h.serveListing(w, r, rest)
		return
	}
	id, rest, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/resolve/")
	revEsc, nameEsc, ok2 := strings.Cut(rest, "/")
	rev, err1 := url.PathUnescape(revEsc)
	name, err2 := url.PathUnescape(nameEsc)
	if !ok || !ok2 || err1 != nil || err2 != nil {
		http.NotFound(w, r)
		return
	}
	h.mu.Lock()
	status := h.failWith[name]
	h.mu.Unlock()
	switch status {
	case 0:
	case http.StatusFound:
		http.Redirect(w, r, r.URL.String(), http.StatusFound)
		return
	default:
		hubError(w, status, "", http.StatusText(status))
		return
	}
	commit, files, ok := h.lookup(w, r, id, rev)
	if !ok {
		return
	}
	for _, f := range files {
		if f.name != name {
			continue
		}
		w.Header().Set("X-Repo-Commit", commit)
		if f.lfs {
			w.Header().Set("X-Linked-Etag", strconv.Quote(f.etag()))
			w.Header().Set("X-Linked-Size", strconv.Itoa(len(f.data)))
			http.Redirect(w, r, fakeCDN+"/repos/"+f.etag()+"?response-content-disposition=attachment", http.StatusFound)
			return
		}
		w.Header().Set("ETag", strconv.Quote(f.etag()))
		h.serveFile(w, r, f)
		return
	}
	hubError(w, http.StatusNotFound, "EntryNotFound", name+" does not exist on \""+rev+"\"")
}

func (h *fakeHub) serveListing(w http.ResponseWriter, r *http.Request, rest string) {
	h.mu.Lock()
	status, stall := h.apiStatus, h.stall
	h.mu.Unlock()
	if stall {
		<-r.Context().Done()
		return
	}
	if status != 0 {
		hubError(w, status, "", http.StatusText(status))
		return
	}
	i := strings.LastIndex(rest, "/revision/")
	if i < 0 {
		http.NotFound(w, r)
		return
	}
	rev, err := url.PathUnescape(rest[i+len("/revision/"):])
	if err != nil {
		http.NotFound(w, r)
		return
	}
	id := rest[:i]
	commit, files, ok := h.lookup(w, r, id, rev)
	if !ok {
		return
	}
	blobs := r.URL.Query().Get("blobs") == "true"
	siblings := []map[string]any{}
	for _, f := range files {
		s := map[string]any{"rfilename": f.name}
		if blobs {
			s["size"] = len(f.data)
			if f.lfs {
				s["blobId"] = gitBlobSHA1([]byte("version https://git-lfs.github.com/spec/v1\n")) // the pointer's
				s["lfs"] = map[string]any{"sha256": f.etag(), "size": len(f.data), "pointerSize": 134}
			} else {
				s["blobId"] = f.etag()
			}
		}
		siblings = append(siblings, s)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"_id": "65f0", "id": id, "modelId": id, "private": false, "sha": commit,
		"lastModified": "2024-03-01T00:00:00.000Z", "tags": []string{"bert"}, "siblings": siblings,
	})
}

func (h *fakeHub) serveCDN(w http.ResponseWriter, r *http.Request) {
	h.record(r, "cdn")
	sha := strings.TrimPrefix(r.URL.Path, "/repos/")
	h.mu.Lock()
	var file *fakeFile
	for _, repo := range h.repos {
		for _, files := range repo.commits {
			for i := range files {
				if files[i].lfs && files[i].etag() == sha {
					file = &files[i]
				}
			}
		}
	}
	h.mu.Unlock()
	if file == nil {
		http.NotFound(w, r)
		return
	}
	h.serveFile(w, r, *file)
}

// serveFile sends f's content, honouring "Range: bytes=N-" unless told not
// to, and applies the injected faults.
func (h *fakeHub) serveFile(w http.ResponseWriter, r *http.Request, f fakeFile) {
	h.mu.Lock()
	data := f.data
	if b, ok := h.serveAs[f.name]; ok {
		data = b
	}
	cut := h.cuts[f.name] > 0
	if cut {
		h.cuts[f.name]--
	}
	rg := r.Header.Get("Range")
	ignoreRange, rangeAtZero := h.ignoreRange, h.rangeAtZero
	refuse := rg != "" && h.refuseRange > 0
	if refuse {
		h.refuseRange--
	}
	h.mu.Unlock()

	status, start := http.StatusOK, 0
	if rg != "" && !ignoreRange {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
		if err != nil || refuse || n >= len(data) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(data)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		if rangeAtZero {
			n = 0
		}
		status, start = http.StatusPartialContent, n
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(data)-1, len(data)))
	}
	body := data[start:]
	w.Header().Set("Accept-Ranges", "bytes")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if cut {
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drop the connection mid-body
	}
	w.Write(body)
}

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}
