#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits a byte stream into lines across arbitrary chunk boundaries.
///
/// Lines end with `\n` (a preceding `\r` is dropped); empty lines are skipped, as JSON-lines
/// streams (Kubernetes and etcd watches) use them for nothing. The unterminated tail is
/// released as a last line by `finish()`.
struct LineFramer {
    /// Longest line accepted before the stream is refused (a watch event holds one object).
    static let maxLineLength = 64 << 20

    private var queue: [[UInt8]] = []
    private var head = 0
    private var partial: [UInt8] = []
    private(set) var queuedBytes = 0

    /// Adds a chunk; false when a line grew past `maxLineLength`.
    mutating func append(_ chunk: UnsafeRawBufferPointer) -> Bool {
        guard let base = chunk.baseAddress else { return true }
        var start = 0
        while start < chunk.count, let hit = memchr(base + start, 0x0A, chunk.count - start) {
            let end = base.distance(to: UnsafeRawPointer(hit))
            partial.append(contentsOf: UnsafeRawBufferPointer(start: base + start, count: end - start))
            emit()
            start = end + 1
        }
        partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[start...]))
        return partial.count <= Self.maxLineLength
    }

    /// The body ended: the unterminated tail, if any, becomes the last line.
    mutating func finish() { emit() }

    mutating func pop() -> [UInt8]? {
        guard head < queue.count else { return nil }
        let line = queue[head]
        queue[head] = []
        head += 1
        queuedBytes -= line.count
        if head > 256, head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        return line
    }

    private mutating func emit() {
        if partial.last == UInt8(ascii: "\r") { partial.removeLast() }
        guard !partial.isEmpty else { return }
        queuedBytes += partial.count
        queue.append(partial)
        partial = []
    }
}
