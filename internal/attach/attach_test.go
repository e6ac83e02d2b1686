package attach

import (
	"runtime"
	"testing"
	"time"
)

type object struct{ _ [64]byte }

type state struct{ n int }

func TestSameObjectSameState(t *testing.T) {
	var tab Table[state]
	a, b := &object{}, &object{}
	made := 0
	create := func() (*state, error) { made++; return &state{n: made}, nil }
	sa, _ := tab.Get(a, create)
	sa2, _ := tab.Get(a, create)
	sb, _ := tab.Get(b, create)
	if sa != sa2 {
		t.Error("two Gets of one object returned two states")
	}
	if sa == sb {
		t.Error("two objects share a state")
	}
	if made != 2 {
		t.Errorf("create ran %d times, want 2", made)
	}
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
}

// TestNothingKeptAlive: neither the object nor its state is kept alive by
// the table, and its entry goes with the object.
func TestNothingKeptAlive(t *testing.T) {
	var tab Table[state]
	collected := make(chan struct{})
	func() {
		o := &object{}
		runtime.AddCleanup(o, func(ch chan struct{}) { close(ch) }, collected)
		if _, err := tab.Get(o, func() (*state, error) { return &state{}, nil }); err != nil {
			t.Fatal(err)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		select {
		case <-collected:
		default:
			if time.Now().After(deadline) {
				t.Fatal("the object was never collected: the table keeps it alive")
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		break
	}
	for tab.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d entries left after the object was collected", tab.Len())
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStateOutlivesCollectionOfNothing: while a holder keeps the state, a
// later Get of the same object returns it.
func TestHeldStateIsShared(t *testing.T) {
	var tab Table[state]
	o := &object{}
	held, _ := tab.Get(o, func() (*state, error) { return &state{n: 1}, nil })
	runtime.GC()
	again, _ := tab.Get(o, func() (*state, error) { return &state{n: 2}, nil })
	if again != held {
		t.Error("a held state was replaced")
	}
	runtime.KeepAlive(o)
}

func TestValuesAndUncomparables(t *testing.T) {
	var tab Table[state]
	n := 0
	create := func() (*state, error) { n++; return &state{}, nil }
	type key struct{ a int }
	x, _ := tab.Get(key{1}, create)
	y, _ := tab.Get(key{1}, create)
	if x != y {
		t.Error("equal comparable values got two states")
	}
	p, _ := tab.Get([]int{1}, create)
	q, _ := tab.Get([]int{1}, create)
	if p == q {
		t.Error("an uncomparable value was shared")
	}
	runtime.KeepAlive(x)
}
