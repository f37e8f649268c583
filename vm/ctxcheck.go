package vm

func (d *decoder) checkContext() error { return nil }
