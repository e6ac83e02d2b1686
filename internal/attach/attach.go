// Package attach keeps state beside an object that sfotel does not own (a
// MeterProvider, a go-redis client) without keeping the object alive: the
// executors and instrumentations built on one object share one state, and
// both go when the object and every holder of the state are gone.
package attach

import (
	"reflect"
	"runtime"
	"sync"
	"weak"
)

// Table maps objects to their state. The object is held weakly, through a
// weak pointer used as the key (weak pointers to one object compare equal,
// and never equal a pointer to an object allocated later at the same
// address); so is the state, which its holders keep alive.
type Table[V any] struct {
	mu sync.Mutex
	m  map[any]weak.Pointer[V]
}

// Get returns obj's state, making it with create the first time or after
// the last one was collected. Objects that are neither pointers nor
// comparable get a new state on every call.
func (t *Table[V]) Get(obj any, create func() (*V, error)) (*V, error) {
	key, ptr, ok := keyOf(obj)
	if !ok {
		return create()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if w, found := t.m[key]; found {
		if v := w.Value(); v != nil {
			return v, nil
		}
	}
	v, err := create()
	if err != nil {
		return nil, err
	}
	if t.m == nil {
		t.m = make(map[any]weak.Pointer[V])
	}
	w := weak.Make(v)
	_, seen := t.m[key]
	t.m[key] = w
	if ptr != nil && !seen {
		runtime.AddCleanup(ptr, t.forget, key)
	}
	return v, nil
}

// forget drops the entry of an object that was collected.
func (t *Table[V]) forget(key any) {
	t.mu.Lock()
	delete(t.m, key)
	t.mu.Unlock()
}

// Len is the number of entries, for tests.
func (t *Table[V]) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// keyOf returns the map key of obj: a weak pointer to the object a pointer
// points to, or the value itself when it is comparable.
func keyOf(obj any) (key any, ptr *byte, ok bool) {
	v := reflect.ValueOf(obj)
	if !v.IsValid() {
		return nil, nil, false
	}
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		p := (*byte)(v.UnsafePointer())
		return weak.Make(p), p, true
	}
	if v.Type().Comparable() {
		return obj, nil, true
	}
	return nil, nil, false
}
