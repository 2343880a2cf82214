package shdict

// deque is a growable ring buffer of list elements.
type deque struct {
	buf  []Value
	head int
	n    int
}

func (q *deque) grow() {
	size := 2 * len(q.buf)
	if size == 0 {
		size = 4
	}
	nb := make([]Value, size)
	for i := 0; i < q.n; i++ {
		nb[i] = q.buf[(q.head+i)%len(q.buf)]
	}
	q.buf = nb
	q.head = 0
}

func (q *deque) pushFront(v Value) {
	if q.n == len(q.buf) {
		q.grow()
	}
	q.head = (q.head - 1 + len(q.buf)) % len(q.buf)
	q.buf[q.head] = v
	q.n++
}

func (q *deque) pushBack(v Value) {
	if q.n == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.n)%len(q.buf)] = v
	q.n++
}

func (q *deque) popFront() Value {
	v := q.buf[q.head]
	q.buf[q.head] = Value{}
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return v
}

func (q *deque) popBack() Value {
	i := (q.head + q.n - 1) % len(q.buf)
	v := q.buf[i]
	q.buf[i] = Value{}
	q.n--
	return v
}

// LPush inserts v (a string or number) at the head of the list stored under
// key, creating the list when the key is missing or expired, and returns
// the new length. It fails with ErrNotList when key holds a live non-list
// value, ErrBadValue for other kinds of v, ErrNoListMemory when a new
// list's head does not fit and ErrNoMemory when the element does not: like
// nginx, pushes remove expired items to make room but
// never evict live ones.
func (d *Dict) LPush(key string, v Value) (int, error) { return d.push(key, v, true) }

// RPush is like LPush but appends v at the tail of the list.
func (d *Dict) RPush(key string, v Value) (int, error) { return d.push(key, v, false) }

// LPop removes and returns the head element of the list stored under key.
// A missing or expired key yields the nil Value; a non-list value
// ErrNotList. Popping the last element removes the key.
func (d *Dict) LPop(key string) (Value, error) { return d.pop(key, true) }

// RPop is like LPop but takes the tail element.
func (d *Dict) RPop(key string) (Value, error) { return d.pop(key, false) }

// LLen returns the length of the list stored under key: 0 for a missing or
// expired key, ErrNotList for a non-list value.
func (d *Dict) LLen(key string) (int, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := clock{now: d.now}
	d.expireTail(&c)
	e := d.lookup(key)
	if e == nil || e.expired(&c) {
		return 0, nil
	}
	if e.list == nil {
		return 0, ErrNotList
	}
	return e.list.n, nil
}

func (d *Dict) push(key string, v Value, left bool) (int, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	if v.k != KindString && v.k != KindNumber {
		return 0, ErrBadValue
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := clock{now: d.now}
	d.expireTail(&c)
	e := d.lookup(key)
	if e != nil && e.expired(&c) {
		d.remove(e)
		d.expirations++
		e = nil
	}
	elem := listElemCost(v)
	if e == nil {
		head := listHeadCost(len(key))
		if ok, _ := d.reserve(head, false, &c); !ok {
			return 0, ErrNoListMemory
		}
		d.slab.alloc(head)
		if ok, _ := d.reserve(elem, false, &c); !ok {
			d.slab.free(head)
			return 0, ErrNoMemory
		}
		e = &entry{key: key, list: &deque{}, cost: head, hidx: -1}
		d.used += head
		d.items[key] = e
		d.lruPushFront(e)
	} else {
		if e.list == nil {
			return 0, ErrNotList
		}
		if ok, _ := d.reserve(elem, false, &c); !ok {
			return 0, ErrNoMemory
		}
	}
	e.cost += elem
	d.used += elem
	d.slab.alloc(elem)
	if left {
		e.list.pushFront(v)
	} else {
		e.list.pushBack(v)
	}
	return e.list.n, nil
}

func (d *Dict) pop(key string, left bool) (Value, error) {
	if err := checkKey(key); err != nil {
		return Value{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := clock{now: d.now}
	d.expireTail(&c)
	e := d.lookup(key)
	if e == nil || e.expired(&c) {
		return Value{}, nil
	}
	if e.list == nil {
		return Value{}, ErrNotList
	}
	var v Value
	if left {
		v = e.list.popFront()
	} else {
		v = e.list.popBack()
	}
	elem := listElemCost(v)
	e.cost -= elem
	d.used -= elem
	d.slab.free(elem)
	if e.list.n == 0 {
		d.remove(e)
	}
	return v, nil
}
