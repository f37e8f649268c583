package bpf

import "runtime"

func spinYield() { runtime.Gosched() }
