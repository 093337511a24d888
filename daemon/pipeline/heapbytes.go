package pipeline

import "sort"

// sizeClasses are the Go allocator's small-object size classes (from the
// runtime's sizeclasses.go, unchanged since Go 1.12): an allocation of n
// bytes takes the first class that fits, so a 4100-byte claims copy holds
// 4864 bytes of heap. Above the last class, whole 8 KiB pages.
var sizeClasses = [...]int{
	8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
	288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280,
	1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528,
	6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072,
	20480, 21760, 24576, 27264, 28672, 32768,
}

// heapBytes is the heap an allocation of n bytes occupies. Cache costs are
// summed from it rather than from lengths: the rounding is up to 19% of an
// allocation, and a budget counted in lengths let the heap outgrow it.
func heapBytes(n int) int64 {
	if n <= 0 {
		return 0
	}
	if last := sizeClasses[len(sizeClasses)-1]; n > last {
		const page = 8 << 10
		return int64((n + page - 1) / page * page)
	}
	return int64(sizeClasses[sort.SearchInts(sizeClasses[:], n)])
}
