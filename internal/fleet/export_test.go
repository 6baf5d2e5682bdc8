package fleet

// Joins is how many callers have started or joined a walk so far: a test
// that holds a walk open waits for its callers to be in it before letting
// it finish.
func (c *Cache) Joins() int64 { return c.joins.Load() }
