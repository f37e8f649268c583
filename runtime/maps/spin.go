package maps

import "runtime"

func spinYield() { runtime.Gosched() }
