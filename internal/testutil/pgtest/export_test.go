package pgtest

// Dir returns the cluster's directory.
func Dir(c *Cluster) string { return c.dir }
