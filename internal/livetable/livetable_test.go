package livetable

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
)

// val is the value type of the test tables.
type val struct {
	N int      `json:"n"`
	L []string `json:"l,omitempty"`
}

// memStorage is a certmagic.Storage in memory; fail makes writes fail.
type memStorage struct {
	mu   sync.Mutex
	m    map[string][]byte
	fail atomic.Bool
}

func newMem() *memStorage { return &memStorage{m: make(map[string][]byte)} }

func (s *memStorage) Lock(context.Context, string) error   { return nil }
func (s *memStorage) Unlock(context.Context, string) error { return nil }

func (s *memStorage) Store(_ context.Context, key string, value []byte) error {
	if s.fail.Load() {
		return errors.New("read-only file system")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = slices.Clone(value)
	return nil
}

func (s *memStorage) Load(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return v, nil
}

func (s *memStorage) Delete(_ context.Context, key string) error {
	if s.fail.Load() {
		return errors.New("read-only file system")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

func (s *memStorage) Exists(_ context.Context, key string) bool {
	_, err := s.Load(context.Background(), key)
	return err == nil
}

func (s *memStorage) List(_ context.Context, prefix string, _ bool) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.m {
		if strings.HasPrefix(k, prefix+"/") {
			out = append(out, k)
		}
	}
	if out == nil {
		return nil, fs.ErrNotExist
	}
	return out, nil
}

func (s *memStorage) Stat(_ context.Context, key string) (certmagic.KeyInfo, error) {
	return certmagic.KeyInfo{Key: key}, nil
}

func (s *memStorage) keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// record returns the newest valid record of an entry.
func (s *memStorage) record(t *testing.T, name string) record {
	t.Helper()
	var best record
	for _, suffix := range slotSuffixes {
		data, err := s.Load(context.Background(), "resty/live/t/"+name+suffix)
		if err != nil {
			continue
		}
		r, err := decodeRecord(data)
		if err != nil {
			t.Fatalf("record %s%s: %v", name, suffix, err)
		}
		if r.Version > best.Version {
			best = r
		}
	}
	if best.Name == "" {
		t.Fatalf("no record of %s", name)
	}
	return best
}

// put stores a record in a slot, as Change would.
func (s *memStorage) put(t *testing.T, key string, r record) {
	t.Helper()
	data, err := encodeRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	s.Store(context.Background(), key, data)
}

// consumer plays a config's state: the live values Apply gave it.
type consumer struct {
	mu   sync.Mutex
	vals map[string]*val
	meta map[string]Meta
	n    int // Apply calls after Open
}

func (c *consumer) apply(e Entry[val]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !e.Initial {
		c.n++
	}
	if e.Value == nil {
		delete(c.vals, e.Name)
	} else {
		c.vals[e.Name] = e.Value
	}
	c.meta[e.Name] = e.Meta
}

func (c *consumer) get(name string) (*val, Meta) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.vals[name], c.meta[name]
}

var testKeys atomic.Int64

// open opens a view of a config on the table key (new key if "").
func open(t *testing.T, key string, store certmagic.Storage, config map[string]*val) (*View[val], *consumer) {
	t.Helper()
	if key == "" {
		key = fmt.Sprintf("test-%d", testKeys.Add(1))
	}
	c := &consumer{vals: make(map[string]*val), meta: make(map[string]Meta)}
	v, err := Open(Options[val]{Name: "t", Key: key, Storage: store, Config: config, Apply: c.apply,
		Validate: func(name string, v *val) error {
			if v.N < 0 {
				return errors.New("negative")
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v, c
}

func set(n int) func(*val) (*val, error) {
	return func(*val) (*val, error) { return &val{N: n}, nil }
}

func del(*val) (*val, error) { return nil, nil }

func TestChangePersistsAndApplies(t *testing.T) {
	store := newMem()
	v, c := open(t, "", store, map[string]*val{"a": {N: 1}, "b": {N: 2}})
	v.Start()
	if got, m := c.get("a"); got.N != 1 || m.Version != 0 || m.Modified {
		t.Fatalf("initial a: %+v %+v", got, m)
	}
	res, err := v.Table().Change("a", ChangeOptions{}, set(10))
	if err != nil || !res.Changed || res.Meta.Version != 1 || !res.Meta.Modified {
		t.Fatalf("change: %+v %v", res, err)
	}
	if got, m := c.get("a"); got.N != 10 || m.Version != 1 {
		t.Errorf("applied a: %+v %+v", got, m)
	}
	r := store.record(t, "a")
	if r.Version != 1 || r.Base != hashOf(&val{N: 1}) || r.Hash != hashOf(&val{N: 10}) || string(r.Value) != `{"n":10}` {
		t.Errorf("record %+v", r)
	}

	// The same value again: nothing written, same version.
	if res, err := v.Table().Change("a", ChangeOptions{}, set(10)); err != nil || res.Changed || res.Meta.Version != 1 {
		t.Errorf("no-op change: %+v %v", res, err)
	}
	// Back to the config's value: version 2, not modified.
	if res, _ := v.Table().Change("a", ChangeOptions{}, set(1)); res.Meta.Version != 2 || res.Meta.Modified {
		t.Errorf("back to the config's value: %+v", res)
	}
	// fn's error changes nothing.
	boom := errors.New("bad value")
	if _, err := v.Table().Change("a", ChangeOptions{}, func(*val) (*val, error) { return nil, boom }); err != boom {
		t.Errorf("fn error: %v", err)
	}
	// Create, delete.
	if res, err := v.Table().Change("new", ChangeOptions{}, set(5)); err != nil || res.Meta.Version != 1 {
		t.Errorf("create: %+v %v", res, err)
	}
	if res, err := v.Table().Change("b", ChangeOptions{}, del); err != nil || res.Meta.Version != 1 || !res.Meta.Modified {
		t.Errorf("delete: %+v %v", res, err)
	}
	if got, _ := c.get("b"); got != nil {
		t.Errorf("b still there: %+v", got)
	}
	if m, ok := v.Table().Lookup("b"); ok || !m.Modified || m.Version != 1 {
		t.Errorf("Lookup(b) = %+v %v", m, ok)
	}
	vals := v.Table().Values()
	if len(vals) != 2 || vals["a"].N != 1 || vals["new"].N != 5 {
		t.Errorf("Values: %v", vals)
	}
}

func TestRestartAppliesStoredState(t *testing.T) {
	store := newMem()
	config := map[string]*val{"a": {N: 1}, "b": {N: 2}, "c": {N: 3}}
	key := fmt.Sprintf("restart-%d", testKeys.Add(1))
	v, _ := open(t, key, store, config)
	v.Start()
	tb := v.Table()
	mustChange(t, tb, "a", set(10))
	mustChange(t, tb, "a", set(11))
	mustChange(t, tb, "b", del)
	mustChange(t, tb, "rt", set(7))
	v.Close()

	// A new process: the same config gets the live state.
	v2, c2 := open(t, key, store, config)
	v2.Start()
	if got, m := c2.get("a"); got == nil || got.N != 11 || m.Version != 2 || !m.Modified {
		t.Errorf("a after restart: %+v %+v", got, m)
	}
	if got, _ := c2.get("b"); got != nil {
		t.Errorf("b after restart: %+v", got)
	}
	if got, m := c2.get("rt"); got == nil || got.N != 7 || m.Version != 1 {
		t.Errorf("rt after restart: %+v %+v", got, m)
	}
	if got, m := c2.get("c"); got.N != 3 || m.Version != 0 {
		t.Errorf("c after restart: %+v %+v", got, m)
	}
	v2.Close()

	// A config that changed a's definition wins for a only; a's record
	// is dropped once it runs, and a's versions go on.
	config3 := map[string]*val{"a": {N: 100}, "b": {N: 2}, "c": {N: 3}}
	v3, c3 := open(t, key, store, config3)
	if got, m := c3.get("a"); got.N != 100 || m.Version != 0 || m.Modified {
		t.Errorf("a with a new definition: %+v %+v", got, m)
	}
	if got, _ := c3.get("b"); got != nil {
		t.Errorf("b came back: %+v", got)
	}
	if got, _ := c3.get("rt"); got == nil {
		t.Errorf("rt lost")
	}
	v3.Start()
	if keys := store.keys(); slices.Contains(keys, "resty/live/t/a.a.json") || slices.Contains(keys, "resty/live/t/a.b.json") {
		t.Errorf("a's record was not dropped: %v", store.keys())
	}
	if res := mustChange(t, v3.Table(), "a", set(101)); res.Meta.Version != 3 {
		t.Errorf("a's next version: %d, want 3", res.Meta.Version)
	}
	// A config that defines the runtime-created entry wins too.
	v3.Close()
	v4, c4 := open(t, key, store, map[string]*val{"rt": {N: 70}})
	v4.Start()
	if got, _ := c4.get("rt"); got.N != 70 {
		t.Errorf("rt defined by the config: %+v", got)
	}
}

func mustChange(t *testing.T, tb *Table[val], name string, fn func(*val) (*val, error)) Result {
	t.Helper()
	res, err := tb.Change(name, ChangeOptions{}, fn)
	if err != nil {
		t.Fatalf("change %s: %v", name, err)
	}
	return res
}

func TestStorageFailureChangesNothing(t *testing.T) {
	store := newMem()
	v, c := open(t, "", store, map[string]*val{"a": {N: 1}})
	v.Start()
	mustChange(t, v.Table(), "a", set(2))
	store.fail.Store(true)
	_, err := v.Table().Change("a", ChangeOptions{}, set(3))
	if !errors.Is(err, ErrStorage) || !strings.Contains(err.Error(), "read-only file system") {
		t.Fatalf("error %v", err)
	}
	if got, m := c.get("a"); got.N != 2 || m.Version != 1 || c.n != 1 {
		t.Errorf("live state after the failure: %+v %+v (%d applies)", got, m, c.n)
	}
	if _, err := v.Table().Change("z", ChangeOptions{}, set(3)); !errors.Is(err, ErrStorage) {
		t.Errorf("create: %v", err)
	}
	if _, ok := v.Table().Lookup("z"); ok {
		t.Errorf("z created")
	}
	store.fail.Store(false)
	if res := mustChange(t, v.Table(), "a", set(3)); res.Meta.Version != 2 {
		t.Errorf("version after the failure: %d", res.Meta.Version)
	}
}

func TestFileStorage(t *testing.T) {
	dir := t.TempDir()
	store := &certmagic.FileStorage{Path: dir}
	v, _ := open(t, "", store, nil)
	v.Start()
	mustChange(t, v.Table(), "x.y", set(11111))
	data, err := store.Load(context.Background(), "resty/live/t/x.y.a.json")
	if err != nil || !strings.Contains(string(data), `"value":{"n":11111}`) {
		t.Fatalf("%s %v", data, err)
	}
	// The next writes go to the other slot in turn, overwriting it in
	// place (a shorter record is padded).
	mustChange(t, v.Table(), "x.y", set(22222))
	mustChange(t, v.Table(), "x.y", set(3))
	data, _ = store.Load(context.Background(), "resty/live/t/x.y.a.json")
	if r, err := decodeRecord(data); err != nil || r.Version != 3 || !strings.HasSuffix(string(data), " ") {
		t.Errorf("slot a: %q %v", data, err)
	}
	data, _ = store.Load(context.Background(), "resty/live/t/x.y.b.json")
	if r, err := decodeRecord(data); err != nil || r.Version != 2 {
		t.Errorf("slot b: %q %v", data, err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "resty/live/t"))
	if len(entries) != 2 {
		t.Errorf("files: %v", entries)
	}
	// A torn write of the newer slot: the older record is read.
	os.WriteFile(filepath.Join(dir, "resty/live/t/x.y.a.json"), data[:len(data)/2], 0o600)
	v.Close()
	v2, c2 := open(t, "", store, nil)
	if got, m := c2.get("x.y"); got == nil || got.N != 22222 || m.Version != 2 {
		t.Errorf("after a torn write: %+v %+v", got, m)
	}
	v2.Start()
	mustChange(t, v2.Table(), "x.y", set(4)) // goes to slot a, keeping b
	data, _ = store.Load(context.Background(), "resty/live/t/x.y.b.json")
	if r, _ := decodeRecord(data); r.Version != 2 {
		t.Errorf("slot b overwritten: %q", data)
	}
	// A read-only directory: 503-style error, nothing changed.
	if os.Geteuid() != 0 {
		os.Chmod(filepath.Join(dir, "resty/live/t"), 0o500)
		defer os.Chmod(filepath.Join(dir, "resty/live/t"), 0o700)
		if _, err := v2.Table().Change("new", ChangeOptions{}, set(2)); !errors.Is(err, ErrStorage) {
			t.Errorf("read-only directory: %v", err)
		}
	}
	if k := v2.Table().slotKey(".hidden/x", 1); k != "resty/live/t/%2Ehidden%2Fx.b.json" {
		t.Errorf("key %q", k)
	}
}

func TestInvalidRecordIgnored(t *testing.T) {
	store := newMem()
	store.put(t, "resty/live/t/bad.a.json", record{Name: "bad", Version: 3, Hash: "x", Value: json.RawMessage(`{"n":-1}`)})
	store.Store(context.Background(), "resty/live/t/junk.a.json", []byte(`{`))
	store.Store(context.Background(), "resty/live/t/nosum.a.json", []byte(`{"name":"nosum","version":4,"hash":"x","value":{"n":9}}`))
	store.put(t, "resty/live/t/moved.a.json", record{Name: "elsewhere", Version: 4, Hash: "x", Value: json.RawMessage(`{"n":9}`)})
	store.put(t, "resty/live/t/ok.a.json", record{Name: "ok", Version: 4, Hash: "x", Value: json.RawMessage(`{"n":9}`)})
	store.put(t, "resty/live/t/ok.b.json", record{Name: "ok", Version: 3, Hash: "x", Value: json.RawMessage(`{"n":8}`)})
	_, c := open(t, "", store, nil)
	if got, _ := c.get("bad"); got != nil {
		t.Errorf("invalid record applied: %+v", got)
	}
	if got, m := c.get("ok"); got == nil || got.N != 9 || m.Version != 4 {
		t.Errorf("valid record: %+v %+v", got, m)
	}
	for _, name := range []string{"nosum", "elsewhere", "moved"} {
		if got, _ := c.get(name); got != nil {
			t.Errorf("%s applied: %+v", name, got)
		}
	}
}

func TestReferrers(t *testing.T) {
	v, _ := open(t, "", nil, map[string]*val{"a": {N: 1}})
	v.Start()
	v.AddReferrer("a", "source x")
	v.AddReferrer("a", "source x")
	v.AddReferrer("a", "route r")
	_, err := v.Table().Change("a", ChangeOptions{}, del)
	var conflict *ConflictError
	if !errors.As(err, &conflict) || conflict.Error() != "a is still named by the config: route r; source x (2 times)" {
		t.Fatalf("%v", err)
	}
	// Changing it is fine; deleting it needs Force.
	mustChange(t, v.Table(), "a", set(2))
	if _, err := v.Table().Change("a", ChangeOptions{Force: true}, del); err != nil {
		t.Errorf("forced: %v", err)
	}
}

// TestConcurrentChanges: 20 writers appending to one entry end in the
// state of a serial order: every append is there, each change got its
// own version.
func TestConcurrentChanges(t *testing.T) {
	store := newMem()
	v, c := open(t, "", store, map[string]*val{"a": {}})
	v.Start()
	const writers, each = 20, 10
	versions := make(chan uint64, writers*each)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				res, err := v.Table().Change("a", ChangeOptions{}, func(cur *val) (*val, error) {
					next := &val{L: append(slices.Clone(cur.L), fmt.Sprintf("%d.%d", w, i))}
					return next, nil
				})
				if err != nil {
					t.Error(err)
				}
				versions <- res.Meta.Version
			}
		})
	}
	wg.Wait()
	close(versions)
	got, m := c.get("a")
	if len(got.L) != writers*each || m.Version != writers*each {
		t.Errorf("%d appends, version %d", len(got.L), m.Version)
	}
	var vs []uint64
	for v := range versions {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	for i, v := range vs {
		if v != uint64(i+1) {
			t.Fatalf("versions %v", vs)
		}
	}
	if r := store.record(t, "a"); r.Version != writers*each {
		t.Errorf("stored version %d", r.Version)
	}
}

// TestChangeRacingReload: changes made while configs are opened and
// closed (reloads) are in every config that runs after them.
func TestChangeRacingReload(t *testing.T) {
	store := newMem()
	key := fmt.Sprintf("race-%d", testKeys.Add(1))
	config := map[string]*val{"a": {}, "other": {N: 1}}
	v, _ := open(t, key, store, config)
	v.Start()
	var cur atomic.Pointer[consumer]
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		prev := v
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// A reload that changes another entry.
			cfg := map[string]*val{"a": {}, "other": {N: i}}
			nv, c := open(t, key, store, cfg)
			nv.Start()
			cur.Store(c)
			prev.Close()
			prev = nv
		}
	}()
	const n = 200
	for i := range n {
		tb := v.Table()
		mustChange(t, tb, "a", func(c *val) (*val, error) {
			return &val{L: append(slices.Clone(c.L), fmt.Sprint(i))}, nil
		})
	}
	close(stop)
	<-done
	got, m := cur.Load().get("a")
	if got == nil || len(got.L) != n || m.Version != n {
		t.Fatalf("after the race: %d of %d changes, version %d", len(got.L), n, m.Version)
	}
}

// TestWriteBack: with PersistToConfig, the live values go to the config
// path through the admin handler, coalesced.
func TestWriteBack(t *testing.T) {
	var calls atomic.Int32
	var last atomic.Value
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		last.Store(r.Method + " " + r.URL.Path + " " + r.Host + " " + r.Header.Get("Origin") + " " + string(b))
	})
	c := &consumer{vals: make(map[string]*val), meta: make(map[string]Meta)}
	v, err := Open(Options[val]{Name: "t", Key: fmt.Sprintf("wb-%d", testKeys.Add(1)), Config: map[string]*val{"a": {N: 1}},
		Apply: c.apply, ConfigPath: "/config/apps/x/t", PersistToConfig: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	v.Start()
	req := httptest.NewRequest("POST", "/resty/t/a", nil)
	req.Host = "localhost:2019"
	req.Header.Set("Origin", "http://localhost:2019")
	req = req.WithContext(context.WithValue(req.Context(), http.ServerContextKey, &http.Server{Handler: handler}))
	for i := range 5 {
		if _, err := v.Table().Change("a", ChangeOptions{Request: req}, set(10+i)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(3 * time.Second)
	for calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d write-backs, want 1", n)
	}
	if got := last.Load(); got != `POST /config/apps/x/t localhost:2019 http://localhost:2019 {"a":{"n":14}}` {
		t.Errorf("write-back %q", got)
	}
}
