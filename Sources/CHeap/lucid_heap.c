#include "lucid_heap.h"
#if defined(__GLIBC__)
#include <malloc.h>
int lucid_heap_trim(void) { return malloc_trim(0); }
#else
int lucid_heap_trim(void) { return 0; }
#endif
