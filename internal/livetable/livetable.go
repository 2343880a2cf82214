// Package livetable is a runtime-mutable table of the resty app: named
// entries (upstream clusters, routes) whose live values the admin API
// changes in place, without a Caddy config reload, and that Caddy's
// storage keeps across restarts.
//
// # Model
//
// The config is the base. Each config that has the table opens a View on
// it with its definitions (Options.Config). An entry's live value is its
// definition, unless the admin API changed it: then it is the stored
// value, as long as the config's definition of that entry is the one the
// change was based on. A config whose definition of the entry differs
// (it changed since, through /config or the config file) wins, and the
// stored value is dropped. Entries the config does not define can be
// created at runtime, and config entries deleted; both survive restarts
// the same way (a deletion is a stored record too).
//
// # Changes
//
// Table.Change runs under the table's lock, so concurrent changes end in
// the state of some serial order, each with a higher version. A change:
//
//  1. computes the new value from the entry's live value (the caller's
//     function validates it; an error changes nothing);
//  2. persists it: one record per entry in Caddy's storage
//     (ctx.Storage(): the file system by default, any configured storage
//     module otherwise), with the entry's version and the hash of the
//     config definition it was based on. A failed write is returned as
//     ErrStorage and changes nothing;
//  3. installs it in every open view whose definition of the entry is
//     the same, through the view's Options.Apply: the consumer swaps its
//     live state for that entry atomically, so the next request sees it;
//  4. answers.
//
// Each entry's record is kept in two storage keys written in turn, so
// that the previous record survives a write that fails half-way (each
// record carries a checksum). On the file system a write overwrites the
// older slot file in place, without fsync: a change costs a few
// microseconds instead of the milliseconds a new file, a rename or an
// fsync cost; it survives a restart or a crash of Caddy, as Caddy's own
// autosave of /config does, while an OS crash may lose the last seconds
// of changes (the other slot then holds the previous record).
//
// # Reloads
//
// The table (lock, records, versions, the views open on it) lives in a
// caddy.UsagePool keyed by the table's name, so it outlives config
// reloads. A view opens under the table's lock: a change that races a
// config reload is either in the records when the new config's view opens
// or installed in that view after, so it is never lost. A change is
// computed from the newest started view (the running config); records
// that no open view can use any more (the config changed the entry) are
// dropped once a config that does not use them runs.
//
// Optionally (Options.PersistToConfig) the live values are also written
// back into Caddy's config, coalesced, at the cost of a config reload per
// write.
//
// # Use
//
// A table of the resty app (the upstream registry, the route table)
// opens a view in its Provision, giving the config's definitions and an
// Apply that swaps one entry of its live state (an atomic pointer per
// entry, so that readers never lock); starts it in the app's Start;
// closes it in Cleanup; records what its config names with AddReferrer;
// and makes its admin routes call Table.Change with a function that
// validates the new value as config is:
//
//	view, err := livetable.Open(livetable.Options[Route]{
//		Name: "routes", Storage: ctx.Storage(), Config: routes,
//		Validate: validateRoute, Apply: table.apply,
//		ConfigPath: "/config/apps/resty/routes",
//	})
//	…
//	res, err := view.Table().Change(name, livetable.ChangeOptions{Request: r},
//		func(cur *Route) (*Route, error) { return next, validate(next) })
package livetable

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// pool holds the tables, by key (the table's name unless Options.Key).
var pool = caddy.NewUsagePool()

// storagePrefix is where the tables keep their records in Caddy's
// storage: resty/live/<table>/<entry>.json.
const storagePrefix = "resty/live"

// storageTimeout bounds one storage operation.
const storageTimeout = 10 * time.Second

// ErrStorage wraps a failure to persist a change: the change was not
// applied.
var ErrStorage = errors.New("persisting the change failed; nothing changed")

// ErrNoConfig is returned by Change when no config has the table open.
var ErrNoConfig = errors.New("no running config has this table")

// ConflictError is returned by Change for the deletion of an entry the
// config still names (Options.Force not set).
type ConflictError struct {
	// Name is the entry's name.
	Name string
	// Referrers describe what names it, one string each, sorted.
	Referrers []string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s is still named by the config: %s", e.Name, strings.Join(e.Referrers, "; "))
}

// Meta describes the live value of an entry.
type Meta struct {
	// Version counts the changes made to the entry through Change; 0 is
	// the config's definition, never changed (or changed by the config
	// since).
	Version uint64
	// Modified reports whether the live value differs from the config's
	// definition (an entry created, changed or deleted at runtime).
	Modified bool
	// Updated is the time of the last change, if any.
	Updated time.Time
}

// Entry is an entry's live value as given to Options.Apply.
type Entry[V any] struct {
	// Name is the entry's name.
	Name string
	// Value is its live value; nil if the entry is absent (deleted).
	Value *V
	// Meta describes the value.
	Meta Meta
	// Initial is set for the values Open gives: the view is not in use
	// yet, nothing reads the consumer's state concurrently.
	Initial bool
}

// Options open a view on a table.
type Options[V any] struct {
	// Name names the table ("upstreams"); its records are stored under
	// resty/live/<Name>/.
	Name string

	// Key is the table's key in the pool; default: Name. (Tests use
	// their own keys so that their tables are independent.)
	Key string

	// Storage is where the records live (ctx.Storage()). Nil keeps them
	// in memory only.
	Storage certmagic.Storage

	// Config holds the config's definitions, by name. It is not modified.
	Config map[string]*V

	// Validate checks a stored value before it is used; one that fails
	// (a value a newer version refuses) is ignored with a warning, and
	// the config's definition is used. Optional.
	Validate func(name string, v *V) error

	// Apply installs an entry's live value in the config's state: at
	// Open for every entry that has a value (Initial set), then for each
	// change of an entry whose definition this config shares. It runs
	// under the table's lock and must not fail: values are validated
	// before.
	Apply func(Entry[V])

	// ConfigPath is the table's place in Caddy's config
	// (/config/apps/resty/upstreams), where PersistToConfig writes.
	ConfigPath string

	// PersistToConfig, if positive, writes the live values of the
	// running config back to ConfigPath after changes, coalesced: at
	// most one write per PersistToConfig.
	PersistToConfig time.Duration

	// Logger logs dropped and unreadable records and write-backs.
	Logger *zap.Logger
}

// record is an entry's stored state.
type record struct {
	Name    string `json:"name"`
	Version uint64 `json:"version"`
	// Base is the hash of the config definition the change was based on
	// ("" for an entry the config did not define).
	Base string `json:"base,omitempty"`
	// Hash is the hash of Value ("" for a deleted entry).
	Hash    string          `json:"hash,omitempty"`
	Deleted bool            `json:"deleted,omitempty"`
	Value   json.RawMessage `json:"value,omitempty"`
	Updated time.Time       `json:"updated"`
	// Sum is the hash of the record without Sum: a torn write does not
	// pass for a record.
	Sum string `json:"sum,omitempty"`
}

// entry is a record with its decoded value.
type entry[V any] struct {
	rec record
	val *V // nil when deleted
	// slot is the storage slot holding rec (0 or 1); the next write goes
	// to the other one.
	slot int
}

func (e *entry[V]) meta() Meta {
	return Meta{Version: e.rec.Version, Modified: e.rec.Hash != e.rec.Base, Updated: e.rec.Updated}
}

// Table is one runtime-mutable table, shared by the configs that have it.
type Table[V any] struct {
	name   string
	prefix string
	logger *zap.Logger

	mu sync.Mutex
	// store is the storage the records are written to and were read
	// from (loaded: successfully): the newest view's.
	store    certmagic.Storage
	loaded   bool
	recs     map[string]*entry[V]
	versions map[string]uint64 // highest version used per name
	views    []*View[V]        // open views, in opening order
	started  []*View[V]        // started views, in start order
	wb       writeBack
	closed   bool
	// changes counts the changes applied (for metrics).
	changes atomic.Uint64
}

// Changes returns the number of changes applied to the table since the
// process started.
func (t *Table[V]) Changes() uint64 { return t.changes.Load() }

// View is one config's use of a table.
type View[V any] struct {
	t     *Table[V]
	key   string
	opts  Options[V]
	bases map[string]string // hash of the config's definition, by name (cache)
	refs  map[string]map[string]int
	open  bool
}

// Open opens a view of the config on the table named by opts.Name (or
// opts.Key), creating the table (and reading its records from
// opts.Storage) if no config has it open. It gives every entry's live
// value to opts.Apply before it returns.
func Open[V any](opts Options[V]) (*View[V], error) {
	if opts.Name == "" || opts.Apply == nil {
		return nil, errors.New("livetable: Name and Apply are required")
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	key := opts.Key
	if key == "" {
		key = opts.Name
	}
	val, _, err := pool.LoadOrNew(key, func() (caddy.Destructor, error) {
		return &Table[V]{
			name:     opts.Name,
			prefix:   storagePrefix + "/" + opts.Name,
			logger:   opts.Logger,
			recs:     make(map[string]*entry[V]),
			versions: make(map[string]uint64),
		}, nil
	})
	if err != nil {
		return nil, err
	}
	t, ok := val.(*Table[V])
	if !ok {
		_, _ = pool.Delete(key)
		return nil, fmt.Errorf("livetable: table %q is open with another value type", key)
	}
	v := &View[V]{t: t, key: key, opts: opts, bases: make(map[string]string), refs: make(map[string]map[string]int), open: true}

	t.mu.Lock()
	defer t.mu.Unlock()
	t.logger = opts.Logger
	if opts.Storage != nil && (!t.loaded || !sameStorage(opts.Storage, t.store)) {
		t.loadLocked(opts.Storage, opts.Validate)
	}
	names := make([]string, 0, len(opts.Config)+len(t.recs))
	for name := range opts.Config {
		names = append(names, name)
	}
	for name := range t.recs {
		if _, ok := opts.Config[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		val, meta := v.currentLocked(name)
		if e := t.recs[name]; e != nil && e.rec.Base != v.baseLocked(name) {
			t.logger.Info("the config's definition changed since the live change; the config wins",
				zap.String("table", t.name), zap.String("name", name), zap.Uint64("dropped_version", e.rec.Version))
		}
		if val != nil {
			opts.Apply(Entry[V]{Name: name, Value: val, Meta: meta, Initial: true})
		}
	}
	t.views = append(t.views, v)
	return v, nil
}

// hashOf returns the hash of a value ("" for nil).
func hashOf[V any](v *V) string {
	_, h, err := encodeValue(v)
	if err != nil {
		return "unencodable:" + err.Error()
	}
	return h
}

// encodeValue returns the JSON form of a value and its hash (nil and ""
// for nil).
func encodeValue[V any](v *V) ([]byte, string, error) {
	if v == nil {
		return nil, "", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:16]), nil
}

// baseLocked returns the hash of the view's definition of name.
func (v *View[V]) baseLocked(name string) string {
	h, ok := v.bases[name]
	if !ok {
		h = hashOf(v.opts.Config[name])
		v.bases[name] = h
	}
	return h
}

// currentLocked returns the view's live value of name (nil: absent) and
// its meta.
// The definitions are hashed only for the entries that have a record.
func (v *View[V]) currentLocked(name string) (*V, Meta) {
	if e := v.t.recs[name]; e != nil && e.rec.Base == v.baseLocked(name) {
		return e.val, e.meta()
	}
	return v.opts.Config[name], Meta{}
}

// currentHashLocked is currentLocked that also returns the value's hash.
func (v *View[V]) currentHashLocked(name string) (*V, Meta, string) {
	base := v.baseLocked(name)
	if e := v.t.recs[name]; e != nil && e.rec.Base == base {
		return e.val, e.meta(), e.rec.Hash
	}
	return v.opts.Config[name], Meta{}, base
}

// headLocked returns the view changes are computed from: the newest
// started view, else the newest open one.
func (t *Table[V]) headLocked() *View[V] {
	if n := len(t.started); n > 0 {
		return t.started[n-1]
	}
	if n := len(t.views); n > 0 {
		return t.views[n-1]
	}
	return nil
}

// Table returns the view's table.
func (v *View[V]) Table() *Table[V] { return v.t }

// Start marks the view's config as running: changes are computed from
// it from now on.
func (v *View[V]) Start() {
	t := v.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if !v.open || slices.Contains(t.started, v) {
		return
	}
	t.started = append(t.started, v)
	t.gcLocked()
}

// Close ends the view: its Apply is not called any more. The table goes
// when its last view closes; its records stay in storage.
func (v *View[V]) Close() {
	t := v.t
	t.mu.Lock()
	if !v.open {
		t.mu.Unlock()
		return
	}
	v.open = false
	t.views = slices.DeleteFunc(t.views, func(x *View[V]) bool { return x == v })
	t.started = slices.DeleteFunc(t.started, func(x *View[V]) bool { return x == v })
	t.gcLocked()
	t.mu.Unlock()
	_, _ = pool.Delete(v.key)
}

// gcLocked drops the records that no open view can use (each view's
// definition of the entry differs from the one the record was based
// on), once a config runs: the config won.
func (t *Table[V]) gcLocked() {
	if len(t.started) == 0 {
		return
	}
	for name, e := range t.recs {
		used := false
		for _, v := range t.views {
			if v.baseLocked(name) == e.rec.Base {
				used = true
				break
			}
		}
		if used {
			continue
		}
		delete(t.recs, name)
		if err := t.removeLocked(name); err != nil {
			t.logger.Warn("removing a live state record the config replaced", zap.String("table", t.name),
				zap.String("name", name), zap.Error(err))
		}
	}
}

// AddReferrer records that the view's config names the entry (a
// `dynamic resty NAME` upstream source, a route's upstream): Change
// refuses to delete it unless forced. who describes the reference.
func (v *View[V]) AddReferrer(name, who string) {
	v.t.mu.Lock()
	defer v.t.mu.Unlock()
	m := v.refs[name]
	if m == nil {
		m = make(map[string]int)
		v.refs[name] = m
	}
	m[who]++
}

// referrersLocked describes the references of every open view to name.
func (t *Table[V]) referrersLocked(name string) []string {
	counts := make(map[string]int)
	for _, v := range t.views {
		for who, n := range v.refs[name] {
			counts[who] = max(counts[who], n)
		}
	}
	out := make([]string, 0, len(counts))
	for who, n := range counts {
		if n > 1 {
			who = fmt.Sprintf("%s (%d times)", who, n)
		}
		out = append(out, who)
	}
	sort.Strings(out)
	return out
}

// ChangeOptions qualify a change.
type ChangeOptions struct {
	// Force deletes an entry the config names.
	Force bool
	// Request is the admin request making the change; PersistToConfig
	// writes through the admin handler that served it.
	Request *http.Request
	// Applied, if set, is called under the table's lock once the change
	// is installed in the views (also for a change that changed
	// nothing): the moment to take a snapshot of the consumer's state
	// that no later change is part of. It must not call the table.
	Applied func(Meta)
}

// Result is the outcome of a successful change.
type Result struct {
	// Meta describes the entry's new live value.
	Meta Meta
	// Changed is false when the new value equals the live one: nothing
	// was written and the version stays.
	Changed bool
}

// Change changes the live value of the entry name. fn gets the current
// live value (nil if the entry is absent; it must not be modified) and
// returns the new one (nil deletes the entry) or an error, which Change
// returns as is, having changed nothing. fn runs under the table's lock:
// it must not call the table's methods. See the package documentation
// for the steps. Errors: fn's, ErrNoConfig, *ConflictError (a deletion
// of an entry the config names), and ErrStorage (wrapped with the
// storage's error).
func (t *Table[V]) Change(name string, opts ChangeOptions, fn func(cur *V) (*V, error)) (Result, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.waitWriteBackLocked()
	head := t.headLocked()
	if head == nil {
		return Result{}, ErrNoConfig
	}
	cur, meta, curHash := head.currentHashLocked(name)
	next, err := fn(cur)
	if err != nil {
		return Result{}, err
	}
	if next == nil && cur == nil {
		return Result{Meta: meta}, nil
	}
	if next == nil && !opts.Force {
		if refs := t.referrersLocked(name); len(refs) > 0 {
			return Result{}, &ConflictError{Name: name, Referrers: refs}
		}
	}
	raw, hash, err := encodeValue(next)
	if err != nil {
		return Result{}, err
	}
	if hash == curHash {
		if opts.Applied != nil {
			opts.Applied(meta)
		}
		return Result{Meta: meta}, nil
	}
	e := &entry[V]{val: next, slot: -1, rec: record{
		Name:    name,
		Version: max(t.versions[name], meta.Version) + 1,
		Base:    head.baseLocked(name),
		Hash:    hash,
		Deleted: next == nil,
		Value:   raw,
		Updated: time.Now().UTC().Truncate(time.Microsecond),
	}}
	if old := t.recs[name]; old != nil {
		e.slot = old.slot
	}
	if err := t.persistLocked(e); err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	t.recs[name] = e
	t.versions[name] = e.rec.Version
	meta = e.meta()
	for _, v := range t.views {
		if v.baseLocked(name) == e.rec.Base {
			v.opts.Apply(Entry[V]{Name: name, Value: next, Meta: meta})
		}
	}
	t.changes.Add(1)
	if opts.Applied != nil {
		opts.Applied(meta)
	}
	if d := head.opts.PersistToConfig; d > 0 && opts.Request != nil && head.opts.ConfigPath != "" {
		t.scheduleWriteBackLocked(d, opts.Request)
	}
	return Result{Meta: meta, Changed: true}, nil
}

// Lookup returns the meta of an entry's live value in the running config
// and whether the entry exists there; an entry deleted at runtime has
// Meta.Modified set.
func (t *Table[V]) Lookup(name string) (Meta, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	head := t.headLocked()
	if head == nil {
		return Meta{}, false
	}
	val, meta := head.currentLocked(name)
	return meta, val != nil
}

// Values returns the live values of the running config, by name.
func (t *Table[V]) Values() map[string]*V {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.valuesLocked()
}

func (t *Table[V]) valuesLocked() map[string]*V {
	head := t.headLocked()
	out := make(map[string]*V)
	if head == nil {
		return out
	}
	for name := range head.opts.Config {
		if val, _ := head.currentLocked(name); val != nil {
			out[name] = val
		}
	}
	for name := range t.recs {
		if val, _ := head.currentLocked(name); val != nil {
			out[name] = val
		}
	}
	return out
}

// Destruct implements caddy.Destructor: the last config closed its view.
func (t *Table[V]) Destruct() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	if t.wb.timer != nil {
		t.wb.timer.Stop()
	}
	return nil
}

// Interface guards.
var _ caddy.Destructor = (*Table[struct{}])(nil)
