package user

// topK keeps the k first users of a stream in an order, in O(k) memory: a
// max-heap whose root is the last of the kept users, so a newcomer only
// has to beat the root.
type topK[T any] struct {
	k    int
	cmp  func(a, b T) int
	heap []T
}

// add offers u to the set.
func (t *topK[T]) add(u T) {
	if t.k <= 0 {
		return
	}
	if len(t.heap) < t.k {
		t.heap = append(t.heap, u)
		t.up(len(t.heap) - 1)
		return
	}
	if t.cmp(u, t.heap[0]) < 0 {
		t.heap[0] = u
		t.down(0)
	}
}

func (t *topK[T]) up(i int) {
	h := t.heap
	for i > 0 {
		parent := (i - 1) / 2
		if t.cmp(h[i], h[parent]) <= 0 {
			return
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

func (t *topK[T]) down(i int) {
	h := t.heap
	for {
		largest := i
		for _, c := range []int{2*i + 1, 2*i + 2} {
			if c < len(h) && t.cmp(h[c], h[largest]) > 0 {
				largest = c
			}
		}
		if largest == i {
			return
		}
		h[i], h[largest] = h[largest], h[i]
		i = largest
	}
}

// sorted returns the kept users in order, emptying the set.
func (t *topK[T]) sorted() []T {
	out := make([]T, len(t.heap))
	for i := len(t.heap) - 1; i >= 0; i-- {
		out[i] = t.heap[0]
		last := len(t.heap) - 1
		t.heap[0] = t.heap[last]
		t.heap = t.heap[:last]
		t.down(0)
	}
	return out
}
