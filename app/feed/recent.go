package feed

import "sync"

// recentSize is how many of the latest events the feed keeps decoded:
// followers at or near the head, most of them, read these instead of the
// store, and decode nothing.
const recentSize = 2048

// recent is a ring of the latest events read from the log, contiguous by
// position. Events never change once committed, so serving them again by
// position is exact.
type recent struct {
	mu    sync.Mutex
	items []Item // ring buffer; items[(start+i)%len] has position first+i
	start int
	n     int
	first int64
}

func newRecent(size int) *recent { return &recent{items: make([]Item, size)} }

// after returns up to max events following position pos, or none when the
// ring does not hold position pos+1.
func (r *recent) after(pos int64, max int) []Item {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == 0 || pos+1 < r.first || pos+1 >= r.first+int64(r.n) {
		return nil
	}
	skip := int(pos + 1 - r.first)
	out := make([]Item, 0, min(max, r.n-skip))
	for i := skip; i < r.n && len(out) < max; i++ {
		out = append(out, r.items[(r.start+i)%len(r.items)])
	}
	return out
}

// put records a run of consecutive events just read from the log. A run
// that continues the ring extends it; one entirely past it replaces it; an
// older one (a follower far behind) is not kept, so it cannot evict the
// events near the head that most followers want.
func (r *recent) put(run []Item) {
	if len(run) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	next := r.first + int64(r.n)
	if r.n == 0 || run[0].Position > next {
		r.start, r.n, r.first = 0, 0, run[0].Position
		next = r.first
	}
	for _, it := range run {
		if it.Position != next {
			continue // already held
		}
		if r.n < len(r.items) {
			r.items[(r.start+r.n)%len(r.items)] = it
			r.n++
		} else {
			r.items[r.start] = it
			r.start = (r.start + 1) % len(r.items)
			r.first++
		}
		next++
	}
}
