package main

import (
	"testing"
	"time"
)

func TestJudge(t *testing.T) {
	s := func(sec int, heap uint64, series int) sample {
		return sample{at: time.Duration(sec) * time.Second, liveHeap: heap, series: series}
	}
	cases := []struct {
		name           string
		samples        []sample
		flat, constant bool
		wantErr        bool
	}{
		{"steady", []sample{s(10, 900, 5), s(20, 100, 19), s(30, 110, 19), s(40, 105, 19)}, true, true, false},
		{"growing heap", []sample{s(20, 100, 19), s(30, 120, 19), s(40, 140, 19)}, false, true, false},
		// One early step (a pool filling up) and an outlier, then flat: not a leak.
		{"early step", []sample{s(20, 100, 19), s(30, 118, 19), s(40, 120, 19), s(50, 150, 19), s(60, 119, 19),
			s(70, 118, 19), s(80, 121, 19), s(90, 120, 19), s(100, 119, 19)}, true, true, false},
		// A slow, steady leak: each sample 2% above the last.
		{"slow leak", func() []sample {
			var out []sample
			heap := 100.0
			for sec := 20; sec <= 200; sec += 10 {
				out = append(out, s(sec, uint64(heap), 19))
				heap *= 1.02
			}
			return out
		}(), false, true, false},
		{"new series", []sample{s(20, 100, 19), s(30, 100, 19), s(40, 100, 20)}, true, false, false},
		{"warm-up only", []sample{s(10, 100, 19), s(20, 100, 19)}, false, false, true},
	}
	for _, c := range cases {
		v, err := judge(c.samples, 20*time.Second, 0.10)
		if (err != nil) != c.wantErr {
			t.Fatalf("%s: err %v", c.name, err)
		}
		if err == nil && (v.heapFlat != c.flat || v.seriesConstant != c.constant) {
			t.Errorf("%s: flat %v constant %v, want %v %v", c.name, v.heapFlat, v.seriesConstant, c.flat, c.constant)
		}
	}
}

func TestParseFlagsRejects(t *testing.T) {
	for _, args := range [][]string{
		{"-duration", "0"},
		{"-duration", "10s", "-interval", "20s"},
		{"-duration", "30s", "-interval", "10s", "-warmup", "20s"},
		{"-uids", "3"},
		{"-workers", "0"},
		{"-heap-tolerance", "0"},
	} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%v) accepted", args)
		}
	}
	c, err := parseFlags(nil)
	if err != nil || c.duration != 5*time.Minute || c.uids != 1_000_000 || c.workers != 50 {
		t.Errorf("defaults: %+v, %v", c, err)
	}
}
