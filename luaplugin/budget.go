package luaplugin

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// errBudget is the error a Lua run gets when it used up its time budget;
// errMemory when the Go heap passed lua_max_memory while it ran.
var (
	errBudget = errors.New("lua run exceeded its time budget")
	errMemory = errors.New("lua run stopped: memory limit reached")
)

// Why a budget fired.
const (
	reasonTime int32 = iota + 1
	reasonMemory
)

// budgetCtx is the context a Lua thread runs under. gopher-lua checks Done
// before every instruction, so closing done stops a runaway script. It is
// created once per thread (a per-run context.WithTimeout would cost a timer
// and several allocations on every phase of every request); the pool's
// watchdog fires it when a run is over its budget, and the thread is then
// dropped (the state and its other threads go on).
//
// It implements AfterFunc so that the child contexts gopher-lua derives for
// coroutines are cancelled with it without a goroutine per coroutine.
type budgetCtx struct {
	done chan struct{}
	// maxString is the pool's MaxStringSize, for the concatenation guard.
	maxString int

	why atomic.Int32

	mu     sync.Mutex
	nextID int
	after  map[int]func()
	// registered tells forgetCoroutines (on every request) whether there
	// is anything to forget, without taking mu.
	registered atomic.Bool
}

func newBudgetCtx(maxString int) *budgetCtx {
	return &budgetCtx{done: make(chan struct{}), maxString: maxString}
}

func (c *budgetCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *budgetCtx) Done() <-chan struct{}       { return c.done }
func (c *budgetCtx) Value(key any) any {
	if _, ok := key.(maxStringKey); ok {
		return c.maxString
	}
	return nil
}

func (c *budgetCtx) Err() error {
	switch c.why.Load() {
	case 0:
		return nil
	case reasonMemory:
		return errMemory
	}
	return errBudget
}

// fired reports whether the budget fired.
func (c *budgetCtx) fired() bool { return c.why.Load() != 0 }

// reason tells why the budget fired (reasonTime, reasonMemory), or 0.
func (c *budgetCtx) reason() int32 { return c.why.Load() }

// AfterFunc registers f to run when the budget fires (context.AfterFunc
// protocol, used by context.WithCancel for child contexts).
func (c *budgetCtx) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fired() {
		go f()
		return func() bool { return false }
	}
	if c.after == nil {
		c.after = make(map[int]func())
	}
	id := c.nextID
	c.nextID++
	c.after[id] = f
	c.registered.Store(true)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.after[id]
		delete(c.after, id)
		return ok
	}
}

// fire stops the state: the running script gets an error at its next
// instruction.
func (c *budgetCtx) fire(why int32) bool {
	c.mu.Lock()
	if !c.why.CompareAndSwap(0, why) {
		c.mu.Unlock()
		return false
	}
	fns := c.after
	c.after = nil
	close(c.done)
	c.mu.Unlock()
	for _, f := range fns {
		f()
	}
	return true
}

// forgetCoroutines drops the registrations of coroutines that never
// finished, so that a long-lived state does not accumulate them.
func (c *budgetCtx) forgetCoroutines() {
	if !c.registered.Load() {
		return
	}
	c.mu.Lock()
	c.after = nil
	c.registered.Store(false)
	c.mu.Unlock()
}

var _ context.Context = (*budgetCtx)(nil)
