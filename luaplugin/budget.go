package luaplugin

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errBudget is the error a Lua run gets when it used up its time budget.
var errBudget = errors.New("lua run exceeded its time budget")

// budgetCtx is the context a Lua state runs under. gopher-lua checks Done
// before every instruction, so closing done stops a runaway script. It is
// created once per state (a per-run context.WithTimeout would cost a timer
// and several allocations on every phase of every request); the pool's
// watchdog fires it when a run is over its budget, and the state is then
// discarded.
//
// It implements AfterFunc so that the child contexts gopher-lua derives for
// coroutines are cancelled with it without a goroutine per coroutine.
type budgetCtx struct {
	done chan struct{}

	mu     sync.Mutex
	fired  bool
	nextID int
	after  map[int]func()
}

func newBudgetCtx() *budgetCtx {
	return &budgetCtx{done: make(chan struct{})}
}

func (c *budgetCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *budgetCtx) Done() <-chan struct{}       { return c.done }
func (c *budgetCtx) Value(any) any               { return nil }

func (c *budgetCtx) Err() error {
	select {
	case <-c.done:
		return errBudget
	default:
		return nil
	}
}

// AfterFunc registers f to run when the budget fires (context.AfterFunc
// protocol, used by context.WithCancel for child contexts).
func (c *budgetCtx) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fired {
		go f()
		return func() bool { return false }
	}
	if c.after == nil {
		c.after = make(map[int]func())
	}
	id := c.nextID
	c.nextID++
	c.after[id] = f
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
func (c *budgetCtx) fire() {
	c.mu.Lock()
	if c.fired {
		c.mu.Unlock()
		return
	}
	c.fired = true
	fns := c.after
	c.after = nil
	close(c.done)
	c.mu.Unlock()
	for _, f := range fns {
		f()
	}
}

// forgetCoroutines drops the registrations of coroutines that never
// finished, so that a long-lived state does not accumulate them.
func (c *budgetCtx) forgetCoroutines() {
	c.mu.Lock()
	if len(c.after) > 0 {
		c.after = nil
	}
	c.mu.Unlock()
}

var _ context.Context = (*budgetCtx)(nil)
