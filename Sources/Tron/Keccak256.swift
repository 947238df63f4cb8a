/// Keccak-256 as Ethereum and TRON use it (the original Keccak padding, not SHA3-256's).
public enum Keccak256 {
    private static let roundConstants: [UInt64] = [
        0x0000_0000_0000_0001, 0x0000_0000_0000_8082, 0x8000_0000_0000_808A, 0x8000_0000_8000_8000,
        0x0000_0000_0000_808B, 0x0000_0000_8000_0001, 0x8000_0000_8000_8081, 0x8000_0000_0000_8009,
        0x0000_0000_0000_008A, 0x0000_0000_0000_0088, 0x0000_0000_8000_8009, 0x0000_0000_8000_000A,
        0x0000_0000_8000_808B, 0x8000_0000_0000_008B, 0x8000_0000_0000_8089, 0x8000_0000_0000_8003,
        0x8000_0000_0000_8002, 0x8000_0000_0000_0080, 0x0000_0000_0000_800A, 0x8000_0000_8000_000A,
        0x8000_0000_8000_8081, 0x8000_0000_0000_8080, 0x0000_0000_8000_0001, 0x8000_0000_8000_8008,
    ]
    private static let rotations: [UInt64] = [1, 3, 6, 10, 15, 21, 28, 36, 45, 55, 2, 14, 27, 41, 56, 8, 25, 43, 62, 18, 39, 61, 20, 44]
    private static let piLanes: [Int] = [10, 7, 11, 17, 18, 3, 5, 16, 8, 21, 24, 4, 15, 23, 19, 13, 12, 2, 20, 14, 22, 9, 6, 1]
    private static let rate = 136

    public static func hash(_ message: some Collection<UInt8>) -> [UInt8] {
        var state = [UInt64](repeating: 0, count: 25)
        var block = Array(message)
        // Padding: 0x01 ... 0x80 up to a multiple of the rate.
        block.append(0x01)
        while block.count % rate != 0 { block.append(0) }
        block[block.count - 1] |= 0x80
        for offset in stride(from: 0, to: block.count, by: rate) {
            for lane in 0..<(rate / 8) {
                var word: UInt64 = 0
                for b in 0..<8 { word |= UInt64(block[offset + lane * 8 + b]) << (8 * UInt64(b)) }
                state[lane] ^= word
            }
            permute(&state)
        }
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for lane in 0..<4 {
            for b in 0..<8 { out.append(UInt8(truncatingIfNeeded: state[lane] >> (8 * UInt64(b)))) }
        }
        return out
    }

    private static func rotl(_ x: UInt64, _ n: UInt64) -> UInt64 { (x << n) | (x >> (64 - n)) }

    private static func permute(_ a: inout [UInt64]) {
        var c = [UInt64](repeating: 0, count: 5)
        for round in 0..<24 {
            for x in 0..<5 { c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20] }
            for x in 0..<5 {
                let d = c[(x + 4) % 5] ^ rotl(c[(x + 1) % 5], 1)
                for y in stride(from: 0, to: 25, by: 5) { a[y + x] ^= d }
            }
            var last = a[1]
            for i in 0..<24 {
                let j = piLanes[i]
                let saved = a[j]
                a[j] = rotl(last, rotations[i])
                last = saved
            }
            for y in stride(from: 0, to: 25, by: 5) {
                let row = (a[y], a[y + 1], a[y + 2], a[y + 3], a[y + 4])
                a[y] = row.0 ^ (~row.1 & row.2)
                a[y + 1] = row.1 ^ (~row.2 & row.3)
                a[y + 2] = row.2 ^ (~row.3 & row.4)
                a[y + 3] = row.3 ^ (~row.4 & row.0)
                a[y + 4] = row.4 ^ (~row.0 & row.1)
            }
            a[0] ^= roundConstants[round]
        }
    }
}
