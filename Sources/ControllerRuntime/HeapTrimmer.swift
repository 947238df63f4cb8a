internal import CHeap
import ServiceLifecycle

/// Gives freed heap memory back to the operating system once a burst of reconciles has settled.
///
/// A cold start over thousands of objects parses and renders far more than it keeps; glibc's
/// allocator keeps the freed pages, interleaved with the cached values that stay, so resident
/// memory would stay at the burst's peak. One `malloc_trim` after the work settles (no reconcile
/// in flight, none finished for a tick) returns those pages; it costs milliseconds and runs only
/// after something happened.
struct HeapTrimmer: Service {
    let controllers: [Controller]
    var tick: Duration = .seconds(1)

    func run() async throws {
        var trimmedAt = -1
        var last = -1
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: tick)
            let progress = controllers.map(\.progress)
            let completed = progress.reduce(0) { $0 + $1.completed }
            let settled = completed == last && progress.allSatisfy { $0.inFlight == 0 }
            if settled && completed != trimmedAt {
                _ = lucid_heap_trim()
                trimmedAt = completed
            }
            last = completed
        }
    }
}
