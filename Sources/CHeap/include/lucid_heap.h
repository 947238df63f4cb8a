#ifndef LUCID_HEAP_H
#define LUCID_HEAP_H

/// Returns freed heap pages to the operating system (glibc's malloc_trim), so a process's
/// resident memory falls back after a burst of short-lived allocations. Returns 1 when memory
/// was released. Elsewhere than glibc it does nothing.
int lucid_heap_trim(void);

#endif
