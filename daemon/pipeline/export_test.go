package pipeline

// WaitCache blocks until the verified-token cache has applied earlier Sets,
// so tests can count on a hit.
func (p *Pipeline) WaitCache() {
	if p.cache != nil {
		p.cache.Wait()
	}
}

// Cost is what the pipeline charges the verified-token cache for v, beyond
// the token itself.
func (v *Verified) Cost() int64 { return v.cost() }

// Winner is winner, the one rule of which reason wins.
func Winner(a, b string) string { return winner(a, b) }

// LiveHeap is liveHeap, which the cache's own charge test shares.
func LiveHeap() uint64 { return liveHeap() }
